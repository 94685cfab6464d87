/*
 * redis.c - the async client of redis.h: connect, handshake (auth, select,
 * script loading), pipelined commands with timeouts, reconnect with backoff;
 * on a cluster, one connection per master and commands routed by slot.
 *
 * Redis answers commands on a connection in the order they were sent, so
 * each connection (a node) keeps its own FIFO of pending commands: the
 * oldest one is the first to time out, and one periodic timer watches them
 * all. A timeout means Redis is not answering; the connection is dropped,
 * which fails every command pending on it, and a fresh one is made.
 *
 * A cluster client keeps a node per master and the master of each of the
 * 16384 slots. It learns them with CLUSTER SLOTS from any node that answers
 * (the seeds at first), and reads them again every few seconds, at once
 * when a connection drops or a MOVED comes back, and often while a slot has
 * no master it can reach. A command answered MOVED or ASK is sent again
 * (after ASKING for ASK) to the node named, if that node is connected; if
 * not, it fails like one sent to a node that went away, and the caller
 * answers 503.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "common/clock.h"
#include "common/crc16.h"
#include "common/log.h"
#include "common/rcache.h"
#include "common/redis.h"
#include "common/resp.h"
#include "common/sha256.h"
#include "common/text.h"

#define BACKOFF_MIN_MS   50
#define BACKOFF_MAX_MS   500
#define TICK_MS          50
#define NSLOTS           16384
#define MAX_NODES        64
#define MAX_REDIRECTS    5
#define MAP_EVERY_MS     5000 /* the slot map is read again this often */
#define MAP_DEGRADED_MS  200  /* and this often while a slot has no ready master */
#define MAX_SCRIPTS      32
#define MAX_OBSERVERS    4
#define WATCH_REFUSED_MS 30000 /* a Redis that refused tracking is asked again this much later */

enum rstate {
    RC_DOWN,      /* no connection; a retry is scheduled */
    RC_HANDSHAKE, /* connecting, authenticating, loading scripts */
    RC_READY,
};

struct rnode;

struct rcmd {
    TAILQ_ENTRY(rcmd) link;
    struct rnode *node;
    rclient_cb *cb; /* NULL for a node's own handshake commands */
    void *arg;
    long long deadline_ms;
    char *formatted; /* kept for one retry after "Function not found", and for redirects */
    size_t len;
    int retried;
    int redirects;
    int last_handshake; /* the reply that completes the handshake */
    int eval;           /* an FCALL: its keys may have changed */
};

/* One connection: to the server, or to one master of a cluster. */
struct rnode {
    struct rclient *client;
    char host[256];
    int port;
    redisAsyncContext *ac;
    enum rstate state;
    long long connect_deadline_ms;
    long long backoff_ms;
    const char *drop_reason;
    TAILQ_HEAD(rcmd_list, rcmd) pending;
    struct event *retry;
    int ever_ready;
    int mapped; /* a cluster node the last slot map named as a master */

    /* With a read cache: a second connection that hears the changes (watch_*) */
    redisAsyncContext *watch;
    int watch_live;              /* subscribed, with tracking on */
    long long watch_deadline_ms; /* for the watch's handshake */
    long long watch_next_ms;     /* no new watch before */
    long long watch_backoff_ms;
};

/*
 * A Lua script, loaded as a Redis function library at every connect: the
 * prelude runs once when the library loads, the body on every FCALL. Names
 * carry a hash of the code, so daemons of different versions on one Redis
 * each call their own.
 */
struct redis_script {
    const char *body;
    char fn[64];    /* the library's name and its one function's */
    char *library;  /* the text FUNCTION LOAD is given */
    int reads_only; /* rclient_script_reads_only: its keys are not forgotten */
};

struct rclient {
    struct event_base *base;
    struct redis_addr addr;
    struct redis_script scripts[MAX_SCRIPTS];
    size_t nscripts;
    long long timeout_ms;
    int closed; /* rclient_close: no more connecting */
    int ready;  /* as last told to the observers */

    struct rnode *nodes[MAX_NODES];
    size_t nnodes;
    int cluster;
    struct rnode *slots[NSLOTS]; /* cluster: the master of each slot, or NULL */
    int map_asked;               /* a CLUSTER SLOTS is pending */
    long long next_map_ms;

    struct event *tick;
    struct {
        rclient_state_cb *cb;
        void *arg;
    } observers[MAX_OBSERVERS];
    size_t nobservers;
    struct rclient_stats stats;

    struct rcache *cache;       /* rclient_cache_enable; NULL when off */
    const char **tracking_argv; /* CLIENT TRACKING ON REDIRECT <id> BCAST PREFIX p ... */
    size_t tracking_argc;
    char **prefixes; /* the kept prefixes, sorted */
    size_t nprefixes;
    char watch_id[24];
};

static void node_connect(struct rnode *n);
static void client_update(struct rclient *c, const char *why);
static void map_ask(struct rclient *c);
static void watch_start(struct rnode *n);
static void watch_stop(struct rnode *n, const char *why);
static void tracking_update(struct rclient *c);

/* The URL for an error message, its user and password (a secret) replaced by "***". */
static const char *url_shown(const char *url, char *out, size_t outlen)
{
    const char *scheme = strstr(url, "://");
    const char *at = strrchr(url, '@');

    if (scheme == NULL || at == NULL || at < scheme)
        return url;
    snprintf(out, outlen, "%.*s://***%s", (int)(scheme - url), url, at);
    return out;
}

/* "host[:port]" between @p and @end; @port is kept when there is none. @return 0 or -1. */
static int parse_host_port(const char *p, const char *end, char *host, size_t hostlen, int *port)
{
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *hend = colon ? colon : end;

    if (hend == p || (size_t)(hend - p) >= hostlen)
        return -1;
    memcpy(host, p, (size_t)(hend - p));
    host[hend - p] = '\0';
    if (colon != NULL) {
        long v = 0;
        const char *d = colon + 1;
        if (d == end || end - d > 5)
            return -1;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            v = v * 10 + (*d - '0');
        }
        if (v < 1 || v > 65535)
            return -1;
        *port = (int)v;
    }
    return 0;
}

/* "host:port[,host:port...]" of a cluster. */
static int parse_seeds(const char *p, struct redis_addr *out, const char *url, char *err,
                       size_t errlen)
{
    char shown[320];

    if (strchr(p, '/') != NULL) {
        snprintf(err, errlen, "--redis: a cluster has no database number: '%s'",
                 url_shown(url, shown, sizeof(shown)));
        return -1;
    }
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        int port = 0;

        if (end == NULL)
            end = p + strlen(p);
        if (out->nseeds == REDIS_MAX_SEEDS) {
            snprintf(err, errlen, "--redis: at most %d cluster nodes", REDIS_MAX_SEEDS);
            return -1;
        }
        if (parse_host_port(p, end, out->seeds[out->nseeds].host,
                            sizeof(out->seeds[out->nseeds].host), &port) != 0 ||
            port == 0) {
            snprintf(err, errlen, "--redis: each cluster node is host:port in '%s'",
                     url_shown(url, shown, sizeof(shown)));
            return -1;
        }
        out->seeds[out->nseeds++].port = port;
        if (*end == ',' && end[1] == '\0') {
            snprintf(err, errlen, "--redis: each cluster node is host:port in '%s'",
                     url_shown(url, shown, sizeof(shown)));
            return -1;
        }
        p = *end == ',' ? end + 1 : end;
    }
    if (out->nseeds == 0) {
        snprintf(err, errlen, "--redis: a cluster needs at least one host:port");
        return -1;
    }
    snprintf(out->host, sizeof(out->host), "%s", out->seeds[0].host);
    out->port = out->seeds[0].port;
    return 0;
}

int redis_addr_parse(const char *url, struct redis_addr *out, char *err, size_t errlen)
{
    const char *p, *at, *slash, *hend;
    char *end, shown[320];

    memset(out, 0, sizeof(*out));
    if (strncmp(url, "unix://", 7) == 0) {
        out->kind = REDIS_ADDR_UNIX;
        if (url[7] != '/' || strlen(url + 7) >= sizeof(out->path) || strlen(url + 7) > 100) {
            snprintf(err, errlen,
                     "--redis: unix:// needs an absolute socket path (at most 100 "
                     "characters)");
            return -1;
        }
        snprintf(out->path, sizeof(out->path), "%s", url + 7);
        return 0;
    }
    if (strncmp(url, "redis://", 8) == 0) {
        out->kind = REDIS_ADDR_TCP;
        p = url + 8;
    } else if (strncmp(url, "cluster://", 10) == 0) {
        out->kind = REDIS_ADDR_CLUSTER;
        p = url + 10;
    } else {
        snprintf(err, errlen,
                 "--redis: '%s' is not redis://..., cluster://..., unix://... or embedded",
                 url_shown(url, shown, sizeof(shown)));
        return -1;
    }
    out->port = 6379;
    at = strrchr(p, '@');
    if (at != NULL) {
        const char *sep = memchr(p, ':', (size_t)(at - p));
        size_t ulen = sep ? (size_t)(sep - p) : 0;
        size_t plen = sep ? (size_t)(at - sep - 1) : (size_t)(at - p);
        if (ulen >= sizeof(out->user) || plen >= sizeof(out->password)) {
            snprintf(err, errlen, "--redis: user or password too long");
            return -1;
        }
        memcpy(out->user, p, ulen);
        memcpy(out->password, sep ? sep + 1 : p, plen);
        p = at + 1;
    }
    if (out->kind == REDIS_ADDR_CLUSTER)
        return parse_seeds(p, out, url, err, errlen);
    slash = strchr(p, '/');
    hend = slash ? slash : p + strlen(p);
    if (parse_host_port(p, hend, out->host, sizeof(out->host), &out->port) != 0) {
        snprintf(err, errlen, "--redis: missing or too long host, or invalid port, in '%s'",
                 url_shown(url, shown, sizeof(shown)));
        return -1;
    }
    if (slash != NULL && slash[1] != '\0') {
        long db;
        errno = 0;
        db = strtol(slash + 1, &end, 10);
        if (errno != 0 || *end != '\0' || db < 0 || db > 10000) {
            snprintf(err, errlen, "--redis: invalid database number in '%s'",
                     url_shown(url, shown, sizeof(shown)));
            return -1;
        }
        out->db = (int)db;
    }
    return 0;
}

/* ---- nodes: one connection each ---- */

/* Whether every slot has a master we are connected to (a plain client: its one node). */
static int all_ready(const struct rclient *c)
{
    if (!c->cluster)
        return c->nnodes == 1 && c->nodes[0]->state == RC_READY;
    for (size_t s = 0; s < NSLOTS; s++) {
        if (c->slots[s] == NULL || c->slots[s]->state != RC_READY)
            return 0;
    }
    return 1;
}

/* Tell the observers when the client as a whole comes up or goes down. */
static void client_update(struct rclient *c, const char *why)
{
    int ready = !c->closed && all_ready(c);

    tracking_update(c);
    if (c->cluster && !ready && c->next_map_ms > clock_mono_ms() + MAP_DEGRADED_MS)
        c->next_map_ms = clock_mono_ms() + MAP_DEGRADED_MS;
    if (ready == c->ready)
        return;
    c->ready = ready;
    if (ready) {
        log_info("event=redis_ready reconnects=%llu masters=%zu", c->stats.reconnects,
                 c->cluster ? rclient_cluster_nodes(c) : (size_t)1);
        for (size_t i = 0; i < c->nobservers; i++)
            c->observers[i].cb(1, c->observers[i].arg);
    } else {
        log_warn("event=redis_lost reason=\"%s\"", why ? why : "closed");
        for (size_t i = 0; i < c->nobservers; i++)
            c->observers[i].cb(0, c->observers[i].arg);
    }
}

static void node_set_state(struct rnode *n, enum rstate s)
{
    struct rclient *c = n->client;
    enum rstate old = n->state;

    n->state = s;
    if (old == s)
        return;
    if (s == RC_READY) {
        if (n->ever_ready)
            c->stats.reconnects++;
        n->ever_ready = 1;
        n->backoff_ms = BACKOFF_MIN_MS;
        if (c->cluster)
            log_info("event=redis_node_ready node=%s:%d", n->host, n->port);
    } else if (old == RC_READY && c->cluster) {
        log_warn("event=redis_node_lost node=%s:%d reason=\"%s\"", n->host, n->port,
                 n->drop_reason ? n->drop_reason : "closed");
    }
    if (s == RC_READY && c->cluster && (c->stats.slot_maps == 0 || !all_ready(c)))
        map_ask(c);
    if (s == RC_READY)
        watch_start(n);
    client_update(c, n->drop_reason);
    if (s == RC_READY)
        n->drop_reason = NULL;
}

static void node_retry_later(struct rnode *n)
{
    struct rclient *c = n->client;
    struct timeval tv;

    node_set_state(n, RC_DOWN);
    /* A cluster node no longer in the map waits until a map names it again. */
    if (c->closed || evtimer_pending(n->retry, NULL) ||
        (c->cluster && !n->mapped && c->stats.slot_maps > 0))
        return;
    tv.tv_sec = n->backoff_ms / 1000;
    tv.tv_usec = (n->backoff_ms % 1000) * 1000;
    evtimer_add(n->retry, &tv);
    n->backoff_ms = n->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : n->backoff_ms * 2;
}

/* Drop the connection: hiredis fails every pending callback, then we retry. */
static void node_drop(struct rnode *n, const char *reason)
{
    redisAsyncContext *ac = n->ac;

    if (ac == NULL)
        return;
    n->drop_reason = reason;
    n->ac = NULL;
    if (n->client->cluster)
        n->client->next_map_ms = 0; /* who serves its slots now? */
    watch_stop(n, reason);
    node_retry_later(n);
    redisAsyncFree(ac);
}

void rclient_flush(struct rclient *c)
{
    for (size_t i = 0; i < c->nnodes; i++) {
        struct rnode *n = c->nodes[i];
        /* Only a ready connection: on one still connecting hiredis would take the write
         * for the end of the connect. */
        if (n->ac != NULL && n->state == RC_READY)
            redisAsyncHandleWrite(n->ac);
    }
}

static void rcmd_free(struct rcmd *cmd)
{
    free(cmd->formatted); /* resp_format's */
    free(cmd);
}

/* Redis lost the functions (FUNCTION FLUSH, a restart without them): load them again. */
static int is_function_missing(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && strstr(r->str, "Function not found");
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

static int send_formatted(struct rnode *n, struct rcmd *cmd, const char *buf, size_t len)
{
    if (redisAsyncFormattedCommand(n->ac, on_reply, cmd, buf, len) != REDIS_OK)
        return -1;
    cmd->node = n;
    TAILQ_INSERT_TAIL(&n->pending, cmd, link);
    return 0;
}

/* Send @argv on @n as one of the client's own commands (@cb may be NULL: the handshake's). */
static int node_send_own(struct rnode *n, rclient_cb *cb, void *arg, int argc, const char **argv,
                         long long deadline_ms)
{
    struct rcmd *cmd = calloc(1, sizeof(*cmd));

    if (cmd == NULL)
        return -1;
    cmd->node = n;
    cmd->cb = cb;
    cmd->arg = arg;
    cmd->deadline_ms = deadline_ms;
    if (redisAsyncCommandArgv(n->ac, on_reply, cmd, argc, argv, NULL) != REDIS_OK) {
        free(cmd);
        return -1;
    }
    TAILQ_INSERT_TAIL(&n->pending, cmd, link);
    return 0;
}

/* After "Function not found": load all the scripts' libraries, then resend. */
static int retry_loaded(struct rnode *n, struct rcmd *cmd)
{
    struct rclient *c = n->client;

    for (size_t i = 0; i < c->nscripts; i++) {
        const char *argv[] = {"FUNCTION", "LOAD", "REPLACE", c->scripts[i].library};
        if (node_send_own(n, NULL, NULL, 4, argv, clock_mono_ms() + c->timeout_ms) != 0)
            return -1;
    }
    cmd->retried = 1;
    cmd->deadline_ms = clock_mono_ms() + c->timeout_ms;
    return send_formatted(n, cmd, cmd->formatted, cmd->len);
}

static void handshake_reply(struct rnode *n, struct rcmd *cmd, redisReply *r)
{
    if (r == NULL)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        /* A library Redis refuses (a Redis before 7, an ACL without FUNCTION) stops here. */
        log_error("event=redis_handshake_failed node=%s:%d error=\"%s\"", n->host, n->port, r->str);
        node_drop(n, "handshake failed");
        return;
    }
    if (cmd->last_handshake && n->state == RC_HANDSHAKE)
        node_set_state(n, RC_READY);
}

static void ignore_reply(redisReply *reply, const char *err, void *arg)
{
    (void)reply;
    (void)err;
    (void)arg;
}

static struct rnode *node_for(struct rclient *c, const char *host, int port);

/*
 * A cluster's MOVED or ASK: send @cmd again to the node named, if it is
 * connected (after ASKING, for ASK). @return 0 if sent, -1 if it is not a
 * redirect, 1 if it is one we cannot follow now.
 */
static int redirect(struct rclient *c, struct rcmd *cmd, const redisReply *r)
{
    int ask = strncmp(r->str, "ASK ", 4) == 0;
    const char *p, *colon;
    char host[256];
    struct rnode *n;
    long slot;
    char *end;

    if (!ask && strncmp(r->str, "MOVED ", 6) != 0)
        return -1;
    slot = strtol(r->str + (ask ? 4 : 6), &end, 10);
    p = end + (*end == ' ');
    colon = strrchr(p, ':');
    if (slot < 0 || slot >= NSLOTS || colon == NULL || colon == p ||
        (size_t)(colon - p) >= sizeof(host))
        return 1;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    n = node_for(c, host, atoi(colon + 1));
    if (!ask) {
        if (n != NULL) {
            n->mapped = 1;
            c->slots[slot] = n;
        }
        c->next_map_ms = 0; /* the map moved: read it again */
    }
    /* Keys are moving between masters, and the new one's changes may not be heard yet. */
    if (c->cache != NULL)
        rcache_clear(c->cache);
    if (!ask)
        tracking_update(c);
    if (n == NULL || n->state != RC_READY || cmd->redirects >= MAX_REDIRECTS)
        return 1;
    if (ask) {
        const char *asking[] = {"ASKING"};
        if (node_send_own(n, ignore_reply, NULL, 1, asking, clock_mono_ms() + c->timeout_ms) != 0)
            return 1;
    }
    cmd->redirects++;
    cmd->deadline_ms = clock_mono_ms() + c->timeout_ms;
    if (send_formatted(n, cmd, cmd->formatted, cmd->len) != 0)
        return 1;
    c->stats.redirects++;
    return 0;
}

/* The next bulk string of a formatted command at *@p: its bytes and length, or NULL. */
static const char *next_bulk(const char **p, const char *end, size_t *len)
{
    const char *s;
    char *after;
    unsigned long n;

    if (*p >= end || **p != '$')
        return NULL;
    n = strtoul(*p + 1, &after, 10);
    s = after + 2; /* "\r\n" */
    if (after[0] != '\r' || s + n + 2 > end)
        return NULL;
    *len = n;
    *p = s + n + 2;
    return s;
}

/* @p against the first @klen bytes of a key, as strcmp would order them. */
static int prefix_cmp(const char *p, const char *key, size_t klen)
{
    size_t plen = strlen(p);
    int d = memcmp(p, key, plen < klen ? plen : klen);

    return d != 0 ? d : (plen > klen) - (plen < klen);
}

/*
 * Whether @key starts with a cached prefix: the last prefix not after it is
 * the only one it can start with, as the kept prefixes do not overlap.
 */
static int is_cached_kind(const struct rclient *c, const char *key, size_t klen)
{
    size_t lo = 0, hi = c->nprefixes, plen;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (prefix_cmp(c->prefixes[mid], key, klen) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return 0;
    plen = strlen(c->prefixes[lo - 1]);
    return plen <= klen && memcmp(c->prefixes[lo - 1], key, plen) == 0;
}

/*
 * A script this client ran has answered: drop the cached copies of the keys
 * it declares before its caller answers anyone, so that this daemon's next
 * read sees the change even if Redis's message about it is still on the way.
 */
static void forget_keys(struct rclient *c, const char *formatted, size_t len)
{
    const char *p = memchr(formatted, '\n', len), *end = formatted + len, *key;
    size_t klen;
    long nkeys;

    if (p == NULL)
        return;
    p++; /* past "*<argc>\r\n": FCALL, the function, the number of keys, the keys */
    if (next_bulk(&p, end, &klen) == NULL || next_bulk(&p, end, &klen) == NULL ||
        (key = next_bulk(&p, end, &klen)) == NULL)
        return;
    nkeys = strtol(key, NULL, 10);
    for (long i = 0; i < nkeys && (key = next_bulk(&p, end, &klen)) != NULL; i++) {
        if (is_cached_kind(c, key, klen))
            rcache_changed(c->cache, key, klen);
    }
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rcmd *cmd = privdata;
    struct rnode *n = cmd->node;
    struct rclient *c = n->client;
    redisReply *r = reply;

    (void)ac;
    TAILQ_REMOVE(&n->pending, cmd, link);
    if (is_function_missing(r) && cmd->formatted && !cmd->retried && n->ac != NULL &&
        retry_loaded(n, cmd) == 0)
        return;
    if (c->cluster && r != NULL && r->type == REDIS_REPLY_ERROR && cmd->cb != NULL &&
        cmd->formatted != NULL) {
        int rc = redirect(c, cmd, r);
        if (rc == 0)
            return;
        if (rc == 1) {
            c->stats.errors++;
            cmd->cb(NULL, "cluster slot moving", cmd->arg);
            rcmd_free(cmd);
            return;
        }
    }
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        c->stats.errors++;
    if (cmd->eval && c->cache != NULL)
        forget_keys(c, cmd->formatted, cmd->len);
    if (cmd->cb == NULL)
        handshake_reply(n, cmd, r);
    else if (r == NULL)
        cmd->cb(NULL, n->drop_reason ? n->drop_reason : "connection lost", cmd->arg);
    else
        cmd->cb(r, NULL, cmd->arg);
    rcmd_free(cmd);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rnode *n = ac->data;

    if (status == REDIS_OK)
        return;
    /* hiredis frees the context after this returns; pending commands fail. */
    log_warn("event=redis_connect_failed node=%s:%d error=\"%s\"", n->host, n->port, ac->errstr);
    if (n->ac == ac) {
        n->ac = NULL;
        n->drop_reason = "connect failed";
        node_retry_later(n);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rnode *n = ac->data;

    (void)status;
    if (n->ac == ac) {
        n->ac = NULL;
        n->drop_reason = "connection lost";
        if (n->client->cluster)
            n->client->next_map_ms = 0;
        watch_stop(n, "connection lost");
        node_retry_later(n);
    }
}

static int handshake(struct rnode *n)
{
    struct rclient *c = n->client;
    long long deadline = n->connect_deadline_ms;
    const char *ping[] = {"PING"};
    char db[16];

    if (c->addr.password[0] != '\0') {
        const char *auth_user[] = {"AUTH", c->addr.user, c->addr.password};
        const char *auth[] = {"AUTH", c->addr.password};
        if (c->addr.user[0] != '\0' ? node_send_own(n, NULL, NULL, 3, auth_user, deadline)
                                    : node_send_own(n, NULL, NULL, 2, auth, deadline))
            return -1;
    }
    if (c->addr.db != 0) {
        const char *sel[] = {"SELECT", db};
        snprintf(db, sizeof(db), "%d", c->addr.db);
        if (node_send_own(n, NULL, NULL, 2, sel, deadline) != 0)
            return -1;
    }
    for (size_t i = 0; i < c->nscripts; i++) {
        const char *load[] = {"FUNCTION", "LOAD", "REPLACE", c->scripts[i].library};
        if (node_send_own(n, NULL, NULL, 4, load, deadline) != 0)
            return -1;
    }
    if (node_send_own(n, NULL, NULL, 1, ping, deadline) != 0)
        return -1;
    TAILQ_LAST(&n->pending, rcmd_list)->last_handshake = 1;
    return 0;
}

static void node_connect(struct rnode *n)
{
    struct rclient *c = n->client;
    redisAsyncContext *ac;

    if (c->closed || n->ac != NULL)
        return;
    if (c->addr.kind == REDIS_ADDR_UNIX)
        ac = redisAsyncConnectUnix(c->addr.path);
    else
        ac = redisAsyncConnect(n->host, n->port);
    if (ac == NULL || ac->err) {
        log_warn("event=redis_connect_failed node=%s:%d error=\"%s\"", n->host, n->port,
                 ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        node_retry_later(n);
        return;
    }
    ac->data = n;
    n->ac = ac;
    node_set_state(n, RC_HANDSHAKE);
    n->connect_deadline_ms = clock_mono_ms() + c->timeout_ms;
    redisLibeventAttach(ac, c->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (handshake(n) != 0)
        node_drop(n, "handshake failed");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    node_connect(arg);
}

static struct rnode *node_new(struct rclient *c, const char *host, int port)
{
    struct rnode *n;

    if (c->nnodes == MAX_NODES) {
        /* Reuse the place of a node no map names any more and that is not connected. */
        for (size_t i = 0; i < c->nnodes; i++) {
            n = c->nodes[i];
            if (!n->mapped && n->ac == NULL) {
                event_free(n->retry);
                free(n);
                c->nodes[i] = c->nodes[--c->nnodes];
                break;
            }
        }
        if (c->nnodes == MAX_NODES)
            return NULL;
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->client = c;
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    n->backoff_ms = BACKOFF_MIN_MS;
    TAILQ_INIT(&n->pending);
    n->retry = evtimer_new(c->base, on_retry, n);
    if (n->retry == NULL) {
        free(n);
        return NULL;
    }
    c->nodes[c->nnodes++] = n;
    return n;
}

/* The node at @host:@port, made and connecting if it is new. NULL when out of places. */
static struct rnode *node_for(struct rclient *c, const char *host, int port)
{
    struct rnode *n;

    for (size_t i = 0; i < c->nnodes; i++) {
        n = c->nodes[i];
        if (n->port == port && strcmp(n->host, host) == 0) {
            if (n->ac == NULL && !evtimer_pending(n->retry, NULL))
                node_connect(n);
            return n;
        }
    }
    n = node_new(c, host, port);
    if (n != NULL)
        node_connect(n);
    return n;
}

static void node_free(struct rnode *n)
{
    if (n->retry)
        event_free(n->retry);
    free(n);
}

/* ---- the watch: each master's changes to the cached keys (rclient_cache_enable) ---- */

/* Whether every slot's master (a plain client: its one node) has a watch that hears. */
static int all_watched(const struct rclient *c)
{
    if (c->closed)
        return 0;
    if (!c->cluster)
        return c->nnodes == 1 && c->nodes[0]->watch_live;
    for (size_t s = 0; s < NSLOTS; s++) {
        if (c->slots[s] == NULL || !c->slots[s]->watch_live)
            return 0;
    }
    return 1;
}

/* The cache is used while every change is heard; turning on or off drops every copy. */
static void tracking_update(struct rclient *c)
{
    int live;

    if (c->cache == NULL)
        return;
    live = all_watched(c);
    if (live == rcache_live(c->cache))
        return;
    rcache_set_live(c->cache, live);
    if (live)
        log_info("event=read_cache_on");
    else if (!c->closed)
        log_warn("event=read_cache_off reason=\"a master's changes are not heard\"");
}

static void watch_stop(struct rnode *n, const char *why)
{
    redisAsyncContext *w = n->watch;
    long long backoff = n->watch_backoff_ms ? n->watch_backoff_ms : BACKOFF_MIN_MS;

    if (w == NULL)
        return;
    if (n->watch_live && !n->client->closed)
        log_warn("event=redis_watch_lost node=%s:%d reason=\"%s\"", n->host, n->port, why);
    n->watch = NULL;
    n->watch_live = 0;
    n->watch_next_ms = clock_mono_ms() + backoff;
    n->watch_backoff_ms = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    tracking_update(n->client);
    redisAsyncFree(w); /* its callbacks find n->watch changed and do nothing */
}

/* Replies on the watch: AUTH's, CLIENT TRACKING's (+OK), or the subscription's and its
 * messages: ["subscribe", channel, count], ["message", channel, [key, ...] or nil]. */
static void on_watch(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rnode *n = ac->data;
    struct rclient *c = n->client;
    redisReply *r = reply, *what;

    (void)privdata;
    if (n->watch != ac)
        return;
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        watch_stop(n, r ? "refused" : "connection lost");
        if (r != NULL) {
            log_error("event=redis_watch_refused node=%s:%d error=\"%s\" retry_ms=%d", n->host,
                      n->port, r->str, WATCH_REFUSED_MS);
            n->watch_next_ms = clock_mono_ms() + WATCH_REFUSED_MS;
        }
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    what = r->element[2];
    if (strcmp(r->element[0]->str, "subscribe") == 0) {
        n->watch_live = 1;
        n->watch_backoff_ms = BACKOFF_MIN_MS;
        tracking_update(c);
    } else if (strcmp(r->element[0]->str, "message") == 0 && what->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < what->elements; i++) {
            if (what->element[i]->type == REDIS_REPLY_STRING)
                rcache_changed(c->cache, what->element[i]->str, what->element[i]->len);
        }
    } else if (strcmp(r->element[0]->str, "message") == 0) {
        rcache_clear(c->cache); /* nil: FLUSHALL or FLUSHDB */
    }
}

/* CLIENT ID's answer: turn tracking on, its news sent to this same connection, and listen. */
static void on_watch_id(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rnode *n = ac->data;
    struct rclient *c = n->client;
    redisReply *r = reply;

    (void)privdata;
    if (n->watch != ac)
        return;
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        on_watch(ac, r != NULL && r->type == REDIS_REPLY_ERROR ? r : NULL, NULL);
        return;
    }
    snprintf(c->watch_id, sizeof(c->watch_id), "%lld", r->integer);
    c->tracking_argv[4] = c->watch_id;
    if (redisAsyncCommandArgv(ac, on_watch, NULL, (int)c->tracking_argc, c->tracking_argv, NULL) !=
            REDIS_OK ||
        redisAsyncCommand(ac, on_watch, NULL, "SUBSCRIBE __redis__:invalidate") != REDIS_OK)
        watch_stop(n, "cannot send");
}

static void on_watch_connect(const redisAsyncContext *ac, int status)
{
    struct rnode *n = ac->data;

    if (status != REDIS_OK && n->watch == ac) {
        n->watch = NULL; /* hiredis frees it after this returns */
        n->watch_next_ms = clock_mono_ms() + BACKOFF_MAX_MS;
    }
}

static void on_watch_disconnect(const redisAsyncContext *ac, int status)
{
    struct rnode *n = ac->data;

    (void)status;
    if (n->watch == ac) {
        n->watch = NULL; /* hiredis frees it after this returns */
        n->watch_live = 0;
        n->watch_next_ms = clock_mono_ms() + BACKOFF_MIN_MS;
        tracking_update(n->client);
    }
}

/*
 * Open @n's watch, if there is a cache and the node is ready: AUTH as the
 * node does, CLIENT ID, then CLIENT TRACKING ... BCAST to itself, then
 * SUBSCRIBE. Its reading is done before anything else in a turn of the loop
 * (priority 0): news of a change is handled before a request that came in
 * with it.
 */
static void watch_start(struct rnode *n)
{
    struct rclient *c = n->client;
    redisAsyncContext *w;

    if (c->cache == NULL || c->closed || n->watch != NULL || n->state != RC_READY ||
        clock_mono_ms() < n->watch_next_ms)
        return;
    w = c->addr.kind == REDIS_ADDR_UNIX ? redisAsyncConnectUnix(c->addr.path)
                                        : redisAsyncConnect(n->host, n->port);
    if (w == NULL || w->err) {
        if (w)
            redisAsyncFree(w);
        n->watch_next_ms = clock_mono_ms() + BACKOFF_MAX_MS;
        return;
    }
    w->data = n;
    n->watch = w;
    n->watch_deadline_ms = clock_mono_ms() + c->timeout_ms;
    redisLibeventAttach(w, c->base);
    event_priority_set(((redisLibeventEvents *)w->ev.data)->rev, 0);
    redisAsyncSetConnectCallback(w, on_watch_connect);
    redisAsyncSetDisconnectCallback(w, on_watch_disconnect);
    if (c->addr.password[0] != '\0') {
        const char *auth_user[] = {"AUTH", c->addr.user, c->addr.password};
        const char *auth[] = {"AUTH", c->addr.password};
        if (c->addr.user[0] != '\0'
                ? redisAsyncCommandArgv(w, on_watch, NULL, 3, auth_user, NULL) != REDIS_OK
                : redisAsyncCommandArgv(w, on_watch, NULL, 2, auth, NULL) != REDIS_OK) {
            watch_stop(n, "cannot send");
            return;
        }
    }
    if (redisAsyncCommand(w, on_watch_id, NULL, "CLIENT ID") != REDIS_OK)
        watch_stop(n, "cannot send");
}

/* ---- the cluster's slot map ---- */

/* Connect to the seeds again: no node we know answers. */
static void seeds_connect(struct rclient *c)
{
    for (size_t i = 0; i < c->addr.nseeds; i++)
        node_for(c, c->addr.seeds[i].host, c->addr.seeds[i].port);
}

/* One "[start, end, [host, port, ...], replicas...]" of CLUSTER SLOTS; 0 or -1. */
static int map_entry(const redisReply *e, long long *start, long long *end, const char **host,
                     long long *port)
{
    const redisReply *m;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    m = e->element[2];
    if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
        m->element[0]->type != REDIS_REPLY_STRING || m->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    *start = e->element[0]->integer;
    *end = e->element[1]->integer;
    *host = m->element[0]->str;
    *port = m->element[1]->integer;
    return *start >= 0 && *start <= *end && *end<NSLOTS && * port> 0 && *port < 65536 ? 0 : -1;
}

struct map_ask {
    struct rclient *client;
    char host[256]; /* the node asked: an empty host in its answer means this one */
};

static void on_map(redisReply *r, const char *err, void *arg)
{
    struct map_ask *ask = arg;
    struct rclient *c = ask->client;
    long long start, end, port;
    const char *host;
    size_t covered = 0;

    c->map_asked = 0;
    if (err != NULL || r->type != REDIS_REPLY_ARRAY || c->closed) {
        if (!c->closed)
            log_warn("event=redis_cluster_map_failed error=\"%s\"", err ? err
                                                                    : r->type == REDIS_REPLY_ERROR
                                                                        ? r->str
                                                                        : "unexpected reply");
        c->next_map_ms = clock_mono_ms() + MAP_DEGRADED_MS;
        free(ask);
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        if (map_entry(r->element[i], &start, &end, &host, &port) != 0) {
            log_warn("event=redis_cluster_map_failed error=\"unreadable CLUSTER SLOTS\"");
            c->next_map_ms = clock_mono_ms() + MAP_DEGRADED_MS;
            free(ask);
            return;
        }
    }
    for (size_t i = 0; i < c->nnodes; i++)
        c->nodes[i]->mapped = 0;
    memset(c->slots, 0, sizeof(c->slots));
    for (size_t i = 0; i < r->elements; i++) {
        struct rnode *n;
        map_entry(r->element[i], &start, &end, &host, &port);
        n = node_for(c, host[0] ? host : ask->host, (int)port);
        if (n == NULL)
            continue;
        n->mapped = 1;
        for (long long s = start; s <= end; s++)
            c->slots[s] = n;
        covered += (size_t)(end - start + 1);
    }
    free(ask);
    /* Nodes the map no longer names stop retrying (node_retry_later). */
    for (size_t i = 0; i < c->nnodes; i++) {
        if (!c->nodes[i]->mapped && c->nodes[i]->ac == NULL)
            evtimer_del(c->nodes[i]->retry);
    }
    if (c->stats.slot_maps++ == 0 || covered != NSLOTS)
        log_info("event=redis_cluster_map masters=%zu slots=%zu", rclient_cluster_nodes(c),
                 covered);
    c->next_map_ms = clock_mono_ms() + MAP_EVERY_MS;
    client_update(c, "slot map");
}

/* Ask a connected node for the slot map, or reach for the seeds when none is. */
static void map_ask(struct rclient *c)
{
    const char *argv[] = {"CLUSTER", "SLOTS"};
    struct rnode *n = NULL;
    struct map_ask *ask;

    if (c->map_asked || c->closed)
        return;
    for (size_t i = 0; i < c->nnodes; i++) {
        struct rnode *m = c->nodes[i];
        if (m->state == RC_READY && (n == NULL || (!n->mapped && m->mapped)))
            n = m;
    }
    if (n == NULL) {
        seeds_connect(c);
        c->next_map_ms = clock_mono_ms() + MAP_DEGRADED_MS;
        return;
    }
    ask = calloc(1, sizeof(*ask));
    if (ask == NULL)
        return;
    ask->client = c;
    snprintf(ask->host, sizeof(ask->host), "%s", n->host);
    if (node_send_own(n, on_map, ask, 2, argv, clock_mono_ms() + c->timeout_ms) != 0) {
        free(ask);
        return;
    }
    c->map_asked = 1;
}

size_t rclient_cluster_nodes(const struct rclient *c)
{
    size_t n = 0;

    for (size_t i = 0; c->cluster && i < c->nnodes; i++)
        n += c->nodes[i]->mapped;
    return n;
}

/*
 * The key a command acts on, for its slot: the argument after the name,
 * but the stream of XREADGROUP/XREAD, the key of XGROUP, the first key of
 * FCALL; NULL for commands without one.
 */
static const char *command_key(int argc, const char **argv, const size_t *lens, size_t *len)
{
    static const char *const keyless[] = {"TIME", "PING", "INFO", "CLUSTER", "FUNCTION", "DBSIZE"};
    int at = 1;

    for (size_t i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++) {
        if (strcasecmp(argv[0], keyless[i]) == 0)
            return NULL;
    }
    if (strcasecmp(argv[0], "FCALL") == 0 || strcasecmp(argv[0], "FCALL_RO") == 0)
        at = argc > 2 && atoi(argv[2]) > 0 ? 3 : argc;
    else if (strcasecmp(argv[0], "XGROUP") == 0)
        at = 2;
    else if (strcasecmp(argv[0], "XREADGROUP") == 0 || strcasecmp(argv[0], "XREAD") == 0) {
        at = argc;
        for (int i = 1; i + 1 < argc; i++) {
            if (strcasecmp(argv[i], "STREAMS") == 0) {
                at = i + 1;
                break;
            }
        }
    }
    if (at >= argc)
        return NULL;
    *len = lens ? lens[at] : strlen(argv[at]);
    return argv[at];
}

/* The node a command goes to; NULL when that node is not connected. */
static struct rnode *route(struct rclient *c, int argc, const char **argv, const size_t *lens)
{
    const char *key;
    size_t len = 0;
    struct rnode *n = NULL;

    if (!c->cluster)
        n = c->nodes[0];
    else if ((key = command_key(argc, argv, lens, &len)) != NULL)
        n = c->slots[key_slot(key, len)];
    else {
        for (size_t i = 0; i < c->nnodes && n == NULL; i++) {
            if (c->nodes[i]->mapped && c->nodes[i]->state == RC_READY)
                n = c->nodes[i];
        }
    }
    return n != NULL && n->state == RC_READY ? n : NULL;
}

/* ---- the client ---- */

/* Every tick: is a connect or the oldest command of a node overdue? Is the map due? */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct rclient *c = arg;
    long long now = clock_mono_ms();

    (void)fd;
    (void)what;
    for (size_t i = 0; i < c->nnodes; i++) {
        struct rnode *n = c->nodes[i];
        struct rcmd *oldest = TAILQ_FIRST(&n->pending);

        if (n->watch != NULL && !n->watch_live && now > n->watch_deadline_ms)
            watch_stop(n, "watch timeout");
        if (n->ac == NULL)
            continue;
        if (n->state == RC_READY && n->watch == NULL)
            watch_start(n);
        if (n->state == RC_HANDSHAKE && now > n->connect_deadline_ms) {
            node_drop(n, "connect timeout");
        } else if (oldest != NULL && now > oldest->deadline_ms) {
            c->stats.timeouts++;
            log_warn("event=redis_timeout node=%s:%d timeout_ms=%lld", n->host, n->port,
                     c->timeout_ms);
            node_drop(n, "timeout");
        }
    }
    if (c->cluster && !c->closed && now >= c->next_map_ms)
        map_ask(c);
}

struct rclient *rclient_new(struct event_base *base, const struct redis_addr *addr,
                            long long timeout_ms)
{
    struct rclient *c = calloc(1, sizeof(*c));
    struct timeval tick = {0, TICK_MS * 1000};

    if (c == NULL)
        return NULL;
    c->base = base;
    c->addr = *addr;
    c->timeout_ms = timeout_ms;
    c->cluster = addr->kind == REDIS_ADDR_CLUSTER;
    c->tick = event_new(base, -1, EV_PERSIST, on_tick, c);
    if (c->tick == NULL ||
        (!c->cluster && node_new(c, addr->kind == REDIS_ADDR_UNIX ? addr->path : addr->host,
                                 addr->port) == NULL)) {
        rclient_free(c);
        return NULL;
    }
    event_add(c->tick, &tick);
    return c;
}

int rclient_add_script(struct rclient *c, const char *name, const char *prelude, const char *body)
{
    static const char head[] = "#!lua name=%s\n%s\nredis.register_function('%s', "
                               "function(KEYS, ARGV)\n%s\nend)\n";
    struct redis_script *s;
    struct sha256 h;
    unsigned char digest[32];
    size_t len;

    for (size_t i = 0; i < c->nscripts; i++) {
        if (c->scripts[i].body == body)
            return (int)i; /* two modules share it */
    }
    if (c->nscripts == MAX_SCRIPTS || strlen(name) > 32)
        return -1;
    prelude = prelude ? prelude : "";
    s = &c->scripts[c->nscripts];
    sha256_init(&h);
    sha256_update(&h, prelude, strlen(prelude));
    sha256_update(&h, body, strlen(body));
    sha256_final(&h, digest);
    len = (size_t)snprintf(s->fn, sizeof(s->fn), "omnistock_%s_", name);
    for (size_t i = 0; i < 8; i++)
        len += (size_t)snprintf(s->fn + len, sizeof(s->fn) - len, "%02x", digest[i]);
    len = strlen(head) + 2 * strlen(s->fn) + strlen(prelude) + strlen(body) + 1;
    if ((s->library = malloc(len)) == NULL)
        return -1;
    snprintf(s->library, len, head, s->fn, prelude, s->fn, body);
    s->body = body;
    return (int)c->nscripts++;
}

void rclient_script_reads_only(struct rclient *c, size_t script)
{
    if (script < c->nscripts)
        c->scripts[script].reads_only = 1;
}

void rclient_start(struct rclient *c)
{
    if (c->cluster)
        seeds_connect(c);
    else
        node_connect(c->nodes[0]);
}

void rclient_close(struct rclient *c)
{
    if (c == NULL)
        return;
    c->closed = 1;
    c->nobservers = 0;
    c->ready = 0;
    for (size_t i = 0; i < c->nnodes; i++) {
        struct rnode *n = c->nodes[i];
        evtimer_del(n->retry);
        watch_stop(n, "shutdown");
        if (n->ac != NULL) {
            redisAsyncContext *ac = n->ac;
            n->drop_reason = "shutdown";
            n->ac = NULL;
            n->state = RC_DOWN;
            redisAsyncFree(ac); /* every pending command's callback, with "shutdown" */
        }
    }
}

void rclient_free(struct rclient *c)
{
    if (c == NULL)
        return;
    rclient_close(c);
    for (size_t i = 0; i < c->nnodes; i++)
        node_free(c->nodes[i]);
    if (c->tick)
        event_free(c->tick);
    rcache_free(c->cache);
    for (size_t i = 6; i < c->tracking_argc; i += 2)
        free((char *)c->tracking_argv[i + 1]);
    free(c->tracking_argv);
    for (size_t i = 0; i < c->nprefixes; i++)
        free(c->prefixes[i]);
    free(c->prefixes);
    for (size_t i = 0; i < c->nscripts; i++)
        free(c->scripts[i].library);
    free(c);
}

int rclient_observe(struct rclient *c, rclient_state_cb *cb, void *arg)
{
    if (c->nobservers == MAX_OBSERVERS)
        return -1;
    c->observers[c->nobservers].cb = cb;
    c->observers[c->nobservers].arg = arg;
    c->nobservers++;
    return 0;
}

int rclient_ready(const struct rclient *c)
{
    return c->ready;
}

const struct rclient_stats *rclient_stats(const struct rclient *c)
{
    return &c->stats;
}

static struct rcmd *rcmd_new(struct rclient *c, rclient_cb *cb, void *arg)
{
    struct rcmd *cmd = calloc(1, sizeof(*cmd));

    if (cmd == NULL)
        return NULL;
    cmd->cb = cb;
    cmd->arg = arg;
    cmd->deadline_ms = clock_mono_ms() + c->timeout_ms;
    c->stats.commands++;
    return cmd;
}

/*
 * Format and send; a script call (@keep), and any command on a cluster, keeps
 * the bytes for a retry after "Function not found", MOVED and ASK. @return 0 or -1.
 */
static int send_argv(struct rclient *c, struct rnode *n, struct rcmd *cmd, int argc,
                     const char **argv, const size_t *lens, int keep)
{
    char *buf;
    long len = resp_format(&buf, argc, argv, lens);
    int rc;

    if (len < 0)
        return -1;
    if (keep || c->cluster) {
        cmd->formatted = buf;
        cmd->len = (size_t)len;
        return send_formatted(n, cmd, cmd->formatted, cmd->len);
    }
    rc = send_formatted(n, cmd, buf, (size_t)len); /* hiredis copies it */
    free(buf);
    return rc;
}

int rclient_command(struct rclient *c, rclient_cb *cb, void *arg, int argc, const char **argv,
                    const size_t *lens)
{
    struct rnode *n;
    struct rcmd *cmd;

    if (c->closed || argc < 1 || (n = route(c, argc, argv, lens)) == NULL ||
        (cmd = rcmd_new(c, cb, arg)) == NULL)
        return -1;
    if (send_argv(c, n, cmd, argc, argv, lens, 0) != 0) {
        rcmd_free(cmd);
        return -1;
    }
    return 0;
}

int rclient_eval(struct rclient *c, rclient_cb *cb, void *arg, size_t script, int nkeys, int nargs,
                 const char **args, const size_t *lens)
{
    const char *stack_argv[64];
    size_t stack_lens[64];
    const char **argv = stack_argv;
    size_t *alens = stack_lens;
    char nk[TEXT_INT_SIZE];
    struct rnode *n;
    struct rcmd *cmd;
    int rc = -1;

    if (c->closed || script >= c->nscripts)
        return -1;
    if (nargs + 3 > 64) {
        argv = malloc(sizeof(*argv) * (size_t)(nargs + 3));
        alens = malloc(sizeof(*alens) * (size_t)(nargs + 3));
        if (argv == NULL || alens == NULL)
            goto out;
    }
    argv[0] = "FCALL";
    argv[1] = c->scripts[script].fn;
    argv[2] = nk;
    alens[0] = 5;
    alens[1] = strlen(argv[1]);
    alens[2] = text_int(nk, nkeys);
    for (int i = 0; i < nargs; i++) {
        argv[i + 3] = args[i];
        alens[i + 3] = lens ? lens[i] : strlen(args[i]);
    }
    if ((n = route(c, nargs + 3, argv, alens)) == NULL || (cmd = rcmd_new(c, cb, arg)) == NULL)
        goto out;
    cmd->eval = !c->scripts[script].reads_only;
    if (send_argv(c, n, cmd, nargs + 3, argv, alens, 1) != 0) {
        rcmd_free(cmd);
        goto out;
    }
    rc = 0;
out:
    if (argv != stack_argv) {
        free(argv);
        free(alens);
    }
    return rc;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether every one of the @n @prefixes starts with one of the @nh @heard. */
static int heard_cover(const char *const *prefixes, size_t n, const char *const *heard, size_t nh)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < nh && strncmp(prefixes[i], heard[j], strlen(heard[j])) != 0)
            j++;
        if (j == nh)
            return 0;
    }
    return 1;
}

int rclient_cache_enable(struct rclient *c, size_t max_entries, long long max_age_ms,
                         const char *const *kept, size_t nkept, const char *const *heard,
                         size_t nheard)
{
    static const char *head[] = {"CLIENT", "TRACKING", "ON", "REDIRECT", "", "BCAST"};
    size_t argc = 6 + 2 * nheard;

    if (c->cache != NULL || nkept == 0 || !heard_cover(kept, nkept, heard, nheard) ||
        (c->tracking_argv = calloc(argc, sizeof(*c->tracking_argv))) == NULL)
        return -1;
    memcpy(c->tracking_argv, head, sizeof(head));
    c->tracking_argc = 6;
    for (size_t i = 0; i < nheard; i++) {
        char *copy = strdup(heard[i]);
        if (copy == NULL)
            return -1;
        c->tracking_argv[c->tracking_argc++] = "PREFIX";
        c->tracking_argv[c->tracking_argc++] = copy;
    }
    /* The kept prefixes, sorted: a script's answer drops its keys of those (forget_keys). */
    if ((c->prefixes = calloc(nkept, sizeof(*c->prefixes))) == NULL)
        return -1;
    for (; c->nprefixes < nkept; c->nprefixes++) {
        if ((c->prefixes[c->nprefixes] = strdup(kept[c->nprefixes])) == NULL)
            return -1;
    }
    qsort(c->prefixes, nkept, sizeof(*c->prefixes), str_cmp);
    c->cache = rcache_new(max_entries, max_age_ms);
    return c->cache != NULL ? 0 : -1;
}

struct rcache *rclient_cache(const struct rclient *c)
{
    return c->cache;
}

struct event_base *rclient_base(struct rclient *c)
{
    return c->base;
}
