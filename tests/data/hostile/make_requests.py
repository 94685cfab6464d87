#!/usr/bin/env python3
"""Write requests.json, the hostile requests of tests/integration/test_hostile.c.

The cases are data (requests.json, see README.md); this script is how they are written, since
some are long (a 2,000-line reservation, 1,000 query parameters) and many share a shape. Edit
the cases here and run it again: tests/data/hostile/make_requests.py
"""
import json
import os

C = []
def case(name, status, **kw):
    d = {"name": name}
    d.update(kw)
    d["status"] = status
    C.append(d)

MOV = "/v1/movements"
ok_mov = '{"sku": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": %s}'
# --- malformed JSON (POST /v1/movements as admin): 400 invalid-json
for n, b in [
    ("truncated object", '{"sku": "MUG-01", "location": '),
    ("unterminated string", '{"sku": "MUG-01'),
    ("trailing comma", '{"sku": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": 1,}'),
    ("single quotes", "{'sku': 'MUG-01'}"),
    ("comment", '{"sku": "MUG-01" /* c */, "location": "wh-1", "type": "receipt", "quantity": 1}'),
    ("NaN", ok_mov % "NaN"),
    ("Infinity", ok_mov % "Infinity"),
    ("leading zero", ok_mov % "01"),
    ("hex number", ok_mov % "0x10"),
    ("plus sign", ok_mov % "+1"),
    ("bare word", "receipt"),
    ("two objects", '{} {}'),
    ("unbalanced brackets", '{"movements": [[[{]]]}'),
    ("only whitespace", "   \t  "),
    ("number 1e400 overflows", ok_mov % "1e400"),
    ("integer past 2^63", ok_mov % "99999999999999999999"),
    ("integer of 1000 digits", ok_mov % ("9" * 1000)),
    ("raw NUL byte in a string", '{"sku": "MUG\u000001", "location": "wh-1", "type": "receipt", "quantity": 1}'),
    ("escaped NUL in the SKU", '{"sku": "MUG\\u000001", "location": "wh-1", "type": "receipt", "quantity": 1}'),
    ("escaped NUL in a key", '{"sku\\u0000": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": 1}'),
    ("lone surrogate escape", '{"sku": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": 1, "reason": "\\udc00"}'),
    ("bad escape", '{"sku": "MUG\\x01"}'),
    ("control character in a string", '{"sku": "MUG\t01"}'),
    ("NUL after the object", '{"sku": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": 1}\u0000'),
    ("duplicate key quantity", '{"sku": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": 1, "quantity": 1000}'),
    ("duplicate key, one escaped", '{"sku": "MUG-01", "\\u0073ku": "MUG-02", "location": "wh-1", "type": "receipt", "quantity": 1}'),
    ("duplicate movements key", '{"movements": [], "movements": [{"sku": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": 1}]}'),
    ("duplicate key in a batch item", '{"movements": [{"sku": "MUG-01", "location": "wh-1", "location": "store-leeds", "type": "receipt", "quantity": 1}]}'),
    ("2049 nested arrays in a field", '{"sku": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": 1, "reason": ' + "[" * 2049 + "]" * 2049 + '}'),
]:
    case(n, 400, code="invalid-json", method="POST", target=MOV, body=b)

for n, h in [
    ("invalid UTF-8: lone continuation byte in the SKU", "7b22736b75223a224d5547803031227d"),
    ("invalid UTF-8: overlong slash", "7b22736b75223a224d5547c0af3031227d"),
    ("invalid UTF-8: encoded surrogate", "7b22736b75223a224d5547eda0803031227d"),
    ("invalid UTF-8: byte F5", "7b22736b75223a224d5547f53031227d"),
    ("invalid UTF-8: sequence cut short at the end", "7b22736b75223a224d5547e282"),
    ("invalid UTF-8 in a key", "7b22736bff75223a224d55472d3031227d"),
    ("UTF-16 body with a BOM", "fffe7b00220073006b00750022003a002200410022007d00"),
    ("UTF-8 BOM before the object", "efbbbf7b7d"),
]:
    case(n, 400, code="invalid-json", method="POST", target=MOV, body_hex=h)

# --- valid JSON, values the contract refuses
for n, b, field in [
    ("quantity -2^63", ok_mov % "-9223372036854775808", "quantity"),
    ("quantity 2^63-1", ok_mov % "9223372036854775807", "quantity"),
    ("quantity 1e9 as a real", ok_mov % "1e9", "quantity"),
    ("quantity 1.0", ok_mov % "1.0", "quantity"),
    ("quantity -0", ok_mov % "-0", "quantity"),
    ("quantity a string of digits", ok_mov % '"1"', "quantity"),
    ("100 nested arrays in reason", '{"sku": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": 1, "reason": ' + "[" * 100 + "]" * 100 + '}', "reason"),
]:
    case(n, 400, code="invalid-field", field=field, method="POST", target=MOV, body=b)

# Redis protocol and key-pattern characters in identifiers of bodies: 400 invalid-identifier.
for n, sku in [
    ("RESP in the SKU", "MUG-01\\r\\n*1\\r\\n$8\\r\\nFLUSHALL\\r\\n"),
    ("star in the SKU", "MUG-*"),
    ("question mark in the SKU", "MUG-0?"),
    ("braces in the SKU (a hash tag)", "{MUG-01}"),
    ("brackets in the SKU", "MUG-0[1]"),
    ("space in the SKU", "MUG 01"),
    ("colon in the SKU (key separator)", "stock:MUG-01"),
    ("percent-encoded NUL in the SKU", "MUG%00"),
    ("slash and dots in the SKU", "../MUG-01"),
    ("65-character SKU", "A" * 65),
    ("non-ASCII SKU", "MUG\u00e9"),
]:
    case(n, 400, code="invalid-identifier", field="sku", method="POST", target=MOV,
         body='{"sku": "%s", "location": "wh-1", "type": "receipt", "quantity": 1}' % sku)
case("RESP in the location", 400, code="invalid-identifier", field="location", method="POST", target=MOV,
     body='{"sku": "MUG-01", "location": "wh-1\\r\\nDEL x", "type": "receipt", "quantity": 1}')
case("star as the transfer destination", 400, code="invalid-identifier", field="to_location", method="POST", target=MOV,
     body='{"sku": "MUG-01", "location": "wh-1", "type": "transfer", "quantity": 1, "to_location": "*"}')
case("pattern in a stock query SKU", 400, code="invalid-identifier", field="skus[1]", method="POST", target="/v1/stock/query",
     body='{"skus": ["MUG-01", "MUG*"], "channel": "web"}')
case("RESP in a reservation customer", 400, code="invalid-identifier", field="customer", method="POST", target="/v1/reservations",
     body='{"channel": "web", "customer": "c\\r\\nFLUSHALL", "lines": [{"sku": "MUG-01", "quantity": 1}]}')
case("braces in a reservation line SKU", 400, code="invalid-identifier", field="lines[0].sku", method="POST", target="/v1/reservations",
     body='{"channel": "web", "lines": [{"sku": "{x}", "quantity": 1}]}')
case("RESP in an order id", 400, code="invalid-identifier", field="orders[0].id", method="POST", target="/v1/orders",
     body='{"orders": [{"id": "o\\r\\n*", "lines": [{"sku": "MUG-01", "quantity": 1}]}]}')
case("star in a feedback SKU", 400, code="invalid-identifier", field="sku", method="POST", target="/v1/recommendations/feedback",
     body='{"event": "shown", "primary": "MUG-01", "sku": "*"}')
case("pattern as a preferred store", 400, code="invalid-identifier", field="preferred_store", method="PUT", target="/v1/customers/c-1/preferences",
     body='{"preferred_store": "store-*"}')
case("RESP in an unknown key", 400, code="invalid-field", method="POST", target=MOV,
     body='{"sku": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": 1, "x\\r\\n*1": 1}')
case("huge price amount", 400, code="invalid-field", field="price.amount", method="PUT", target="/v1/products/MUG-02",
     body='{"name": "Mug", "category": "kitchen", "price": {"amount": 100000000000000000, "currency": "GBP"}}')
case("ttl 1e308", 400, code="invalid-field", field="ttl_seconds", method="POST", target="/v1/reservations",
     body='{"channel": "web", "ttl_seconds": 1e308, "lines": [{"sku": "MUG-01", "quantity": 1}]}')

# Identifiers in paths and query strings.
for n, m, t in [
    ("star as the SKU in the path", "GET", "/v1/stock/MUG*"),
    ("encoded question mark in the path", "GET", "/v1/stock/MUG%3F"),
    ("encoded braces in the path", "GET", "/v1/stock/%7BMUG-01%7D"),
    ("encoded space in the path", "GET", "/v1/stock/MUG%2001"),
    ("encoded NUL in the path", "GET", "/v1/stock/MUG-01%00"),
    ("encoded CRLF in the path", "GET", "/v1/stock/MUG%0D%0A*1%0D%0A"),
    ("star alone as the SKU", "GET", "/v1/stock/*"),
    ("65-character SKU in the path", "GET", "/v1/stock/" + "B" * 65),
    ("encoded dots and slash as the SKU", "GET", "/v1/stock/%2e%2e%2fadmin"),
    ("encoded non-ASCII SKU", "GET", "/v1/stock/MUG%C3%A9"),
    ("star in a history path", "GET", "/v1/stock/*/history"),
    ("pattern as a reservation id", "GET", "/v1/reservations/r-*"),
    ("encoded CRLF in a reservation id", "GET", "/v1/reservations/r-1%0d%0aDEL"),
    ("pattern in a location path", "GET", "/v1/locations/store-%2A"),
    ("braces in a product path", "GET", "/v1/products/%7Bx%7D"),
    ("pattern as a customer", "GET", "/v1/customers/c*/preferences"),
    ("pattern in the recommendation SKU", "GET", "/v1/recommendations?sku=MUG*01"),
    ("encoded NUL in the recommendation SKU", "GET", "/v1/recommendations?sku=MUG-01%00"),
    ("encoded NUL in the middle of a SKU in the query", "GET", "/v1/recommendations?sku=MUG%00-01"),
    ("encoded NUL in an events filter", "GET", "/v1/events?sku=MUG-01%00x"),
    ("encoded NUL in a stock history limit", "GET", "/v1/stock/MUG-01/history?limit=5%00"),
    ("CRLF in a basket item", "GET", "/v1/recommendations?sku=MUG-01&basket=A,%0D%0A"),
    ("pattern as a recommendation customer", "GET", "/v1/recommendations?sku=MUG-01&customer=%7Bc%7D"),
]:
    case(n, 400, method=m, target=t, codes=["invalid-identifier", "invalid-query"])
for n, m, t, body in [
    ("star as the location to replace", "PUT", "/v1/locations/wh-*", '{"name": "W", "type": "warehouse", "fulfils": ["web"]}'),
    ("encoded space in a product to replace", "PUT", "/v1/products/MUG%2002", '{"name": "Mug", "category": "kitchen", "price": {"amount": 1, "currency": "GBP"}}'),
    ("pattern as the customer to erase", "DELETE", "/v1/customers/*", None),
    ("encoded NUL in the customer to erase", "DELETE", "/v1/customers/c-1%00", None),
    ("pattern in preferences to set", "PUT", "/v1/customers/c%3F1/preferences", '{"recommendations": "off"}'),
    ("pattern as the reservation to commit", "POST", "/v1/reservations/*/commit", None),
    ("RESP as the reservation to release", "POST", "/v1/reservations/r%0D%0AFLUSHALL/release", None),
]:
    kw = {"method": m, "target": t, "codes": ["invalid-identifier", "invalid-query"]}
    if body is not None:
        kw["body"] = body
    case(n, 400, **kw)
case("pattern in an events filter", 400, method="GET", target="/v1/events?sku=*", codes=["invalid-identifier", "invalid-query"])
case("braces in a history location filter", 400, method="GET", target="/v1/stock/MUG-01/history?location=%7B%7D", codes=["invalid-identifier", "invalid-query"])
case("two dots are a valid SKU that is not there", 404, method="GET", target="/v1/stock/..", code="not-found")

# Path traversal under /console/ (no key needed): nothing but the console's own files.
for t in ["/console/../etc/passwd", "/console/%2e%2e/%2e%2e/etc/passwd", "/console/..%2f..%2fetc%2fpasswd",
          "/console/%2e%2e%5c%2e%2e%5cwindows%5cwin.ini", "/console/./index.html", "/console//index.html",
          "/console/index.html%00.js", "/console/....//....//etc/passwd", "/console/..;/etc/passwd",
          "/console/%252e%252e/%252e%252e/etc/passwd", "/console/index.html/..", "/console/%c0%ae%c0%ae/etc/passwd",
          "/console/..%00/etc/passwd", "/console/../../../../../../proc/self/environ"]:
    case("console traversal " + t, 404, method="GET", target=t, key=None, code="not-found")
case("no route out of the console by dots", 404, method="GET", target="/v1/../v1/stock/MUG-01", code="not-found")
case("double slash before the console", 404, method="GET", target="//console/../v1/stock/MUG-01", key=None, code="not-found")
case("encoded CRLF after /console does not split the response", 404, method="GET",
     target="/console%0D%0ASet-Cookie:%20x=1", key=None, no_header="Set-Cookie")

# Headers: CRLF injection, folding, duplicates, bad lengths.
case("CR inside the Idempotency-Key", 400, method="POST", target=MOV,
     headers=["Idempotency-Key: a\rX-Injected: 1"], body=ok_mov % "1")
case("control character in the Idempotency-Key", 400, method="POST", target=MOV, code="invalid-field", field="Idempotency-Key",
     headers=["Idempotency-Key: a\u0001b"], body=ok_mov % "1")
case("Idempotency-Key of 129 characters", 400, method="POST", target=MOV, code="invalid-field", field="Idempotency-Key",
     headers=["Idempotency-Key: " + "k" * 129], body=ok_mov % "1")
case("CR inside the Authorization header", [400, 401], method="GET", target="/v1/stock/MUG-01", key=None,
     headers=["Authorization: Bearer {KEY}\rX: y"])
case("key after a NUL is not the key", 401, method="GET", target="/v1/stock/MUG-01", key=None, code="unauthorized",
     headers=["Authorization: Bearer x\u0000{KEY}"])
case("Authorization of 10 kB", 401, method="GET", target="/v1/stock/MUG-01", key=None, code="unauthorized",
     headers=["Authorization: Bearer " + "A" * 10000])
case("two Authorization headers, the first unknown", 401, method="GET", target="/v1/stock/MUG-01", key=None, code="unauthorized",
     headers=["Authorization: Bearer not-a-key", "Authorization: Bearer {KEY}"])
case("header line without a colon", 400, method="GET", target="/healthz", key=None, headers=["this is not a header"])
case("two different Content-Lengths", 400, method="POST", target=MOV, length="none",
     headers=["Content-Length: 5", "Content-Length: 60"], body=ok_mov % "1")
case("negative Content-Length", 400, method="POST", target=MOV, length="-1", body=ok_mov % "1")
case("Content-Length not a number", 400, method="POST", target=MOV, length="abc", body=ok_mov % "1")
case("Content-Length past 2^64", [400, 413], method="POST", target=MOV, length="99999999999999999999999", body=ok_mov % "1")
case("Content-Length of 8 MiB and 1 byte announced", 413, method="POST", target=MOV, length="8388609", body="{}")
case("Content-Length shorter than the body: the rest is the next request", 400, method="POST", target=MOV, length="2",
     body='{}{"sku": "MUG-01", "location": "wh-1", "type": "receipt", "quantity": 1}')
# Content types.
for n, ct in [("text/plain", "text/plain"), ("form", "application/x-www-form-urlencoded"),
              ("application/jsonp", "application/jsonp"), ("multipart", "multipart/form-data; boundary=x"),
              ("json with a suffix", "application/json-patch+json"), ("empty content type", "")]:
    case("content type " + n, 415, method="POST", target=MOV, content_type=ct, body=ok_mov % "1", code="unsupported-media-type")
case("no content type with a body", 415, method="POST", target=MOV, content_type=None, body=ok_mov % "1", code="unsupported-media-type")
case("content type in capitals is JSON", 400, method="POST", target=MOV, content_type="APPLICATION/JSON",
     body='{"sku": "*", "location": "wh-1", "type": "receipt", "quantity": 1}', code="invalid-identifier")
case("two content types, text first", 415, method="POST", target=MOV, content_type=None,
     headers=["Content-Type: text/plain", "Content-Type: application/json"], body=ok_mov % "1", code="unsupported-media-type")
case("UTF-16 declared", 400, method="POST", target=MOV, content_type="application/json; charset=utf-16",
     body_hex="fffe7b007d00", code="invalid-json")

# Chunked bodies.
case("chunked body is read whole", 400, method="POST", target=MOV, length="none", headers=["Transfer-Encoding: chunked"],
     body='10\r\n{"sku": "*", "lo\r\n32\r\ncation": "wh-1", "type": "receipt", "quantity": 1}\r\n0\r\n\r\n', code="invalid-identifier", field="sku")
case("chunk size not hex", [400, 413], method="POST", target=MOV, length="none", headers=["Transfer-Encoding: chunked"],
     body='zz\r\n{}\r\n0\r\n\r\n')
case("negative chunk size", [400, 413], method="POST", target=MOV, length="none", headers=["Transfer-Encoding: chunked"],
     body='-5\r\n{}\r\n0\r\n\r\n')
case("chunk size past 2^64", [400, 413], method="POST", target=MOV, length="none", headers=["Transfer-Encoding: chunked"],
     body='FFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n')
case("chunk announced past 8 MiB", [400, 413], method="POST", target=MOV, length="none", headers=["Transfer-Encoding: chunked"],
     body='900000\r\n{}\r\n0\r\n\r\n')

# Request lines and methods.
for n, raw, st in [
    ("raw space in the path", "GET /v1/stock/MUG 01 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n", [400]),
    ("HTTP/9.9", "GET /healthz HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n", [400, 505]),
    ("no version", "GET /healthz\r\nHost: x\r\n\r\n", [400]),
    ("lower-case method", "get /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [400, 405, 501]),
    ("unknown method", "BREW /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [400, 405, 501]),
    ("CONNECT", "CONNECT 127.0.0.1:6379 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [400, 405, 501]),
    ("TRACE", "TRACE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [400, 405, 501]),
    ("a Redis command instead of HTTP", "*1\r\n$8\r\nFLUSHALL\r\n\r\n", [0, 400]),
    ("an inline Redis command", "FLUSHALL\r\n\r\n", [0, 400]),
    ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", [0, 400, 405, 505]),
    ("TLS ClientHello", None, [0, 400]),
    ("NUL in the request line", "GET /healthz\u0000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [0, 400, 404]),
    ("absolute URI through the console", "GET http://evil.example/console/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", [400, 404]),
]:
    if raw is None:
        case(n, st, raw_hex="16030100f1010000ed0303" + "00" * 32 + "0d0a0d0a")
    else:
        case(n, st, raw=raw)
case("HTTP/1.0 is answered", 200, raw="GET /healthz HTTP/1.0\r\n\r\n")
case("OPTIONS on a resource is 405 with Allow", 405, method="OPTIONS", target="/v1/stock/MUG-01", code="method-not-allowed")
case("PATCH a location is 405", 405, method="PATCH", target="/v1/locations/wh-1", body='{"name": "x"}', code="method-not-allowed")

# Pipelined garbage: the first answer, then garbage is refused; nothing is changed.
case("health check then garbage", 200,
     raw="GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\u0001\u0002garbage\r\n\r\n")
case("garbage then a movement: the movement never runs", [0, 400],
     raw="\u0016\u0003garbage\r\n\r\nPOST /v1/movements HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
         "Content-Type: application/json\r\nContent-Length: 71\r\n\r\n" + ok_mov % "1")
case("bad movement then a header line as a request", 400,
     raw="POST /v1/movements HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
         "Content-Length: 2\r\n\r\n[]Content-Length: 5\r\n\r\nhello")


# Raw bytes that are not UTF-8 in the request line, the query and headers.
def rawhex(b): return b.hex()
case("byte FF in the SKU of the path", [400], raw_hex=rawhex(b"GET /v1/stock/MUG\xff01 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nConnection: close\r\n\r\n"))
case("encoded byte FF in a query SKU", 400, method="GET", target="/v1/recommendations?sku=MUG%FF01", codes=["invalid-identifier", "invalid-query"])
case("encoded overlong slash in a query SKU", 400, method="GET", target="/v1/recommendations?sku=%C0%AF", codes=["invalid-identifier", "invalid-query"])
case("non-ASCII Idempotency-Key", 400, method="POST", target=MOV, code="invalid-field", field="Idempotency-Key",
     headers=["Idempotency-Key: caf\u00e9"], body=ok_mov % "1")

# A refused request leaves no idempotency record behind either.
case("invalid SKU with an Idempotency-Key", 400, method="POST", target=MOV, code="invalid-identifier", field="sku",
     headers=["Idempotency-Key: hostile-0001"], body='{"sku": "*", "location": "wh-1", "type": "receipt", "quantity": 1}')
case("invalid stock query with an Idempotency-Key", 400, method="POST", target="/v1/stock/query", code="invalid-field",
     headers=["Idempotency-Key: hostile-0002"], body='{"skus": [], "channel": "web"}')
case("invalid reservation with an Idempotency-Key", 400, method="POST", target="/v1/reservations", code="invalid-field",
     headers=["Idempotency-Key: hostile-0003"], body='{"channel": "web", "lines": []}')
case("invalid order batch with an Idempotency-Key", 400, method="POST", target="/v1/orders", code="invalid-field",
     headers=["Idempotency-Key: hostile-0004"], body='{"orders": []}')

# Many of everything.
case("a path of 20 segments", 404, method="GET", target="/v1/stock/" + "/".join(["a"] * 18), code="not-found")
case("1000 unknown query parameters", 400, method="GET",
     target="/v1/recommendations?sku=MUG-01&" + "&".join("p%d=1" % i for i in range(1000)), code="invalid-query")
case("the same parameter 500 times", 400, method="GET",
     target="/v1/recommendations?" + "&".join(["sku=MUG-01"] * 500), code="invalid-query")
case("a basket of 101 SKUs", 400, method="GET",
     target="/v1/recommendations?sku=MUG-01&basket=" + ",".join("S%d" % i for i in range(101)), code="invalid-query")
case("2000 lines in a reservation", 400, method="POST", target="/v1/reservations", code="invalid-field", field="lines",
     body='{"channel": "web", "lines": [' + ",".join('{"sku": "S%d", "quantity": 1}' % i for i in range(2000)) + ']}')
case("1001 movements in a batch", 400, method="POST", target=MOV, code="invalid-field", field="movements",
     body='{"movements": [' + ",".join([ok_mov % "1"] * 1001) + ']}')
case("501 SKUs in a stock query", 400, method="POST", target="/v1/stock/query", code="invalid-field", field="skus",
     body='{"skus": [' + ",".join('"S%d"' % i for i in range(501)) + '], "channel": "web"}')

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requests.json")
with open(OUT, "w") as f:
    json.dump(C, f, indent=1, ensure_ascii=False)
    f.write("\n")
print("%s: %d cases" % (OUT, len(C)))
