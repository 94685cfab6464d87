/*
 * test_hostile.c - hostile requests against a real daemon: malformed and
 * deeply nested JSON, huge numbers, NUL bytes and invalid UTF-8, Redis
 * protocol and key-pattern characters in identifiers, traversal under
 * /console/, CRLF injection, bad lengths and content types, duplicate keys,
 * chunked bodies, pipelined garbage, oversize headers and bodies, and a slow
 * client holding a connection.
 *
 * Each case gets its status (or a closed connection, status 0, where the
 * case allows it), the daemon still answers GET /healthz after it, and Redis
 * is byte-for-byte unchanged (DEBUG DIGEST) after every case that could
 * write and after the whole suite.
 *
 * The cases are data: tests/data/hostile/requests.json (see the README
 * there). Cases too big to keep as data are built here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/harness.h"

#define ADMIN   (h->keys[HARNESS_ADMIN])
#define ONE_MIB (1024 * 1024)

struct suite {
    struct harness *h;
    char digest[41]; /* before any hostile request */
    size_t cases;    /* hostile requests sent */
};

/* A growing byte buffer for the requests built here. */
struct bytes {
    char *data;
    size_t len;
};

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
    b->data = realloc(b->data, b->len + n + 1);
    assert_non_null(b->data);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void bytes_str(struct bytes *b, const char *s)
{
    bytes_add(b, s, strlen(s));
}

static void bytes_fmt(struct bytes *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bytes_fmt(struct bytes *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(line));
    bytes_add(b, line, (size_t)n);
}

/* @s with every "{KEY}" replaced by @key, appended to @b (NUL bytes and all). */
static void bytes_add_keyed(struct bytes *b, const char *s, size_t len, const char *key)
{
    for (size_t i = 0; i < len;) {
        if (len - i >= 5 && memcmp(s + i, "{KEY}", 5) == 0) {
            bytes_str(b, key);
            i += 5;
        } else {
            bytes_add(b, s + i, 1);
            i++;
        }
    }
}

static void bytes_add_hex(struct bytes *b, const char *hex)
{
    for (size_t i = 0; hex[i] != '\0' && hex[i + 1] != '\0'; i += 2) {
        char pair[3] = {hex[i], hex[i + 1], '\0'};
        char byte = (char)strtoul(pair, NULL, 16);

        bytes_add(b, &byte, 1);
    }
}

static int group_setup(void **state)
{
    struct suite *s = calloc(1, sizeof(*s));
    /* A short request timeout, so that the slow clients are let go soon. */
    struct harness *h = harness_start_config("{\"limits\": {\"request_timeout_seconds\": 5}}");
    struct harness_response *r;

    *state = s;
    if (s == NULL || h == NULL) {
        return -1;
    }
    s->h = h;
    harness_admin_put(h, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    harness_admin_put(h, "/v1/locations/store-leeds",
                      "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"store\", "
                      "\"click_collect\"]}");
    harness_admin_put(h, "/v1/products/MUG-01",
                      "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "899, \"currency\": \"GBP\"}}");
    r = harness_post_json(h, ADMIN, "/v1/movements",
                          "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", "
                          "\"quantity\": 10}");
    harness_assert_status(r, 201);
    harness_response_free(r);
    if (harness_redis_digest(&h->redis, s->digest) != 0) {
        return -1;
    }
    return 0;
}

/* The whole suite changed nothing: the digest taken before the first hostile request. */
static int group_teardown(void **state)
{
    struct suite *s = *state;
    char after[41];
    int rc;

    if (s == NULL) {
        return -1;
    }
    rc = harness_redis_digest(&s->h->redis, after) == 0 && strcmp(after, s->digest) == 0 ? 0 : -1;
    if (rc != 0) {
        fprintf(stderr, "test_hostile: Redis changed over the suite: %s before, %s after\n",
                s->digest, after);
    }
    fprintf(stderr, "test_hostile: %zu hostile requests\n", s->cases);
    if (harness_stop(s->h) != 0) {
        rc = -1;
    }
    free(s);
    return rc;
}

static const char *key_of(const struct harness *h, json_t *c)
{
    static const struct {
        const char *name;
        enum harness_role role;
    } roles[] = {
        {"storefront", HARNESS_STOREFRONT}, {"store_leeds", HARNESS_STORE_LEEDS},
        {"store_york", HARNESS_STORE_YORK}, {"agent", HARNESS_AGENT},
        {"admin", HARNESS_ADMIN},
    };
    json_t *k = json_object_get(c, "key");

    if (k == NULL) {
        return ADMIN;
    }
    for (size_t i = 0; json_is_string(k) && i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (strcmp(json_string_value(k), roles[i].name) == 0) {
            return h->keys[roles[i].role];
        }
    }
    assert_true(json_is_null(k));
    return NULL;
}

/* The bytes a case describes: "raw"/"raw_hex" as they are, else a request built from parts. */
static void build_request(const struct harness *h, json_t *c, struct bytes *b)
{
    json_t *raw = json_object_get(c, "raw"), *body = json_object_get(c, "body");
    json_t *length = json_object_get(c, "length"), *ct = json_object_get(c, "content_type");
    json_t *headers = json_object_get(c, "headers"), *v;
    const char *key = key_of(h, c);
    struct bytes payload = {0};
    size_t i;

    if (raw != NULL) {
        bytes_add_keyed(b, json_string_value(raw), json_string_length(raw), ADMIN);
        return;
    }
    if (harness_jstr(c, "raw_hex") != NULL) {
        bytes_add_hex(&payload, harness_jstr(c, "raw_hex"));
        bytes_add_keyed(b, payload.data, payload.len, ADMIN);
        free(payload.data);
        return;
    }
    bytes_add(&payload, "", 0);
    if (body != NULL) {
        bytes_add(&payload, json_string_value(body), json_string_length(body));
    } else if (harness_jstr(c, "body_hex") != NULL) {
        bytes_add_hex(&payload, harness_jstr(c, "body_hex"));
    }
    bytes_str(b, harness_jstr(c, "method"));
    bytes_str(b, " ");
    bytes_str(b, harness_jstr(c, "target")); /* may be long: not through bytes_fmt */
    bytes_str(b, " HTTP/1.1\r\nHost: omnistock\r\nConnection: close\r\n");
    if (key != NULL) {
        bytes_fmt(b, "Authorization: Bearer %s\r\n", key);
    }
    if (json_is_string(ct)) {
        bytes_fmt(b, "Content-Type: %s\r\n", json_string_value(ct));
    } else if (ct == NULL && payload.len > 0) {
        bytes_str(b, "Content-Type: application/json\r\n");
    }
    json_array_foreach(headers, i, v)
    {
        bytes_add_keyed(b, json_string_value(v), json_string_length(v), ADMIN);
        bytes_str(b, "\r\n");
    }
    if (json_is_string(length) && strcmp(json_string_value(length), "none") != 0) {
        bytes_fmt(b, "Content-Length: %s\r\n", json_string_value(length));
    } else if (length == NULL && (payload.len > 0 || body != NULL)) {
        bytes_fmt(b, "Content-Length: %zu\r\n", payload.len);
    }
    bytes_str(b, "\r\n");
    bytes_add(b, payload.data, payload.len);
    free(payload.data);
}

/* The problem's type is one of @codes (a string or an array of them); @name is the case's. */
static void assert_problem_code(const struct harness_response *r, json_t *codes, const char *name)
{
    const char *type = harness_jstr(r->json, "type");
    const char *ct = harness_header(r, "Content-Type");
    json_t *v;
    size_t i;

    if (codes == NULL) {
        return;
    }
    if (ct == NULL || strstr(ct, "application/problem+json") == NULL || type == NULL ||
        strncmp(type, "/problems/", 10) != 0) {
        fail_msg("%s: expected problem details, got status %d, Content-Type %s: %.200s", name,
                 r->status, ct != NULL ? ct : "(none)", r->body);
    }
    if (json_is_string(codes)) {
        if (strcmp(type + 10, json_string_value(codes)) != 0) {
            fail_msg("%s: expected %s, got %s", name, json_string_value(codes), type);
        }
        return;
    }
    json_array_foreach(codes, i, v)
    {
        if (strcmp(type + 10, json_string_value(v)) == 0) {
            return;
        }
    }
    fail_msg("%s: problem type %s is not one of the codes allowed", name, type);
}

static void assert_status_in(const struct harness_response *r, json_t *want)
{
    json_t *v;
    size_t i;

    if (json_is_integer(want)) {
        harness_assert_status(r, (int)json_integer_value(want));
        return;
    }
    json_array_foreach(want, i, v)
    {
        if (r->status == json_integer_value(v)) {
            return;
        }
    }
    harness_assert_status(r, (int)json_integer_value(json_array_get(want, 0)));
}

static void assert_still_serving(const struct harness *h)
{
    struct harness_response *r = harness_get(h, NULL, "/healthz");

    harness_assert_status(r, 200);
    harness_response_free(r);
}

/* Send @b, check the answer against @c, check the daemon is up and (for writes) Redis as before. */
static void run_bytes(struct suite *s, json_t *c, const struct bytes *b)
{
    struct harness *h = s->h;
    const char *method = harness_jstr(c, "method");
    int write = method == NULL || strcmp(method, "GET") != 0;
    struct harness_response *r;
    char before[41];

    if (write) {
        assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    }
    r = harness_raw(h, b->data, b->len);
    s->cases++;
    assert_status_in(r, json_object_get(c, "status"));
    if (r->status != 0) {
        const char *name = harness_jstr(c, "name");
        const char *field = harness_jstr(r->json, "field");
        const char *no_header = harness_jstr(c, "no_header");

        assert_problem_code(r, json_object_get(c, "code"), name);
        assert_problem_code(r, json_object_get(c, "codes"), name);
        if (harness_jstr(c, "field") != NULL &&
            (field == NULL || strcmp(field, harness_jstr(c, "field")) != 0)) {
            fail_msg("%s: expected field %s, got %s", name, harness_jstr(c, "field"),
                     field != NULL ? field : "none");
        }
        if (no_header != NULL && harness_header(r, no_header) != NULL) {
            fail_msg("%s: the response carries %s: %s", name, no_header,
                     harness_header(r, no_header));
        }
    }
    harness_response_free(r);
    assert_still_serving(h);
    if (write) {
        harness_assert_unchanged(h, before);
    }
}

static void test_hostile__cases_from_data(void **state)
{
    struct suite *s = *state;
    char path[PATH_MAX];
    json_error_t jerr;
    json_t *cases, *c;
    size_t i;

    /* NUL bytes are part of some cases: JSON_ALLOW_NUL, and lengths, not strlen. */
    harness_data_path("../hostile/requests.json", path, sizeof(path));
    cases = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (cases == NULL) {
        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
    }
    json_array_foreach(cases, i, c)
    {
        struct bytes b = {0};

        harness_context("case %zu: %s", i, harness_jstr(c, "name"));
        build_request(s->h, c, &b);
        run_bytes(s, c, &b);
        free(b.data);
    }
    harness_context(NULL);
    assert_true(i >= 100);
    json_decref(cases);
}

/* A case built here: @status (and @code, may be NULL) for a POST of @b's bytes. */
static void run_built(struct suite *s, const char *name, int status, const char *code,
                      const struct bytes *b)
{
    json_t *c = json_pack("{s:s, s:s, s:i}", "name", name, "method", "POST", "status", status);

    if (code != NULL) {
        json_object_set_new(c, "code", json_string(code));
    }
    harness_context("%s", name);
    run_bytes(s, c, b);
    harness_context(NULL);
    json_decref(c);
}

/* A POST of @body (@len bytes) to @path as @key with the usual headers. */
static void post_bytes(struct bytes *b, const char *path, const char *key, const char *body,
                       size_t len)
{
    bytes_fmt(b,
              "POST %s HTTP/1.1\r\nHost: omnistock\r\nConnection: close\r\n"
              "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
              "Content-Length: %zu\r\n\r\n",
              path, key, len);
    bytes_add(b, body, len);
}

static void test_hostile__deep_nesting_is_refused(void **state)
{
    static const char *const openers[] = {"[", "{\"a\":", "{\"movements\":["};
    struct suite *s = *state;
    struct harness *h = s->h;

    for (size_t k = 0; k < sizeof(openers) / sizeof(openers[0]); k++) {
        size_t olen = strlen(openers[k]);
        size_t n = ONE_MIB / olen < 100000 ? ONE_MIB / olen : 100000; /* within 1 MiB */
        char *body = malloc(n * olen);
        struct bytes b = {0};
        char name[64];

        for (size_t i = 0; i < n; i++) {
            memcpy(body + i * olen, openers[k], olen);
        }
        post_bytes(&b, "/v1/movements", ADMIN, body, n * olen);
        snprintf(name, sizeof(name), "%zu times %s", n, openers[k]);
        run_built(s, name, 400, "invalid-json", &b);
        free(b.data);
        free(body);
    }
}

/* 50,000 distinct keys in one object: parsed, then refused for its first unknown key. */
static void test_hostile__an_object_of_50000_keys_is_refused(void **state)
{
    struct suite *s = *state;
    struct harness *h = s->h;
    struct bytes body = {0}, b = {0};

    bytes_str(&body, "{\"sku\": \"MUG-01\"");
    for (int i = 0; i < 50000; i++) {
        bytes_fmt(&body, ", \"k%d\": %d", i, i);
    }
    bytes_str(&body, "}");
    post_bytes(&b, "/v1/movements", ADMIN, body.data, body.len);
    run_built(s, "an object of 50,000 keys", 400, "invalid-field", &b);
    free(body.data);
    free(b.data);
}

static void test_hostile__oversize_headers_and_bodies(void **state)
{
    struct suite *s = *state;
    struct harness *h = s->h;
    struct bytes b = {0};
    char *big = malloc(ONE_MIB + 2);

    /* One header of 20 kB: over the 16 kB the daemon reads of headers. */
    memset(big, 'a', 20000);
    big[20000] = '\0';
    bytes_fmt(&b, "GET /v1/stock/MUG-01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    bytes_fmt(&b, "Authorization: Bearer %s\r\nX-Big: ", ADMIN);
    bytes_str(&b, big);
    bytes_str(&b, "\r\n\r\n");
    run_built(s, "a 20 kB header", 400, NULL, &b);
    free(b.data);

    /* 2,000 small headers. */
    memset(&b, 0, sizeof(b));
    bytes_fmt(&b, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (int i = 0; i < 2000; i++) {
        bytes_fmt(&b, "X-H%d: %d\r\n", i, i);
    }
    bytes_str(&b, "\r\n");
    run_built(s, "2000 headers", 400, NULL, &b);
    free(b.data);

    /* A request line of 64 kB. */
    memset(&b, 0, sizeof(b));
    memset(big, 'A', 65536);
    big[65536] = '\0';
    bytes_fmt(&b, "GET /v1/stock/");
    bytes_str(&b, big);
    bytes_fmt(&b, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer %s\r\n\r\n",
              ADMIN);
    run_built(s, "a 64 kB request line", 400, NULL, &b);
    free(b.data);

    /* A body of 1 MiB and 1 byte from a store key: 413, whoever sends it. */
    memset(&b, 0, sizeof(b));
    memset(big, ' ', ONE_MIB + 1);
    big[0] = '{';
    big[ONE_MIB] = '}';
    post_bytes(&b, "/v1/movements", h->keys[HARNESS_STORE_LEEDS], big, ONE_MIB + 1);
    run_built(s, "a body of 1 MiB and 1 byte", 413, "payload-too-large", &b);
    free(b.data);

    /* The same, chunked: 17 chunks of 64 kB. */
    memset(&b, 0, sizeof(b));
    bytes_fmt(&b,
              "POST /v1/movements HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
              "Transfer-Encoding: chunked\r\n\r\n",
              ADMIN);
    for (int i = 0; i < 17; i++) {
        bytes_str(&b, "10000\r\n");
        bytes_add(&b, big, 65536);
        bytes_str(&b, "\r\n");
    }
    bytes_str(&b, "0\r\n\r\n");
    run_built(s, "a chunked body over 1 MiB", 413, "payload-too-large", &b);
    free(b.data);
    free(big);
}

static void test_hostile__binary_garbage_and_pipelines(void **state)
{
    struct suite *s = *state;
    struct bytes b = {0};
    json_t *c;
    unsigned x = 12345;

    /* 4 kB of pseudo-random bytes (a fixed sequence, the same every run). */
    for (int i = 0; i < 4096; i++) {
        char byte;
        x = x * 1103515245u + 12345u;
        byte = (char)(x >> 16);
        bytes_add(&b, &byte, 1);
    }
    c = json_pack("{s:s, s:[i, i]}", "name", "4 kB of binary garbage", "status", 0, 400);
    harness_context("4 kB of binary garbage");
    run_bytes(s, c, &b);
    json_decref(c);
    free(b.data);

    /* 100 health checks in one write: the first is answered, and the daemon stays up. */
    memset(&b, 0, sizeof(b));
    for (int i = 0; i < 99; i++) {
        bytes_str(&b, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    bytes_str(&b, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    c = json_pack("{s:s, s:s, s:i}", "name", "100 pipelined requests", "method", "GET", "status",
                  200);
    harness_context("100 pipelined requests");
    run_bytes(s, c, &b);
    json_decref(c);
    free(b.data);
    harness_context(NULL);
}

static void test_hostile__slow_clients_are_timed_out_and_others_served(void **state)
{
    struct suite *s = *state;
    struct harness *h = s->h;
    int slow[3];

    /* Half a request line, half the headers, and a body that never comes. */
    slow[0] = harness_connect(h, "GET /v1/stoc");
    slow[1] = harness_connect(h, "GET /v1/stock/MUG-01 HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n");
    slow[2] = harness_connect(h, "POST /v1/movements HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                 "application/json\r\nContent-Length: 1000\r\n\r\n{\"sku\": ");
    for (int i = 0; i < 3; i++) {
        assert_true(slow[i] >= 0);
    }
    s->cases += 3;
    /* Meanwhile everyone else is served. */
    for (int i = 0; i < 20; i++) {
        struct harness_response *r = harness_get(h, ADMIN, "/v1/stock/MUG-01");

        harness_assert_status(r, 200);
        harness_response_free(r);
    }
    for (int i = 0; i < 3; i++) {
        harness_context("slow client %d", i);
        assert_true(harness_closed_by_daemon(slow[i], 120));
        close(slow[i]);
    }
    harness_context(NULL);
    assert_still_serving(h);
}

/* The status of a GET of @path as the admin, with one more header line @header (may be NULL). */
static int get_status(const struct harness *h, const char *path, const char *header, char **body)
{
    const char *headers[] = {header, NULL};
    struct harness_response *r = harness_http(h, "GET", path, h->keys[HARNESS_ADMIN],
                                              header != NULL ? headers : NULL, NULL, 0);
    int status = r->status;

    if (body != NULL) {
        *body = strdup(r->body);
    }
    harness_response_free(r);
    return status;
}

/*
 * Event cursors at the very end of a stream's ids (2^64-1 ms) are valid, and
 * nothing follows them: 200 and no events, never a Redis error passed off as
 * 503.
 */
static void test_hostile__event_cursors_past_the_last_id_read_nothing(void **state)
{
    static const char *const cursors[] = {
        "0-18446744073709551615-18446744073709551615",
        "15-18446744073709551615-0",
        "7-18446744073709551615-18446744073709551615",
    };
    struct suite *s = *state;
    struct harness *h = s->h;

    for (size_t i = 0; i < sizeof(cursors) / sizeof(cursors[0]); i++) {
        char path[160], *body = NULL;
        json_t *page;

        snprintf(path, sizeof(path), "/v1/events?after=%s", cursors[i]);
        harness_context("GET %s", path);
        assert_int_equal(get_status(h, path, NULL, &body), 200);
        page = json_loads(body, 0, NULL);
        assert_non_null(page);
        assert_int_equal(json_array_size(json_object_get(page, "events")), 0);
        json_decref(page);
        free(body);
        s->cases++;
        assert_still_serving(h);
    }
    harness_context(NULL);
}

/*
 * A Redis error while reading the event log (here: one partition's stream is
 * not a stream) is a 503, and the daemon stays up: the error text, which
 * lives in Redis's reply, is copied before the reply is freed.
 */
static void test_hostile__a_redis_error_reading_events_is_503_not_a_crash(void **state)
{
    struct suite *s = *state;
    struct harness *h = s->h;
    char key[32] = "";
    redisReply *reply;

    for (int p = 0; p < 16 && key[0] == '\0'; p++) {
        char k[32];

        snprintf(k, sizeof(k), "{p%02d}:events", p);
        reply = harness_redis_command(&h->redis, "EXISTS %s", k);
        assert_non_null(reply);
        if (reply->integer == 0) {
            snprintf(key, sizeof(key), "%s", k);
        }
        freeReplyObject(reply);
    }
    assert_true(key[0] != '\0');
    freeReplyObject(harness_redis_command(&h->redis, "SET %s not-a-stream", key));
    assert_int_equal(get_status(h, "/v1/events", NULL, NULL), 503);
    assert_still_serving(h);
    assert_int_equal(get_status(h, "/v1/events?after=3-1-1", NULL, NULL), 503);
    assert_still_serving(h);
    freeReplyObject(harness_redis_command(&h->redis, "DEL %s", key));
    assert_int_equal(get_status(h, "/v1/events", NULL, NULL), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile__cases_from_data),
        cmocka_unit_test(test_hostile__deep_nesting_is_refused),
        cmocka_unit_test(test_hostile__an_object_of_50000_keys_is_refused),
        cmocka_unit_test(test_hostile__oversize_headers_and_bodies),
        cmocka_unit_test(test_hostile__binary_garbage_and_pipelines),
        cmocka_unit_test(test_hostile__slow_clients_are_timed_out_and_others_served),
        cmocka_unit_test(test_hostile__event_cursors_past_the_last_id_read_nothing),
        cmocka_unit_test(test_hostile__a_redis_error_reading_events_is_503_not_a_crash),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
