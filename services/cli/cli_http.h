/*
 * cli_http.h - the command-line client's HTTP glue: libevent's evhttp client
 * on one event loop, a few keep-alive connections to the daemon so that an
 * import keeps several requests in flight, and a blocking call for the
 * one-request commands.
 *
 * Ownership: a struct cli_response handed to a callback is new and the
 * callback frees it (cli_response_free). Every request's callback is called
 * exactly once, with status 0 and error set when no answer came.
 */
#ifndef SERVICES_CLI_HTTP_H
#define SERVICES_CLI_HTTP_H

#include <stddef.h>

#include <jansson.h>

#define CLI_HTTP_MAX_CONN 16

struct cli_http;
struct event_base;

struct cli_response {
    int status;      /* HTTP status; 0 when no answer came */
    char error[160]; /* why no answer came ("connection refused", "timed out") */
    char *body;      /* NUL-terminated; body_len bytes before the NUL */
    size_t body_len;
    json_t *json;    /* the body parsed when it is JSON, else NULL */
    int replayed;    /* Idempotent-Replayed: true */
    int retry_after; /* seconds from Retry-After, 0 when absent */
};

void cli_response_free(struct cli_response *r);

typedef void cli_http_cb(struct cli_response *res, void *arg);

/*
 * cli_http_new - a client for @url ("http://host[:port][/prefix]").
 * @key: sent as "Authorization: Bearer <key>"; NULL or "" sends none.
 * @timeout_s: per request, connect included. @nconn: connections (1..16).
 * @return new, or NULL with @err (a URL this client cannot use).
 */
struct cli_http *cli_http_new(const char *url, const char *key, int timeout_s, int nconn, char *err,
                              size_t errlen);
void cli_http_free(struct cli_http *h);

/* cli_http_base - the event loop, for timers. Borrowed. */
struct event_base *cli_http_base(struct cli_http *h);

/* cli_http_url - the URL the client talks to, for messages. Borrowed. */
const char *cli_http_url(const struct cli_http *h);

/* cli_http_idle - how many connections have no request in flight. */
int cli_http_idle(const struct cli_http *h);

/*
 * cli_http_send - start @method @path (with the URL's prefix) on an idle
 * connection. @body: NULL, or JSON text sent as application/json.
 * @idem_key: NULL, or sent as Idempotency-Key. @cb is called from the loop.
 * @return 0, or -1 (no idle connection, or libevent refused the request:
 * @cb is then not called).
 */
int cli_http_send(struct cli_http *h, const char *method, const char *path, const char *body,
                  const char *idem_key, cli_http_cb *cb, void *arg);

/* cli_http_run - run the loop until no request is in flight and no timer is pending. */
void cli_http_run(struct cli_http *h);

/*
 * cli_http_hold / cli_http_unhold - count a timer (say, a retry) as pending
 * work, so that cli_http_run waits for it.
 */
void cli_http_hold(struct cli_http *h);
void cli_http_unhold(struct cli_http *h);

/*
 * cli_http_call - one request, waiting for its answer.
 * @return a new response (never NULL).
 */
struct cli_response *cli_http_call(struct cli_http *h, const char *method, const char *path,
                                   const char *body, const char *idem_key);

#endif
