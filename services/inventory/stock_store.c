/*
 * stock_store.c - keys, script calls and reply parsing for the inventory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/crc16.h"
#include "common/rcache.h"
#include "common/redis.h"
#include "common/text.h"
#include "services/inventory/stock_store.h"

extern const char lib_lua[]; /* the prelude of movement.lua and product_put.lua */
extern const char movement_lua[];
extern const char product_put_lua[];

#define KEY_MAX 128
/* A stock hash's version: every script that changes the hash bumps it. */
#define STOCK_VERSION_FIELD ":v"

/* KEYS[1] any key of a partition: the script runs on its master, and answers that clock. */
static const char time_lua[] = "return redis.call('TIME')";

int stock_store_init(struct stock_store *st, const struct config *cfg, struct rclient *redis)
{
    st->cfg = cfg;
    st->redis = redis;
    st->renew_ev = NULL;
    st->script_move = rclient_add_script(redis, "movement", lib_lua, movement_lua);
    st->script_product = rclient_add_script(redis, "product_put", lib_lua, product_put_lua);
    st->script_time = rclient_add_script(redis, "time", NULL, time_lua);
    return st->script_move < 0 || st->script_product < 0 || st->script_time < 0 ? -1 : 0;
}

/*
 * Moved by every location write, so that each store in the process (the
 * inventory's and the recommender's) drops the rules it keeps.
 */
static unsigned long rules_generation;

void stock_store_release(struct stock_store *st)
{
    if (st->renew_ev != NULL)
        event_free(st->renew_ev);
    st->renew_ev = NULL;
    free(st->rules);
    st->rules = NULL;
    st->rules_until_ms = 0;
}

/* A location write is sent, or answered: no store may keep the rules from before it. */
static void rules_drop_everywhere(void)
{
    rules_generation++;
}

static void fnv_add(uint64_t *h, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;

    for (size_t i = 0; i < len; i++)
        *h = (*h ^ p[i]) * 0x100000001b3ULL;
}

/* What the rules say, as a number (never 0): equal rules, equal numbers. */
static unsigned long long rules_tag(const struct loc_rule *rules, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++) {
        long long fields[3] = {rules[i].type, rules[i].fulfils, rules[i].buffer};
        fnv_add(&h, rules[i].id, rules[i].idlen + 1);
        fnv_add(&h, fields, sizeof(fields));
    }
    return h | 1;
}

/* Keep a copy of @snap's rules for the reads that follow; @snap gets their tag. */
static void rules_keep(struct stock_store *st, struct stock_snapshot *snap)
{
    struct loc_rule *copy = malloc((snap->nrules + 1) * sizeof(*copy));

    if (copy == NULL)
        return;
    memcpy(copy, snap->rules, snap->nrules * sizeof(*copy));
    free(st->rules);
    st->rules = copy;
    st->nrules = snap->nrules;
    st->rules_tag = snap->rules_tag = rules_tag(copy, snap->nrules);
    st->rules_generation = rules_generation;
    st->rules_until_ms = clock_coarse_ms() + STOCK_RULES_TTL_MS;
}

/* Whether the kept rules may be used now. */
static int rules_fresh(const struct stock_store *st)
{
    return st->rules_until_ms != 0 && st->rules_generation == rules_generation &&
           clock_coarse_ms() < st->rules_until_ms;
}

/* The kept rules into @snap, if fresh. @return 1 if so, 0 if they must be read, -1 (memory). */
static int rules_reuse(struct stock_store *st, struct stock_snapshot *snap)
{
    if (!rules_fresh(st))
        return 0;
    snap->rules = malloc((st->nrules + 1) * sizeof(*snap->rules));
    if (snap->rules == NULL)
        return -1;
    memcpy(snap->rules, st->rules, st->nrules * sizeof(*snap->rules));
    snap->nrules = st->nrules;
    snap->rules_tag = st->rules_tag;
    return 1;
}

/* Append @s to @buf at *@at, as far as @buflen allows (the result stays NUL-terminated). */
unsigned long stock_rules_generation(void)
{
    return rules_generation;
}

/* As snprintf("{p%02u}:%s[:%s]") would, without its cost: every request makes several keys. */
void stock_key_part(unsigned part, const char *kind, const char *sku, char *buf, size_t buflen)
{
    char tag[16], *d = tag + sizeof(tag);
    size_t at = 0;

    *--d = '\0';
    *--d = ':';
    *--d = '}';
    do {
        *--d = (char)('0' + part % 10);
        part /= 10;
    } while (part > 0 || d > tag + sizeof(tag) - 5); /* at least two digits */
    *--d = 'p';
    *--d = '{';
    if (buflen == 0)
        return;
    {
        /* The usual case, on every read: everything fits, copied by known lengths. */
        size_t tlen = (size_t)(tag + sizeof(tag) - 1 - d), klen = strlen(kind);
        size_t slen = sku != NULL ? strlen(sku) : 0, n = tlen + klen + (sku != NULL) + slen;
        if (n < buflen) {
            memcpy(buf, d, tlen);
            memcpy(buf + tlen, kind, klen);
            if (sku != NULL) {
                buf[tlen + klen] = ':';
                memcpy(buf + tlen + klen + 1, sku, slen);
            }
            buf[n] = '\0';
            return;
        }
    }
    buf[0] = '\0';
    text_add(buf, buflen, &at, d, '\0');
    text_add(buf, buflen, &at, kind, '\0');
    if (sku != NULL) {
        text_add(buf, buflen, &at, ":", '\0');
        text_add(buf, buflen, &at, sku, '\0');
    }
}

void stock_key(const struct stock_store *st, const char *kind, const char *sku, char *buf,
               size_t buflen)
{
    stock_key_part(partition_of(sku, st->cfg->partitions), kind, sku, buf, buflen);
}

void stock_snapshot_free(struct stock_snapshot *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; s->items && i < s->n; i++)
        free(s->items[i].levels);
    free(s->items);
    free(s->rules);
    free(s);
}

/*
 * One read in flight: HGETALL of the location rules (unless the kept ones
 * are fresh), then, once they are in, of each SKU's stock hash (and
 * product), pipelined. Plain commands cost Redis a fraction of a script
 * call; a read needs no atomicity, and every partition keeps the same rules.
 * With the read cache (rcache.h) live, a hash it holds is not asked for,
 * and an answer is kept for the next read; a read that Redis need not see at
 * all still answers from the loop, never inside stock_read. When the copy of
 * a stock hash is past its age, only its version is asked for (HGET ':v':
 * every script that changes the hash bumps it); the same version renews the
 * copy, and with it the answer kept on it.
 */
enum read_what { READ_RULES, READ_LEVELS, READ_PRODUCT };

struct read_call {
    struct read_op *op;
    size_t item;
    enum read_what what;
    struct rcache_ticket ticket; /* taken when sent, with a read cache */
    unsigned long long lapsed;   /* the copy past its age whose version was asked for */
};

struct read_op {
    struct stock_store *st;
    const char (*skus)[PROTO_ID_SIZE];
    size_t n;
    int products; /* read each SKU's product too */
    struct read_call *calls;
    size_t pending;
    const char *err;
    struct stock_snapshot *snap;
    stock_read_cb *cb;
    void *arg;
};

static int rule_cmp(const void *a, const void *b)
{
    return strcmp(((const struct loc_rule *)a)->id, ((const struct loc_rule *)b)->id);
}

static int rules_from_reply(struct stock_snapshot *snap, const redisReply *flat)
{
    snap->rules = calloc(flat->elements / 2 + 1, sizeof(*snap->rules));
    if (snap->rules == NULL)
        return -1;
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        const redisReply *k = flat->element[i], *v = flat->element[i + 1];
        if (stock_rule_parse(k->str, v->str, v->len, &snap->rules[snap->nrules]) == 0)
            snap->nrules++;
    }
    qsort(snap->rules, snap->nrules, sizeof(*snap->rules), rule_cmp);
    return 0;
}

static long long ll_of(const redisReply *v)
{
    return strtoll(v->str, NULL, 10);
}

/* Compare @name (@len bytes) with @rule's id, as rule_cmp orders them. */
static int rule_name_cmp(const char *name, size_t len, const struct loc_rule *rule)
{
    int c = memcmp(name, rule->id, len < rule->idlen ? len : rule->idlen);

    return c != 0 ? c : (len > rule->idlen) - (len < rule->idlen);
}

/*
 * The rule of the location a stock hash's field names, or NULL. The field
 * after the last one found is tried first: a hash keeps its fields in the
 * order they were added, which is mostly the same from SKU to SKU.
 */
static const struct loc_rule *rule_named(const struct stock_snapshot *snap, const redisReply *k,
                                         size_t *next)
{
    size_t lo = 0, hi = snap->nrules;

    if (*next < snap->nrules && rule_name_cmp(k->str, k->len, &snap->rules[*next]) == 0)
        return &snap->rules[(*next)++];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = rule_name_cmp(k->str, k->len, &snap->rules[mid]);
        if (c == 0) {
            *next = mid + 1;
            return &snap->rules[mid];
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int item_from_reply(struct stock_snapshot *snap, struct stock_item *item,
                           const redisReply *flat)
{
    size_t next = 0;

    item->levels = calloc(snap->nrules + 1, sizeof(*item->levels));
    if (item->levels == NULL)
        return -1;
    for (size_t i = 0; i < snap->nrules; i++)
        item->levels[i].last_count_ms = -1;
    item->known = flat->elements > 0;
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        const redisReply *k = flat->element[i], *v = flat->element[i + 1];
        const struct loc_rule *rule;
        if (k->len == 2 && k->str[0] == ':') {
            if (k->str[1] == 's')
                item->safety = ll_of(v);
            else if (k->str[1] == 'v')
                item->version = ll_of(v);
            continue;
        }
        if ((rule = rule_named(snap, k, &next)) != NULL)
            stock_level_parse(v->str, v->len, &item->levels[rule - snap->rules]);
    }
    return 0;
}

static void product_from_reply(struct product *p, const char *sku, const redisReply *flat)
{
    memset(p, 0, sizeof(*p));
    if (flat->elements == 0)
        return;
    snprintf(p->sku, sizeof(p->sku), "%s", sku);
    for (size_t i = 0; i + 1 < flat->elements; i += 2) {
        const char *k = flat->element[i]->str, *v = flat->element[i + 1]->str;
        if (strcmp(k, "name") == 0)
            snprintf(p->name, sizeof(p->name), "%s", v);
        else if (strcmp(k, "category") == 0)
            snprintf(p->category, sizeof(p->category), "%s", v);
        else if (strcmp(k, "amount") == 0)
            p->price_amount = strtoll(v, NULL, 10);
        else if (strcmp(k, "currency") == 0)
            snprintf(p->currency, sizeof(p->currency), "%s", v);
        else if (strcmp(k, "safety_stock") == 0)
            p->safety_stock = strtoll(v, NULL, 10);
    }
}

static void read_finish(struct read_op *op)
{
    if (op->err != NULL) {
        stock_snapshot_free(op->snap);
        op->cb(NULL, op->err, op->arg);
    } else {
        op->cb(op->snap, NULL, op->arg);
    }
    free(op->calls);
    free(op);
}

static void read_levels(struct read_op *op);

/* The key @call reads: a SKU's stock hash or product. */
static void call_key(const struct read_op *op, const struct read_call *call, char *key,
                     size_t keylen)
{
    stock_key(op->st, call->what == READ_LEVELS ? "sku" : "prod", op->skus[call->item], key,
              keylen);
}

/* Take one hash into the snapshot: from Redis or from the read cache. */
static void read_take(struct read_op *op, struct read_call *call, const redisReply *reply)
{
    struct stock_snapshot *snap = op->snap;
    int rc = 0;

    if (op->err != NULL)
        return;
    if (call->what == READ_RULES && (rc = rules_from_reply(snap, reply)) == 0)
        rules_keep(op->st, snap);
    else if (call->what == READ_LEVELS)
        rc = item_from_reply(snap, &snap->items[call->item], reply);
    else if (call->what == READ_PRODUCT)
        product_from_reply(&snap->items[call->item].product, op->skus[call->item], reply);
    if (rc != 0)
        op->err = "out of memory";
}

static void on_read(redisReply *reply, const char *err, void *arg)
{
    struct read_call *call = arg;
    struct read_op *op = call->op;
    struct rcache *cache = rclient_cache(op->st->redis);

    if (err != NULL || reply->type != REDIS_REPLY_ARRAY) {
        if (op->err == NULL)
            op->err = err ? err : "unexpected reply to a read";
    } else {
        if (cache != NULL && call->what != READ_RULES) {
            char key[KEY_MAX];
            call_key(op, call, key, sizeof(key));
            unsigned long long copy =
                rcache_put(cache, key, reply, call->ticket, clock_coarse_ms());
            if (call->what == READ_LEVELS)
                op->snap->items[call->item].copy = copy;
        }
        read_take(op, call, reply);
    }
    op->pending--;
    if (call->what == READ_RULES && op->err == NULL)
        read_levels(op);
    if (op->pending == 0)
        read_finish(op);
}

/* Send HGETALL @key for @call. @return 0, or -1 if Redis is not connected. */
static int read_whole(struct read_op *op, struct read_call *call, const char *key)
{
    struct rcache *cache = rclient_cache(op->st->redis);
    const char *argv[] = {"HGETALL", key};

    call->lapsed = 0;
    if (cache != NULL)
        call->ticket = rcache_ticket(cache, key);
    return rclient_command(op->st->redis, on_read, call, 2, argv, NULL);
}

/* The version of a SKU whose copy is past its age: the same renews the copy; another, or the
 * copy gone meanwhile (a change heard), sends for the whole hash. */
static void on_version(redisReply *reply, const char *err, void *arg)
{
    struct read_call *call = arg;
    struct read_op *op = call->op;
    struct rcache *cache = rclient_cache(op->st->redis);
    const redisReply *copy = NULL;
    char key[KEY_MAX];

    if (err == NULL && reply->type == REDIS_REPLY_ERROR)
        err = reply->str;
    if (err != NULL || op->err != NULL) {
        if (op->err == NULL)
            op->err = err;
    } else {
        call_key(op, call, key, sizeof(key));
        if (reply->type == REDIS_REPLY_STRING)
            copy = rcache_renew(cache, key, call->lapsed, STOCK_VERSION_FIELD, reply->str,
                                reply->len, clock_coarse_ms());
        if (copy != NULL) {
            op->snap->items[call->item].copy = call->lapsed;
            read_take(op, call, copy);
        } else if (read_whole(op, call, key) == 0) {
            return; /* still pending, now on_read's */
        } else {
            op->err = "redis unavailable";
        }
    }
    if (--op->pending == 0)
        read_finish(op);
}

/* Send HGETALL @key for @call, or take the read cache's copy. @return 0, or -1 if Redis is not
 * connected. */
static int read_send(struct read_op *op, struct read_call *call, const char *key)
{
    struct rcache *cache = rclient_cache(op->st->redis);
    const redisReply *copy;
    unsigned long long serial;
    long long now;

    if (cache != NULL && call->what != READ_RULES) {
        now = clock_coarse_ms();
        if ((copy = rcache_get_numbered(cache, key, now, &serial)) != NULL) {
            read_take(op, call, copy);
            if (call->what == READ_LEVELS)
                op->snap->items[call->item].copy = serial;
            return 0;
        }
        if (call->what == READ_LEVELS &&
            (call->lapsed = rcache_lapsed(cache, key, now, STOCK_VERSION_FIELD)) != 0) {
            const char *argv[] = {"HGET", key, STOCK_VERSION_FIELD};
            if (rclient_command(op->st->redis, on_version, call, 3, argv, NULL) != 0)
                return -1;
            op->pending++;
            return 0;
        }
    }
    if (read_whole(op, call, key) != 0)
        return -1;
    op->pending++;
    return 0;
}

/*
 * Send HGETALL of each SKU's stock hash (and product), once the rules are
 * in the snapshot: on a cluster the replies of different partitions come
 * back in any order. Stops at the first that cannot be sent (op->err).
 */
static void read_levels(struct read_op *op)
{
    size_t c = 1; /* calls[0] is the rules' */
    char key[KEY_MAX];

    for (size_t i = 0; i < op->n && op->err == NULL; i++) {
        op->calls[c] = (struct read_call){op, i, READ_LEVELS, {0, 0}, 0};
        call_key(op, &op->calls[c], key, sizeof(key));
        if (read_send(op, &op->calls[c++], key) != 0)
            op->err = "redis unavailable";
        if (op->products && op->err == NULL) {
            op->calls[c] = (struct read_call){op, i, READ_PRODUCT, {0, 0}, 0};
            call_key(op, &op->calls[c], key, sizeof(key));
            if (read_send(op, &op->calls[c++], key) != 0)
                op->err = "redis unavailable";
        }
    }
}

/* Every hash came from the read cache: answer from the loop. */
static void read_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    read_finish(arg);
}

static int read_start(struct stock_store *st, const char (*skus)[PROTO_ID_SIZE], size_t n,
                      int products, stock_read_cb *cb, void *arg)
{
    struct read_op *op = calloc(1, sizeof(*op));
    size_t per = products ? 2 : 1;
    char key[KEY_MAX];
    int reuse;

    if (op == NULL || (op->snap = calloc(1, sizeof(*op->snap))) == NULL ||
        (op->snap->items = calloc(n ? n : 1, sizeof(*op->snap->items))) == NULL ||
        (op->calls = calloc(1 + per * n, sizeof(*op->calls))) == NULL)
        goto fail;
    op->st = st;
    op->skus = skus;
    op->products = products;
    op->n = op->snap->n = n;
    op->cb = cb;
    op->arg = arg;
    reuse = n > 0 ? rules_reuse(st, op->snap) : 0;
    if (reuse < 0)
        goto fail;
    if (reuse) {
        read_levels(op);
        if (op->pending > 0)
            return 0;
        if (op->err != NULL ||
            event_base_once(rclient_base(st->redis), -1, EV_TIMEOUT, read_later, op, NULL) != 0)
            goto fail; /* nothing pending: no callback */
        return 0;
    }
    /* The rules as the first SKU's partition knows them: the scripts there use the same. */
    stock_key_part(n ? partition_of(skus[0], st->cfg->partitions) : 0, "locs", NULL, key,
                   sizeof(key));
    op->calls[0] = (struct read_call){op, 0, READ_RULES, {0, 0}, 0};
    if (read_send(op, &op->calls[0], key) != 0)
        goto fail; /* not connected: nothing sent, no callback */
    return 0;
fail:
    if (op) {
        stock_snapshot_free(op->snap);
        free(op->calls);
        free(op);
    }
    return -1;
}

int stock_read(struct stock_store *st, const char (*skus)[PROTO_ID_SIZE], size_t n,
               stock_read_cb *cb, void *arg)
{
    return read_start(st, skus, n, 0, cb, arg);
}

const char *stock_answer_get(struct stock_store *st, const char *sku, size_t *len)
{
    struct rcache *cache = rclient_cache(st->redis);
    char key[KEY_MAX];

    if (cache == NULL || !rules_fresh(st))
        return NULL;
    stock_key(st, "sku", sku, key, sizeof(key));
    return rcache_attached(cache, key, clock_coarse_ms(), st->rules_tag, len);
}

struct renew_call {
    struct stock_store *st;
    unsigned long long serial; /* of the copy past its age */
    stock_answer_cb *cb;
    void *arg;
    char key[KEY_MAX];
};

static void on_answer_version(redisReply *reply, const char *err, void *arg)
{
    struct renew_call *call = arg;
    struct stock_store *st = call->st;
    struct rcache *cache = rclient_cache(st->redis);
    const char *answer = NULL;
    size_t len = 0;
    long long now = clock_coarse_ms();

    if (err == NULL && reply->type == REDIS_REPLY_STRING) {
        if (rcache_renew(cache, call->key, call->serial, STOCK_VERSION_FIELD, reply->str,
                         reply->len, now) == NULL)
            rcache_changed(cache, call->key, strlen(call->key)); /* the read asks for it whole */
        else if (rules_fresh(st))
            answer = rcache_attached(cache, call->key, now, st->rules_tag, &len);
    }
    call->cb(answer, len, call->arg);
    free(call);
}

int stock_answer_renew(struct stock_store *st, const char *sku, stock_answer_cb *cb, void *arg)
{
    struct rcache *cache = rclient_cache(st->redis);
    struct renew_call *call;
    unsigned long long serial;
    long long now = clock_coarse_ms();
    char key[KEY_MAX];
    const char *argv[3];

    if (cache == NULL)
        return -1;
    stock_key(st, "sku", sku, key, sizeof(key));
    if ((serial = rcache_lapsed(cache, key, now, STOCK_VERSION_FIELD)) == 0 ||
        (call = malloc(sizeof(*call))) == NULL)
        return -1;
    rcache_get(cache, key, now); /* counted as the miss it is */
    *call = (struct renew_call){st, serial, cb, arg, {0}};
    memcpy(call->key, key, sizeof(key));
    argv[0] = "HGET";
    argv[1] = call->key;
    argv[2] = STOCK_VERSION_FIELD;
    if (rclient_command(st->redis, on_answer_version, call, 3, argv, NULL) != 0) {
        free(call);
        return -1;
    }
    return 0;
}

/*
 * Renewing ahead. A copy of a stock hash read during its age is confirmed by
 * its version shortly before the age runs out, from a timer: a SKU read
 * steadily never has its copy found lapsed by a read that would wait for
 * Redis (stock_answer_renew). The versions go in batches, the next one soon
 * after while more are due: every copy due at once (up to 3,500 a tick at
 * 100,000 copies and the default age) held the loop for milliseconds, and
 * the reads waiting behind it.
 */
#define RENEW_BATCH    128 /* versions asked for at once */
#define RENEW_AGAIN_MS 2   /* the next batch, while more are due */

struct ahead_call {
    struct rclient *redis;
    unsigned long long serial;
    char key[KEY_MAX];
};

static void on_ahead_version(redisReply *reply, const char *err, void *arg)
{
    struct ahead_call *call = arg;
    struct rcache *cache;

    /* No answer (Redis gone, or the daemon stopping): the copy lapses as any other. */
    if (err == NULL && reply->type != REDIS_REPLY_ERROR &&
        (cache = rclient_cache(call->redis)) != NULL)
        rcache_confirm(cache, call->key, call->serial, STOCK_VERSION_FIELD,
                       reply->type == REDIS_REPLY_STRING ? reply->str : NULL,
                       reply->type == REDIS_REPLY_STRING ? reply->len : 0, clock_coarse_ms());
    free(call);
}

static void ahead_ask(const char *key, unsigned long long serial, void *arg)
{
    struct stock_store *st = arg;
    size_t len = strlen(key);
    struct ahead_call *call;
    const char *argv[3];

    if (len >= KEY_MAX || (call = malloc(sizeof(*call))) == NULL)
        return;
    call->redis = st->redis;
    call->serial = serial;
    memcpy(call->key, key, len + 1);
    argv[0] = "HGET";
    argv[1] = call->key;
    argv[2] = STOCK_VERSION_FIELD;
    if (rclient_command(st->redis, on_ahead_version, call, 3, argv, NULL) != 0)
        free(call);
}

static void on_renew_tick(evutil_socket_t fd, short what, void *arg)
{
    struct stock_store *st = arg;
    struct rcache *cache = rclient_cache(st->redis);
    size_t given = 0;

    (void)fd;
    (void)what;
    if (rclient_ready(st->redis))
        given =
            rcache_due(cache, clock_coarse_ms(), STOCK_VERSION_FIELD, RENEW_BATCH, ahead_ask, st);
    clock_timer_add(st->renew_ev, given == RENEW_BATCH ? RENEW_AGAIN_MS : rcache_due_every(cache));
}

int stock_renew_start(struct stock_store *st, struct event_base *base)
{
    struct rcache *cache = rclient_cache(st->redis);

    if (cache == NULL || rcache_due_every(cache) == 0)
        return 0;
    if ((st->renew_ev = event_new(base, -1, 0, on_renew_tick, st)) == NULL)
        return -1;
    clock_timer_add(st->renew_ev, rcache_due_every(cache));
    return 0;
}

void stock_answer_keep(struct stock_store *st, const struct stock_snapshot *snap, size_t i,
                       const char *sku, const char *bytes, size_t len)
{
    struct rcache *cache = rclient_cache(st->redis);
    char key[KEY_MAX];

    if (cache == NULL || snap->items[i].copy == 0 || snap->rules_tag == 0)
        return;
    stock_key(st, "sku", sku, key, sizeof(key));
    rcache_attach(cache, key, snap->items[i].copy, snap->rules_tag, bytes, len);
}

int stock_read_products(struct stock_store *st, const char (*skus)[PROTO_ID_SIZE], size_t n,
                        stock_read_cb *cb, void *arg)
{
    return read_start(st, skus, n, 1, cb, arg);
}

struct move_call {
    stock_move_cb *cb;
    void *arg;
};

static void on_move(redisReply *reply, const char *err, void *arg)
{
    struct move_call *call = arg;

    if (err == NULL && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
                        reply->element[0]->type != REDIS_REPLY_STRING))
        err = reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply";
    if (err != NULL)
        call->cb(NULL, 0, 0, err, call->arg);
    else
        call->cb(reply->element[0]->str, reply->element[0]->len, reply->element[1]->integer != 0,
                 NULL, call->arg);
    free(call);
}

int stock_move(struct stock_store *st, const struct movement *m, const char *idem_scope,
               const char *fingerprint, stock_move_cb *cb, void *arg)
{
    unsigned part = partition_of(m->sku, st->cfg->partitions);
    char keys[6][KEY_MAX], partbuf[8], qty[24], as_of[24], low[24], evmax[24], histmax[24];
    char holdprefix[KEY_MAX];
    const char *args[21];
    struct move_call *call = malloc(sizeof(*call));

    if (call == NULL)
        return -1;
    stock_key_part(part, "sku", m->sku, keys[0], KEY_MAX);
    stock_key_part(part, "locs", NULL, keys[1], KEY_MAX);
    stock_key_part(part, "events", NULL, keys[2], KEY_MAX);
    stock_key_part(part, "hist", m->sku, keys[3], KEY_MAX);
    stock_key_part(part, "idem", idem_scope[0] ? idem_scope : "-", keys[4], KEY_MAX);
    stock_key_part(part, "holdsof", m->sku, keys[5], KEY_MAX);
    stock_key_part(part, "hold", "", holdprefix, KEY_MAX);
    snprintf(partbuf, sizeof(partbuf), "%u", part);
    snprintf(qty, sizeof(qty), "%lld", m->quantity);
    snprintf(as_of, sizeof(as_of), "%lld", m->as_of_ms);
    snprintf(low, sizeof(low), "%lld", st->cfg->low_stock);
    snprintf(evmax, sizeof(evmax), "%lld", st->cfg->events_maxlen);
    snprintf(histmax, sizeof(histmax), "%lld", st->cfg->history_maxlen);
    for (int i = 0; i < 6; i++)
        args[i] = keys[i];
    args[6] = partbuf;
    args[7] = m->sku;
    args[8] = movement_type_name(m->type);
    args[9] = m->location;
    args[10] = qty;
    args[11] = m->to_location;
    args[12] = m->has_as_of ? as_of : "";
    args[13] = m->reason;
    args[14] = m->reference;
    args[15] = low;
    args[16] = evmax;
    args[17] = histmax;
    args[18] = idem_scope[0] ? fingerprint : "";
    args[19] = "86400";
    args[20] = holdprefix;
    call->cb = cb;
    call->arg = arg;
    if (rclient_eval(st->redis, on_move, call, (size_t)st->script_move, 6, 21, args, NULL) != 0) {
        free(call);
        return -1;
    }
    return 0;
}

struct done_call {
    stock_done_cb *cb;
    void *arg;
    size_t pending;
    const char *err;
    long long result;
};

static void on_done_int(redisReply *reply, const char *err, void *arg)
{
    struct done_call *call = arg;

    if (err == NULL && reply->type != REDIS_REPLY_INTEGER)
        err = reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply";
    call->cb(err ? -1 : reply->integer, err, call->arg);
    free(call);
}

int stock_product_put(struct stock_store *st, const struct product *p, stock_done_cb *cb, void *arg)
{
    char keys[3][KEY_MAX], amount[24], safety[24];
    const char *args[9];
    struct done_call *call = calloc(1, sizeof(*call));

    if (call == NULL)
        return -1;
    stock_key(st, "prod", p->sku, keys[0], KEY_MAX);
    stock_key(st, "sku", p->sku, keys[1], KEY_MAX);
    stock_key_part(partition_of(p->sku, st->cfg->partitions), "skus", NULL, keys[2], KEY_MAX);
    snprintf(amount, sizeof(amount), "%lld", p->price_amount);
    snprintf(safety, sizeof(safety), "%lld", p->safety_stock);
    args[0] = keys[0];
    args[1] = keys[1];
    args[2] = keys[2];
    args[3] = p->sku;
    args[4] = p->name;
    args[5] = p->category;
    args[6] = amount;
    args[7] = p->currency;
    args[8] = safety;
    call->cb = cb;
    call->arg = arg;
    if (rclient_eval(st->redis, on_done_int, call, (size_t)st->script_product, 3, 9, args, NULL) !=
        0) {
        free(call);
        return -1;
    }
    return 0;
}

/* One of the location writes answered; the first (the JSON record) says whether it is new. */
static void on_location_part(redisReply *reply, const char *err, void *arg)
{
    struct done_call *call = arg;

    if (err == NULL && reply->type != REDIS_REPLY_INTEGER)
        err = "unexpected reply";
    if (err != NULL && call->err == NULL)
        call->err = err;
    if (err == NULL && call->result < 0)
        call->result = reply->integer;
    if (--call->pending > 0)
        return;
    /* A read sent before the write may have kept the old rules meanwhile. */
    rules_drop_everywhere();
    call->cb(call->result, call->err, call->arg);
    free(call);
}

int stock_location_put(struct stock_store *st, const struct location *loc, stock_done_cb *cb,
                       void *arg)
{
    json_t *j = location_to_json(loc);
    char *text = json_dumps(j, JSON_COMPACT);
    char rule[64], key[KEY_MAX];
    struct done_call *call = calloc(1, sizeof(*call));
    const char *argv[4];
    int rc = -1;

    json_decref(j);
    if (text == NULL || call == NULL)
        goto out;
    rules_drop_everywhere();
    call->cb = cb;
    call->arg = arg;
    call->result = -1;
    call->pending = 1; /* held while sending */
    argv[0] = "HSET";
    argv[1] = "locations";
    argv[2] = loc->id;
    argv[3] = text;
    if (rclient_command(st->redis, on_location_part, call, 4, argv, NULL) != 0)
        goto out;
    call->pending++;
    /* Each partition's copy of the rule, for scripts that must stay in one slot. */
    stock_rule_format(loc, rule, sizeof(rule));
    for (unsigned p = 0; p < st->cfg->partitions; p++) {
        stock_key_part(p, "locs", NULL, key, sizeof(key));
        argv[1] = key;
        argv[3] = rule;
        if (rclient_command(st->redis, on_location_part, call, 4, argv, NULL) != 0)
            call->err = "redis unavailable";
        else
            call->pending++;
    }
    rc = 0;
    free(text);
    /* Release the sending hold; the callback frees call when the last reply arrives. */
    call->pending--;
    if (call->pending == 0) {
        rules_drop_everywhere();
        call->cb(call->result, call->err, call->arg);
        free(call);
    }
    return rc;
out:
    free(text);
    free(call);
    return rc;
}
