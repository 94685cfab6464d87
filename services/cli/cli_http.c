/*
 * cli_http.c - evhttp client glue for `omnistock`: parse the URL, keep a few
 * keep-alive connections, send JSON with the API key, and turn whatever
 * comes back (an answer, a refused connection, a timeout) into one struct
 * cli_response for exactly one callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "services/cli/cli_http.h"

#define USER_AGENT "omnistock-cli/" OMNISTOCK_VERSION

#ifndef OMNISTOCK_VERSION
#define OMNISTOCK_VERSION "0"
#endif

struct cli_conn {
    struct evhttp_connection *evcon;
    int busy;
};

struct cli_http {
    struct event_base *base;
    char url[1024];
    char host[256];
    char host_header[300];
    char prefix[512]; /* the URL's path without a trailing '/', "" for none */
    char *auth;       /* "Bearer <key>", or NULL */
    int timeout_s;
    struct cli_conn conns[CLI_HTTP_MAX_CONN];
    int nconn;
    int pending; /* requests in flight and held timers */
};

struct cli_call {
    struct cli_http *h;
    struct cli_conn *conn;
    cli_http_cb *cb;
    void *arg;
    enum evhttp_request_error error;
    int has_error;
    int sys_errno;
};

void cli_response_free(struct cli_response *r)
{
    if (r == NULL)
        return;
    free(r->body);
    json_decref(r->json);
    free(r);
}

static int parse_url(struct cli_http *h, const char *url, char *err, size_t errlen)
{
    struct evhttp_uri *u = evhttp_uri_parse(url);
    const char *scheme, *host, *path;
    int port, rc = -1;

    if (u == NULL) {
        snprintf(err, errlen, "'%s' is not a URL (expected http://HOST:PORT)", url);
        return -1;
    }
    scheme = evhttp_uri_get_scheme(u);
    host = evhttp_uri_get_host(u);
    path = evhttp_uri_get_path(u);
    port = evhttp_uri_get_port(u);
    if (scheme == NULL || strcasecmp(scheme, "http") != 0) {
        snprintf(err, errlen,
                 "'%s': only http:// URLs are supported (put TLS in front of the daemon with a "
                 "proxy, and reach it over http on the inside)",
                 url);
        goto out;
    }
    if (host == NULL || host[0] == '\0' || strlen(host) >= sizeof(h->host) ||
        strlen(path != NULL ? path : "") >= sizeof(h->prefix) || strlen(url) >= sizeof(h->url)) {
        snprintf(err, errlen, "'%s': expected http://HOST[:PORT][/PREFIX]", url);
        goto out;
    }
    snprintf(h->url, sizeof(h->url), "%s", url);
    snprintf(h->host, sizeof(h->host), "%s", host);
    if (port < 0)
        port = 80;
    snprintf(h->host_header, sizeof(h->host_header), "%s:%d", host, port);
    snprintf(h->prefix, sizeof(h->prefix), "%s", path != NULL ? path : "");
    while (h->prefix[0] != '\0' && h->prefix[strlen(h->prefix) - 1] == '/')
        h->prefix[strlen(h->prefix) - 1] = '\0';
    for (int i = 0; i < h->nconn; i++) {
        h->conns[i].evcon =
            evhttp_connection_base_new(h->base, NULL, h->host, (unsigned short)port);
        if (h->conns[i].evcon == NULL) {
            snprintf(err, errlen, "cannot make a connection to %s", h->host_header);
            goto out;
        }
        evhttp_connection_set_timeout(h->conns[i].evcon, h->timeout_s);
        evhttp_connection_set_retries(h->conns[i].evcon, 0);
    }
    rc = 0;
out:
    evhttp_uri_free(u);
    return rc;
}

struct cli_http *cli_http_new(const char *url, const char *key, int timeout_s, int nconn, char *err,
                              size_t errlen)
{
    struct cli_http *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->timeout_s = timeout_s > 0 ? timeout_s : 30;
    h->nconn = nconn < 1 ? 1 : nconn > CLI_HTTP_MAX_CONN ? CLI_HTTP_MAX_CONN : nconn;
    h->base = event_base_new();
    if (h->base == NULL) {
        snprintf(err, errlen, "cannot make an event loop");
        free(h);
        return NULL;
    }
    if (key != NULL && key[0] != '\0') {
        size_t n = strlen(key) + 8;
        h->auth = malloc(n);
        if (h->auth != NULL)
            snprintf(h->auth, n, "Bearer %s", key);
    }
    if (parse_url(h, url, err, errlen) != 0) {
        cli_http_free(h);
        return NULL;
    }
    return h;
}

void cli_http_free(struct cli_http *h)
{
    if (h == NULL)
        return;
    for (int i = 0; i < h->nconn; i++) {
        if (h->conns[i].evcon != NULL)
            evhttp_connection_free(h->conns[i].evcon);
    }
    if (h->base != NULL)
        event_base_free(h->base);
    free(h->auth);
    free(h);
}

struct event_base *cli_http_base(struct cli_http *h)
{
    return h->base;
}

const char *cli_http_url(const struct cli_http *h)
{
    return h->url;
}

int cli_http_idle(const struct cli_http *h)
{
    int n = 0;

    for (int i = 0; i < h->nconn; i++)
        n += !h->conns[i].busy;
    return n;
}

/* Only errors that say something about the connection are worth showing. */
static int telling_errno(int e)
{
    return e == ECONNREFUSED || e == ECONNRESET || e == ETIMEDOUT || e == EHOSTUNREACH ||
           e == ENETUNREACH || e == ECONNABORTED;
}

static void describe_error(const struct cli_call *c, struct cli_response *res)
{
    const char *what = "could not connect, or the connection closed before an answer came (is "
                       "omnistockd running there?)";

    if (c->has_error) {
        switch (c->error) {
        case EVREQ_HTTP_TIMEOUT:
            snprintf(res->error, sizeof(res->error), "no answer within %d s", c->h->timeout_s);
            return;
        case EVREQ_HTTP_INVALID_HEADER:
            what = "the answer was not HTTP";
            break;
        case EVREQ_HTTP_DATA_TOO_LONG:
            what = "the answer was too long";
            break;
        default:
            break;
        }
    }
    if (telling_errno(c->sys_errno))
        snprintf(res->error, sizeof(res->error), "%s", strerror(c->sys_errno));
    else
        snprintf(res->error, sizeof(res->error), "%s", what);
}

static void read_answer(struct evhttp_request *req, struct cli_response *res)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
    const char *ct = evhttp_find_header(headers, "Content-Type");
    const char *replayed = evhttp_find_header(headers, "Idempotent-Replayed");
    const char *retry = evhttp_find_header(headers, "Retry-After");
    size_t len = evbuffer_get_length(in);

    res->status = evhttp_request_get_response_code(req);
    res->body = malloc(len + 1);
    if (res->body == NULL)
        abort();
    evbuffer_copyout(in, res->body, len);
    res->body[len] = '\0';
    res->body_len = len;
    if (ct != NULL && strstr(ct, "json") != NULL)
        res->json = json_loadb(res->body, len, 0, NULL);
    res->replayed = replayed != NULL && strcasecmp(replayed, "true") == 0;
    if (retry != NULL)
        res->retry_after = atoi(retry);
}

static void on_error(enum evhttp_request_error error, void *arg)
{
    struct cli_call *c = arg;

    c->has_error = 1;
    c->error = error;
    c->sys_errno = errno;
}

static void on_done(struct evhttp_request *req, void *arg)
{
    struct cli_call *c = arg;
    struct cli_http *h = c->h;
    struct cli_response *res = calloc(1, sizeof(*res));

    if (res == NULL)
        abort();
    if (req != NULL && evhttp_request_get_response_code(req) != 0) {
        read_answer(req, res);
    } else {
        if (!c->has_error)
            c->sys_errno = errno;
        describe_error(c, res);
        res->body = strdup("");
    }
    c->conn->busy = 0;
    h->pending--;
    c->cb(res, c->arg);
    free(c);
}

static enum evhttp_cmd_type method_of(const char *m)
{
    if (strcmp(m, "POST") == 0)
        return EVHTTP_REQ_POST;
    if (strcmp(m, "PUT") == 0)
        return EVHTTP_REQ_PUT;
    if (strcmp(m, "DELETE") == 0)
        return EVHTTP_REQ_DELETE;
    return EVHTTP_REQ_GET;
}

static struct cli_conn *idle_conn(struct cli_http *h)
{
    for (int i = 0; i < h->nconn; i++) {
        if (!h->conns[i].busy)
            return &h->conns[i];
    }
    return NULL;
}

int cli_http_send(struct cli_http *h, const char *method, const char *path, const char *body,
                  const char *idem_key, cli_http_cb *cb, void *arg)
{
    struct cli_conn *conn = idle_conn(h);
    struct cli_call *c;
    struct evhttp_request *req;
    struct evkeyvalq *out;
    char *uri;
    size_t n;
    int rc;

    if (conn == NULL)
        return -1;
    c = calloc(1, sizeof(*c));
    req = c != NULL ? evhttp_request_new(on_done, c) : NULL;
    if (req == NULL) {
        free(c);
        return -1;
    }
    c->h = h;
    c->conn = conn;
    c->cb = cb;
    c->arg = arg;
    evhttp_request_set_error_cb(req, on_error);
    out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Host", h->host_header);
    evhttp_add_header(out, "User-Agent", USER_AGENT);
    evhttp_add_header(out, "Accept", "application/json");
    if (h->auth != NULL)
        evhttp_add_header(out, "Authorization", h->auth);
    if (idem_key != NULL)
        evhttp_add_header(out, "Idempotency-Key", idem_key);
    if (body != NULL) {
        char len[32];
        snprintf(len, sizeof(len), "%zu", strlen(body));
        evhttp_add_header(out, "Content-Type", "application/json");
        evhttp_add_header(out, "Content-Length", len);
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    n = strlen(h->prefix) + strlen(path) + 1;
    uri = malloc(n);
    if (uri == NULL)
        abort();
    snprintf(uri, n, "%s%s", h->prefix, path);
    conn->busy = 1;
    h->pending++;
    rc = evhttp_make_request(conn->evcon, req, method_of(method), uri);
    free(uri);
    if (rc != 0) {
        /* libevent frees the request; our callback will not come. */
        conn->busy = 0;
        h->pending--;
        free(c);
        return -1;
    }
    return 0;
}

void cli_http_run(struct cli_http *h)
{
    while (h->pending > 0) {
        if (event_base_loop(h->base, EVLOOP_ONCE) != 0)
            break;
    }
}

void cli_http_hold(struct cli_http *h)
{
    h->pending++;
}

void cli_http_unhold(struct cli_http *h)
{
    h->pending--;
}

static void call_done(struct cli_response *res, void *arg)
{
    *(struct cli_response **)arg = res;
}

struct cli_response *cli_http_call(struct cli_http *h, const char *method, const char *path,
                                   const char *body, const char *idem_key)
{
    struct cli_response *res = NULL;

    if (cli_http_send(h, method, path, body, idem_key, call_done, &res) != 0) {
        res = calloc(1, sizeof(*res));
        if (res == NULL)
            abort();
        snprintf(res->error, sizeof(res->error), "could not start the request");
        res->body = strdup("");
        return res;
    }
    while (res == NULL) {
        if (event_base_loop(h->base, EVLOOP_ONCE) != 0)
            break;
    }
    if (res == NULL) {
        res = calloc(1, sizeof(*res));
        if (res == NULL)
            abort();
        snprintf(res->error, sizeof(res->error), "the event loop stopped");
        res->body = strdup("");
    }
    return res;
}
