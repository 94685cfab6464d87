/*
 * rec_http.c - the recommend module's endpoints: order history,
 * recommendations under the policy, feedback and stats, customers'
 * preferences and erasure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/crc16.h"
#include "common/http.h"
#include "common/metrics.h"
#include "common/rcache.h"
#include "common/redis.h"
#include "common/text.h"
#include "proto/recommend.h"
#include "services/recommend/rec_logic.h"
#include "services/recommend/recommend_internal.h"

#define CHECK_MAX 50 /* strong candidates whose product and stock are read */
#define ALT_MAX   64

static struct rec_store *store_of(struct request *r)
{
    return &((struct recommend *)r->ctx)->store;
}

/* Today in UTC, "yyyymmdd": dismissals count per day. */
static void today(char day[9])
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(day, 9, "%Y%m%d", &tm);
}

static int path_customer(struct request *r)
{
    if (proto_id_valid(r->params[0]))
        return 0;
    request_reply_problem(r, PROBLEM_INVALID_IDENTIFIER, "id", NULL,
                          "id must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    return -1;
}

static void count(struct request *r, const char *name, const char *help, const char *label,
                  const char *value)
{
    char labels[96];
    size_t at = 0;

    text_add(labels, sizeof(labels), &at, label, '=');
    text_add(labels, sizeof(labels), &at, "\"", '\0');
    text_add(labels, sizeof(labels), &at, value, '"');
    metrics_counter_add(request_metrics(r), name, help, labels, 1);
}

/* ---- POST /v1/orders ---- */

struct orders_op {
    struct request *r;
    struct order_batch batch;
};

static void orders_op_free(void *p)
{
    struct orders_op *op = p;

    order_batch_release(&op->batch);
    free(op);
}

static void orders_learned(long long accepted, long long duplicates, const char *err, void *arg)
{
    struct orders_op *op = arg;

    if (err != NULL)
        request_reply_unavailable(op->r);
    else
        request_reply_json(op->r, 200,
                           json_pack("{s:I, s:I}", "accepted", (json_int_t)accepted, "duplicates",
                                     (json_int_t)duplicates));
}

static void orders_post(struct request *r)
{
    struct orders_op *op = calloc(1, sizeof(*op));
    struct proto_error err;

    if (op == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    if (order_batch_parse(r->body, &op->batch, &err) != 0) {
        free(op);
        request_reply_error(r, &err);
        return;
    }
    op->r = r;
    r->state = op;
    r->state_free = orders_op_free;
    if (rec_learn(store_of(r), op->batch.orders, op->batch.n, clock_wall_ms(), orders_learned,
                  op) != 0)
        request_reply_unavailable(r);
}

/* ---- GET /v1/recommendations ---- */

struct rec_op {
    struct request *r;
    struct rec_query q;
    struct rec_policy policy;
    char day[9];
    size_t pending;
    const char *err;
    struct rec_model *model;
    struct stock_snapshot *primary; /* the primary's product and levels */
    int resv_found, resv_holds;
    struct rec_candidate *check; /* the strong candidates being read */
    size_t ncheck;
    char (*check_skus)[PROTO_ID_SIZE];

    /* An anonymous answer, kept for the next one (see "Anonymous answers, kept") */
    char cache_key[3 * PROTO_ID_SIZE];
    struct rcache_ticket *tickets;     /* one per partition, taken before anything was read */
    struct rcache_ticket model_ticket; /* the same for the model's counts ({rec}:n) */
    unsigned long rules_generation;
    char *audit_text; /* the audit entry the answer wrote, written again when it is reused */
};

static void rec_op_free(void *p)
{
    struct rec_op *op = p;

    rec_query_release(&op->q);
    rec_model_free(op->model);
    stock_snapshot_free(op->primary);
    free(op->check);
    free(op->check_skus);
    free(op->tickets);
    free(op->audit_text);
    free(op);
}

static json_t *where_json(const struct rec_where *w)
{
    json_t *o = json_pack("{s:s}", "channel", proto_channel_name(w->channel));

    if (w->location[0])
        json_object_set_new(o, "location", json_string(w->location));
    json_object_set_new(o, "available", json_integer(w->available));
    return o;
}

static json_t *policy_json(const struct rec_policy *p)
{
    return json_pack("{s:i, s:f}", "max_items", p->max_items, "max_price_ratio",
                     p->max_price_ratio);
}

/* The answer's frame: primary, items (empty), policy. */
static json_t *answer_new(const struct rec_op *op, int resolved, const char *how,
                          json_t *alternatives)
{
    json_t *primary = json_pack("{s:s, s:b}", "sku", op->q.sku, "resolved", resolved);

    if (how != NULL)
        json_object_set_new(primary, "how", json_string(how));
    json_object_set_new(primary, "alternatives", alternatives ? alternatives : json_array());
    return json_pack("{s:o, s:[], s:o}", "primary", primary, "items", "policy",
                     policy_json(&op->policy));
}

/* ---- Anonymous answers, kept ----
 *
 * An answer that names no customer, session, reservation or basket depends on
 * the model's counts, the location rules, and the stock and products of the
 * primary and its strong candidates. It is kept for at most
 * recommendations.answer_cache_ms (longer if confirmed: "Answers confirmed
 * ahead") and given again while none of those changed.
 * The read cache hears of every change to them (stock hashes, products, the
 * rules of each partition, and {rec}:n, which every order learnt changes): the
 * answer holds the read cache's tickets (rcache.h) of the partitions it read
 * and of {rec}, taken before anything was read, and is given again only while
 * they all still hold; a PUT /v1/locations through this daemon also moves the
 * rules' generation. Kept: the body, the outcome, the audit entry (written
 * again for each answer given: it is what the customer was shown), the rules'
 * generation, ":total" and the model's count of orders it was made from,
 * ":made" and when (clock_mono_ms), then per partition read and for {rec}: "{pNN}"
 * or "{rec}", and the ticket's bytes (struct rcache_ticket as it is in memory:
 * these copies never leave the process, and an answer given again reads them
 * without parsing numbers). Read as pairs, the copy holds ":total" as a field
 * (rcache_due, rcache_confirm: see "Answers confirmed ahead").
 */

#define ANSWER_HEAD  8        /* the elements before the tickets */
#define MODEL_TOTAL  ":total" /* {rec}:n's count of orders: moved by every order learnt */
#define MODEL_COUNTS "{rec}:n"

static struct rcache *read_cache_of(const struct request *r)
{
    return rclient_cache(request_redis(r));
}

/* Whether @op's answer may be kept and given again, and its key into @op->cache_key. */
static int answer_keepable(struct rec_op *op)
{
    const struct rec_query *q = &op->q;
    size_t at = 0;

    if (store_of(op->r)->answers == NULL || read_cache_of(op->r) == NULL ||
        !rcache_live(read_cache_of(op->r)) || q->customer[0] || q->session[0] ||
        q->reservation[0] || q->nbasket > 0)
        return 0;
    text_add(op->cache_key, sizeof(op->cache_key), &at, proto_channel_name(q->channel), '|');
    text_add(op->cache_key, sizeof(op->cache_key), &at, q->location, '|');
    text_add(op->cache_key, sizeof(op->cache_key), &at, q->sku, '\0');
    return 1;
}

/* Whether the kept answer @e still holds: the rules' generation and every ticket as they were. */
static int answer_holds(const struct rcache *reads, const redisReply *e)
{
    struct rcache_ticket t;
    unsigned long generation;

    if (e->elements < ANSWER_HEAD || (e->elements - ANSWER_HEAD) % 2 != 0 ||
        e->element[3]->len != sizeof(generation))
        return 0;
    memcpy(&generation, e->element[3]->str, sizeof(generation));
    if (generation != stock_rules_generation())
        return 0;
    for (size_t i = ANSWER_HEAD; i < e->elements; i += 2) {
        if (e->element[i + 1]->len != sizeof(t))
            return 0;
        memcpy(&t, e->element[i + 1]->str, sizeof(t));
        if (!rcache_ticket_holds(reads, e->element[i]->str, t))
            return 0;
    }
    return 1;
}

/* The kept answer for @op, if it still holds: given, counted and audited. @return 1 if so. */
static int answer_reused(struct rec_op *op)
{
    const redisReply *e = rcache_get(store_of(op->r)->answers, op->cache_key, clock_mono_ms());

    if (e == NULL || !answer_holds(read_cache_of(op->r), e))
        return 0;
    count(op->r, "omnistock_recommendations_total", "Recommendation answers by outcome.", "outcome",
          e->element[1]->str);
    metrics_counter_add(request_metrics(op->r), "omnistock_recommendations_reused_total",
                        "Anonymous recommendation answers given again, unchanged.", NULL, 1);
    if (e->element[2]->len > 0)
        rec_audit(store_of(op->r), &op->q, e->element[2]->str);
    request_reply_stored(op->r, 200, e->element[0]->str, e->element[0]->len, 0);
    return 1;
}

/* Take a ticket for every partition before the answer's first read. @return 0 or -1. */
static int answer_tickets(struct rec_op *op)
{
    unsigned n = request_config(op->r)->partitions;
    char key[16];

    op->tickets = calloc(n, sizeof(*op->tickets));
    if (op->tickets == NULL)
        return -1;
    for (unsigned p = 0; p < n; p++) {
        snprintf(key, sizeof(key), "{p%02u}", p);
        op->tickets[p] = rcache_ticket(read_cache_of(op->r), key);
    }
    op->model_ticket = rcache_ticket(read_cache_of(op->r), "{rec}");
    op->rules_generation = stock_rules_generation();
    return 0;
}

/* Keep @text, @op's answer, with the tickets of the partitions it read, if they all hold. */
static void answer_keep(struct rec_op *op, const char *text, const char *outcome)
{
    unsigned n = request_config(op->r)->partitions, used = 0;
    unsigned char *part = calloc(n, 1);
    char(*keys)[16] = NULL;
    struct rcache_ticket *held = NULL;
    redisReply *elems = NULL, **ptrs = NULL, top;
    char total[24];
    long long made = clock_mono_ms();
    size_t k = 0;

    if (part == NULL || op->model == NULL)
        goto out;
    part[partition_of(op->q.sku, n)] = 1;
    for (size_t i = 0; i < op->ncheck; i++)
        part[partition_of(op->check_skus[i], n)] = 1;
    for (unsigned p = 0; p < n; p++)
        used += part[p];
    keys = calloc(used, sizeof(*keys));
    held = calloc(used + 1, sizeof(*held));
    elems = calloc(ANSWER_HEAD + 2 + 2 * used, sizeof(*elems));
    ptrs = calloc(ANSWER_HEAD + 2 + 2 * used, sizeof(*ptrs));
    if (keys == NULL || held == NULL || elems == NULL || ptrs == NULL)
        goto out;
    snprintf(total, sizeof(total), "%lld", op->model->total);
    {
        const char *head[] = {text, outcome, op->audit_text ? op->audit_text : ""};
        for (; k < 3; k++) {
            elems[k].str = (char *)head[k];
            elems[k].len = strlen(head[k]);
        }
        elems[k].str = (char *)&op->rules_generation;
        elems[k++].len = sizeof(op->rules_generation);
        elems[k].str = MODEL_TOTAL;
        elems[k++].len = strlen(MODEL_TOTAL);
        elems[k].str = total;
        elems[k++].len = strlen(total);
        elems[k].str = ":made";
        elems[k++].len = 5;
        elems[k].str = (char *)&made;
        elems[k++].len = sizeof(made);
    }
    for (unsigned p = 0, u = 0; p < n; p++) {
        if (!part[p])
            continue;
        snprintf(keys[u], sizeof(keys[u]), "{p%02u}", p);
        if (!rcache_ticket_holds(read_cache_of(op->r), keys[u], op->tickets[p]))
            goto out; /* a change came in while it was made: not for keeping */
        held[u] = op->tickets[p];
        elems[k].str = keys[u];
        elems[k++].len = strlen(keys[u]);
        elems[k].str = (char *)&held[u];
        elems[k++].len = sizeof(held[u]);
        u++;
    }
    if (!rcache_ticket_holds(read_cache_of(op->r), "{rec}", op->model_ticket))
        goto out; /* an order was learnt meanwhile */
    held[used] = op->model_ticket;
    elems[k].str = "{rec}";
    elems[k++].len = 5;
    elems[k].str = (char *)&held[used];
    elems[k++].len = sizeof(held[used]);
    memset(&top, 0, sizeof(top));
    top.type = REDIS_REPLY_ARRAY;
    top.elements = k;
    top.element = ptrs;
    for (size_t i = 0; i < k; i++) {
        elems[i].type = REDIS_REPLY_STRING;
        ptrs[i] = &elems[i];
    }
    rcache_put(store_of(op->r)->answers, op->cache_key, &top,
               rcache_ticket(store_of(op->r)->answers, op->cache_key), clock_mono_ms());
out:
    free(part);
    free(held);
    free(keys);
    free(elems);
    free(ptrs);
}

static void answer(struct rec_op *op, json_t *body, const char *outcome)
{
    char *text;

    count(op->r, "omnistock_recommendations_total", "Recommendation answers by outcome.", "outcome",
          outcome);
    if (op->tickets == NULL) {
        request_reply_json(op->r, 200, body);
        return;
    }
    text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(body);
    if (text == NULL) {
        request_reply_problem(op->r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    answer_keep(op, text, outcome);
    request_reply_stored(op->r, 200, text, strlen(text), 0);
    free(text);
}

/*
 * ---- Answers confirmed ahead ----
 *
 * An answer given again during its age (answer_cache_ms) is confirmed shortly
 * before the age runs out, from a timer, so that a product page seen steadily
 * is not made afresh every second. The daemon asks Redis for the model's
 * count of orders: every order learnt moves it, and nothing else changes the
 * model. The same count, with the rules' generation and every ticket of the
 * answer as they were, means a fresh answer would be this one byte for byte
 * (its stock and products would come from the same copies): the answer gets
 * another age. One HGET a tick for all the answers due. An answer is not
 * confirmed past read_cache.max_age_ms from when it was made: by then the
 * copies it was made from are checked against Redis again, and so is it, made
 * afresh. An answer nobody asked for lapses as before.
 */
#define CONFIRM_BATCH    128 /* answers confirmed by one HGET */
#define CONFIRM_AGAIN_MS 2   /* the next batch, while more are due */

struct confirm_call {
    struct recommend *rec;
    size_t n;
    struct {
        unsigned long long serial;
        char key[3 * PROTO_ID_SIZE];
    } due[CONFIRM_BATCH];
};

static void confirm_add(const char *key, unsigned long long serial, void *arg)
{
    struct confirm_call *call = arg;
    size_t len = strlen(key);

    if (call->n == CONFIRM_BATCH || len >= sizeof(call->due[0].key))
        return; /* never: rcache_due gives at most CONFIRM_BATCH, keys are answer_keepable's */
    call->due[call->n].serial = serial;
    memcpy(call->due[call->n].key, key, len + 1);
    call->n++;
}

/* Whether @e, made at its ":made", is still young enough for the copies it was made from. */
static int answer_young(const redisReply *e, long long now, long long max_age_ms)
{
    long long made;

    if (e->element[7]->len != sizeof(made))
        return 0;
    memcpy(&made, e->element[7]->str, sizeof(made));
    return max_age_ms <= 0 || now - made < max_age_ms;
}

static void on_model_total(redisReply *reply, const char *err, void *arg)
{
    struct confirm_call *call = arg;
    struct rec_store *rs = &call->rec->store;
    struct rcache *reads = rclient_cache(rs->redis);
    long long now = clock_mono_ms();
    const char *total = "0"; /* no order learnt yet: rec_read.lua's count too */
    size_t len = 1, confirmed = 0;

    /* No answer (Redis gone, or the daemon stopping): the answers lapse as any other. */
    if (err != NULL || reply->type == REDIS_REPLY_ERROR || rs->answers == NULL || reads == NULL) {
        free(call);
        return;
    }
    if (reply->type == REDIS_REPLY_STRING) {
        total = reply->str;
        len = reply->len;
    }
    for (size_t i = 0; i < call->n; i++) {
        const char *key = call->due[i].key;
        unsigned long long serial;
        const redisReply *e = rcache_get_numbered(rs->answers, key, now, &serial);

        if (e == NULL || serial != call->due[i].serial)
            continue; /* made again meanwhile, or lapsed: nothing to confirm */
        if (!answer_holds(reads, e) || !answer_young(e, now, rs->cfg->read_cache_max_age_ms))
            rcache_changed(rs->answers, key, strlen(key));
        else
            confirmed +=
                (size_t)rcache_confirm(rs->answers, key, serial, MODEL_TOTAL, total, len, now);
    }
    if (confirmed > 0)
        metrics_counter_add(http_server_metrics(call->rec->srv),
                            "omnistock_recommendations_confirmed_total",
                            "Anonymous recommendation answers given another age: the model's count "
                            "of orders unchanged.",
                            NULL, confirmed);
    free(call);
}

static void on_confirm_tick(evutil_socket_t fd, short what, void *arg)
{
    struct recommend *rec = arg;
    struct rec_store *rs = &rec->store;
    const char *argv[] = {"HGET", MODEL_COUNTS, MODEL_TOTAL};
    struct confirm_call *call;
    size_t given = 0;

    (void)fd;
    (void)what;
    if (rclient_ready(rs->redis) && (call = malloc(sizeof(*call))) != NULL) {
        call->rec = rec;
        call->n = 0;
        given =
            rcache_due(rs->answers, clock_mono_ms(), MODEL_TOTAL, CONFIRM_BATCH, confirm_add, call);
        if (given == 0 || rclient_command(rs->redis, on_model_total, call, 3, argv, NULL) != 0)
            free(call);
    }
    clock_timer_add(rec->confirm,
                    given == CONFIRM_BATCH ? CONFIRM_AGAIN_MS : rcache_due_every(rs->answers));
}

int rec_confirm_start(struct recommend *rec, struct event_base *base)
{
    if (rec->store.answers == NULL || rcache_due_every(rec->store.answers) == 0)
        return 0;
    if ((rec->confirm = event_new(base, -1, 0, on_confirm_tick, rec)) == NULL)
        return -1;
    clock_timer_add(rec->confirm, rcache_due_every(rec->store.answers));
    return 0;
}

static int is_bought(const struct rec_model *m, const char *sku)
{
    for (size_t i = 0; i < m->nbought; i++) {
        if (strcmp(m->bought[i], sku) == 0)
            return 1;
    }
    return 0;
}

static int in_basket(const struct rec_query *q, const char *sku)
{
    if (strcmp(q->sku, sku) == 0)
        return 1;
    for (size_t i = 0; i < q->nbasket; i++) {
        if (strcmp(q->basket[i], sku) == 0)
            return 1;
    }
    return 0;
}

static json_t *item_json(const struct rec_op *op, const struct rec_candidate *c,
                         const struct product *p)
{
    char reason[256];

    rec_reason(op->q.sku, c->together, op->model->primary_orders, reason, sizeof(reason));
    return json_pack("{s:s, s:s, s:{s:I, s:s}, s:I, s:f, s:s, s:{s:I, s:I}}", "sku", c->sku, "name",
                     p->name, "price", "amount", (json_int_t)p->price_amount, "currency",
                     p->currency, "available", (json_int_t)c->available, "score",
                     round(c->score * 100.0) / 100.0, "reason", reason, "evidence", "together",
                     (json_int_t)c->together, "primary_orders",
                     (json_int_t)op->model->primary_orders);
}

static void candidates_read(struct stock_snapshot *snap, const char *err, void *arg)
{
    struct rec_op *op = arg;
    const struct product *pp;
    struct rec_primary primary;
    json_t *body, *items, *audit;
    char *audit_text;

    if (err != NULL) {
        request_reply_unavailable(op->r);
        return;
    }
    pp = &op->primary->items[0].product;
    memset(&primary, 0, sizeof(primary));
    snprintf(primary.sku, sizeof(primary.sku), "%s", op->q.sku);
    snprintf(primary.category, sizeof(primary.category), "%s", pp->category);
    snprintf(primary.currency, sizeof(primary.currency), "%s", pp->currency);
    primary.price = pp->price_amount;
    for (size_t i = 0; i < op->ncheck; i++) {
        struct rec_candidate *c = &op->check[i];
        const struct stock_item *it = &snap->items[i];
        c->known = it->product.sku[0] != '\0';
        snprintf(c->category, sizeof(c->category), "%s", it->product.category);
        snprintf(c->currency, sizeof(c->currency), "%s", it->product.currency);
        c->price = it->product.price_amount;
        c->available = c->known ? rec_available_in(op->q.channel, op->q.location, snap->rules,
                                                   it->levels, snap->nrules, it->safety)
                                : -1;
        c->in_basket = in_basket(&op->q, c->sku);
        c->bought = is_bought(op->model, c->sku);
    }
    rec_select(op->check, op->ncheck, &primary, &op->policy);
    body = answer_new(op, 1, op->resv_holds ? "reserved" : "available", NULL);
    items = json_object_get(body, "items");
    audit = json_array();
    for (size_t i = 0; i < op->ncheck; i++) {
        if (op->check[i].reject != REC_KEEP)
            continue;
        json_array_append_new(items, item_json(op, &op->check[i], &snap->items[i].product));
        json_array_append_new(audit, json_pack("{s:s, s:f, s:I}", "sku", op->check[i].sku, "score",
                                               op->check[i].score, "together",
                                               (json_int_t)op->check[i].together));
    }
    if (json_array_size(items) > 0) {
        audit_text = json_dumps(audit, JSON_COMPACT | JSON_REAL_PRECISION(10));
        if (audit_text != NULL)
            rec_audit(store_of(op->r), &op->q, audit_text);
        op->audit_text = audit_text; /* kept with the answer */
    }
    json_decref(audit);
    stock_snapshot_free(snap);
    answer(op, body, json_array_size(items) > 0 ? "items" : "none");
}

/* The primary is resolved: score, keep the strong candidates, read their facts. */
static void suggest(struct rec_op *op)
{
    struct rec_model *m = op->model;
    size_t strong = rec_score(m->cands, m->ncands, m->primary_orders, m->total, &op->policy);

    op->ncheck = strong < CHECK_MAX ? strong : CHECK_MAX;
    if (op->ncheck == 0) {
        answer(op, answer_new(op, 1, op->resv_holds ? "reserved" : "available", NULL), "none");
        return;
    }
    op->check = calloc(op->ncheck, sizeof(*op->check));
    op->check_skus = calloc(op->ncheck, sizeof(*op->check_skus));
    if (op->check == NULL || op->check_skus == NULL) {
        request_reply_problem(op->r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    memcpy(op->check, m->cands, op->ncheck * sizeof(*op->check));
    for (size_t i = 0; i < op->ncheck; i++)
        memcpy(op->check_skus[i], op->check[i].sku, PROTO_ID_SIZE);
    if (stock_read_products(&store_of(op->r)->stock, (const char(*)[PROTO_ID_SIZE])op->check_skus,
                            op->ncheck, candidates_read, op) != 0)
        request_reply_unavailable(op->r);
}

static int has_rule(const struct stock_snapshot *s, const char *id)
{
    for (size_t i = 0; i < s->nrules; i++) {
        if (strcmp(s->rules[i].id, id) == 0)
            return 1;
    }
    return 0;
}

static const char *pref(const struct rec_model *m, const char *name)
{
    return json_string_value(json_object_get(m->prefs, name));
}

/* Everything of the first round is in: the primary need first. */
static void first_round_done(struct rec_op *op)
{
    const struct stock_item *it;
    const char *opt;
    long long available;
    int resolved;

    if (op->err != NULL) {
        request_reply_unavailable(op->r);
        return;
    }
    it = &op->primary->items[0];
    if (it->product.sku[0] == '\0') {
        request_reply_problem(op->r, PROBLEM_NOT_FOUND, NULL, NULL, "no product %s", op->q.sku);
        return;
    }
    if (op->q.location[0] && !has_rule(op->primary, op->q.location)) {
        request_reply_problem(op->r, PROBLEM_UNKNOWN_REFERENCE, "location", NULL, "no location %s",
                              op->q.location);
        return;
    }
    if (op->q.reservation[0] && !op->resv_found) {
        request_reply_problem(op->r, PROBLEM_UNKNOWN_REFERENCE, "reservation", NULL,
                              "no reservation %s", op->q.reservation);
        return;
    }
    available = rec_available_in(op->q.channel, op->q.location, op->primary->rules, it->levels,
                                 op->primary->nrules, it->safety);
    resolved = op->resv_holds || available > 0;
    if (!resolved) {
        struct rec_where where[ALT_MAX];
        size_t n = rec_alternatives(op->q.channel, op->q.location, op->primary->rules, it->levels,
                                    op->primary->nrules, it->safety, where, ALT_MAX);
        json_t *alts = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(alts, where_json(&where[i]));
        answer(op, answer_new(op, 0, NULL, alts), "unresolved");
        return;
    }
    opt = pref(op->model, "recommendations");
    if (opt != NULL && strcmp(opt, "off") == 0) {
        json_t *body = answer_new(op, 1, op->resv_holds ? "reserved" : "available", NULL);
        json_object_set_new(body, "suppressed", json_string("customer_opt_out"));
        answer(op, body, "opted_out");
        return;
    }
    if (op->model->dismissed >= 2) {
        json_t *body = answer_new(op, 1, op->resv_holds ? "reserved" : "available", NULL);
        json_object_set_new(body, "suppressed", json_string("dismissed_today"));
        answer(op, body, "dismissed_today");
        return;
    }
    suggest(op);
}

static void first_part_done(struct rec_op *op, const char *err)
{
    if (err != NULL && op->err == NULL)
        op->err = err;
    if (--op->pending == 0)
        first_round_done(op);
}

static void model_read(struct rec_model *m, const char *err, void *arg)
{
    struct rec_op *op = arg;

    op->model = m;
    first_part_done(op, err);
}

static void primary_read(struct stock_snapshot *snap, const char *err, void *arg)
{
    struct rec_op *op = arg;

    op->primary = snap;
    first_part_done(op, err);
}

static void resv_read(int found, int holds, const char *err, void *arg)
{
    struct rec_op *op = arg;

    op->resv_found = found;
    op->resv_holds = holds;
    first_part_done(op, err);
}

static void recommendations_get(struct request *r)
{
    const struct config *cfg = request_config(r);
    struct rec_op *op = calloc(1, sizeof(*op));
    struct rec_store *rs = store_of(r);
    struct proto_error err;

    if (op == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    if (rec_query_parse(&r->query, &op->q, &err) != 0) {
        free(op);
        request_reply_error(r, &err);
        return;
    }
    op->r = r;
    r->state = op;
    r->state_free = rec_op_free;
    op->policy.max_items = cfg->max_items;
    op->policy.max_price_ratio = cfg->max_price_ratio;
    op->policy.min_co_orders = cfg->min_co_orders;
    op->policy.min_llr = cfg->min_llr;
    op->policy.sensitive = (const char(*)[PROTO_ID_SIZE])cfg->sensitive_categories;
    op->policy.nsensitive = cfg->nsensitive;
    today(op->day);
    if (answer_keepable(op)) {
        if (answer_reused(op))
            return;
        if (answer_tickets(op) != 0) {
            request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
            return;
        }
    }
    /* Three reads at once; one extra count while sending, so none finishes early. */
    op->pending = 1;
    if (rec_model_read(rs, &op->q, op->day, model_read, op) == 0)
        op->pending++;
    else
        op->err = "redis unavailable";
    if (stock_read_products(&rs->stock, (const char(*)[PROTO_ID_SIZE])op->q.sku, 1, primary_read,
                            op) == 0)
        op->pending++;
    else
        op->err = "redis unavailable";
    if (op->q.reservation[0]) {
        if (rec_resv_holds(rs, op->q.reservation, op->q.sku, resv_read, op) == 0)
            op->pending++;
        else
            op->err = "redis unavailable";
    }
    first_part_done(op, NULL);
}

/* ---- feedback and stats ---- */

struct feedback_op {
    struct request *r;
    struct rec_feedback fb;
};

static void feedback_counted(json_t *totals, const char *err, void *arg)
{
    struct feedback_op *op = arg;
    struct request *r = op->r;

    if (err != NULL) {
        request_reply_unavailable(r);
        return;
    }
    json_decref(totals);
    count(r, "omnistock_recommendation_feedback_total",
          "Recommendation feedback: shown, accepted, dismissed.", "event",
          rec_feedback_name(op->fb.event));
    request_reply_json(r, 202,
                       json_pack("{s:s, s:s, s:s}", "event", rec_feedback_name(op->fb.event),
                                 "primary", op->fb.primary, "sku", op->fb.sku));
}

static void feedback_post(struct request *r)
{
    struct feedback_op *op = calloc(1, sizeof(*op));
    struct proto_error err;
    char day[9];

    if (op == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    r->state = op;
    r->state_free = free;
    if (rec_feedback_parse(r->body, &op->fb, &err) != 0) {
        request_reply_error(r, &err);
        return;
    }
    op->r = r;
    today(day);
    if (rec_feedback_put(store_of(r), &op->fb, day, feedback_counted, op) != 0)
        request_reply_unavailable(r);
}

static void stats_got(json_t *stats, const char *err, void *arg)
{
    if (err != NULL)
        request_reply_unavailable(arg);
    else
        request_reply_json(arg, 200, stats);
}

static void stats_get(struct request *r)
{
    if (rec_stats_get(store_of(r), stats_got, r) != 0)
        request_reply_unavailable(r);
}

/* ---- customers ---- */

/* The preferences as the API shows them: defaults filled; a storefront key sees the flags only. */
static json_t *prefs_json(const struct request *r, json_t *flat)
{
    const char *rec = json_string_value(json_object_get(flat, "recommendations"));
    const char *consent = json_string_value(json_object_get(flat, "personalisation_consent"));
    json_t *out =
        json_pack("{s:s, s:s, s:b}", "customer", r->params[0], "recommendations", rec ? rec : "on",
                  "personalisation_consent", consent != NULL && strcmp(consent, "true") == 0);
    static const char *const more[] = {"preferred_store", "preferred_channel", "notes"};

    if (r->key->role != ROLE_STOREFRONT) {
        for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
            json_t *v = json_object_get(flat, more[i]);
            json_object_set(out, more[i], v ? v : json_null());
        }
    }
    return out;
}

static void prefs_done(json_t *flat, const char *err, void *arg)
{
    struct request *r = arg;

    if (err != NULL) {
        request_reply_unavailable(r);
        return;
    }
    request_reply_json(r, 200, prefs_json(r, flat));
    json_decref(flat);
}

static void prefs_get(struct request *r)
{
    if (path_customer(r) != 0)
        return;
    if (rec_prefs_get(store_of(r), r->params[0], prefs_done, r) != 0)
        request_reply_unavailable(r);
}

struct prefs_op {
    struct request *r;
    struct preferences p;
};

static void prefs_write(struct prefs_op *op)
{
    if (rec_prefs_put(store_of(op->r), op->r->params[0], &op->p, prefs_done, op->r) != 0)
        request_reply_unavailable(op->r);
}

static void store_checked(redisReply *reply, const char *err, void *arg)
{
    struct prefs_op *op = arg;

    json_t *loc;
    int store;

    if (err != NULL || (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_NIL)) {
        request_reply_unavailable(op->r);
        return;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        request_reply_problem(op->r, PROBLEM_UNKNOWN_REFERENCE, "preferred_store", NULL,
                              "no location %s", op->p.preferred_store);
        return;
    }
    loc = json_loadb(reply->str, reply->len, 0, NULL);
    store = json_is_string(json_object_get(loc, "type")) &&
            strcmp(json_string_value(json_object_get(loc, "type")), "store") == 0;
    json_decref(loc);
    if (!store) {
        request_reply_problem(op->r, PROBLEM_UNKNOWN_REFERENCE, "preferred_store", NULL,
                              "%s is not a store", op->p.preferred_store);
        return;
    }
    prefs_write(op);
}

static void prefs_put(struct request *r)
{
    struct prefs_op *op = calloc(1, sizeof(*op));
    struct proto_error err;

    if (op == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    r->state = op;
    r->state_free = free;
    op->r = r;
    if (path_customer(r) != 0)
        return;
    if (preferences_parse(r->body, &op->p, &err) != 0) {
        request_reply_error(r, &err);
        return;
    }
    if (r->key->role == ROLE_STOREFRONT &&
        ((op->p.set | op->p.clear) & ~(unsigned)(PREF_RECOMMENDATIONS | PREF_CONSENT))) {
        request_reply_problem(r, PROBLEM_FORBIDDEN, NULL, NULL,
                              "a storefront key may set only recommendations and "
                              "personalisation_consent");
        return;
    }
    if (op->p.set & PREF_STORE) {
        const char *argv[] = {"HGET", "locations", op->p.preferred_store};
        if (rclient_command(request_redis(r), store_checked, op, 3, argv, NULL) != 0)
            request_reply_unavailable(r);
        return;
    }
    prefs_write(op);
}

static void erased(json_t *counts, const char *err, void *arg)
{
    struct request *r = arg;

    json_decref(counts);
    if (err != NULL)
        request_reply_unavailable(r);
    else
        request_reply_empty(r, 204);
}

static void customer_delete(struct request *r)
{
    if (path_customer(r) != 0)
        return;
    if (rec_erase(store_of(r), r->params[0], erased, r) != 0)
        request_reply_unavailable(r);
}

const struct route rec_routes[] = {
    {EVHTTP_REQ_POST, "/v1/orders", "orders_import", ROLE_ADMIN, ROUTE_JSON_BODY | ROUTE_IDEMPOTENT,
     orders_post},
    {EVHTTP_REQ_GET, "/v1/recommendations", "recommendations",
     ROLE_STOREFRONT | ROLE_AGENT | ROLE_ADMIN, 0, recommendations_get},
    {EVHTTP_REQ_POST, "/v1/recommendations/feedback", "recommendation_feedback",
     ROLE_STOREFRONT | ROLE_ADMIN, ROUTE_JSON_BODY | ROUTE_IDEMPOTENT, feedback_post},
    {EVHTTP_REQ_GET, "/v1/recommendations/stats", "recommendation_stats",
     ROLE_STOREFRONT | ROLE_AGENT | ROLE_ADMIN, 0, stats_get},
    {EVHTTP_REQ_GET, "/v1/customers/{}/preferences", "preferences_get", ROLE_AGENT | ROLE_ADMIN, 0,
     prefs_get},
    {EVHTTP_REQ_PUT, "/v1/customers/{}/preferences", "preferences_put",
     ROLE_STOREFRONT | ROLE_AGENT | ROLE_ADMIN, ROUTE_JSON_BODY, prefs_put},
    {EVHTTP_REQ_DELETE, "/v1/customers/{}", "customer_erase", ROLE_AGENT | ROLE_ADMIN, 0,
     customer_delete},
};

const size_t rec_nroutes = sizeof(rec_routes) / sizeof(rec_routes[0]);
