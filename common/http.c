/*
 * http.c - evhttp glue: route matching, auth, body limits and parsing,
 * problem+json, the idempotency record, metrics and the request log line.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/hiredis.h>

#include "common/conn.h"
#include "common/crc16.h"
#include "common/http.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/ratelimit.h"
#include "common/redis.h"
#include "common/sha256.h"

#define MAX_ROUTES             96
#define MAX_SEGMENTS           8
#define IDEM_TTL_SECONDS       "86400"
#define BODY_BACKSTOP          (8 * 1024 * 1024) /* evhttp's own limit; ours is PROTO_BODY_MAX */
#define STREAM_WRITE_TIMEOUT_S 60

/* What a route's path segment matches: itself, any one segment ("{}"), or the rest ("{*}"). */
enum seg_kind { SEG_LITERAL, SEG_PARAM, SEG_REST };

struct route_entry {
    const struct route *route;
    void *ctx;
    size_t metric;
    int nseg;
    int rest; /* the last segment is "{*}" */
    const char *seg[MAX_SEGMENTS];
    unsigned char kind[MAX_SEGMENTS]; /* enum seg_kind, found once when the route is added */
    int probe;       /* a literal segment told apart by its first byte (the second, as "stock" in
                        /v1/stock/{}, else the first), or -1 */
    char probe_byte; /* that byte: most routes are passed over on it, without route_matches */
    char buf[128];
};

/*
 * API keys accepted lately, as they were presented: the next request with one
 * is compared with it, not hashed again (SHA-256 was a twentieth of the
 * daemon's work for a read from the read cache). Only keys the configuration
 * accepted get here, so a stranger cannot fill it; the configuration does not
 * change while the daemon runs.
 */
#define KEYS_SEEN     8
#define KEY_SEEN_SIZE 128

struct key_seen {
    size_t len; /* 0: empty */
    const struct api_key *key;
    char text[KEY_SEEN_SIZE];
};

struct http_server {
    struct event_base *base;
    const struct config *cfg;
    struct rclient *redis;
    struct metrics *metrics;
    struct rate_bucket *buckets; /* one per configured API key */
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct conn_table *conns;
    int idem_script;
    int idem_keep_script;

    struct route_entry routes[MAX_ROUTES];
    size_t nroutes;
    const char *names[MAX_ROUTES + 1];

    size_t in_flight;
    struct request *streams; /* open streamed responses */
    int draining;
    void (*drain_done)(void *);
    void *drain_arg;
    unsigned long long next_id;
    struct key_seen seen[KEYS_SEEN];
    size_t seen_next; /* the slot the next accepted key takes */
};

/* KEYS[1] the record; ARGV[1] the request's fingerprint; ARGV[2] the pending record's TTL. */
static const char idem_lua[] = "local v = redis.call('GET', KEYS[1])\n"
                               "if not v then\n"
                               "  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
                               "  return {'new'}\n"
                               "end\n"
                               "if string.sub(v, 1, 64) ~= ARGV[1] then return {'mismatch'} end\n"
                               "if #v == 64 then return {'pending', redis.call('TTL', KEYS[1])} "
                               "end\n"
                               "return {'replay', string.sub(v, 65)}\n";

/* KEYS[1] the record, KEYS[2] its customer's list of records; ARGV[1] the record, ARGV[2] its
 * TTL. The list lives as long as the newest record on it. */
static const char idem_keep_lua[] = "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])\n"
                                    "redis.call('SADD', KEYS[2], KEYS[1])\n"
                                    "redis.call('EXPIRE', KEYS[2], ARGV[2])\n"
                                    "return 1\n";

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

/* Split "/a/b/c" in place into segments; @return the count, or -1 if too many. */
static int split_path(char *path, const char **seg)
{
    int n = 0;

    if (*path != '/')
        return -1;
    for (char *p = path + 1;; p++) {
        char *slash = strchr(p, '/');
        if (n == MAX_SEGMENTS)
            return -1;
        seg[n++] = p;
        if (slash == NULL)
            break;
        *slash = '\0';
        p = slash;
    }
    return n;
}

/*
 * Whether a path split into @seg matches @e. A last pattern segment "{*}"
 * matches the rest of the path, one segment or more (the last may be empty).
 * @params: where the matched segments go, or NULL.
 */
static int route_matches(const struct route_entry *e, const char **seg, int nseg,
                         const char **params)
{
    int np = 0;

    if (e->rest ? nseg < e->nseg : e->nseg != nseg)
        return 0;
    for (int i = 0; i < e->nseg; i++) {
        if (e->kind[i] == SEG_LITERAL) {
            if (strcmp(e->seg[i], seg[i]) != 0)
                return 0;
            continue;
        }
        if (e->kind[i] == SEG_PARAM && seg[i][0] == '\0')
            return 0;
        if (params && np < REQUEST_MAX_PARAMS)
            params[np++] = seg[i];
    }
    return 1;
}

/*
 * The loop, with epoll's change list: evhttp turns a connection's read and write events off
 * and on around every request, and the change list folds those into one epoll_ctl per
 * descriptor per turn of the loop. No descriptor here is dup()ed, which is its one caveat.
 * Two priorities: Redis's news of changes (the read cache's watch, priority 0) is taken
 * before anything else that is ready in the same turn.
 */
struct event_base *http_base_new(void)
{
    struct event_config *cfg;
    struct event_base *base;

    /*
     * libevent's allocations through malloc: its calloc would call the C
     * library's, which with glibc's allocator (a build without jemalloc;
     * glibc 2.36) passes by the per-thread cache that malloc and free use,
     * and evhttp zeroes a dozen small blocks for every request.
     */
    event_set_mem_functions(malloc, realloc, free);
    cfg = event_config_new();
    if (cfg == NULL)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (base != NULL && event_base_priority_init(base, 2) != 0) {
        event_base_free(base);
        return NULL;
    }
    return base;
}

void http_evhttp_set(struct evhttp *http, int timeout_secs)
{
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_PATCH);
    evhttp_set_max_body_size(http, BODY_BACKSTOP);
    evhttp_set_max_headers_size(http, 16 * 1024);
    evhttp_set_timeout(http, timeout_secs);
}

struct http_server *http_server_new(struct event_base *base, const struct config *cfg,
                                    struct rclient *redis)
{
    struct http_server *srv = calloc(1, sizeof(*srv));

    if (srv == NULL)
        return NULL;
    srv->buckets = calloc(cfg->nkeys + 1, sizeof(*srv->buckets));
    if (srv->buckets == NULL) {
        free(srv);
        return NULL;
    }
    srv->base = base;
    srv->cfg = cfg;
    srv->redis = redis;
    srv->names[0] = "unmatched";
    srv->idem_script = rclient_add_script(redis, "idempotency", NULL, idem_lua);
    srv->idem_keep_script = rclient_add_script(redis, "idempotency_keep", NULL, idem_keep_lua);
    srv->next_id = ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)now_ns();
    return srv;
}

void http_server_free(struct http_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->http)
        evhttp_free(srv->http); /* closes every connection: before their table goes */
    conn_table_free(srv->conns);
    metrics_free(srv->metrics);
    free(srv->buckets);
    explicit_bzero(srv->seen, sizeof(srv->seen)); /* no key left behind in freed memory */
    free(srv);
}

int http_server_route(struct http_server *srv, const struct route *routes, size_t n, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        struct route_entry *e;
        if (srv->nroutes == MAX_ROUTES || strlen(routes[i].pattern) >= sizeof(e->buf))
            return -1;
        e = &srv->routes[srv->nroutes++];
        e->route = &routes[i];
        e->ctx = ctx;
        e->metric = srv->nroutes;
        srv->names[e->metric] = routes[i].name;
        strcpy(e->buf, routes[i].pattern);
        e->nseg = split_path(e->buf, e->seg);
        if (e->nseg < 0)
            return -1;
        for (int j = 0; j < e->nseg; j++) {
            if (strcmp(e->seg[j], "{}") == 0)
                e->kind[j] = SEG_PARAM;
            else if (strcmp(e->seg[j], "{*}") == 0 && j == e->nseg - 1)
                e->kind[j] = SEG_REST;
            else
                e->kind[j] = SEG_LITERAL;
        }
        e->rest = e->nseg > 0 && e->kind[e->nseg - 1] == SEG_REST;
        e->probe = e->nseg > 1 && e->kind[1] == SEG_LITERAL   ? 1
                   : e->nseg > 0 && e->kind[0] == SEG_LITERAL ? 0
                                                              : -1;
        e->probe_byte = e->probe >= 0 ? e->seg[e->probe][0] : '\0';
    }
    return 0;
}

struct metrics *http_server_metrics(struct http_server *srv)
{
    return srv->metrics;
}

size_t http_server_in_flight(const struct http_server *srv)
{
    return srv->in_flight;
}

void http_server_conn_stats(const struct http_server *srv, struct conn_stats *out)
{
    conn_table_stats(srv->conns, out);
}

struct rclient *request_redis(const struct request *r)
{
    return r->srv->redis;
}

const struct config *request_config(const struct request *r)
{
    return r->srv->cfg;
}

struct metrics *request_metrics(const struct request *r)
{
    return r->srv->metrics;
}

const char *request_query(struct request *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

int request_may_location(const struct request *r, const char *location)
{
    if (r->key == NULL || r->key->role != ROLE_STORE)
        return 1;
    return strcmp(r->key->location, location) == 0;
}

/* The path for the log line, with anything unusual replaced so a line stays one line. */
static void log_safe(const char *in, char *out, size_t outlen)
{
    size_t j = 0;

    for (size_t i = 0; in[i] && j + 1 < outlen; i++) {
        unsigned char c = (unsigned char)in[i];
        out[j++] = (c > 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
    }
    out[j] = '\0';
}

static void idem_stored(redisReply *reply, const char *err, void *arg)
{
    (void)arg;
    if (err != NULL)
        log_warn("event=idempotency_store_failed error=\"%s\"", err);
    else if (reply->type == REDIS_REPLY_ERROR)
        log_error("event=idempotency_store_failed error=\"%s\"", reply->str);
}

static void idem_key(const struct request *r, char *key, size_t keylen)
{
    unsigned part = partition_of(r->idem_scope, r->srv->cfg->partitions);

    snprintf(key, keylen, "{p%02u}:idem:%s", part, r->idem_scope);
}

int request_names_customer(struct request *r, const char *customer)
{
    free(r->names_customer);
    r->names_customer = NULL;
    if (customer == NULL || customer[0] == '\0')
        return 0;
    r->names_customer = strdup(customer);
    return r->names_customer != NULL ? 0 : -1;
}

/* Keep "<fingerprint><status><body>" so a retry gets the same answer. */
static void idem_store(struct request *r, int status, struct evbuffer *buf)
{
    size_t blen = evbuffer_get_length(buf);
    char key[128];
    char *val = malloc(64 + 3 + blen);
    const char *argv[5];
    size_t lens[5];

    if (val == NULL)
        return;
    idem_key(r, key, sizeof(key));
    memcpy(val, r->fingerprint, 64);
    val[64] = (char)('0' + status / 100 % 10);
    val[65] = (char)('0' + status / 10 % 10);
    val[66] = (char)('0' + status % 10);
    evbuffer_copyout(buf, val + 67, blen);
    argv[0] = "SET";
    argv[1] = key;
    argv[2] = val;
    argv[3] = "EX";
    argv[4] = IDEM_TTL_SECONDS;
    lens[0] = 3;
    lens[1] = strlen(key);
    lens[2] = 67 + blen;
    lens[3] = 2;
    lens[4] = strlen(IDEM_TTL_SECONDS);
    if (r->names_customer != NULL) {
        /* Listed under the customer, in the record's partition (one slot), for erasure. */
        char index[256];
        const char *kargv[4] = {key, index, val, IDEM_TTL_SECONDS};
        size_t klens[4] = {lens[1], 0, lens[2], lens[4]};

        snprintf(index, sizeof(index), "%.*s:custidem:%s", (int)(strchr(key, '}') + 1 - key), key,
                 r->names_customer);
        klens[1] = strlen(index);
        if (rclient_eval(r->srv->redis, idem_stored, NULL, (size_t)r->srv->idem_keep_script, 2, 4,
                         kargv, klens) != 0)
            log_warn("event=idempotency_store_failed error=\"redis unavailable\"");
    } else if (rclient_command(r->srv->redis, idem_stored, NULL, 5, argv, lens) != 0) {
        log_warn("event=idempotency_store_failed error=\"redis unavailable\"");
    }
    free(val);
}

static void idem_forgotten(redisReply *reply, const char *err, void *arg)
{
    (void)reply;
    (void)arg;
    if (err != NULL)
        log_warn("event=idempotency_forget_failed error=\"%s\"", err);
}

/* Remove the request's pending record: it was refused before it ran. */
static void idem_forget(struct request *r)
{
    char key[128];
    const char *argv[2] = {"DEL", key};

    idem_key(r, key, sizeof(key));
    if (rclient_command(r->srv->redis, idem_forgotten, NULL, 2, argv, NULL) != 0)
        log_warn("event=idempotency_forget_failed error=\"redis unavailable\"");
}

static void request_free(struct request *r)
{
    struct http_server *srv = r->srv;

    if (r->state_free != NULL)
        r->state_free(r->state);
    json_decref(r->body);
    evhttp_clear_headers(&r->query);
    free(r->names_customer);
    free(r);
    srv->in_flight--;
    if (srv->draining && srv->in_flight == 0 && srv->drain_done) {
        void (*done)(void *) = srv->drain_done;
        srv->drain_done = NULL;
        done(srv->drain_arg);
    }
}

const char *http_date(void)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static char date[64];
    static time_t date_of;
    time_t now = time(NULL);
    struct tm tm;

    if (now != date_of && gmtime_r(&now, &tm) != NULL) {
        snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
        date_of = now;
    }
    return date;
}

/*
 * Writes the answer evhttp has just queued on @evcon now, rather than when
 * the loop next finds the socket writable, and tells evhttp it is written,
 * which readies the connection for its next request (or closes it). evhttp
 * turns the connection's events to writing and back to reading around each
 * answer; done within one turn of the loop, the two fold together in epoll's
 * change list (into one epoll_ctl that changes nothing, where there were two),
 * and no turn of the loop is spent just to write. An answer the
 * socket does not take whole goes on the usual way, as does a failed write
 * (the bufferevent meets the error again and evhttp closes the connection).
 * The output buffer's front is frozen while the bufferevent owns it: thawed
 * for the write only.
 */
static void send_now(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    struct evbuffer *out = bufferevent_get_output(bev);
    int written;

    evbuffer_unfreeze(out, 1);
    written = evbuffer_write(out, bufferevent_getfd(bev));
    evbuffer_freeze(out, 1);
    if (written > 0 && evbuffer_get_length(out) == 0)
        bufferevent_trigger(bev, EV_WRITE, 0); /* evhttp's write callback, now */
}

/*
 * The Content-Length evhttp would add to an answer with a body, written here:
 * evhttp formats it with snprintf (about 700 instructions, on every answer).
 * Not for a HEAD (request_finish gives that its own) nor a status that has no
 * body (1xx, 204, 304). No one else adds one (looking would cost as much).
 */
static void add_length(struct evhttp_request *ev, int status, const struct evbuffer *body)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(ev);
    size_t n = evbuffer_get_length(body);
    char text[24], *p = text + sizeof(text);

    if (status < 200 || status == 204 || status == 304 ||
        evhttp_request_get_command(ev) == EVHTTP_REQ_HEAD)
        return;
    *--p = '\0';
    do
        *--p = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    evhttp_add_header(out, "Content-Length", p);
}

void http_reply(struct evhttp_request *ev, int status, struct evbuffer *body)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);

    if (body != NULL)
        add_length(ev, status, body);
    evhttp_send_reply(ev, status, NULL, body);
    if (evcon != NULL)
        send_now(evcon);
}

/* The one way out: count, log, send, free. Takes @buf's contents. */
static void request_finish(struct request *r, int status, const char *ctype, struct evbuffer *buf)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    double secs = (double)(now_ns() - r->start_ns) / 1e9;
    char path[256];

    if (ctype != NULL)
        evhttp_add_header(out, "Content-Type", ctype);
    evhttp_add_header(out, "X-Request-Id", r->id);
    evhttp_add_header(out, "Date", http_date());
    if (r->replayed)
        evhttp_add_header(out, "Idempotent-Replayed", "true");
    if (r->srv->draining)
        evhttp_add_header(out, "Connection", "close");
    /*
     * A 400 is a request refused before it ran: it leaves no record (a retry
     * runs again). A 5xx keeps the pending one: what it did is not known, so
     * a retry is answered 409 until the pending record expires
     * (limits.idempotency_pending_seconds), then runs again.
     */
    if (r->idem_store && status == 400)
        idem_forget(r);
    else if (r->idem_store && status < 500)
        idem_store(r, status, buf);
    /* The record on its way to Redis before the answer to the client: a retry the client
     * sends on seeing the answer, to any daemon, finds it and not the pending one. */
    if (r->idem_store)
        rclient_flush(r->srv->redis);
    if (evhttp_request_get_command(r->ev) == EVHTTP_REQ_HEAD) {
        /* evhttp would send the body: keep only its length. */
        char len[24];
        snprintf(len, sizeof(len), "%zu", evbuffer_get_length(buf));
        evhttp_add_header(out, "Content-Length", len);
        evbuffer_drain(buf, evbuffer_get_length(buf));
    }
    if (r->srv->metrics)
        metrics_observe(r->srv->metrics, r->metric, evhttp_request_get_command(r->ev), status,
                        secs);
    if (log_min_level <= LOG_INFO) {
        log_safe(evhttp_request_get_uri(r->ev), path, sizeof(path));
        log_info("event=request id=%s method=%s path=\"%s\" route=%s status=%d ms=%.3f key=%s",
                 r->id, method_name(evhttp_request_get_command(r->ev)), path,
                 r->route ? r->route->name : "unmatched", status, secs * 1000.0,
                 r->key ? r->key->name : "-");
    }
    conn_end(r->conn);
    r->conn = NULL;
    /* From here on evhttp may free r->ev at any time (at once when the client has gone). */
    http_reply(r->ev, status, buf);
    evbuffer_free(buf);
    request_free(r);
}

void request_reply_raw(struct request *r, int status, const char *content_type,
                       struct evbuffer *buf)
{
    request_finish(r, status, content_type, buf);
}

static void stream_unlink(struct request *r)
{
    if (r->stream_prev)
        r->stream_prev->stream_next = r->stream_next;
    else
        r->srv->streams = r->stream_next;
    if (r->stream_next)
        r->stream_next->stream_prev = r->stream_prev;
    r->stream_prev = r->stream_next = NULL;
}

/*
 * The end of a stream, however it came: count, log, free. @method: the
 * request's, read before evhttp may have freed its request.
 */
static void stream_finish(struct request *r, int method, const char *how)
{
    double secs = (double)(now_ns() - r->start_ns) / 1e9;

    stream_unlink(r);
    if (r->srv->metrics)
        metrics_observe(r->srv->metrics, r->metric, method, 200, secs);
    log_info("event=stream_end id=%s route=%s how=%s s=%.3f key=%s", r->id,
             r->route ? r->route->name : "unmatched", how, secs, r->key ? r->key->name : "-");
    request_free(r);
}

/* The connection of a stream closes: the client went away, or a write timed out. */
static void stream_gone(struct request *r)
{
    int method = evhttp_request_get_command(r->ev);

    r->stream_closed(r, r->stream_arg);
    /* Detached from its connection, the request is ours to free; else evhttp frees it. */
    if (evhttp_request_get_connection(r->ev) == NULL)
        evhttp_send_reply_end(r->ev);
    stream_finish(r, method, "closed");
}

/* A connection with no conn_table entry (made when memory ran out) tells us directly. */
static void on_untracked_stream_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    stream_gone(arg);
}

/* The connection of a request being answered closes. */
static void on_conn_gone(void *arg)
{
    struct request *r = arg;

    r->conn = NULL;
    if (r->stream_closed != NULL)
        stream_gone(r);
}

void request_stream_start(struct request *r, const char *content_type,
                          void (*closed)(struct request *r, void *arg), void *arg)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    struct timeval write_tv = {STREAM_WRITE_TIMEOUT_S, 0};

    r->stream_closed = closed;
    r->stream_arg = arg;
    r->stream_next = r->srv->streams;
    if (r->srv->streams)
        r->srv->streams->stream_prev = r;
    r->srv->streams = r;
    evhttp_add_header(out, "Content-Type", content_type);
    evhttp_add_header(out, "Cache-Control", "no-cache");
    evhttp_add_header(out, "X-Accel-Buffering", "no");
    evhttp_add_header(out, "X-Request-Id", r->id);
    evhttp_send_reply_start(r->ev, 200, "OK");
    if (evcon != NULL) {
        if (r->conn == NULL)
            evhttp_connection_set_closecb(evcon, on_untracked_stream_close, r);
        bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evcon), NULL, &write_tv);
    }
}

size_t request_stream_write(struct request *r, struct evbuffer *buf)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);

    if (evcon == NULL) {
        evbuffer_drain(buf, evbuffer_get_length(buf));
        return 0;
    }
    evhttp_send_reply_chunk(r->ev, buf);
    return evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(evcon)));
}

/* The stream ends by our choice: its connection's closing is no longer its business. */
static void stream_detach(struct request *r, struct evhttp_connection *evcon)
{
    if (r->conn != NULL)
        conn_end(r->conn);
    else if (evcon != NULL)
        evhttp_connection_set_closecb(evcon, NULL, NULL);
    r->conn = NULL;
}

void request_stream_end(struct request *r)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    int method = evhttp_request_get_command(r->ev);

    stream_detach(r, evcon);
    evhttp_send_reply_end(r->ev);
    stream_finish(r, method, "ended");
}

void request_stream_drop(struct request *r)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    int method = evhttp_request_get_command(r->ev);

    stream_detach(r, evcon);
    if (evcon != NULL) {
        evhttp_connection_free(evcon); /* frees the evhttp request with it */
    } else {
        evhttp_send_reply_end(r->ev);
    }
    stream_finish(r, method, "dropped");
}

static void reply_json_type(struct request *r, int status, json_t *body, const char *ctype)
{
    struct evbuffer *buf = evbuffer_new();
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10));

    json_decref(body);
    if (buf == NULL || text == NULL) {
        free(text);
        if (buf == NULL)
            buf = evbuffer_new();
        request_finish(r, 500, NULL, buf);
        return;
    }
    evbuffer_add(buf, text, strlen(text));
    free(text);
    request_finish(r, status, ctype, buf);
}

void request_reply_json(struct request *r, int status, json_t *body)
{
    reply_json_type(r, status, body, "application/json");
}

void request_reply_empty(struct request *r, int status)
{
    request_finish(r, status, NULL, evbuffer_new());
}

void request_reply_stored(struct request *r, int status, const char *json, size_t len, int replayed)
{
    struct evbuffer *buf = evbuffer_new();

    r->replayed = replayed;
    evbuffer_add(buf, json, len);
    request_finish(r, status, status >= 400 ? "application/problem+json" : "application/json", buf);
}

json_t *http_problem_new(enum problem_code code, const char *field, const char *detail)
{
    json_t *p = json_object();
    char type[64];

    snprintf(type, sizeof(type), "/problems/%s", problem_slug(code));
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(problem_title(code)));
    json_object_set_new(p, "status", json_integer(problem_status(code)));
    json_object_set_new(p, "detail", json_string(detail));
    if (field != NULL && field[0] != '\0')
        json_object_set_new(p, "field", json_string(field));
    return p;
}

void request_reply_problem(struct request *r, enum problem_code code, const char *field,
                           json_t *extra, const char *fmt, ...)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    char detail[256];
    json_t *p;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    p = http_problem_new(code, field, detail);
    if (extra != NULL) {
        json_object_update(p, extra);
        json_decref(extra);
    }
    if (code == PROBLEM_UNAUTHORIZED)
        evhttp_add_header(out, "WWW-Authenticate", "Bearer realm=\"omnistock\"");
    if (code == PROBLEM_UNAVAILABLE)
        evhttp_add_header(out, "Retry-After", "1");
    reply_json_type(r, problem_status(code), p, "application/problem+json");
}

void request_reply_error(struct request *r, const struct proto_error *err)
{
    request_reply_problem(r, err->code, err->field, NULL, "%s", err->detail);
}

void request_reply_unavailable(struct request *r)
{
    request_reply_problem(r, PROBLEM_UNAVAILABLE, NULL, NULL,
                          "the stock store is not answering; retry shortly");
}

static void idem_begun(redisReply *reply, const char *err, void *arg)
{
    struct request *r = arg;
    http_handler_cb *next = r->idem_next;

    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        request_reply_unavailable(r);
        return;
    }
    if (strcmp(reply->element[0]->str, "mismatch") == 0) {
        request_reply_problem(r, PROBLEM_IDEMPOTENCY_REUSED, "Idempotency-Key", NULL,
                              "this Idempotency-Key was used for a different request");
    } else if (strcmp(reply->element[0]->str, "pending") == 0) {
        /* The first request with this key is running, or ended in a 5xx within the pending
         * window (what it did is not known): a retry after the window runs again, and every
         * write is keyed in Redis so that it takes effect once. */
        char after[24];
        long long ttl = reply->elements == 2 && reply->element[1]->type == REDIS_REPLY_INTEGER
                            ? reply->element[1]->integer
                            : 1;
        snprintf(after, sizeof(after), "%lld", ttl < 1 ? 1 : ttl);
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", after);
        request_reply_problem(r, PROBLEM_IDEMPOTENCY_PENDING, "Idempotency-Key", NULL,
                              "the first request with this Idempotency-Key is still running; "
                              "retry shortly");
    } else if (strcmp(reply->element[0]->str, "replay") == 0 && reply->elements == 2) {
        const redisReply *v = reply->element[1];
        int status = v->len >= 3 ? atoi((char[4]){v->str[0], v->str[1], v->str[2], 0}) : 500;
        request_reply_stored(r, status, v->str + 3, v->len >= 3 ? v->len - 3 : 0, 1);
    } else {
        r->idem_store = 1;
        next(r);
    }
}

void request_idempotent(struct request *r, http_handler_cb *next)
{
    char key[128], pending[24];
    const char *args[3];

    if (!r->has_idem) {
        next(r);
        return;
    }
    idem_key(r, key, sizeof(key));
    /* The pending record lives only so long: the answer's record then lives IDEM_TTL_SECONDS. */
    snprintf(pending, sizeof(pending), "%lld", r->srv->cfg->idem_pending_secs);
    args[0] = key;
    args[1] = r->fingerprint;
    args[2] = pending;
    r->idem_next = next;
    if (rclient_eval(r->srv->redis, idem_begun, r, (size_t)r->srv->idem_script, 1, 3, args, NULL) !=
        0)
        request_reply_unavailable(r);
}

/* Whether the request's key is over its rate ("limits" in the config); if so, answers 429. */
static int rate_limited(struct request *r)
{
    const struct config *cfg = r->srv->cfg;
    char after[24];
    long wait;

    if (cfg->rate_per_second <= 0.0)
        return 0;
    wait = rate_take(&r->srv->buckets[r->key - cfg->keys], cfg->rate_per_second, cfg->rate_burst,
                     now_ns());
    if (wait == 0)
        return 0;
    snprintf(after, sizeof(after), "%ld", wait);
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", after);
    request_reply_problem(r, PROBLEM_RATE_LIMITED, NULL, NULL,
                          "this API key may make %g requests a second; retry in %ld s",
                          cfg->rate_per_second, wait);
    return 1;
}

/* Whether @a and @b, @len bytes each, are the same: compared in full, eight bytes at a time. */
static int same_key_text(const char *a, const char *b, size_t len)
{
    uint64_t diff = 0;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        diff |= x ^ y;
    }
    for (; i < len; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/*
 * The API key presented as @text, @len bytes: from the keys seen, or else
 * found by its SHA-256 (and then seen). Every slot of that length is compared
 * in full, so the time taken says nothing about how much of a key matched or
 * which.
 */
static const struct api_key *find_key(struct http_server *srv, const char *text, size_t len)
{
    const struct api_key *found = NULL;
    struct key_seen *slot;

    for (size_t i = 0; i < KEYS_SEEN; i++) {
        if (srv->seen[i].len == len && same_key_text(srv->seen[i].text, text, len))
            found = srv->seen[i].key;
    }
    if (found != NULL)
        return found;
    found = config_find_key(srv->cfg, text, len);
    if (found != NULL && len <= KEY_SEEN_SIZE) {
        slot = &srv->seen[srv->seen_next];
        srv->seen_next = (srv->seen_next + 1) % KEYS_SEEN;
        slot->len = len;
        slot->key = found;
        memcpy(slot->text, text, len);
    }
    return found;
}

static int authenticate(struct request *r)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Authorization");

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        request_reply_problem(r, PROBLEM_UNAUTHORIZED, NULL, NULL,
                              "send an API key as 'Authorization: Bearer <key>'");
        return -1;
    }
    r->key = find_key(r->srv, h + 7, strlen(h + 7));
    if (r->key == NULL) {
        request_reply_problem(r, PROBLEM_UNAUTHORIZED, NULL, NULL, "unknown API key");
        return -1;
    }
    if (rate_limited(r))
        return -1;
    if ((r->route->roles & r->key->role) == 0) {
        request_reply_problem(r, PROBLEM_FORBIDDEN, NULL, NULL,
                              "%s %s key may not use this endpoint",
                              r->key->role == ROLE_ADMIN || r->key->role == ROLE_AGENT ? "an" : "a",
                              role_name(r->key->role));
        return -1;
    }
    return 0;
}

static int json_content_type(const char *ct)
{
    size_t n = strlen("application/json");

    return ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int read_body(struct request *r)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    enum evhttp_cmd_type m = evhttp_request_get_command(r->ev);
    struct proto_error err;
    const char *ct;

    r->raw_len = evbuffer_get_length(in);
    if (r->raw_len > PROTO_BODY_MAX) {
        request_reply_problem(r, PROBLEM_PAYLOAD_TOO_LARGE, NULL, NULL,
                              "request bodies are limited to %d bytes", PROTO_BODY_MAX);
        return -1;
    }
    if (m != EVHTTP_REQ_POST && m != EVHTTP_REQ_PUT)
        return 0;
    if (r->raw_len == 0) {
        if (!(r->route->flags & ROUTE_JSON_BODY))
            return 0;
        request_reply_problem(r, PROBLEM_INVALID_JSON, NULL, NULL, "a JSON body is required");
        return -1;
    }
    ct = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Content-Type");
    if (!json_content_type(ct)) {
        request_reply_problem(r, PROBLEM_UNSUPPORTED_MEDIA, NULL, NULL,
                              "send the body as Content-Type: application/json");
        return -1;
    }
    r->raw_body = (const char *)evbuffer_pullup(in, -1);
    r->body = proto_json_load(r->raw_body, r->raw_len, &err);
    if (r->body == NULL) {
        request_reply_error(r, &err);
        return -1;
    }
    return 0;
}

int http_idempotency_key_valid(const char *key)
{
    size_t len = strlen(key);

    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
            return 0;
    }
    return len >= 1 && len <= 128;
}

static int read_idempotency_key(struct request *r)
{
    const char *k, *uri = evhttp_request_get_uri(r->ev);
    struct sha256 h;
    unsigned char d[32];
    size_t len;

    /* It counts on a POST only: other requests do not look for it (a walk of the headers). */
    if (evhttp_request_get_command(r->ev) != EVHTTP_REQ_POST ||
        (k = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Idempotency-Key")) ==
            NULL)
        return 0;
    if (!http_idempotency_key_valid(k)) {
        request_reply_problem(r, PROBLEM_INVALID_FIELD, "Idempotency-Key", NULL,
                              "an Idempotency-Key is 1 to 128 printable ASCII characters");
        return -1;
    }
    len = strlen(k);
    sha256_init(&h);
    sha256_update(&h, r->key ? r->key->name : "-", strlen(r->key ? r->key->name : "-"));
    sha256_update(&h, "\n", 1);
    sha256_update(&h, r->route->name, strlen(r->route->name));
    sha256_update(&h, "\n", 1);
    sha256_update(&h, k, len);
    sha256_final(&h, d);
    for (int i = 0; i < 32; i++)
        snprintf(r->idem_scope + 2 * i, 3, "%02x", d[i]);
    sha256_init(&h);
    sha256_update(&h, uri, strlen(uri));
    sha256_update(&h, "\n", 1);
    if (r->raw_len)
        sha256_update(&h, r->raw_body, r->raw_len);
    sha256_final(&h, d);
    for (int i = 0; i < 32; i++)
        snprintf(r->fingerprint + 2 * i, 3, "%02x", d[i]);
    r->has_idem = 1;
    return 0;
}

/* "GET, POST": the methods in @allow (EVHTTP_REQ_* bits), into @list (64 bytes). */
static void method_list(unsigned allow, char list[64])
{
    static const enum evhttp_cmd_type order[] = {EVHTTP_REQ_GET, EVHTTP_REQ_PUT, EVHTTP_REQ_POST,
                                                 EVHTTP_REQ_DELETE};

    list[0] = '\0';
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (allow & order[i]) {
            if (list[0])
                strcat(list, ", ");
            strcat(list, method_name(order[i]));
        }
    }
}

/*
 * CORS, only for the origins the config names: the request's Origin when it
 * is one of them (the answer then says so), else NULL (the browser keeps
 * the answer from the page, as for any other site).
 */
static const char *cors_allow(struct request *r)
{
    const struct config *cfg = r->srv->cfg;
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    const char *origin;

    if (cfg->ncors == 0)
        return NULL;
    evhttp_add_header(out, "Vary", "Origin");
    origin = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Origin");
    for (size_t i = 0; origin != NULL && i < cfg->ncors; i++) {
        if (strcmp(origin, cfg->cors_origins[i]) == 0) {
            evhttp_add_header(out, "Access-Control-Allow-Origin", origin);
            evhttp_add_header(out, "Access-Control-Expose-Headers",
                              "X-Request-Id, Retry-After, Idempotent-Replayed");
            return origin;
        }
    }
    return NULL;
}

static void reply_no_route(struct request *r, unsigned allow, const char *origin)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    char list[64];

    if (allow == 0) {
        request_reply_problem(r, PROBLEM_NOT_FOUND, NULL, NULL, "no such resource");
        return;
    }
    method_list(allow, list);
    /* A browser asking, for an allowed origin, whether it may send the real request. */
    if (origin != NULL && evhttp_request_get_command(r->ev) == EVHTTP_REQ_OPTIONS &&
        evhttp_find_header(evhttp_request_get_input_headers(r->ev),
                           "Access-Control-Request-Method") != NULL) {
        evhttp_add_header(out, "Access-Control-Allow-Methods", list);
        evhttp_add_header(out, "Access-Control-Allow-Headers",
                          "Authorization, Content-Type, Idempotency-Key, Last-Event-ID");
        evhttp_add_header(out, "Access-Control-Max-Age", "600");
        request_reply_empty(r, 204);
        return;
    }
    evhttp_add_header(out, "Allow", list);
    request_reply_problem(r, PROBLEM_METHOD_NOT_ALLOWED, NULL, NULL,
                          "this resource answers %s only", list);
}

static void dispatch(struct request *r)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query, *origin = cors_allow(r);
    enum evhttp_cmd_type m = evhttp_request_get_command(r->ev);
    const char *seg[MAX_SEGMENTS];
    char split[sizeof(r->pathbuf)];
    unsigned allow = 0;
    int nseg;

    if (path == NULL || strlen(path) >= sizeof(r->pathbuf)) {
        request_reply_problem(r, PROBLEM_NOT_FOUND, NULL, NULL, "no such resource");
        return;
    }
    strcpy(r->pathbuf, path);
    strcpy(split, path);
    nseg = split_path(split, seg);
    for (size_t i = 0; nseg > 0 && i < r->srv->nroutes; i++) {
        struct route_entry *e = &r->srv->routes[i];
        /* A path shorter than the probe has fewer segments than the route: no match either. */
        if (e->probe >= 0 && (e->probe >= nseg || seg[e->probe][0] != e->probe_byte))
            continue;
        if (!route_matches(e, seg, nseg, NULL))
            continue;
        allow |= e->route->method;
        if (e->route->method == m || (m == EVHTTP_REQ_HEAD && e->route->method == EVHTTP_REQ_GET)) {
            r->route = e->route;
            r->ctx = e->ctx;
            r->metric = e->metric;
            /* Parameters point into pathbuf, which lives as long as the request. */
            split_path(r->pathbuf, seg);
            route_matches(e, seg, nseg, r->params);
            /* A "{*}" parameter is the rest of the path: put its slashes back. */
            for (int j = e->nseg; j < nseg; j++)
                ((char *)seg[j])[-1] = '/';
            break;
        }
    }
    if (r->route == NULL) {
        reply_no_route(r, allow, origin);
        return;
    }
    query = uri ? evhttp_uri_get_query(uri) : NULL;
    /* A decoded NUL would cut a value short ("sku=MUG-01%00x" read as "MUG-01"): refuse it. */
    if ((query != NULL && strstr(query, "%00") != NULL) ||
        evhttp_parse_query_str(query, &r->query) != 0) {
        request_reply_problem(r, PROBLEM_INVALID_QUERY, NULL, NULL, "malformed query string");
        return;
    }
    if (!(r->route->flags & ROUTE_PUBLIC) && authenticate(r) != 0)
        return;
    if (read_body(r) != 0 || read_idempotency_key(r) != 0)
        return;
    if (r->route->flags & ROUTE_IDEMPOTENT)
        request_idempotent(r, r->route->handler);
    else
        r->route->handler(r);
}

/* @id as 16 hex digits: the request id, made for every request. */
static void request_id(char out[17], unsigned long long id)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 15; i >= 0; i--, id >>= 4)
        out[i] = hex[id & 15];
    out[16] = '\0';
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct http_server *srv = arg;
    struct request *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        evhttp_send_error(ev, 500, NULL);
        return;
    }
    r->ev = ev;
    r->srv = srv;
    r->start_ns = now_ns();
    TAILQ_INIT(&r->query);
    request_id(r->id, srv->next_id++);
    srv->in_flight++;
    r->conn = conn_begin(srv->conns, evhttp_request_get_connection(ev), on_conn_gone, r);
    dispatch(r);
}

/*
 * How many connections the process may hold: max_connections, raising the
 * soft limit on descriptors if need be, or as many as it allows, with room
 * for Redis, the listener and logs.
 */
static size_t connection_cap(size_t wanted)
{
    const rlim_t spare = 64;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= wanted + spare)
        return wanted;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= wanted + spare)
        rl.rlim_cur = wanted + spare;
    else
        rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur >= wanted + spare)
        return wanted;
    log_warn("event=max_connections_lowered wanted=%zu max=%zu open_files_limit=%llu", wanted,
             rl.rlim_cur > spare ? (size_t)(rl.rlim_cur - spare) : (size_t)1,
             (unsigned long long)rl.rlim_cur);
    return rl.rlim_cur > spare ? (size_t)(rl.rlim_cur - spare) : 1;
}

int http_server_listen(struct http_server *srv, const char *host, int port, char *err,
                       size_t errlen)
{
    srv->metrics = metrics_new(srv->names, srv->nroutes + 1);
    srv->http = evhttp_new(srv->base);
    if (srv->http != NULL)
        srv->conns = conn_table_new(srv->base, srv->http, connection_cap(srv->cfg->max_connections),
                                    (int)srv->cfg->request_deadline_secs);
    if (srv->metrics == NULL || srv->http == NULL || srv->conns == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    http_evhttp_set(srv->http, (int)srv->cfg->request_timeout_secs);
    evhttp_set_gencb(srv->http, on_request, srv);
    srv->bound = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port);
    if (srv->bound == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%d (in use, or not a local address)", host,
                 port);
        return -1;
    }
    return 0;
}

void http_server_drain(struct http_server *srv, void (*done)(void *), void *arg)
{
    if (srv->bound != NULL) {
        evhttp_del_accept_socket(srv->http, srv->bound);
        srv->bound = NULL;
    }
    srv->draining = 1;
    /* Streams never finish by themselves: end them, telling their owners. */
    while (srv->streams != NULL) {
        struct request *r = srv->streams;
        r->stream_closed(r, r->stream_arg);
        request_stream_end(r);
    }
    srv->drain_done = done;
    srv->drain_arg = arg;
    if (srv->in_flight == 0) {
        srv->drain_done = NULL;
        done(arg);
    }
}
