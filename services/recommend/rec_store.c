/*
 * rec_store.c - the recommend module's scripts and commands, and the
 * order.placed consumer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/crc16.h"
#include "common/log.h"
#include "common/rcache.h"
#include "common/redis.h"
#include "services/recommend/rec_store.h"

extern const char learn_lua[];
extern const char rec_read_lua[];
extern const char feedback_lua[];
extern const char prefs_lua[];
extern const char erase_lua[];
extern const char erase_orders_lua[];
extern const char erase_resv_lua[];

#define KEY_MAX     160
#define PREFIX      "{rec}:"
#define GROUP       "recommend"
#define TICK_MS     100
#define READ_COUNT  "100"
#define CLAIM_EVERY 10000 /* ms between claims of dead consumers' entries, at most */

/*
 * Given for a customer or session key when there is none: a key of the
 * model's slot that nothing writes (an empty name would be another slot,
 * which Redis Cluster refuses in one script). The scripts test for it.
 */
#define ABSENT PREFIX "absent"

static void cust_key(const char *customer, const char *suffix, char *buf, size_t len)
{
    if (customer[0] == '\0')
        snprintf(buf, len, ABSENT);
    else
        snprintf(buf, len, PREFIX "cust:%s%s", customer, suffix);
}

static int reply_ok(const redisReply *reply, const char *err, int type)
{
    if (err != NULL)
        return 0;
    if (reply->type == REDIS_REPLY_ERROR) {
        log_error("event=recommend_script_failed error=\"%s\"", reply->str);
        return 0;
    }
    return reply->type == type;
}

static long long ll_of(const redisReply *r)
{
    if (r == NULL)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

/* A flat HGETALL array as a JSON object of strings. */
static json_t *flat_object(const redisReply *flat)
{
    json_t *obj = json_object();

    for (size_t i = 0; flat != NULL && flat->type == REDIS_REPLY_ARRAY && i + 1 < flat->elements;
         i += 2) {
        const redisReply *k = flat->element[i], *v = flat->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING)
            json_object_set_new(obj, k->str, json_stringn(v->str, v->len));
    }
    return obj;
}

/* ---- learning ---- */

struct learn_op {
    rec_learn_cb *cb;
    void *arg;
};

static void on_learned(redisReply *reply, const char *err, void *arg)
{
    struct learn_op *op = arg;

    if (!reply_ok(reply, err, REDIS_REPLY_ARRAY) || reply->elements != 2)
        op->cb(0, 0, err ? err : "unexpected reply from learn.lua", op->arg);
    else
        op->cb(ll_of(reply->element[0]), ll_of(reply->element[1]), NULL, op->arg);
    free(op);
}

/* The arguments of learn.lua for @n orders; @numbers holds their formatted integers. */
static const char **learn_args(const struct order *orders, size_t n, long long now_ms,
                               char (**numbers)[24], size_t *nargs)
{
    size_t count = 4, k = 0, m = 0;
    const char **argv;

    for (size_t i = 0; i < n; i++)
        count += 4 + orders[i].nskus;
    argv = malloc(count * sizeof(*argv));
    *numbers = malloc((2 * n + 1) * sizeof(**numbers));
    if (argv == NULL || *numbers == NULL) {
        free(argv);
        free(*numbers);
        return NULL;
    }
    argv[k++] = PREFIX "n";
    argv[k++] = PREFIX "seen";
    argv[k++] = PREFIX;
    snprintf((*numbers)[m], sizeof((*numbers)[m]), "%d", REC_PAIR_CAP);
    argv[k++] = (*numbers)[m++];
    for (size_t i = 0; i < n; i++) {
        const struct order *o = &orders[i];
        argv[k++] = o->id;
        argv[k++] = o->customer;
        snprintf((*numbers)[m], sizeof((*numbers)[m]), "%lld", o->at_ms >= 0 ? o->at_ms : now_ms);
        argv[k++] = (*numbers)[m++];
        snprintf((*numbers)[m], sizeof((*numbers)[m]), "%zu", o->nskus);
        argv[k++] = (*numbers)[m++];
        for (size_t j = 0; j < o->nskus; j++)
            argv[k++] = o->skus[j];
    }
    *nargs = count;
    return argv;
}

int rec_learn(struct rec_store *rs, const struct order *orders, size_t n, long long now_ms,
              rec_learn_cb *cb, void *arg)
{
    struct learn_op *op = malloc(sizeof(*op));
    char(*numbers)[24] = NULL;
    size_t nargs = 0;
    const char **argv = op ? learn_args(orders, n, now_ms, &numbers, &nargs) : NULL;
    int rc = -1;

    if (argv != NULL) {
        op->cb = cb;
        op->arg = arg;
        rc = rclient_eval(rs->redis, on_learned, op, (size_t)rs->script_learn, 2, (int)nargs, argv,
                          NULL);
    }
    if (rc != 0)
        free(op);
    free(argv);
    free(numbers);
    return rc;
}

/* ---- the model of one primary ---- */

struct model_op {
    rec_model_cb *cb;
    void *arg;
};

void rec_model_free(struct rec_model *m)
{
    if (m == NULL)
        return;
    free(m->cands);
    free(m->bought);
    json_decref(m->prefs);
    free(m);
}

static struct rec_model *model_from_reply(const redisReply *reply)
{
    struct rec_model *m = calloc(1, sizeof(*m));
    const redisReply *cands = reply->element[2], *bought = reply->element[4];

    if (m == NULL)
        return NULL;
    m->total = ll_of(reply->element[0]);
    m->primary_orders = ll_of(reply->element[1]);
    m->prefs = flat_object(reply->element[3]);
    m->dismissed = ll_of(reply->element[5]);
    if (cands->type == REDIS_REPLY_ARRAY && cands->elements >= 3) {
        m->cands = calloc(cands->elements / 3, sizeof(*m->cands));
        for (size_t i = 0; m->cands != NULL && i + 2 < cands->elements; i += 3) {
            struct rec_candidate *c = &m->cands[m->ncands];
            const redisReply *sku = cands->element[i];
            if (sku->type != REDIS_REPLY_STRING || sku->len > PROTO_ID_MAX)
                continue;
            memcpy(c->sku, sku->str, sku->len + 1);
            c->together = ll_of(cands->element[i + 1]);
            c->orders = ll_of(cands->element[i + 2]);
            m->ncands++;
        }
    }
    if (bought->type == REDIS_REPLY_ARRAY && bought->elements > 0) {
        m->bought = calloc(bought->elements, sizeof(*m->bought));
        for (size_t i = 0; m->bought != NULL && i < bought->elements; i++) {
            const redisReply *s = bought->element[i];
            if (s->type == REDIS_REPLY_STRING && s->len <= PROTO_ID_MAX)
                memcpy(m->bought[m->nbought++], s->str, s->len + 1);
        }
    }
    if (m->prefs == NULL || (cands->elements >= 3 && m->cands == NULL) ||
        (bought->elements > 0 && m->bought == NULL)) {
        rec_model_free(m);
        return NULL;
    }
    return m;
}

static void on_model(redisReply *reply, const char *err, void *arg)
{
    struct model_op *op = arg;
    struct rec_model *m = NULL;

    if (reply_ok(reply, err, REDIS_REPLY_ARRAY) && reply->elements == 6 &&
        reply->element[2]->type == REDIS_REPLY_ARRAY &&
        reply->element[3]->type == REDIS_REPLY_ARRAY &&
        reply->element[4]->type == REDIS_REPLY_ARRAY)
        m = model_from_reply(reply);
    if (m != NULL)
        op->cb(m, NULL, op->arg);
    else
        op->cb(NULL, err ? err : "unexpected reply from rec_read.lua", op->arg);
    free(op);
}

int rec_model_read(struct rec_store *rs, const struct rec_query *q, const char *day,
                   rec_model_cb *cb, void *arg)
{
    struct model_op *op = malloc(sizeof(*op));
    char keys[6][KEY_MAX], field[96], limit[16];
    const char *argv[9];
    int rc;

    if (op == NULL)
        return -1;
    snprintf(keys[0], KEY_MAX, PREFIX "n");
    snprintf(keys[1], KEY_MAX, PREFIX "co:%s", q->sku);
    cust_key(q->customer, "", keys[2], KEY_MAX);
    cust_key(q->customer, ":bought", keys[3], KEY_MAX);
    cust_key(q->customer, ":dismiss", keys[4], KEY_MAX);
    if (q->session[0])
        snprintf(keys[5], KEY_MAX, PREFIX "sess:%s:dismiss", q->session);
    else
        snprintf(keys[5], KEY_MAX, ABSENT);
    snprintf(field, sizeof(field), "%s|%s", day, q->sku);
    snprintf(limit, sizeof(limit), "%d", REC_CANDIDATES);
    for (int i = 0; i < 6; i++)
        argv[i] = keys[i];
    argv[6] = q->sku;
    argv[7] = field;
    argv[8] = limit;
    op->cb = cb;
    op->arg = arg;
    rc = rclient_eval(rs->redis, on_model, op, (size_t)rs->script_read, 6, 9, argv, NULL);
    if (rc != 0)
        free(op);
    return rc;
}

/* ---- does a reservation hold the primary? ---- */

struct resv_op {
    char sku[PROTO_ID_SIZE];
    rec_resv_holds_cb *cb;
    void *arg;
};

static int body_has_sku(const redisReply *body, const char *sku)
{
    json_t *j = json_loadb(body->str, body->len, 0, NULL), *line;
    size_t i;
    int found = 0;

    json_array_foreach(json_object_get(j, "lines"), i, line)
    {
        const char *s = json_string_value(json_object_get(line, "sku"));
        found |= s != NULL && strcmp(s, sku) == 0;
    }
    json_decref(j);
    return found;
}

static void on_resv(redisReply *reply, const char *err, void *arg)
{
    struct resv_op *op = arg;

    if (!reply_ok(reply, err, REDIS_REPLY_ARRAY) || reply->elements != 3) {
        op->cb(0, 0, err ? err : "unexpected reply to HMGET", op->arg);
    } else if (reply->element[0]->type != REDIS_REPLY_STRING ||
               reply->element[2]->type != REDIS_REPLY_STRING) {
        op->cb(0, 0, NULL, op->arg);
    } else {
        const char *status = reply->element[0]->str;
        int live = strcmp(status, "committed") == 0 ||
                   (strcmp(status, "held") == 0 && ll_of(reply->element[1]) > clock_wall_ms());
        op->cb(1, live && body_has_sku(reply->element[2], op->sku), NULL, op->arg);
    }
    free(op);
}

int rec_resv_holds(struct rec_store *rs, const char *id, const char *sku, rec_resv_holds_cb *cb,
                   void *arg)
{
    struct resv_op *op = malloc(sizeof(*op));
    char key[KEY_MAX];
    const char *argv[] = {"HMGET", key, "status", "exp", "body"};
    int rc;

    if (op == NULL)
        return -1;
    stock_key_part(partition_of(id, rs->cfg->partitions), "resv", id, key, sizeof(key));
    snprintf(op->sku, sizeof(op->sku), "%s", sku);
    op->cb = cb;
    op->arg = arg;
    rc = rclient_command(rs->redis, on_resv, op, 5, argv, NULL);
    if (rc != 0)
        free(op);
    return rc;
}

/* ---- feedback, stats, preferences, erasure ---- */

struct json_op {
    rec_json_cb *cb;
    void *arg;
};

static struct json_op *json_op_new(rec_json_cb *cb, void *arg)
{
    struct json_op *op = malloc(sizeof(*op));

    if (op != NULL) {
        op->cb = cb;
        op->arg = arg;
    }
    return op;
}

/* {"shown", "accepted", "dismissed", "attach_rate"} from the flat stats hash. */
static json_t *stats_object(const redisReply *flat)
{
    json_t *raw = flat_object(flat);
    long long n[3];
    static const char *const names[] = {"shown", "accepted", "dismissed"};
    json_t *out;

    for (int i = 0; i < 3; i++)
        n[i] = strtoll(json_string_value(json_object_get(raw, names[i])) ?: "0", NULL, 10);
    json_decref(raw);
    out = json_pack("{s:I, s:I, s:I}", "shown", (json_int_t)n[0], "accepted", (json_int_t)n[1],
                    "dismissed", (json_int_t)n[2]);
    json_object_set_new(out, "attach_rate", json_real(n[0] > 0 ? (double)n[1] / (double)n[0] : 0));
    return out;
}

static void on_stats(redisReply *reply, const char *err, void *arg)
{
    struct json_op *op = arg;

    if (!reply_ok(reply, err, REDIS_REPLY_ARRAY))
        op->cb(NULL, err ? err : "unexpected reply", op->arg);
    else
        op->cb(stats_object(reply), NULL, op->arg);
    free(op);
}

static void on_flat(redisReply *reply, const char *err, void *arg)
{
    struct json_op *op = arg;

    if (!reply_ok(reply, err, REDIS_REPLY_ARRAY))
        op->cb(NULL, err ? err : "unexpected reply", op->arg);
    else
        op->cb(flat_object(reply), NULL, op->arg);
    free(op);
}

int rec_feedback_put(struct rec_store *rs, const struct rec_feedback *fb, const char *day,
                     rec_json_cb *cb, void *arg)
{
    struct json_op *op = json_op_new(cb, arg);
    char keys[3][KEY_MAX], field[96], keep[24];
    const char *argv[6];
    int rc;

    if (op == NULL)
        return -1;
    snprintf(keys[0], KEY_MAX, PREFIX "stats");
    cust_key(fb->customer, ":dismiss", keys[1], KEY_MAX);
    if (fb->session[0])
        snprintf(keys[2], KEY_MAX, PREFIX "sess:%s:dismiss", fb->session);
    else
        snprintf(keys[2], KEY_MAX, ABSENT);
    snprintf(field, sizeof(field), "%s|%s", day, fb->primary);
    snprintf(keep, sizeof(keep), "%d", REC_DISMISS_KEEP);
    argv[0] = keys[0];
    argv[1] = keys[1];
    argv[2] = keys[2];
    argv[3] = rec_feedback_name(fb->event);
    argv[4] = field;
    argv[5] = keep;
    rc = rclient_eval(rs->redis, on_stats, op, (size_t)rs->script_feedback, 3, 6, argv, NULL);
    if (rc != 0)
        free(op);
    return rc;
}

int rec_stats_get(struct rec_store *rs, rec_json_cb *cb, void *arg)
{
    struct json_op *op = json_op_new(cb, arg);
    const char *argv[] = {"HGETALL", PREFIX "stats"};
    int rc;

    if (op == NULL)
        return -1;
    rc = rclient_command(rs->redis, on_stats, op, 2, argv, NULL);
    if (rc != 0)
        free(op);
    return rc;
}

int rec_prefs_put(struct rec_store *rs, const char *customer, const struct preferences *p,
                  rec_json_cb *cb, void *arg)
{
    struct json_op *op = json_op_new(cb, arg);
    char key[KEY_MAX];
    const char *argv[11];
    int n = 1, rc;

    if (op == NULL)
        return -1;
    cust_key(customer, "", key, sizeof(key));
    argv[0] = key;
#define PREF_ARG(bit, name, value)                                                                 \
    if (p->set & (bit)) {                                                                          \
        argv[n++] = (name);                                                                        \
        argv[n++] = (value);                                                                       \
    } else if (p->clear & (bit)) {                                                                 \
        argv[n++] = (name);                                                                        \
        argv[n++] = "";                                                                            \
    }
    PREF_ARG(PREF_RECOMMENDATIONS, "recommendations", p->recommendations_on ? "on" : "off")
    PREF_ARG(PREF_CONSENT, "personalisation_consent", p->consent ? "true" : "false")
    PREF_ARG(PREF_STORE, "preferred_store", p->preferred_store)
    PREF_ARG(PREF_CHANNEL, "preferred_channel",
             p->preferred_channel ? proto_channel_name(p->preferred_channel) : "")
    PREF_ARG(PREF_NOTES, "notes", p->notes)
#undef PREF_ARG
    rc = rclient_eval(rs->redis, on_flat, op, (size_t)rs->script_prefs, 1, n, argv, NULL);
    if (rc != 0)
        free(op);
    return rc;
}

int rec_prefs_get(struct rec_store *rs, const char *customer, rec_json_cb *cb, void *arg)
{
    struct json_op *op = json_op_new(cb, arg);
    char key[KEY_MAX];
    const char *argv[] = {"HGETALL", key};
    int rc;

    if (op == NULL)
        return -1;
    cust_key(customer, "", key, sizeof(key));
    rc = rclient_command(rs->redis, on_flat, op, 2, argv, NULL);
    if (rc != 0)
        free(op);
    return rc;
}

/*
 * Erasure: one erase_orders.lua per partition, then erase.lua, all on the
 * one connection, so they run in that order; answered once all are in.
 */
struct erase_op {
    rec_json_cb *cb;
    void *arg;
    size_t pending;
    int failed;
    long long keys, audits, orders, reservations;
};

static void erase_part_done(struct erase_op *op, int failed)
{
    op->failed |= failed;
    if (--op->pending > 0)
        return;
    if (op->failed)
        op->cb(NULL, "redis did not answer the erasure", op->arg);
    else
        op->cb(json_pack("{s:I, s:I, s:I, s:I}", "keys", (json_int_t)op->keys, "audit_entries",
                         (json_int_t)op->audits, "orders", (json_int_t)op->orders, "reservations",
                         (json_int_t)op->reservations),
               NULL, op->arg);
    free(op);
}

static void on_orders_erased(redisReply *reply, const char *err, void *arg)
{
    struct erase_op *op = arg;
    int ok = reply_ok(reply, err, REDIS_REPLY_INTEGER);

    if (ok)
        op->orders += reply->integer;
    erase_part_done(op, !ok);
}

static void on_resv_erased(redisReply *reply, const char *err, void *arg)
{
    struct erase_op *op = arg;
    int ok = reply_ok(reply, err, REDIS_REPLY_INTEGER);

    if (ok)
        op->reservations += reply->integer;
    erase_part_done(op, !ok);
}

static void on_erased(redisReply *reply, const char *err, void *arg)
{
    struct erase_op *op = arg;
    int ok = reply_ok(reply, err, REDIS_REPLY_ARRAY) && reply->elements == 2;

    if (ok) {
        op->keys = ll_of(reply->element[0]);
        op->audits = ll_of(reply->element[1]);
    }
    erase_part_done(op, !ok);
}

/*
 * Orders still waiting in the streams name the customer too: counted after
 * the erasure, they would record the customer's purchases again. (An entry
 * a consumer has already read, and is counting at that very moment, is out
 * of reach: a window of one round trip to Redis.)
 */
static int erase_waiting_orders(struct rec_store *rs, const char *customer, struct erase_op *op)
{
    char key[KEY_MAX];
    const char *argv[] = {key, customer, GROUP};

    for (unsigned p = 0; p < rs->cfg->partitions; p++) {
        stock_key_part(p, "orders", NULL, key, sizeof(key));
        if (rclient_eval(rs->redis, on_orders_erased, op, (size_t)rs->script_erase_orders, 1, 3,
                         argv, NULL) != 0)
            return -1;
        op->pending++;
    }
    return 0;
}

/*
 * Reservations name their customer, and so do the events of committing one
 * (reservation.committed, order.placed) and the idempotency records of the
 * answers about them: each partition's reservations that name the customer
 * lose the name, and those events and records go.
 */
static int erase_reservations(struct rec_store *rs, const char *customer, struct erase_op *op)
{
    char index[KEY_MAX], events[KEY_MAX], replays[KEY_MAX];
    const char *argv[] = {index, events, replays, customer};

    for (unsigned p = 0; p < rs->cfg->partitions; p++) {
        stock_key_part(p, "custresv", customer, index, sizeof(index));
        stock_key_part(p, "events", NULL, events, sizeof(events));
        stock_key_part(p, "custidem", customer, replays, sizeof(replays));
        if (rclient_eval(rs->redis, on_resv_erased, op, (size_t)rs->script_erase_resv, 3, 4, argv,
                         NULL) != 0)
            return -1;
        op->pending++;
    }
    return 0;
}

int rec_erase(struct rec_store *rs, const char *customer, rec_json_cb *cb, void *arg)
{
    struct erase_op *op = calloc(1, sizeof(*op));
    char keys[3][KEY_MAX];
    const char *argv[5];
    int sent;

    if (op == NULL)
        return -1;
    op->cb = cb;
    op->arg = arg;
    op->pending = 1; /* held while sending, so that no reply finishes the op early */
    cust_key(customer, "", keys[0], KEY_MAX);
    cust_key(customer, ":bought", keys[1], KEY_MAX);
    cust_key(customer, ":dismiss", keys[2], KEY_MAX);
    argv[0] = keys[0];
    argv[1] = keys[1];
    argv[2] = keys[2];
    argv[3] = PREFIX "audit";
    argv[4] = customer;
    sent = erase_waiting_orders(rs, customer, op) == 0 &&
           erase_reservations(rs, customer, op) == 0 &&
           rclient_eval(rs->redis, on_erased, op, (size_t)rs->script_erase, 4, 5, argv, NULL) == 0;
    if (sent)
        op->pending++;
    if (op->pending == 1) {
        free(op); /* nothing sent: no callback */
        return -1;
    }
    erase_part_done(op, !sent);
    return 0;
}

static void audit_sent(redisReply *reply, const char *err, void *arg)
{
    (void)arg;
    if (err == NULL && reply->type == REDIS_REPLY_ERROR)
        log_warn("event=audit_failed error=\"%s\"", reply->str);
}

/* Anonymous answers alike, given within one window: one audit entry. */
struct audit_tally {
    uint64_t hash;
    long long first_ms;
    unsigned long count;
    char primary[PROTO_ID_SIZE];
    enum channel channel;
    char location[PROTO_ID_SIZE];
    char *items;
};

/* XADD one entry. @return 0, or -1 if Redis is not connected. */
static int audit_write(struct rec_store *rs, long long at_ms, const char *primary,
                       enum channel channel, const char *location, const char *customer,
                       const char *items_json, unsigned long count)
{
    char minid[32], at[32], n[24];
    const char *argv[] = {"XADD",     PREFIX "audit",
                          "MINID",    "~",
                          minid,      "*",
                          "at",       at,
                          "primary",  primary,
                          "channel",  proto_channel_name(channel),
                          "location", location,
                          "customer", customer,
                          "items",    items_json,
                          "count",    n};

    snprintf(minid, sizeof(minid), "%lld", at_ms - (long long)REC_AUDIT_DAYS * 86400 * 1000);
    proto_time_format(at_ms, at);
    snprintf(n, sizeof(n), "%lu", count);
    return rclient_command(rs->redis, audit_sent, NULL, (int)(sizeof(argv) / sizeof(argv[0])), argv,
                           NULL);
}

static void audit_skipped(size_t entries)
{
    log_warn("event=audit_skipped reason=\"redis unavailable\" entries=%zu", entries);
}

void rec_audit_flush(struct rec_store *rs)
{
    size_t skipped = 0;

    if (rs->tally == NULL || rs->tally_slot == NULL) /* never made: nothing counted */
        return;
    for (size_t i = 0; i < rs->ntally; i++) {
        struct audit_tally *t = &rs->tally[i];
        if (audit_write(rs, t->first_ms, t->primary, t->channel, t->location, "", t->items,
                        t->count) != 0)
            skipped++;
        free(t->items);
    }
    rs->ntally = 0;
    memset(rs->tally_slot, 0, 2 * REC_AUDIT_TALLY * sizeof(*rs->tally_slot));
    if (rs->audit_flush != NULL)
        evtimer_del(rs->audit_flush);
    if (skipped > 0)
        audit_skipped(skipped);
}

static void on_audit_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rec_audit_flush(arg);
}

/*
 * A hash of @s, its NUL included, from @h: eight bytes a step (an answer's
 * items are 800 bytes or so, and a byte a step was a multiply each).
 */
static uint64_t text_hash(uint64_t h, const char *s)
{
    size_t len = strlen(s) + 1;
    uint64_t w;

    for (; len >= sizeof(w); len -= sizeof(w), s += sizeof(w)) {
        memcpy(&w, s, sizeof(w));
        h = (h ^ w) * 1099511628211ULL;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * 1099511628211ULL;
    return h ^ (h >> 29);
}

void rec_audit(struct rec_store *rs, const struct rec_query *q, const char *items_json)
{
    struct timeval window = {REC_AUDIT_WINDOW_MS / 1000, (REC_AUDIT_WINDOW_MS % 1000) * 1000};
    uint64_t h;
    size_t slot;
    struct audit_tally *t;

    if (q->customer[0] || rs->tally == NULL || rs->tally_slot == NULL) {
        if (audit_write(rs, clock_wall_ms(), q->sku, q->channel, q->location, q->customer,
                        items_json, 1) != 0)
            audit_skipped(1);
        return;
    }
    h = text_hash(
        text_hash(text_hash(14695981039346656037ULL ^ (uint64_t)q->channel, q->sku), q->location),
        items_json);
    for (slot = h & (2 * REC_AUDIT_TALLY - 1); rs->tally_slot[slot] != 0;
         slot = (slot + 1) & (2 * REC_AUDIT_TALLY - 1)) {
        t = &rs->tally[rs->tally_slot[slot] - 1];
        if (t->hash == h && t->channel == q->channel && strcmp(t->primary, q->sku) == 0 &&
            strcmp(t->location, q->location) == 0 && strcmp(t->items, items_json) == 0) {
            t->count++;
            return;
        }
    }
    t = &rs->tally[rs->ntally];
    if ((t->items = strdup(items_json)) == NULL) {
        if (audit_write(rs, clock_wall_ms(), q->sku, q->channel, q->location, "", items_json, 1) !=
            0)
            audit_skipped(1);
        return;
    }
    t->hash = h;
    t->first_ms = clock_wall_ms();
    t->count = 1;
    memcpy(t->primary, q->sku, sizeof(t->primary));
    t->channel = q->channel;
    memcpy(t->location, q->location, sizeof(t->location));
    rs->tally_slot[slot] = (unsigned)++rs->ntally;
    if (rs->ntally == 1)
        evtimer_add(rs->audit_flush, &window);
    if (rs->ntally == REC_AUDIT_TALLY)
        rec_audit_flush(rs);
}

/* ---- the order.placed consumer ---- */

struct consume_call {
    struct rec_store *rs;
    unsigned part;
    char key[KEY_MAX];
    char (*ids)[48]; /* the stream entries being counted, to acknowledge */
    size_t nids;
};

static void consume_done(struct consume_call *call)
{
    call->rs->busy[call->part] = 0;
    free(call->ids);
    free(call);
}

static void ignore(redisReply *reply, const char *err, void *arg)
{
    (void)arg;
    if (err == NULL && reply->type == REDIS_REPLY_ERROR)
        log_warn("event=consumer_command_failed error=\"%s\"", reply->str);
}

/*
 * Acknowledge the entries counted, and delete them: once counted, an order
 * (and the customer it names) has no business staying in the stream.
 */
static void ack(struct consume_call *call)
{
    const char **argv = malloc((3 + call->nids) * sizeof(*argv));

    if (argv == NULL)
        return;
    argv[0] = "XACK";
    argv[1] = call->key;
    argv[2] = GROUP;
    for (size_t i = 0; i < call->nids; i++)
        argv[3 + i] = call->ids[i];
    rclient_command(call->rs->redis, ignore, NULL, (int)(3 + call->nids), argv, NULL);
    argv[1] = "XDEL";
    argv[2] = call->key;
    rclient_command(call->rs->redis, ignore, NULL, (int)(2 + call->nids), argv + 1, NULL);
    free(argv);
}

static void on_stream_learned(long long accepted, long long duplicates, const char *err, void *arg)
{
    struct consume_call *call = arg;

    if (err != NULL) {
        call->rs->backlog[call->part] = 1; /* read them again */
    } else {
        ack(call);
        if (accepted > 0 || duplicates > 0)
            log_info("event=orders_learned source=stream partition=%u accepted=%lld "
                     "duplicates=%lld",
                     call->part, accepted, duplicates);
    }
    consume_done(call);
}

/* One stream entry as an order; @return 0, or -1 when it is not one (still acknowledged). */
static int order_from_entry(const redisReply *entry, struct order *o, char (*skus)[PROTO_ID_SIZE],
                            size_t max)
{
    const redisReply *f = entry->element[1];
    const char *list = NULL;

    memset(o, 0, sizeof(*o));
    o->at_ms = -1;
    o->skus = skus;
    if (f->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = f->element[i]->str, *v = f->element[i + 1]->str;
        if (f->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k, "id") == 0 && proto_id_valid(v))
            snprintf(o->id, sizeof(o->id), "%s", v);
        else if (strcmp(k, "customer") == 0 && proto_id_valid(v))
            snprintf(o->customer, sizeof(o->customer), "%s", v);
        else if (strcmp(k, "at") == 0)
            o->at_ms = strtoll(v, NULL, 10);
        else if (strcmp(k, "skus") == 0)
            list = v;
    }
    while (list != NULL && *list != '\0' && o->nskus < max) {
        size_t len = strcspn(list, ",");
        if (len > 0 && len <= PROTO_ID_MAX) {
            memcpy(skus[o->nskus], list, len);
            skus[o->nskus][len] = '\0';
            if (proto_id_valid(skus[o->nskus]))
                o->nskus++;
        }
        list += len + (list[len] == ',');
    }
    return o->id[0] && o->nskus > 0 ? 0 : -1;
}

/* Count the orders of one XREADGROUP or XAUTOCLAIM batch of entries. */
static void consume_entries(struct consume_call *call, const redisReply *entries)
{
    struct order *orders = calloc(entries->elements + 1, sizeof(*orders));
    char(*skus)[PROTO_ID_SIZE] = calloc((entries->elements + 1) * ORDER_LINES_MAX, sizeof(*skus));
    size_t n = 0;

    call->ids = calloc(entries->elements + 1, sizeof(*call->ids));
    if (orders == NULL || skus == NULL || call->ids == NULL) {
        consume_done(call);
        goto out;
    }
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= 48)
            continue;
        memcpy(call->ids[call->nids++], e->element[0]->str, e->element[0]->len + 1);
        if (order_from_entry(e, &orders[n], skus + n * ORDER_LINES_MAX, ORDER_LINES_MAX) == 0)
            n++;
    }
    if (n == 0) {
        ack(call);
        consume_done(call);
    } else if (rec_learn(call->rs, orders, n, clock_wall_ms(), on_stream_learned, call) != 0) {
        call->rs->backlog[call->part] = 1;
        consume_done(call);
    }
out:
    free(orders);
    free(skus);
}

static void on_group_created(redisReply *reply, const char *err, void *arg)
{
    struct consume_call *call = arg;

    if (err == NULL && reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "BUSYGROUP") == NULL)
        log_warn("event=consumer_group_failed partition=%u error=\"%s\"", call->part, reply->str);
    call->rs->backlog[call->part] = 1;
    consume_done(call);
}

static void on_read_group(redisReply *reply, const char *err, void *arg)
{
    struct consume_call *call = arg;
    const redisReply *entries;

    if (err != NULL) {
        consume_done(call);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        if (strstr(reply->str, "NOGROUP") != NULL) {
            const char *argv[] = {"XGROUP", "CREATE", call->key, GROUP, "0", "MKSTREAM"};
            if (rclient_command(call->rs->redis, on_group_created, call, 6, argv, NULL) == 0)
                return;
        } else {
            log_warn("event=consumer_read_failed partition=%u error=\"%s\"", call->part,
                     reply->str);
        }
        consume_done(call);
        return;
    }
    /* nil: nothing new; else [[key, [entries]]] */
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY || reply->element[0]->elements != 2 ||
        reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
        consume_done(call);
        return;
    }
    entries = reply->element[0]->element[1];
    if (entries->elements == 0) {
        call->rs->backlog[call->part] = 0; /* our pending entries are all counted */
        consume_done(call);
        return;
    }
    consume_entries(call, entries);
}

static void on_claimed(redisReply *reply, const char *err, void *arg)
{
    struct consume_call *call = arg;

    /* [next cursor, [claimed entries], [deleted ids]]: claimed ones are ours to count now */
    if (err == NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[1]->type == REDIS_REPLY_ARRAY && reply->element[1]->elements > 0) {
        log_info("event=orders_claimed partition=%u count=%zu", call->part,
                 reply->element[1]->elements);
        call->rs->backlog[call->part] = 1;
    }
    consume_done(call);
}

static void consume_part(struct rec_store *rs, unsigned part, int claim)
{
    struct consume_call *call = calloc(1, sizeof(*call));
    int rc;

    if (call == NULL)
        return;
    call->rs = rs;
    call->part = part;
    stock_key_part(part, "orders", NULL, call->key, sizeof(call->key));
    rs->busy[part] = 1;
    if (claim) {
        char idle[24];
        const char *argv[] = {"XAUTOCLAIM", call->key, GROUP,   rs->consumer,
                              idle,         "0-0",     "COUNT", READ_COUNT};
        snprintf(idle, sizeof(idle), "%lld", rs->cfg->claim_after_ms);
        rc = rclient_command(rs->redis, on_claimed, call, 8, argv, NULL);
    } else {
        const char *argv[] = {"XREADGROUP", "GROUP",   GROUP,
                              rs->consumer, "COUNT",   READ_COUNT,
                              "STREAMS",    call->key, rs->backlog[part] ? "0" : ">"};
        rc = rclient_command(rs->redis, on_read_group, call, 9, argv, NULL);
    }
    if (rc != 0)
        consume_done(call);
}

static void on_group_ensured(redisReply *reply, const char *err, void *arg)
{
    (void)arg;
    if (err == NULL && reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "BUSYGROUP") == NULL)
        log_warn("event=consumer_group_failed error=\"%s\"", reply->str);
}

/*
 * Redis is (back) up: make sure every partition's orders stream has the
 * group, before any request's command (readiness waits for these), and read
 * this consumer's pending entries first.
 */
static void on_redis_state(int up, void *arg)
{
    struct rec_store *rs = arg;

    if (!up)
        return;
    for (unsigned p = 0; p < rs->cfg->partitions; p++) {
        char key[KEY_MAX];
        const char *argv[] = {"XGROUP", "CREATE", key, GROUP, "0", "MKSTREAM"};
        stock_key_part(p, "orders", NULL, key, sizeof(key));
        rclient_command(rs->redis, on_group_ensured, NULL, 6, argv, NULL);
        rs->backlog[p] = 1;
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct rec_store *rs = arg;
    long long now = clock_wall_ms();
    int claim = now - rs->claimed_ms >=
                (rs->cfg->claim_after_ms < CLAIM_EVERY ? rs->cfg->claim_after_ms : CLAIM_EVERY);

    (void)fd;
    (void)what;
    if (!rclient_ready(rs->redis))
        return;
    if (claim)
        rs->claimed_ms = now;
    for (unsigned p = 0; p < rs->cfg->partitions; p++) {
        if (!rs->busy[p])
            consume_part(rs, p, claim);
    }
}

int rec_store_init(struct rec_store *rs, const struct config *cfg, struct rclient *redis,
                   struct event_base *base)
{
    struct timeval tv = {0, TICK_MS * 1000};
    char host[64] = "localhost";

    memset(rs, 0, sizeof(*rs));
    rs->cfg = cfg;
    rs->redis = redis;
    if (stock_store_init(&rs->stock, cfg, redis) != 0)
        return -1;
    rs->script_learn = rclient_add_script(redis, "learn", NULL, learn_lua);
    rs->script_read = rclient_add_script(redis, "rec_read", NULL, rec_read_lua);
    rs->script_feedback = rclient_add_script(redis, "feedback", NULL, feedback_lua);
    rs->script_prefs = rclient_add_script(redis, "prefs", NULL, prefs_lua);
    rs->script_erase = rclient_add_script(redis, "erase", NULL, erase_lua);
    rs->script_erase_orders = rclient_add_script(redis, "erase_orders", NULL, erase_orders_lua);
    rs->script_erase_resv = rclient_add_script(redis, "erase_resv", NULL, erase_resv_lua);
    if (rs->script_read >= 0)
        rclient_script_reads_only(redis, (size_t)rs->script_read);
    if (rs->script_learn < 0 || rs->script_read < 0 || rs->script_feedback < 0 ||
        rs->script_prefs < 0 || rs->script_erase < 0 || rs->script_erase_orders < 0 ||
        rs->script_erase_resv < 0)
        return -1;
    /* The same name after a restart, so the instance counts what it had read and not acked. */
    gethostname(host, sizeof(host) - 1);
    snprintf(rs->consumer, sizeof(rs->consumer), "omnistockd@%s:%d", host, cfg->listen_port);
    rs->busy = calloc(cfg->partitions, 1);
    rs->backlog = malloc(cfg->partitions);
    rs->tick = event_new(base, -1, EV_PERSIST, on_tick, rs);
    rs->audit_flush = evtimer_new(base, on_audit_flush, rs);
    rs->tally = calloc(REC_AUDIT_TALLY, sizeof(*rs->tally));
    rs->tally_slot = calloc(2 * REC_AUDIT_TALLY, sizeof(*rs->tally_slot));
    /* Anonymous answers are kept only where the stock they read is kept exact (rcache.h). */
    if (cfg->answer_cache_ms > 0 && cfg->read_cache_entries > 0) {
        rs->answers = rcache_new(REC_ANSWERS_KEPT, cfg->answer_cache_ms);
        if (rs->answers != NULL)
            rcache_set_live(rs->answers, 1);
    }
    if (rs->busy == NULL || rs->backlog == NULL || rs->tick == NULL || rs->audit_flush == NULL ||
        rs->tally == NULL || rs->tally_slot == NULL ||
        (cfg->answer_cache_ms > 0 && cfg->read_cache_entries > 0 && rs->answers == NULL)) {
        rec_store_release(rs);
        return -1;
    }
    memset(rs->backlog, 1, cfg->partitions);
    rs->claimed_ms = clock_wall_ms();
    if (rclient_observe(redis, on_redis_state, rs) != 0) {
        rec_store_release(rs);
        return -1;
    }
    event_add(rs->tick, &tv);
    return 0;
}

void rec_store_release(struct rec_store *rs)
{
    rec_audit_flush(rs); /* to a connection still open, or logged as skipped */
    free(rs->tally);
    free(rs->tally_slot);
    rs->tally = NULL;
    rs->tally_slot = NULL;
    if (rs->audit_flush != NULL)
        event_free(rs->audit_flush);
    rs->audit_flush = NULL;
    stock_store_release(&rs->stock);
    if (rs->tick != NULL)
        event_free(rs->tick);
    rs->tick = NULL;
    free(rs->busy);
    free(rs->backlog);
    rs->busy = rs->backlog = NULL;
    rcache_free(rs->answers);
    rs->answers = NULL;
}
