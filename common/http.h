/*
 * http.h - the HTTP side of every module: routing, auth, limits, problem+json
 * and idempotency, on evhttp.
 *
 * One struct request per HTTP request. A handler reads parse -> validate ->
 * store -> reply, and every path ends in exactly one request_reply_* call,
 * which sends the response (or drops it if the client is gone), records
 * metrics, logs one line and frees the request.
 */
#ifndef COMMON_HTTP_H
#define COMMON_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "common/config.h"
#include "common/conn.h"
#include "proto/proto.h"

struct event_base;
struct evbuffer;
struct http_server;
struct metrics;
struct rclient;
struct request;

typedef void http_handler_cb(struct request *r);

enum route_flags {
    ROUTE_PUBLIC = 1,     /* no API key needed */
    ROUTE_JSON_BODY = 2,  /* a JSON object body is required */
    ROUTE_IDEMPOTENT = 4, /* the server stores the response under the Idempotency-Key */
    ROUTE_RAW = 8,        /* the handler writes its own response (metrics, static files) */
};

struct route {
    enum evhttp_cmd_type method;
    const char *pattern; /* "/v1/stock/{}/history": {} matches one path segment */
    const char *name;    /* metrics label, e.g. "stock_get" */
    unsigned roles;      /* ROLE_* bits allowed; ignored for ROUTE_PUBLIC */
    unsigned flags;      /* ROUTE_* bits */
    http_handler_cb *handler;
};

#define REQUEST_MAX_PARAMS 4

struct request {
    struct evhttp_request *ev; /* evhttp's; freed by evhttp after the reply */
    struct http_server *srv;
    const struct route *route;
    void *ctx;                              /* the module context the route was registered with */
    size_t metric;                          /* the route's series in the metrics; 0: unmatched */
    const struct api_key *key;              /* borrowed from the config; NULL on public routes */
    const char *params[REQUEST_MAX_PARAMS]; /* raw path segments matched by {} */
    struct evkeyvalq query;
    json_t *body; /* parsed JSON body, or NULL when there was none */
    const char *raw_body;
    size_t raw_len;
    char id[20]; /* request id, also sent as X-Request-Id */
    uint64_t start_ns;

    /* Idempotency: set when a POST carried a valid Idempotency-Key. */
    int has_idem;
    char idem_scope[65];        /* sha256 of key name, route and Idempotency-Key */
    char fingerprint[65];       /* sha256 of method, path and body */
    int idem_store;             /* store the response under the key when finished */
    int replayed;               /* the response is a stored one */
    http_handler_cb *idem_next; /* what runs once the idempotency record allows it */
    char *names_customer;       /* request_names_customer; owned */

    /* A streamed response (request_stream_start), and the server's list of them. */
    void (*stream_closed)(struct request *r, void *arg);
    void *stream_arg;
    struct request *stream_prev, *stream_next;
    struct conn *conn; /* its connection's entry; NULL once the connection is gone */

    /* A handler's state that lives as long as the request; freed with it. */
    void *state;
    void (*state_free)(void *state);

    char pathbuf[512];
};

/*
 * http_base_new - the event loop the server is tuned for: epoll's change list,
 * libevent's allocations through malloc, two priorities (0 first). NULL on failure.
 */
struct event_base *http_base_new(void);

/*
 * http_evhttp_set - the server's settings on @http: the methods it takes, its
 * limits on bodies and headers, and @timeout_secs for a connection idle mid-request.
 */
void http_evhttp_set(struct evhttp *http, int timeout_secs);

/*
 * http_reply - evhttp_send_reply, then the answer written at once rather than
 * on the loop's next turn (@body's contents are taken, as evhttp does). It
 * adds the Content-Length of a body itself, but for a HEAD: the caller adds none.
 */
void http_reply(struct evhttp_request *ev, int status, struct evbuffer *body);

/* http_date - now as an HTTP Date header's value (RFC 9110), made once a second. */
const char *http_date(void);

/*
 * http_server_new - an HTTP server on @base with the daemon's config (borrowed).
 * @redis: borrowed; used for idempotency records. Registers its Lua script
 * with @redis, so call it before rclient_start.
 */
struct http_server *http_server_new(struct event_base *base, const struct config *cfg,
                                    struct rclient *redis);
void http_server_free(struct http_server *srv);

/*
 * http_server_route - register @n routes whose handlers get @ctx in r->ctx.
 * @routes: borrowed, must outlive the server. Call before listening.
 * @return 0 or -1 (too many routes).
 */
int http_server_route(struct http_server *srv, const struct route *routes, size_t n, void *ctx);

/* http_server_metrics - the server's metrics (borrowed); NULL before listening. */
struct metrics *http_server_metrics(struct http_server *srv);

/* http_server_listen - bind and listen. @return 0, or -1 with one line in @err. */
int http_server_listen(struct http_server *srv, const char *host, int port, char *err,
                       size_t errlen);

/*
 * http_server_drain - stop accepting connections; call @done once every
 * request in flight has been answered (at once if none is).
 */
void http_server_drain(struct http_server *srv, void (*done)(void *), void *arg);

/* http_server_in_flight - requests read and not yet answered. */
size_t http_server_in_flight(const struct http_server *srv);
/* http_server_conn_stats - connections open, refused over the cap, closed for being too slow. */
void http_server_conn_stats(const struct http_server *srv, struct conn_stats *out);

/* The shared Redis client and config, for handlers. */
struct rclient *request_redis(const struct request *r);
const struct config *request_config(const struct request *r);
struct metrics *request_metrics(const struct request *r);

/* request_query - a query-string parameter (borrowed), or NULL. */
const char *request_query(struct request *r, const char *name);

/*
 * request_names_customer - the response about to be sent names @customer (NULL
 * or "": none). Its idempotency record, if one is kept, is then listed under
 * the customer ({pNN}:custidem:<customer>, in the record's partition), so that
 * erasing the customer deletes it too. @return 0, or -1 (out of memory).
 */
int request_names_customer(struct request *r, const char *customer);

/* request_reply_json - send @body (stolen) as application/json with @status. */
void request_reply_json(struct request *r, int status, json_t *body);

/* request_reply_empty - send @status with no body (204). */
void request_reply_empty(struct request *r, int status);

/*
 * request_reply_problem - send problem details for @code. @field may be NULL.
 * @extra: stolen, may be NULL; its members are added to the problem object.
 */
void request_reply_problem(struct request *r, enum problem_code code, const char *field,
                           json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * http_problem_new - a problem details object for @code. @field may be NULL.
 * @return a new reference.
 */
json_t *http_problem_new(enum problem_code code, const char *field, const char *detail);

/* request_reply_error - send the problem a codec reported. */
void request_reply_error(struct request *r, const struct proto_error *err);

/* request_reply_unavailable - 503 with Retry-After: Redis is not answering. */
void request_reply_unavailable(struct request *r);

/*
 * request_stream_start - answer 200 with @content_type and keep the response
 * open: send with request_stream_write, finish with request_stream_end or
 * request_stream_drop. If the client goes away first, or the server drains,
 * @closed is called once instead and the request is freed when it returns.
 * The stream has no read timeout; a write that cannot go out for 60 s
 * closes it.
 */
void request_stream_start(struct request *r, const char *content_type,
                          void (*closed)(struct request *r, void *arg), void *arg);

/*
 * request_stream_write - send @buf's contents (it is emptied).
 * @return the bytes queued for the client and not yet sent, this included.
 */
size_t request_stream_write(struct request *r, struct evbuffer *buf);

/* request_stream_end - finish the response and free the request; @closed is not called. */
void request_stream_end(struct request *r);

/*
 * request_stream_drop - close the connection at once, for a client that does
 * not keep up, and free the request; @closed is not called.
 */
void request_stream_drop(struct request *r);

/*
 * request_reply_raw - send @buf (stolen evbuffer contents) with @content_type.
 * For ROUTE_RAW handlers.
 */
void request_reply_raw(struct request *r, int status, const char *content_type,
                       struct evbuffer *buf);

/*
 * request_reply_stored - send a JSON response string as stored by a script,
 * with the Idempotent-Replayed header when @replayed.
 */
void request_reply_stored(struct request *r, int status, const char *json, size_t len,
                          int replayed);

/*
 * request_idempotent - honour the request's Idempotency-Key with a stored
 * response: replay it, refuse a reused key (422), or run @next and store what
 * it answers. Without a key, runs @next at once.
 */
void request_idempotent(struct request *r, http_handler_cb *next);

/*
 * http_idempotency_key_valid - 1 if @key (an Idempotency-Key header value) is
 * 1 to 128 printable ASCII characters, else 0.
 */
int http_idempotency_key_valid(const char *key);

/* request_may_location - 1 if the request's key may act at @location (store keys: own only). */
int request_may_location(const struct request *r, const char *location);

#endif
