/*
 * stock_http.c - the inventory's HTTP handlers: parse, validate, call the
 * store, reply. The formulas live in stock_logic.c, Redis in stock_store.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <hiredis/hiredis.h>

#include "common/config.h"
#include "common/http.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/redis.h"
#include "proto/catalog.h"
#include "proto/movement.h"
#include "services/inventory/inventory_internal.h"
#include "services/inventory/stock_logic.h"
#include "services/inventory/stock_store.h"

#define HISTORY_DEFAULT 50
#define HISTORY_MAX     1000

static struct stock_store *store_of(struct request *r)
{
    return &((struct inventory *)r->ctx)->store;
}

int inventory_path_id(struct request *r, int i, const char *field)
{
    if (proto_id_valid(r->params[i]))
        return 0;
    request_reply_problem(r, PROBLEM_INVALID_IDENTIFIER, field, NULL,
                          "%s must be 1 to 64 characters of A-Z a-z 0-9 . _ -", field);
    return -1;
}

/* ---- locations ---- */

struct location_op {
    struct request *r;
    struct location loc;
};

static void location_written(long long created, const char *err, void *arg)
{
    struct location_op *op = arg;

    if (err != NULL)
        request_reply_unavailable(op->r);
    else
        request_reply_json(op->r, created == 1 ? 201 : 200, location_to_json(&op->loc));
    free(op);
}

static void location_put(struct request *r)
{
    struct location_op *op = calloc(1, sizeof(*op));
    struct proto_error err;

    if (op == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    op->r = r;
    if (location_parse(r->body, r->params[0], &op->loc, &err) != 0) {
        free(op);
        request_reply_error(r, &err);
        return;
    }
    if (stock_location_put(store_of(r), &op->loc, location_written, op) != 0) {
        free(op);
        request_reply_unavailable(r);
    }
}

static void location_got(redisReply *reply, const char *err, void *arg)
{
    struct request *r = arg;
    json_t *loc;

    if (err != NULL || (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_NIL)) {
        request_reply_unavailable(r);
        return;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        request_reply_problem(r, PROBLEM_NOT_FOUND, NULL, NULL, "no location %s", r->params[0]);
        return;
    }
    loc = json_loadb(reply->str, reply->len, 0, NULL);
    if (loc == NULL)
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "stored location is not JSON");
    else
        request_reply_json(r, 200, loc);
}

static void location_get(struct request *r)
{
    const char *argv[] = {"HGET", "locations", r->params[0]};

    if (inventory_path_id(r, 0, "id") != 0)
        return;
    if (rclient_command(request_redis(r), location_got, r, 3, argv, NULL) != 0)
        request_reply_unavailable(r);
}

static int by_id(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;

    return strcmp(json_string_value(json_object_get(x, "id")),
                  json_string_value(json_object_get(y, "id")));
}

static void locations_listed(redisReply *reply, const char *err, void *arg)
{
    struct request *r = arg;
    json_t **items, *list;
    size_t n = 0;

    if (err != NULL || reply->type != REDIS_REPLY_ARRAY) {
        request_reply_unavailable(r);
        return;
    }
    items = calloc(reply->elements / 2 + 1, sizeof(*items));
    if (items == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    for (size_t i = 1; i < reply->elements; i += 2) {
        json_t *loc = json_loadb(reply->element[i]->str, reply->element[i]->len, 0, NULL);
        if (json_is_string(json_object_get(loc, "id")))
            items[n++] = loc;
        else
            json_decref(loc);
    }
    qsort(items, n, sizeof(*items), by_id);
    list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, items[i]);
    free(items);
    request_reply_json(r, 200, json_pack("{s:o}", "locations", list));
}

static void location_list(struct request *r)
{
    const char *argv[] = {"HGETALL", "locations"};

    if (rclient_command(request_redis(r), locations_listed, r, 2, argv, NULL) != 0)
        request_reply_unavailable(r);
}

/* ---- products ---- */

struct product_op {
    struct request *r;
    struct product p;
};

static void product_written(long long created, const char *err, void *arg)
{
    struct product_op *op = arg;

    if (err != NULL)
        request_reply_unavailable(op->r);
    else
        request_reply_json(op->r, created == 1 ? 201 : 200, product_to_json(&op->p));
    free(op);
}

static void product_put(struct request *r)
{
    struct product_op *op = calloc(1, sizeof(*op));
    struct proto_error err;

    if (op == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    op->r = r;
    if (product_parse(r->body, r->params[0], &op->p, &err) != 0) {
        free(op);
        request_reply_error(r, &err);
        return;
    }
    if (stock_product_put(store_of(r), &op->p, product_written, op) != 0) {
        free(op);
        request_reply_unavailable(r);
    }
}

static void product_got(redisReply *reply, const char *err, void *arg)
{
    struct request *r = arg;
    struct product p;

    if (err != NULL || reply->type != REDIS_REPLY_ARRAY) {
        request_reply_unavailable(r);
        return;
    }
    if (reply->elements == 0) {
        request_reply_problem(r, PROBLEM_NOT_FOUND, NULL, NULL, "no product %s", r->params[0]);
        return;
    }
    memset(&p, 0, sizeof(p));
    snprintf(p.sku, sizeof(p.sku), "%s", r->params[0]);
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const char *k = reply->element[i]->str, *v = reply->element[i + 1]->str;
        if (strcmp(k, "name") == 0)
            snprintf(p.name, sizeof(p.name), "%s", v);
        else if (strcmp(k, "category") == 0)
            snprintf(p.category, sizeof(p.category), "%s", v);
        else if (strcmp(k, "amount") == 0)
            p.price_amount = strtoll(v, NULL, 10);
        else if (strcmp(k, "currency") == 0)
            snprintf(p.currency, sizeof(p.currency), "%s", v);
        else if (strcmp(k, "safety_stock") == 0)
            p.safety_stock = strtoll(v, NULL, 10);
    }
    request_reply_json(r, 200, product_to_json(&p));
}

static void product_get(struct request *r)
{
    char key[128];
    const char *argv[] = {"HGETALL", key};

    if (inventory_path_id(r, 0, "sku") != 0)
        return;
    stock_key(store_of(r), "prod", r->params[0], key, sizeof(key));
    if (rclient_command(request_redis(r), product_got, r, 2, argv, NULL) != 0)
        request_reply_unavailable(r);
}

/* ---- stock ---- */

/*
 * The stock answer is the hottest one: it is written straight into the
 * reply (common/jsonw.h), not built as a tree of JSON values.
 */
static void explain_entry(struct jsonw *w, const struct loc_rule *rule, const struct level *lv,
                          long long safety, long long buffer, long long figure)
{
    jw_object(w);
    jw_name(w, "location");
    jw_string_plain(w, rule->id, rule->idlen);
    jw_name(w, "on_hand");
    jw_int(w, lv->on_hand);
    jw_name(w, "reserved");
    jw_int(w, lv->reserved);
    jw_name(w, "safety_stock");
    jw_int(w, safety);
    jw_name(w, "store_buffer");
    jw_int(w, buffer);
    jw_name(w, "available");
    jw_int(w, figure);
    jw_object_end(w);
}

static void web_json(struct jsonw *w, const struct stock_snapshot *s, const struct stock_item *it,
                     int explain)
{
    jw_object(w);
    jw_name(w, "available");
    jw_int(w, stock_channel_total(CHANNEL_WEB, s->rules, it->levels, s->nrules, it->safety));
    if (explain) {
        jw_name(w, "explain");
        jw_array(w);
        for (size_t k = 0; k < s->nrules; k++) {
            const struct loc_rule *rule = &s->rules[k];
            long long v = stock_channel_at(CHANNEL_WEB, rule, &it->levels[k], it->safety);
            if (v >= 0)
                explain_entry(w, rule, &it->levels[k], it->safety, rule->buffer, v);
        }
        jw_array_end(w);
        jw_name(w, "excluded");
        jw_array(w);
        for (size_t k = 0; k < s->nrules; k++) {
            const struct loc_rule *rule = &s->rules[k];
            if (stock_channel_at(CHANNEL_WEB, rule, &it->levels[k], it->safety) >= 0)
                continue;
            jw_object(w);
            jw_name(w, "location");
            jw_string_plain(w, rule->id, rule->idlen);
            jw_name(w, "reason");
            jw_string(w, "does not fulfil web");
            jw_object_end(w);
        }
        jw_array_end(w);
    }
    jw_object_end(w);
}

/* {"<store>": {"available": n}} for the stores that fulfil @channel. */
static void per_store_json(struct jsonw *w, enum channel channel, const struct stock_snapshot *s,
                           const struct stock_item *it, int explain)
{
    jw_object(w);
    for (size_t k = 0; k < s->nrules; k++) {
        const struct loc_rule *rule = &s->rules[k];
        long long v = stock_channel_at(channel, rule, &it->levels[k], it->safety);
        if (v < 0)
            continue;
        jw_key_plain(w, rule->id, rule->idlen);
        jw_object(w);
        jw_name(w, "available");
        jw_int(w, v);
        if (explain) {
            jw_name(w, "explain");
            jw_array(w);
            /* Walk-in customers may buy the safety stock and the buffer: no deductions. */
            if (channel == CHANNEL_STORE)
                explain_entry(w, rule, &it->levels[k], 0, 0, v);
            else
                explain_entry(w, rule, &it->levels[k], it->safety, rule->buffer, v);
            jw_array_end(w);
        }
        jw_object_end(w);
    }
    jw_object_end(w);
}

static void stock_json(struct jsonw *w, const struct stock_snapshot *s, size_t i, const char *sku,
                       int explain)
{
    const struct stock_item *it = &s->items[i];

    jw_object(w);
    jw_name(w, "sku");
    jw_string(w, sku);
    jw_name(w, "version");
    jw_int(w, it->version);
    jw_name(w, "locations");
    jw_array(w);
    for (size_t k = 0; k < s->nrules; k++) {
        const struct level *lv = &it->levels[k];
        jw_object(w);
        jw_name(w, "location");
        jw_string_plain(w, s->rules[k].id, s->rules[k].idlen);
        jw_name(w, "on_hand");
        jw_int(w, lv->on_hand);
        jw_name(w, "reserved");
        jw_int(w, lv->reserved);
        jw_name(w, "safety_stock");
        jw_int(w, it->safety);
        jw_name(w, "available");
        jw_int(w, stock_available(lv, it->safety));
        jw_object_end(w);
    }
    jw_array_end(w);
    jw_name(w, "channels");
    jw_object(w);
    jw_name(w, "web");
    web_json(w, s, it, explain);
    jw_name(w, "store");
    per_store_json(w, CHANNEL_STORE, s, it, explain);
    jw_name(w, "click_collect");
    per_store_json(w, CHANNEL_CLICK_COLLECT, s, it, explain);
    jw_object_end(w);
    jw_object_end(w);
}

static void reply_written(struct request *r, const struct stock_snapshot *snap, const char *sku,
                          int explain)
{
    struct evbuffer *buf = evbuffer_new();
    struct jsonw w;

    if (buf == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    jw_init(&w, buf);
    stock_json(&w, snap, 0, sku, explain);
    if (jw_done(&w) != 0) {
        evbuffer_free(buf);
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    if (!explain) {
        const unsigned char *text = evbuffer_pullup(buf, -1);
        if (text != NULL)
            stock_answer_keep(store_of(r), snap, 0, sku, (const char *)text,
                              evbuffer_get_length(buf));
    }
    request_reply_raw(r, 200, "application/json", buf);
}

struct stock_get_op {
    struct request *r;
    int explain;
    char sku[1][PROTO_ID_SIZE];
};

static void stock_got(struct stock_snapshot *snap, const char *err, void *arg)
{
    struct stock_get_op *op = arg;
    const char *kept;
    size_t len;

    if (err != NULL)
        request_reply_unavailable(op->r);
    else if (!snap->items[0].known)
        request_reply_problem(op->r, PROBLEM_NOT_FOUND, NULL, NULL, "no product %s", op->sku[0]);
    else if (!op->explain && (kept = stock_answer_get(store_of(op->r), op->sku[0], &len)) != NULL)
        request_reply_stored(op->r, 200, kept, len, 0); /* the rules read again, the same */
    else
        reply_written(op->r, snap, op->sku[0], op->explain);
    stock_snapshot_free(snap);
    free(op);
}

/* The answer kept with a copy past its age, if the SKU's version said it still holds. */
static void stock_renewed(const char *answer, size_t len, void *arg)
{
    struct stock_get_op *op = arg;

    if (answer != NULL) {
        request_reply_stored(op->r, 200, answer, len, 0);
        free(op);
    } else if (stock_read(store_of(op->r), (const char(*)[PROTO_ID_SIZE])op->sku, 1, stock_got,
                          op) != 0) {
        request_reply_unavailable(op->r);
        free(op);
    }
}

static void stock_get(struct request *r)
{
    const char *explain = request_query(r, "explain");
    struct stock_get_op *op;
    struct proto_error err;
    const char *kept;
    size_t len;
    int ex = 0;

    if (inventory_path_id(r, 0, "sku") != 0)
        return;
    if (explain != NULL && proto_parse_bool(explain, "explain", &ex, &err) != 0) {
        request_reply_error(r, &err);
        return;
    }
    if (!ex && (kept = stock_answer_get(store_of(r), r->params[0], &len)) != NULL) {
        request_reply_stored(r, 200, kept, len, 0);
        return;
    }
    op = calloc(1, sizeof(*op));
    if (op == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    op->r = r;
    op->explain = ex;
    strcpy(op->sku[0], r->params[0]);
    if (!ex && stock_answer_renew(store_of(r), op->sku[0], stock_renewed, op) == 0)
        return;
    if (stock_read(store_of(r), (const char(*)[PROTO_ID_SIZE])op->sku, 1, stock_got, op) != 0) {
        free(op);
        request_reply_unavailable(r);
    }
}

struct query_op {
    struct request *r;
    struct stock_query q;
};

static const struct loc_rule *find_rule(const struct stock_snapshot *s, const char *id)
{
    for (size_t k = 0; k < s->nrules; k++) {
        if (strcmp(s->rules[k].id, id) == 0)
            return &s->rules[k];
    }
    return NULL;
}

static void query_done(struct stock_snapshot *snap, const char *err, void *arg)
{
    struct query_op *op = arg;
    const struct loc_rule *at = NULL;
    struct evbuffer *buf;
    struct jsonw w;

    if (err != NULL) {
        request_reply_unavailable(op->r);
        goto out;
    }
    if (op->q.location[0] && (at = find_rule(snap, op->q.location)) == NULL) {
        request_reply_problem(op->r, PROBLEM_UNKNOWN_REFERENCE, "location", NULL, "no location %s",
                              op->q.location);
        goto out;
    }
    if ((buf = evbuffer_new()) == NULL) {
        request_reply_problem(op->r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        goto out;
    }
    jw_init(&w, buf);
    jw_object(&w);
    jw_name(&w, "items");
    jw_array(&w);
    for (size_t i = 0; i < op->q.n; i++) {
        const struct stock_item *it = &snap->items[i];
        long long v = 0;
        if (it->known && at != NULL)
            v = stock_channel_at(op->q.channel, at, &it->levels[at - snap->rules], it->safety);
        else if (it->known)
            v = stock_channel_total(op->q.channel, snap->rules, it->levels, snap->nrules,
                                    it->safety);
        jw_object(&w);
        jw_name(&w, "sku");
        jw_string(&w, op->q.skus[i]);
        jw_name(&w, "available");
        jw_int(&w, v < 0 ? 0 : v);
        jw_name(&w, "known");
        jw_bool(&w, it->known);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_object_end(&w);
    if (jw_done(&w) != 0) {
        evbuffer_free(buf);
        request_reply_problem(op->r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        goto out;
    }
    request_reply_raw(op->r, 200, "application/json", buf);
out:
    stock_snapshot_free(snap);
    stock_query_release(&op->q);
    free(op);
}

static void stock_query(struct request *r)
{
    struct query_op *op = calloc(1, sizeof(*op));
    struct proto_error err;

    if (op == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    op->r = r;
    if (stock_query_parse(r->body, &op->q, &err) != 0) {
        free(op);
        request_reply_error(r, &err);
        return;
    }
    if (stock_read(store_of(r), (const char(*)[PROTO_ID_SIZE])op->q.skus, op->q.n, query_done,
                   op) != 0) {
        stock_query_release(&op->q);
        free(op);
        request_reply_unavailable(r);
    }
}

/* ---- history ---- */

struct history_op {
    struct request *r;
    int known;
    long long limit;
    const char *location;
};

static void history_known(redisReply *reply, const char *err, void *arg)
{
    struct history_op *op = arg;

    op->known = err == NULL && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
}

static void history_got(redisReply *reply, const char *err, void *arg)
{
    struct history_op *op = arg;
    json_t *events;

    if (err != NULL || reply->type != REDIS_REPLY_ARRAY) {
        request_reply_unavailable(op->r);
    } else if (!op->known) {
        request_reply_problem(op->r, PROBLEM_NOT_FOUND, NULL, NULL, "no product %s",
                              op->r->params[0]);
    } else {
        events = json_array();
        for (size_t i = 0; i < reply->elements && (long long)json_array_size(events) < op->limit;
             i++) {
            json_t *ev = json_loadb(reply->element[i]->str, reply->element[i]->len, 0, NULL);
            const char *loc = json_string_value(json_object_get(ev, "location"));
            if (ev != NULL && (op->location == NULL || (loc && strcmp(loc, op->location) == 0)))
                json_array_append_new(events, ev);
            else
                json_decref(ev);
        }
        request_reply_json(op->r, 200, json_pack("{s:o}", "events", events));
    }
    free(op);
}

static void stock_history(struct request *r)
{
    const char *limit = request_query(r, "limit"), *loc = request_query(r, "location");
    char sku_key[128], hist_key[128];
    const char *exists[] = {"EXISTS", sku_key};
    const char *range[] = {"LRANGE", hist_key, "0", "-1"};
    struct history_op *op;
    struct proto_error err;
    long long n = HISTORY_DEFAULT;

    if (inventory_path_id(r, 0, "sku") != 0)
        return;
    if (limit != NULL && proto_parse_uint(limit, "limit", 1, HISTORY_MAX, &n, &err) != 0) {
        request_reply_error(r, &err);
        return;
    }
    if (loc != NULL && !proto_id_valid(loc)) {
        request_reply_problem(r, PROBLEM_INVALID_QUERY, "location", NULL,
                              "location must be a location identifier");
        return;
    }
    op = calloc(1, sizeof(*op));
    if (op == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    op->r = r;
    op->limit = n;
    op->location = loc;
    stock_key(store_of(r), "sku", r->params[0], sku_key, sizeof(sku_key));
    stock_key(store_of(r), "hist", r->params[0], hist_key, sizeof(hist_key));
    /* Pipelined: the replies come in order, so the second sees the first's answer. */
    if (rclient_command(request_redis(r), history_known, op, 2, exists, NULL) != 0) {
        free(op);
        request_reply_unavailable(r);
        return;
    }
    if (rclient_command(request_redis(r), history_got, op, 4, range, NULL) != 0) {
        /* The EXISTS callback still comes; it only sets a flag in op, which we keep. */
        log_warn("event=history_pipeline_broken");
        request_reply_unavailable(r);
    }
}

/* ---- movements ---- */

/* The script's answer as the API shows it: a body without "status", or problem details. */
static json_t *answer_json(const char *json, size_t len, int *status)
{
    json_t *a = json_loadb(json, len, 0, NULL), *out;
    const char *slug;

    *status = (int)json_integer_value(json_object_get(a, "status"));
    if (a == NULL || *status == 0) {
        json_decref(a);
        *status = 500;
        return http_problem_new(PROBLEM_INTERNAL, NULL, "unreadable answer from the store");
    }
    slug = json_string_value(json_object_get(a, "problem"));
    if (slug == NULL) {
        /* Lua tables have no order; answer in the contract's. */
        static const char *const order[] = {"event_id", "sku",       "location", "on_hand",
                                            "reserved", "available", "version",  "to"};
        out = json_object();
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
            json_t *v = json_object_get(a, order[i]);
            if (v != NULL)
                json_object_set(out, order[i], v);
        }
        json_decref(a);
        return out;
    }
    out = http_problem_new(problem_from_slug(slug), json_string_value(json_object_get(a, "field")),
                           json_string_value(json_object_get(a, "detail")));
    json_object_del(a, "problem");
    json_object_del(a, "field");
    json_object_del(a, "detail");
    json_object_del(a, "status");
    json_object_update(out, a);
    json_decref(a);
    return out;
}

static void single_moved(const char *json, size_t len, int replayed, const char *err, void *arg)
{
    struct request *r = arg;
    json_t *body;
    int status;

    if (err != NULL) {
        request_reply_unavailable(r);
        return;
    }
    body = answer_json(json, len, &status);
    if (status >= 400) {
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        request_reply_stored(r, status, text, strlen(text), replayed);
        free(text);
        return;
    }
    r->replayed = replayed;
    request_reply_json(r, status, body);
}

struct batch_op {
    struct request *r;
    struct movement_batch b;
    json_t *results;
    size_t pending;
    int failed;
};

struct batch_slot {
    struct batch_op *op;
    size_t i;
};

static void batch_free(void *state)
{
    struct batch_op *op = state;

    json_decref(op->results);
    movement_batch_release(&op->b);
    free(op);
}

/* Replying frees the request, and with it op (batch_free). */
static void batch_finish(struct batch_op *op)
{
    if (op->failed) {
        request_reply_unavailable(op->r);
        return;
    }
    request_reply_json(op->r, 200, json_pack("{s:O}", "results", op->results));
}

static void batch_moved(const char *json, size_t len, int replayed, const char *err, void *arg)
{
    struct batch_slot *slot = arg;
    struct batch_op *op = slot->op;
    int status;

    (void)replayed;
    if (err != NULL) {
        op->failed = 1;
    } else {
        json_t *res = answer_json(json, len, &status);
        const char *field = json_string_value(json_object_get(res, "field"));
        if (status < 400)
            json_object_set_new(res, "status", json_integer(status));
        if (field != NULL && strcmp(field, "Idempotency-Key") != 0) {
            char prefixed[96];
            snprintf(prefixed, sizeof(prefixed), "movements[%zu].%s", slot->i, field);
            json_object_set_new(res, "field", json_string(prefixed));
        }
        json_array_set_new(op->results, slot->i, res);
    }
    free(slot);
    if (--op->pending == 0)
        batch_finish(op);
}

static int batch_send(struct batch_op *op, size_t i)
{
    struct request *r = op->r;
    const struct movement *m = &op->b.items[i].m;
    struct batch_slot *slot = malloc(sizeof(*slot));
    char scope[96] = "";

    if (slot == NULL)
        return -1;
    slot->op = op;
    slot->i = i;
    if (r->has_idem)
        snprintf(scope, sizeof(scope), "%s#%zu", r->idem_scope, i);
    if (stock_move(store_of(r), m, scope, r->fingerprint, batch_moved, slot) != 0) {
        free(slot);
        return -1;
    }
    return 0;
}

static void batch_run(struct request *r)
{
    struct batch_op *op = r->state;

    op->pending = 1; /* held while sending */
    for (size_t i = 0; i < op->b.n; i++) {
        struct movement_item *it = &op->b.items[i];
        json_t *res = NULL;
        if (!it->ok)
            res = http_problem_new(it->err.code, it->err.field, it->err.detail);
        else if (!request_may_location(r, it->m.location)) {
            char field[48];
            snprintf(field, sizeof(field), "movements[%zu].location", i);
            res = http_problem_new(PROBLEM_FORBIDDEN, field,
                                   "this key may move stock at its own location only");
        }
        if (res != NULL)
            json_array_set_new(op->results, i, res);
        else if (batch_send(op, i) != 0)
            op->failed = 1;
        else
            op->pending++;
    }
    if (--op->pending == 0)
        batch_finish(op);
}

static void movements(struct request *r)
{
    struct batch_op *op = calloc(1, sizeof(*op));
    struct proto_error err;

    if (op == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    if (movement_batch_parse(r->body, &op->b, &err) != 0) {
        free(op);
        request_reply_error(r, &err);
        return;
    }
    op->r = r;
    if (!op->b.is_batch) {
        const struct movement *m = &op->b.items[0].m;
        int rc;
        if (!request_may_location(r, m->location)) {
            movement_batch_release(&op->b);
            free(op);
            request_reply_problem(r, PROBLEM_FORBIDDEN, "location", NULL,
                                  "this key may move stock at its own location only");
            return;
        }
        rc = stock_move(store_of(r), m, r->has_idem ? r->idem_scope : "", r->fingerprint,
                        single_moved, r);
        movement_batch_release(&op->b);
        free(op);
        if (rc != 0)
            request_reply_unavailable(r);
        return;
    }
    op->results = json_array();
    for (size_t i = 0; i < op->b.n; i++)
        json_array_append_new(op->results, json_null());
    r->state = op;
    r->state_free = batch_free;
    request_idempotent(r, batch_run);
}

const struct route stock_routes[] = {
    {EVHTTP_REQ_GET, "/v1/locations", "locations_list", ROLE_STOREFRONT | ROLE_AGENT | ROLE_ADMIN,
     0, location_list},
    {EVHTTP_REQ_GET, "/v1/locations/{}", "location_get", ROLE_STOREFRONT | ROLE_AGENT | ROLE_ADMIN,
     0, location_get},
    {EVHTTP_REQ_PUT, "/v1/locations/{}", "location_put", ROLE_ADMIN, ROUTE_JSON_BODY, location_put},
    {EVHTTP_REQ_GET, "/v1/products/{}", "product_get", ROLE_STOREFRONT | ROLE_AGENT | ROLE_ADMIN, 0,
     product_get},
    {EVHTTP_REQ_PUT, "/v1/products/{}", "product_put", ROLE_ADMIN, ROUTE_JSON_BODY, product_put},
    {EVHTTP_REQ_GET, "/v1/stock/{}", "stock_get", ROLE_ANY, 0, stock_get},
    {EVHTTP_REQ_GET, "/v1/stock/{}/history", "stock_history", ROLE_ANY, 0, stock_history},
    {EVHTTP_REQ_POST, "/v1/stock/query", "stock_query", ROLE_ANY,
     ROUTE_JSON_BODY | ROUTE_IDEMPOTENT, stock_query},
    {EVHTTP_REQ_POST, "/v1/movements", "movements", ROLE_STORE | ROLE_ADMIN, ROUTE_JSON_BODY,
     movements},
};

const size_t stock_nroutes = sizeof(stock_routes) / sizeof(stock_routes[0]);
