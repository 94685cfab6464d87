/*
 * evhttp-floor - the least an evhttp server can do for a stock read, run by
 * tests/bench/run beside nginx and (1).
 *
 * usage: evhttp_floor PORT BODY_FILE
 *
 * It answers every request on 127.0.0.1:PORT with BODY_FILE's bytes, as the
 * daemon answers a stock read: the daemon's loop (http_base_new), evhttp set
 * as the daemon sets it (http_evhttp_set), the same three headers
 * (Content-Type, X-Request-Id, Date) and the answer written at once
 * (http_reply). Nothing else: no route, no key, no read cache, no JSON, no
 * metrics, no connection table. What it serves is the ceiling of (1) with
 * evhttp, measured in the same run; the request id is a constant of the
 * daemon's length.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "common/http.h"

#define FLOOR_TIMEOUT_SECS 30 /* the daemon's default limits.request_timeout_seconds */

struct body {
    char *bytes;
    size_t len;
};

static void answer(struct evhttp_request *req, void *arg)
{
    const struct body *body = arg;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evbuffer_new();

    if (buf == NULL || evbuffer_add(buf, body->bytes, body->len) != 0) {
        evhttp_send_error(req, 500, NULL);
        evbuffer_free(buf);
        return;
    }
    evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "X-Request-Id", "0123456789abcdef");
    evhttp_add_header(out, "Date", http_date());
    http_reply(req, 200, buf);
    evbuffer_free(buf);
}

static int read_body(const char *path, struct body *body)
{
    FILE *f = fopen(path, "rb");
    long len;

    if (f == NULL)
        return -1;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        (body->bytes = malloc((size_t)len + 1)) == NULL) {
        fclose(f);
        return -1;
    }
    body->len = fread(body->bytes, 1, (size_t)len, f);
    fclose(f);
    return body->len == (size_t)len ? 0 : -1;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    struct body body = {NULL, 0};
    struct event_base *base;
    struct event *term;
    struct evhttp *http;
    char *end;
    long port;

    if (argc != 3) {
        fprintf(stderr, "usage: evhttp_floor PORT BODY_FILE\n");
        return 2;
    }
    port = strtol(argv[1], &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "evhttp_floor: %s is not a port\n", argv[1]);
        return 2;
    }
    if (read_body(argv[2], &body) != 0) {
        fprintf(stderr, "evhttp_floor: cannot read %s\n", argv[2]);
        return 1;
    }
    base = http_base_new();
    http = base ? evhttp_new(base) : NULL;
    term = base ? evsignal_new(base, SIGTERM, on_signal, base) : NULL;
    if (http == NULL || term == NULL || event_add(term, NULL) != 0) {
        fprintf(stderr, "evhttp_floor: out of memory\n");
        return 1;
    }
    http_evhttp_set(http, FLOOR_TIMEOUT_SECS);
    evhttp_set_gencb(http, answer, &body);
    if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) != 0) {
        fprintf(stderr, "evhttp_floor: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    event_base_dispatch(base);
    evhttp_free(http);
    event_free(term);
    event_base_free(base);
    free(body.bytes);
    return 0;
}
