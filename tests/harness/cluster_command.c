/*
 * cluster_command.c - the commands tests send to "the Redis" (harness_redis_command on
 * h->redis), carried out on a cluster: a command on a key reaches the master of its slot
 * by following MOVED and ASK, and a command about the whole dataset (KEYS, SCAN, DBSIZE,
 * DEBUG DIGEST, FLUSHALL, CLIENT PAUSE, ...) reaches every master, their replies made
 * into the one reply a single redis-server would give. So the tests written for one
 * redis-server run unchanged on a cluster (OMNISTOCK_TEST_REDIS=cluster).
 *
 * Each command is formatted once by hiredis and read back into its arguments to decide
 * where it goes. Each node is reached on a fresh connection, as harness.c does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crc16.h"
#include "common/sha256.h"
#include "tests/harness/cluster.h"

#define MAX_REDIRECTS 5
#define MAX_MASTERS   HARNESS_CLUSTER_NODES
#define MAX_RANGES    64
#define CONNECT_MS    2000
#define REPLY_S       5
#define SLOTS         16384
#define DIGEST_HEX    40

/* A command formatted by hiredis, and its arguments, which point into the formatted text. */
struct command {
    char *text; /* RESP, NUL-terminated; freed with redisFreeCommand */
    size_t len;
    int argc;
    const char **argv; /* argv[i] is lens[i] bytes, not NUL-terminated */
    size_t *lens;
};

/* Where a command goes, and what is made of the replies. */
enum route {
    ROUTE_NODE,   /* a live node, MOVED and ASK followed */
    ROUTE_KEY2,   /* the master of the slot of argv[2]: DEBUG has no key Redis redirects on */
    ROUTE_ALL,    /* every master at once: the first error, else the first master's reply */
    ROUTE_SUM,    /* every master at once: their integers summed */
    ROUTE_KEYS,   /* every master at once: their arrays merged */
    ROUTE_SCAN,   /* every master scanned to the end: one reply, cursor 0 */
    ROUTE_DIGEST, /* every master's DEBUG DIGEST, combined */
};

static const struct {
    const char *name, *sub; /* sub NULL: any subcommand */
    enum route route;
} routes[] = {
    {"KEYS", NULL, ROUTE_KEYS},       {"SCAN", NULL, ROUTE_SCAN},
    {"DBSIZE", NULL, ROUTE_SUM},      {"FLUSHALL", NULL, ROUTE_ALL},
    {"FLUSHDB", NULL, ROUTE_ALL},     {"DEBUG", "DIGEST", ROUTE_DIGEST},
    {"DEBUG", "OBJECT", ROUTE_KEY2},  {"DEBUG", "DIGEST-VALUE", ROUTE_KEY2},
    {"DEBUG", NULL, ROUTE_ALL},       {"CLIENT", "PAUSE", ROUTE_ALL},
    {"CLIENT", "UNPAUSE", ROUTE_ALL}, {"CLIENT", "KILL", ROUTE_SUM},
    {"CONFIG", NULL, ROUTE_ALL},      {"SCRIPT", NULL, ROUTE_ALL},
    {"FUNCTION", NULL, ROUTE_ALL},    {"SAVE", NULL, ROUTE_ALL},
    {"BGSAVE", NULL, ROUTE_ALL},      {"BGREWRITEAOF", NULL, ROUTE_ALL},
};

/* The cluster's slot map, as one node tells it. */
struct slot_map {
    size_t nranges;
    struct {
        long long first, last;
        int port;
    } ranges[MAX_RANGES];
    size_t nmasters;
    struct {
        int port;
        long long first;    /* the first slot it serves */
    } masters[MAX_MASTERS]; /* in the order of their first slot */
};

/* ---- replies made here: freeReplyObject frees them as it frees hiredis's ---- */

static redisReply *reply_new(int type)
{
    redisReply *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        abort();
    }
    r->type = type;
    return r;
}

static redisReply *reply_text(int type, const char *text)
{
    redisReply *r = reply_new(type);

    r->str = strdup(text);
    if (r->str == NULL) {
        abort();
    }
    r->len = strlen(text);
    return r;
}

/* reply_refused - an error reply for a command the harness cannot carry out on a cluster. */
static redisReply *reply_refused(const char *why)
{
    char text[512];

    snprintf(text, sizeof(text), "ERR harness (OMNISTOCK_TEST_REDIS=cluster): %s", why);
    fprintf(stderr, "%s\n", text + 4);
    return reply_text(REDIS_REPLY_ERROR, text);
}

/* A growing list of replies, taken from the arrays they came in. */
struct reply_list {
    redisReply **items; /* new */
    size_t n, cap;
};

/* reply_list_take - move the elements of the array @from to the end of @l. */
static void reply_list_take(struct reply_list *l, redisReply *from)
{
    if (l->n + from->elements > l->cap) {
        l->cap = (l->n + from->elements) * 2;
        l->items = realloc(l->items, l->cap * sizeof(*l->items));
        if (l->items == NULL) {
            abort();
        }
    }
    for (size_t i = 0; i < from->elements; i++) {
        l->items[l->n++] = from->element[i];
    }
    from->elements = 0; /* freeReplyObject now frees the element array only */
}

/* reply_array - an array reply of the replies in @l (taken: @l is emptied). */
static redisReply *reply_array(struct reply_list *l)
{
    redisReply *r = reply_new(REDIS_REPLY_ARRAY);

    r->elements = l->n;
    r->element = l->items;
    *l = (struct reply_list){0};
    return r;
}

/* ---- commands ---- */

static int arg_is(const struct command *cmd, int i, const char *word)
{
    return i < cmd->argc && cmd->lens[i] == strlen(word) &&
           strncasecmp(cmd->argv[i], word, cmd->lens[i]) == 0;
}

/* command_parse - cmd->argv and cmd->lens from cmd->text. @return 0, or -1 if not RESP. */
static int command_parse(struct command *cmd)
{
    const char *p = cmd->text, *end = cmd->text + cmd->len;
    char *next;
    long n = *p == '*' ? strtol(p + 1, &next, 10) : 0;

    if (n <= 0 || strncmp(next, "\r\n", 2) != 0) {
        return -1;
    }
    cmd->argv = calloc((size_t)n, sizeof(*cmd->argv));
    cmd->lens = calloc((size_t)n, sizeof(*cmd->lens));
    if (cmd->argv == NULL || cmd->lens == NULL) {
        return -1;
    }
    p = next + 2;
    for (long i = 0; i < n; i++) {
        long len = p < end && *p == '$' ? strtol(p + 1, &next, 10) : -1;

        if (len < 0 || next + 2 + len + 2 > end) {
            return -1;
        }
        cmd->argv[i] = next + 2;
        cmd->lens[i] = (size_t)len;
        p = next + 2 + len + 2;
    }
    cmd->argc = (int)n;
    return 0;
}

static enum route route_of(const struct command *cmd)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (arg_is(cmd, 0, routes[i].name) &&
            (routes[i].sub == NULL || arg_is(cmd, 1, routes[i].sub))) {
            return routes[i].route;
        }
    }
    return ROUTE_NODE;
}

/* ---- nodes ---- */

static redisContext *node_connect(int port)
{
    struct timeval tv = {CONNECT_MS / 1000, (CONNECT_MS % 1000) * 1000};
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", port, tv);

    if (ctx != NULL && ctx->err) {
        redisFree(ctx);
        return NULL;
    }
    if (ctx != NULL) {
        redisSetTimeout(ctx, (struct timeval){REPLY_S, 0});
    }
    return ctx;
}

/* first_live_port - the port of the first node running, or -1. */
static int first_live_port(const struct harness_cluster *c)
{
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (c->nodes[i].pid > 0) {
            return c->nodes[i].port;
        }
    }
    return -1;
}

/* send_one - @cmd to @port (after ASKING when @asking). @return a new reply, or NULL. */
static redisReply *send_one(int port, const struct command *cmd, int asking)
{
    redisContext *ctx = node_connect(port);
    void *rep = NULL;

    if (ctx == NULL) {
        return NULL;
    }
    if (asking) {
        redisAppendCommand(ctx, "ASKING");
    }
    redisAppendFormattedCommand(ctx, cmd->text, cmd->len);
    if (asking && redisGetReply(ctx, &rep) == REDIS_OK) {
        freeReplyObject(rep);
        rep = NULL;
    }
    if (redisGetReply(ctx, &rep) != REDIS_OK) {
        rep = NULL;
    }
    redisFree(ctx);
    return rep;
}

/* redirect_port - the port a MOVED or ASK reply names (*ask says which), else 0. */
static int redirect_port(const redisReply *rep, int *ask)
{
    const char *colon;

    if (rep->type != REDIS_REPLY_ERROR || rep->str == NULL) {
        return 0;
    }
    if (strncmp(rep->str, "MOVED ", 6) == 0) {
        *ask = 0;
    } else if (strncmp(rep->str, "ASK ", 4) == 0) {
        *ask = 1;
    } else {
        return 0;
    }
    colon = strrchr(rep->str, ':');
    return colon != NULL ? atoi(colon + 1) : 0;
}

/* send_following - @cmd to @port, then where MOVED or ASK say (MAX_REDIRECTS at most). */
static redisReply *send_following(int port, const struct command *cmd)
{
    int ask = 0, next;
    redisReply *rep = send_one(port, cmd, 0);

    for (int hop = 0; hop < MAX_REDIRECTS && rep != NULL && (next = redirect_port(rep, &ask)) > 0;
         hop++) {
        freeReplyObject(rep);
        rep = send_one(next, cmd, ask);
    }
    if (rep != NULL && redirect_port(rep, &ask) > 0) {
        fprintf(stderr, "harness: still redirected after %d redirects: %s\n", MAX_REDIRECTS,
                rep->str);
    }
    return rep;
}

/* ---- the slot map ---- */

/* map_add - the range @first..@last served by @port. @return 0, or -1 if there are too many. */
static int map_add(struct slot_map *m, long long first, long long last, int port)
{
    size_t k = 0;

    if (m->nranges == MAX_RANGES) {
        return -1;
    }
    m->ranges[m->nranges].first = first;
    m->ranges[m->nranges].last = last;
    m->ranges[m->nranges++].port = port;
    while (k < m->nmasters && m->masters[k].port != port) {
        k++;
    }
    if (k == m->nmasters) {
        if (m->nmasters == MAX_MASTERS) {
            return -1;
        }
        m->masters[m->nmasters].port = port;
        m->masters[m->nmasters++].first = first;
    } else if (first < m->masters[k].first) {
        m->masters[k].first = first;
    }
    return 0;
}

/* map_parse - @m from a CLUSTER SLOTS reply. @return 0, or -1 unless it covers every slot. */
static int map_parse(const redisReply *rep, struct slot_map *m)
{
    long long covered = 0;

    memset(m, 0, sizeof(*m));
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        return -1;
    }
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *r = rep->element[i];

        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
            r->element[0]->type != REDIS_REPLY_INTEGER ||
            r->element[1]->type != REDIS_REPLY_INTEGER ||
            r->element[2]->type != REDIS_REPLY_ARRAY || r->element[2]->elements < 2 ||
            r->element[2]->element[1]->type != REDIS_REPLY_INTEGER ||
            map_add(m, r->element[0]->integer, r->element[1]->integer,
                    (int)r->element[2]->element[1]->integer) != 0) {
            return -1;
        }
        covered += r->element[1]->integer - r->element[0]->integer + 1;
    }
    /* masters in the order of the first slot they serve: the first one serves slot 0 */
    for (size_t i = 1; i < m->nmasters; i++) {
        for (size_t k = i; k > 0 && m->masters[k].first < m->masters[k - 1].first; k--) {
            int port = m->masters[k].port;
            long long first = m->masters[k].first;

            m->masters[k] = m->masters[k - 1];
            m->masters[k - 1].port = port;
            m->masters[k - 1].first = first;
        }
    }
    return covered == SLOTS ? 0 : -1;
}

/* map_read - the slot map of the first live node that tells one covering every slot. */
static int map_read(struct harness_cluster *c, struct slot_map *m)
{
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        redisReply *rep;
        int rc;

        if (c->nodes[i].pid <= 0) {
            continue;
        }
        rep = harness_redis_command(&c->nodes[i], "CLUSTER SLOTS");
        rc = map_parse(rep, m);
        freeReplyObject(rep);
        if (rc == 0) {
            return 0;
        }
    }
    fprintf(stderr, "harness: no live node of the cluster gives a slot map of every slot\n");
    return -1;
}

/* map_port - the port of the master of @slot, or -1. */
static int map_port(const struct slot_map *m, long long slot)
{
    for (size_t i = 0; i < m->nranges; i++) {
        if (m->ranges[i].first <= slot && slot <= m->ranges[i].last) {
            return m->ranges[i].port;
        }
    }
    return -1;
}

/* ---- every master ---- */

/*
 * fan_out - @cmd to every master at once (written to all before any reply is read), their
 * replies into @replies, in the map's order. @return 0, or -1 (what did come is in
 * @replies, the rest NULL) if a master could not be reached or did not answer.
 */
static int fan_out(const struct slot_map *m, const struct command *cmd, redisReply **replies)
{
    redisContext *ctx[MAX_MASTERS] = {0};
    int rc = 0;

    for (size_t i = 0; i < m->nmasters; i++) {
        int done = 0;

        replies[i] = NULL;
        ctx[i] = node_connect(m->masters[i].port);
        if (ctx[i] == NULL) {
            fprintf(stderr, "harness: master on port %d unreachable for %.*s\n", m->masters[i].port,
                    (int)cmd->lens[0], cmd->argv[0]);
            rc = -1;
            continue;
        }
        redisAppendFormattedCommand(ctx[i], cmd->text, cmd->len);
        while (!done && redisBufferWrite(ctx[i], &done) == REDIS_OK) {
        }
    }
    for (size_t i = 0; i < m->nmasters; i++) {
        void *rep = NULL;

        if (ctx[i] != NULL && redisGetReply(ctx[i], &rep) == REDIS_OK) {
            replies[i] = rep;
        } else if (ctx[i] != NULL) {
            fprintf(stderr, "harness: master on port %d did not answer %.*s: %s\n",
                    m->masters[i].port, (int)cmd->lens[0], cmd->argv[0], ctx[i]->errstr);
            rc = -1;
        }
        if (ctx[i] != NULL) {
            redisFree(ctx[i]);
        }
    }
    return rc;
}

static void replies_free(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

/* all_of_type - every one of @n replies has @type. */
static int all_of_type(redisReply **replies, size_t n, int type)
{
    for (size_t i = 0; i < n; i++) {
        if (replies[i]->type != type) {
            return 0;
        }
    }
    return 1;
}

/* pick - the first error reply if there is one, else the first reply; the others freed. */
static redisReply *pick(redisReply **replies, size_t n)
{
    size_t keep = 0;
    redisReply *rep;

    for (size_t i = 0; i < n; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            keep = i;
            break;
        }
    }
    rep = replies[keep];
    replies[keep] = NULL;
    replies_free(replies, n);
    return rep;
}

static redisReply *combine_sum(redisReply **replies, size_t n)
{
    redisReply *sum;

    if (!all_of_type(replies, n, REDIS_REPLY_INTEGER)) {
        return pick(replies, n);
    }
    sum = reply_new(REDIS_REPLY_INTEGER);
    for (size_t i = 0; i < n; i++) {
        sum->integer += replies[i]->integer;
    }
    replies_free(replies, n);
    return sum;
}

static redisReply *combine_keys(redisReply **replies, size_t n)
{
    struct reply_list all = {0};

    if (!all_of_type(replies, n, REDIS_REPLY_ARRAY)) {
        return pick(replies, n);
    }
    for (size_t i = 0; i < n; i++) {
        reply_list_take(&all, replies[i]);
    }
    replies_free(replies, n);
    return reply_array(&all);
}

/*
 * combine_digest - one digest of the whole dataset from every master's DEBUG DIGEST (in
 * the order of the first slot each serves): 40 zeros when all are (every master empty, as
 * one empty redis-server says), else the first 40 hex of SHA-256 over them all.
 */
static redisReply *combine_digest(redisReply **replies, size_t n)
{
    char all[MAX_MASTERS * DIGEST_HEX], hex[65];
    int empty = 1;

    for (size_t i = 0; i < n; i++) {
        if ((replies[i]->type != REDIS_REPLY_STATUS && replies[i]->type != REDIS_REPLY_STRING) ||
            replies[i]->len != DIGEST_HEX) {
            return pick(replies, n);
        }
        memcpy(all + i * DIGEST_HEX, replies[i]->str, DIGEST_HEX);
        empty = empty && strspn(replies[i]->str, "0") == DIGEST_HEX;
    }
    replies_free(replies, n);
    if (empty) {
        memset(hex, '0', DIGEST_HEX);
    } else {
        sha256_hex(all, n * DIGEST_HEX, hex);
    }
    hex[DIGEST_HEX] = '\0';
    return reply_text(REDIS_REPLY_STATUS, hex);
}

/* every_master - @cmd on every master, the replies made one as @route says. */
static redisReply *every_master(struct harness_cluster *c, const struct command *cmd,
                                enum route route)
{
    redisReply *replies[MAX_MASTERS];
    struct slot_map m;

    if (map_read(c, &m) != 0) {
        return NULL;
    }
    if (fan_out(&m, cmd, replies) != 0) {
        replies_free(replies, m.nmasters);
        return NULL;
    }
    switch (route) {
    case ROUTE_SUM:
        return combine_sum(replies, m.nmasters);
    case ROUTE_KEYS:
        return combine_keys(replies, m.nmasters);
    case ROUTE_DIGEST:
        return combine_digest(replies, m.nmasters);
    default:
        return pick(replies, m.nmasters);
    }
}

/*
 * scan_master - SCAN @cmd's options on @port from cursor 0 to the end, the keys onto @keys.
 * @return 0, or -1 with the reply to give the caller instead in *@err: an error reply, or
 * NULL when the node could not be reached or did not answer.
 */
static int scan_master(int port, const struct command *cmd, struct reply_list *keys,
                       redisReply **err)
{
    redisContext *ctx = node_connect(port);
    const char **argv = calloc((size_t)cmd->argc, sizeof(*argv));
    size_t *lens = calloc((size_t)cmd->argc, sizeof(*lens));
    char cursor[32] = "0";
    int rc = -1;

    *err = NULL;
    if (ctx == NULL || argv == NULL || lens == NULL) {
        goto out;
    }
    memcpy(argv, cmd->argv, (size_t)cmd->argc * sizeof(*argv));
    memcpy(lens, cmd->lens, (size_t)cmd->argc * sizeof(*lens));
    do {
        redisReply *rep;

        argv[1] = cursor;
        lens[1] = strlen(cursor);
        rep = redisCommandArgv(ctx, cmd->argc, argv, lens);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            *err = rep;
            goto out;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        reply_list_take(keys, rep->element[1]);
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    rc = 0;
out:
    if (ctx != NULL) {
        redisFree(ctx);
    }
    free(argv);
    free(lens);
    return rc;
}

/*
 * scan_all - SCAN 0 [options]: every master scanned to the end, and one reply with cursor 0
 * and all their keys, so that a caller's loop ends after its first call.
 */
static redisReply *scan_all(struct harness_cluster *c, const struct command *cmd)
{
    struct reply_list keys = {0};
    struct slot_map m;
    redisReply *rep;

    if (!arg_is(cmd, 1, "0")) {
        return reply_refused("SCAN on a cluster takes cursor 0 only: its first reply holds "
                             "every key, with cursor 0");
    }
    if (map_read(c, &m) != 0) {
        return NULL;
    }
    for (size_t i = 0; i < m.nmasters; i++) {
        if (scan_master(m.masters[i].port, cmd, &keys, &rep) != 0) {
            freeReplyObject(reply_array(&keys)); /* the keys gathered so far */
            return rep;
        }
    }
    rep = reply_new(REDIS_REPLY_ARRAY);
    rep->elements = 2;
    rep->element = calloc(2, sizeof(*rep->element));
    if (rep->element == NULL) {
        abort();
    }
    rep->element[0] = reply_text(REDIS_REPLY_STRING, "0");
    rep->element[1] = reply_array(&keys);
    return rep;
}

/* to_key2 - DEBUG OBJECT and DEBUG DIGEST-VALUE to the master of their (first) key. */
static redisReply *to_key2(struct harness_cluster *c, const struct command *cmd)
{
    struct slot_map m;
    int port;

    if (cmd->argc < 3) {
        return send_following(first_live_port(c), cmd); /* Redis says what is missing */
    }
    if (map_read(c, &m) != 0) {
        return NULL;
    }
    port = map_port(&m, key_slot(cmd->argv[2], cmd->lens[2]));
    return port > 0 ? send_following(port, cmd) : NULL;
}

redisReply *harness_cluster_vcommand(struct harness_cluster *c, const char *fmt, va_list ap)
{
    struct command cmd = {0};
    redisReply *rep = NULL;
    int len = redisvFormatCommand(&cmd.text, fmt, ap);
    enum route route;

    cmd.len = len > 0 ? (size_t)len : 0;
    if (len <= 0 || command_parse(&cmd) != 0) {
        fprintf(stderr, "harness: cannot format the Redis command \"%s\"\n", fmt);
        goto out;
    }
    if (first_live_port(c) < 0) {
        goto out; /* as with one redis-server that is down: no reply */
    }
    route = route_of(&cmd);
    switch (route) {
    case ROUTE_NODE:
        rep = send_following(first_live_port(c), &cmd);
        break;
    case ROUTE_KEY2:
        rep = to_key2(c, &cmd);
        break;
    case ROUTE_SCAN:
        rep = scan_all(c, &cmd);
        break;
    default:
        rep = every_master(c, &cmd, route);
        break;
    }
out:
    free(cmd.argv);
    free(cmd.lens);
    if (cmd.text != NULL) {
        redisFreeCommand(cmd.text);
    }
    return rep;
}

redisReply *harness_cluster_command(struct harness_cluster *c, const char *fmt, ...)
{
    redisReply *rep;
    va_list ap;

    va_start(ap, fmt);
    rep = harness_cluster_vcommand(c, fmt, ap);
    va_end(ap);
    return rep;
}
