/*
 * redis.c - the async client of redis.h: connect, handshake (auth, select,
 * script loading), pipelined commands with timeouts, reconnect with backoff.
 *
 * Redis answers commands on a connection in the order they were sent, so the
 * client keeps its own FIFO of pending commands: the oldest one is the first
 * to time out, and one periodic timer watches it. A timeout means Redis is not
 * answering; the connection is dropped, which fails every pending command, and
 * a fresh one is made.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "common/log.h"
#include "common/redis.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 500
#define TICK_MS        50

enum rstate {
    RC_DOWN,      /* no connection; a retry is scheduled */
    RC_HANDSHAKE, /* connecting, authenticating, loading scripts */
    RC_READY,
};

struct rcmd {
    TAILQ_ENTRY(rcmd) link;
    struct rclient *client;
    rclient_cb *cb; /* NULL for the client's own handshake commands */
    void *arg;
    long long deadline_ms;
    char *formatted; /* EVALSHA commands keep their bytes for one NOSCRIPT retry */
    size_t len;
    int retried;
    int last_handshake; /* the reply that completes the handshake */
};

#define MAX_SCRIPTS   32
#define MAX_OBSERVERS 4

/* A Lua script; sha is learnt from SCRIPT LOAD at connect. */
struct redis_script {
    const char *name;
    const char *source;
    char sha[41];
};

struct rclient {
    struct event_base *base;
    struct redis_addr addr;
    struct redis_script scripts[MAX_SCRIPTS];
    size_t nscripts;
    long long timeout_ms;

    redisAsyncContext *ac;
    enum rstate state;
    long long connect_deadline_ms;
    long long backoff_ms;
    int ever_ready;
    const char *drop_reason;
    int closed; /* rclient_close: no more connecting */

    TAILQ_HEAD(, rcmd) pending;
    struct event *tick;
    struct event *retry;

    struct {
        rclient_state_cb *cb;
        void *arg;
    } observers[MAX_OBSERVERS];
    size_t nobservers;
    struct rclient_stats stats;
};

static void conn_start(struct rclient *c);

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

int redis_addr_parse(const char *url, struct redis_addr *out, char *err, size_t errlen)
{
    const char *p, *at, *slash, *colon;
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
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "--redis: '%s' is not redis://..., unix://... or embedded",
                 url_shown(url, shown, sizeof(shown)));
        return -1;
    }
    out->kind = REDIS_ADDR_TCP;
    out->port = 6379;
    p = url + 8;
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
    slash = strchr(p, '/');
    colon = strchr(p, ':');
    if (colon != NULL && slash != NULL && colon > slash)
        colon = NULL;
    {
        const char *hend = colon ? colon : slash ? slash : p + strlen(p);
        if (hend == p || (size_t)(hend - p) >= sizeof(out->host)) {
            snprintf(err, errlen, "--redis: missing or too long host in '%s'",
                     url_shown(url, shown, sizeof(shown)));
            return -1;
        }
        memcpy(out->host, p, (size_t)(hend - p));
    }
    if (colon != NULL) {
        long port;
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (errno != 0 || end == colon + 1 || (*end != '\0' && *end != '/') || port < 1 ||
            port > 65535) {
            snprintf(err, errlen, "--redis: invalid port in '%s'",
                     url_shown(url, shown, sizeof(shown)));
            return -1;
        }
        out->port = (int)port;
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

static void set_state(struct rclient *c, enum rstate s)
{
    enum rstate old = c->state;

    c->state = s;
    if (old != RC_READY && s == RC_READY) {
        if (c->ever_ready)
            c->stats.reconnects++;
        c->ever_ready = 1;
        log_info("event=redis_ready reconnects=%llu", c->stats.reconnects);
        for (size_t i = 0; i < c->nobservers; i++)
            c->observers[i].cb(1, c->observers[i].arg);
    } else if (old == RC_READY && s != RC_READY) {
        log_warn("event=redis_lost reason=\"%s\"", c->drop_reason ? c->drop_reason : "closed");
        for (size_t i = 0; i < c->nobservers; i++)
            c->observers[i].cb(0, c->observers[i].arg);
    }
}

static void schedule_retry(struct rclient *c)
{
    struct timeval tv;

    set_state(c, RC_DOWN);
    if (c->closed || evtimer_pending(c->retry, NULL))
        return;
    tv.tv_sec = c->backoff_ms / 1000;
    tv.tv_usec = (c->backoff_ms % 1000) * 1000;
    evtimer_add(c->retry, &tv);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* Drop the connection: hiredis fails every pending callback, then we retry. */
static void conn_drop(struct rclient *c, const char *reason)
{
    redisAsyncContext *ac = c->ac;

    if (ac == NULL)
        return;
    c->drop_reason = reason;
    c->ac = NULL;
    schedule_retry(c);
    redisAsyncFree(ac);
}

static void rcmd_free(struct rcmd *cmd)
{
    if (cmd->formatted)
        redisFreeCommand(cmd->formatted);
    free(cmd);
}

static int is_noscript(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

static int send_formatted(struct rclient *c, struct rcmd *cmd, const char *buf, size_t len)
{
    if (redisAsyncFormattedCommand(c->ac, on_reply, cmd, buf, len) != REDIS_OK)
        return -1;
    TAILQ_INSERT_TAIL(&c->pending, cmd, link);
    return 0;
}

/* After NOSCRIPT (Redis restarted or SCRIPT FLUSH): load all scripts, then resend. */
static int retry_noscript(struct rclient *c, struct rcmd *cmd)
{
    for (size_t i = 0; i < c->nscripts; i++) {
        struct rcmd *load = calloc(1, sizeof(*load));
        const char *argv[] = {"SCRIPT", "LOAD", c->scripts[i].source};
        char *buf;
        int len;

        if (load == NULL)
            return -1;
        load->client = c;
        load->deadline_ms = now_ms() + c->timeout_ms;
        len = redisFormatCommandArgv(&buf, 3, argv, NULL);
        if (len < 0 || send_formatted(c, load, buf, (size_t)len) != 0) {
            if (len >= 0)
                redisFreeCommand(buf);
            free(load);
            return -1;
        }
        redisFreeCommand(buf);
    }
    cmd->retried = 1;
    cmd->deadline_ms = now_ms() + c->timeout_ms;
    return send_formatted(c, cmd, cmd->formatted, cmd->len);
}

static void handshake_reply(struct rclient *c, struct rcmd *cmd, redisReply *r)
{
    if (r == NULL)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        log_error("event=redis_handshake_failed error=\"%s\"", r->str);
        conn_drop(c, "handshake failed");
        return;
    }
    if (cmd->last_handshake && c->state == RC_HANDSHAKE) {
        c->backoff_ms = BACKOFF_MIN_MS;
        c->drop_reason = NULL;
        set_state(c, RC_READY);
    }
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct rcmd *cmd = privdata;
    struct rclient *c = cmd->client;
    redisReply *r = reply;

    (void)ac;
    TAILQ_REMOVE(&c->pending, cmd, link);
    if (is_noscript(r) && cmd->formatted && !cmd->retried && c->ac != NULL &&
        retry_noscript(c, cmd) == 0)
        return;
    if (r == NULL || r->type == REDIS_REPLY_ERROR)
        c->stats.errors++;
    if (cmd->cb == NULL)
        handshake_reply(c, cmd, r);
    else if (r == NULL)
        cmd->cb(NULL, c->drop_reason ? c->drop_reason : "connection lost", cmd->arg);
    else
        cmd->cb(r, NULL, cmd->arg);
    rcmd_free(cmd);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rclient *c = ac->data;

    if (status == REDIS_OK)
        return;
    /* hiredis frees the context after this returns; pending commands fail. */
    log_warn("event=redis_connect_failed error=\"%s\"", ac->errstr);
    if (c->ac == ac) {
        c->ac = NULL;
        c->drop_reason = "connect failed";
        schedule_retry(c);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rclient *c = ac->data;

    (void)status;
    if (c->ac == ac) {
        c->ac = NULL;
        c->drop_reason = "connection lost";
        schedule_retry(c);
    }
}

static int handshake_send(struct rclient *c, int argc, const char **argv, int last)
{
    struct rcmd *cmd = calloc(1, sizeof(*cmd));

    if (cmd == NULL)
        return -1;
    cmd->client = c;
    cmd->deadline_ms = c->connect_deadline_ms;
    cmd->last_handshake = last;
    if (redisAsyncCommandArgv(c->ac, on_reply, cmd, argc, argv, NULL) != REDIS_OK) {
        free(cmd);
        return -1;
    }
    TAILQ_INSERT_TAIL(&c->pending, cmd, link);
    return 0;
}

/* The scripts' SHA-1s come back from SCRIPT LOAD; remember them. */
static void script_loaded(redisReply *r, const char *err, void *arg)
{
    struct redis_script *s = arg;

    if (err == NULL && r->type == REDIS_REPLY_STRING && r->len == 40)
        memcpy(s->sha, r->str, 41);
    else if (err == NULL)
        log_error("event=script_load_failed script=%s error=\"%s\"", s->name,
                  r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
}

static int handshake(struct rclient *c)
{
    char db[16];

    if (c->addr.password[0] != '\0') {
        const char *auth_user[] = {"AUTH", c->addr.user, c->addr.password};
        const char *auth[] = {"AUTH", c->addr.password};
        if (c->addr.user[0] != '\0' ? handshake_send(c, 3, auth_user, 0)
                                    : handshake_send(c, 2, auth, 0))
            return -1;
    }
    if (c->addr.db != 0) {
        const char *sel[] = {"SELECT", db};
        snprintf(db, sizeof(db), "%d", c->addr.db);
        if (handshake_send(c, 2, sel, 0) != 0)
            return -1;
    }
    for (size_t i = 0; i < c->nscripts; i++) {
        const char *load[] = {"SCRIPT", "LOAD", c->scripts[i].source};
        struct rcmd *cmd = calloc(1, sizeof(*cmd));
        if (cmd == NULL)
            return -1;
        cmd->client = c;
        cmd->cb = script_loaded;
        cmd->arg = &c->scripts[i];
        cmd->deadline_ms = c->connect_deadline_ms;
        if (redisAsyncCommandArgv(c->ac, on_reply, cmd, 3, load, NULL) != REDIS_OK) {
            free(cmd);
            return -1;
        }
        TAILQ_INSERT_TAIL(&c->pending, cmd, link);
    }
    {
        const char *ping[] = {"PING"};
        return handshake_send(c, 1, ping, 1);
    }
}

static void conn_start(struct rclient *c)
{
    redisAsyncContext *ac;

    if (c->addr.kind == REDIS_ADDR_UNIX)
        ac = redisAsyncConnectUnix(c->addr.path);
    else
        ac = redisAsyncConnect(c->addr.host, c->addr.port);
    if (ac == NULL || ac->err) {
        log_warn("event=redis_connect_failed error=\"%s\"", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(c);
        return;
    }
    ac->data = c;
    c->ac = ac;
    c->state = RC_HANDSHAKE;
    c->connect_deadline_ms = now_ms() + c->timeout_ms;
    redisLibeventAttach(ac, c->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (handshake(c) != 0)
        conn_drop(c, "handshake failed");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_start(arg);
}

/* Every tick: is the oldest pending command (or the connect) overdue? */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct rclient *c = arg;
    struct rcmd *oldest = TAILQ_FIRST(&c->pending);
    long long now = now_ms();

    (void)fd;
    (void)what;
    if (c->ac == NULL)
        return;
    if (c->state == RC_HANDSHAKE && now > c->connect_deadline_ms) {
        conn_drop(c, "connect timeout");
        return;
    }
    if (oldest != NULL && now > oldest->deadline_ms) {
        c->stats.timeouts++;
        log_warn("event=redis_timeout timeout_ms=%lld", c->timeout_ms);
        conn_drop(c, "timeout");
    }
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
    c->backoff_ms = BACKOFF_MIN_MS;
    TAILQ_INIT(&c->pending);
    c->tick = event_new(base, -1, EV_PERSIST, on_tick, c);
    c->retry = evtimer_new(base, on_retry, c);
    if (c->tick == NULL || c->retry == NULL) {
        rclient_free(c);
        return NULL;
    }
    event_add(c->tick, &tick);
    return c;
}

int rclient_add_script(struct rclient *c, const char *name, const char *source)
{
    for (size_t i = 0; i < c->nscripts; i++) {
        if (c->scripts[i].source == source)
            return (int)i; /* two modules share it */
    }
    if (c->nscripts == MAX_SCRIPTS)
        return -1;
    c->scripts[c->nscripts].name = name;
    c->scripts[c->nscripts].source = source;
    return (int)c->nscripts++;
}

void rclient_start(struct rclient *c)
{
    conn_start(c);
}

void rclient_close(struct rclient *c)
{
    if (c == NULL)
        return;
    c->closed = 1;
    c->nobservers = 0;
    if (c->retry)
        evtimer_del(c->retry);
    if (c->ac != NULL) {
        redisAsyncContext *ac = c->ac;
        c->drop_reason = "shutdown";
        c->ac = NULL;
        c->state = RC_DOWN;
        redisAsyncFree(ac); /* every pending command's callback, with "shutdown" */
    }
}

void rclient_free(struct rclient *c)
{
    if (c == NULL)
        return;
    rclient_close(c);
    if (c->tick)
        event_free(c->tick);
    if (c->retry)
        event_free(c->retry);
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
    return c->state == RC_READY;
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
    cmd->client = c;
    cmd->cb = cb;
    cmd->arg = arg;
    cmd->deadline_ms = now_ms() + c->timeout_ms;
    c->stats.commands++;
    return cmd;
}

int rclient_command(struct rclient *c, rclient_cb *cb, void *arg, int argc, const char **argv,
                    const size_t *lens)
{
    struct rcmd *cmd;

    if (c->state != RC_READY || (cmd = rcmd_new(c, cb, arg)) == NULL)
        return -1;
    if (redisAsyncCommandArgv(c->ac, on_reply, cmd, argc, argv, lens) != REDIS_OK) {
        free(cmd);
        return -1;
    }
    TAILQ_INSERT_TAIL(&c->pending, cmd, link);
    return 0;
}

int rclient_eval(struct rclient *c, rclient_cb *cb, void *arg, size_t script, int nkeys, int nargs,
                 const char **args, const size_t *lens)
{
    const char *stack_argv[64];
    size_t stack_lens[64];
    const char **argv = stack_argv;
    size_t *alens = stack_lens;
    char nk[16];
    struct rcmd *cmd;
    int len, rc = -1;

    if (c->state != RC_READY || script >= c->nscripts || c->scripts[script].sha[0] == '\0')
        return -1;
    if (nargs + 3 > 64) {
        argv = malloc(sizeof(*argv) * (size_t)(nargs + 3));
        alens = malloc(sizeof(*alens) * (size_t)(nargs + 3));
        if (argv == NULL || alens == NULL)
            goto out;
    }
    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = c->scripts[script].sha;
    argv[2] = nk;
    alens[0] = 7;
    alens[1] = 40;
    alens[2] = strlen(nk);
    for (int i = 0; i < nargs; i++) {
        argv[i + 3] = args[i];
        alens[i + 3] = lens ? lens[i] : strlen(args[i]);
    }
    if ((cmd = rcmd_new(c, cb, arg)) == NULL)
        goto out;
    len = redisFormatCommandArgv(&cmd->formatted, nargs + 3, argv, alens);
    if (len < 0) {
        free(cmd);
        goto out;
    }
    cmd->len = (size_t)len;
    if (send_formatted(c, cmd, cmd->formatted, cmd->len) != 0) {
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
