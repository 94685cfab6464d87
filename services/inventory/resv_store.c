/*
 * resv_store.c - reservations over holds.lua and record.lua: a basket of one
 * partition held and recorded by one script (its id chosen in that
 * partition), a basket across partitions by the saga (check everywhere,
 * hold partition after partition, then record, compensating on failure);
 * the expiry sweep, and the consistency check.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/crc16.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/text.h"
#include "services/inventory/resv_store.h"

extern const char lib_lua[]; /* the prelude of holds.lua and record.lua */
extern const char holds_lua[];
extern const char record_lua[];
extern const char check_lua[];

#define KEY_MAX     128
#define SWEEP_MS    200
#define SWEEP_BATCH "100"
#define HOLD_FIXED  12 /* keys and arguments every holds.lua call has */

static unsigned nparts(const struct resv_store *rs)
{
    return rs->stock->cfg->partitions;
}

static struct rclient *redis_of(const struct resv_store *rs)
{
    return rs->stock->redis;
}

/* The fixed part of a holds.lua call: 5 keys, then op, id and the partition's settings. */
struct holds_call {
    char keys[5][KEY_MAX];
    char part[TEXT_INT_SIZE], prefix[24];
    const char *argv[HOLD_FIXED];
};

static void holds_call_init(const struct resv_store *rs, struct holds_call *hc, unsigned part,
                            const char *op, const char *id)
{
    stock_key_part(part, "locs", NULL, hc->keys[0], KEY_MAX);
    stock_key_part(part, "hold", id, hc->keys[1], KEY_MAX);
    stock_key_part(part, "holdexp", NULL, hc->keys[2], KEY_MAX);
    stock_key_part(part, "events", NULL, hc->keys[3], KEY_MAX);
    stock_key_part(part, "holds", NULL, hc->keys[4], KEY_MAX);
    text_int(hc->part, part);
    stock_key_part(part, "", NULL, hc->prefix, sizeof(hc->prefix)); /* "{pNN}:" */
    for (int i = 0; i < 5; i++)
        hc->argv[i] = hc->keys[i];
    hc->argv[5] = op;
    hc->argv[6] = id;
    hc->argv[7] = hc->part;
    hc->argv[8] = hc->prefix;
    hc->argv[9] = rs->maxlen;
    hc->argv[10] = rs->histmax;
    hc->argv[11] = rs->low;
}

/* The keys of every record.lua call, for reservation @id ("" for the sweep) in @part. */
#define RECORD_NKEYS 4
static void record_keys(unsigned part, const char *id, char keys[RECORD_NKEYS][KEY_MAX])
{
    stock_key_part(part, "resv", id, keys[0], KEY_MAX);
    stock_key_part(part, "resvexp", NULL, keys[1], KEY_MAX);
    stock_key_part(part, "events", NULL, keys[2], KEY_MAX);
    stock_key_part(part, "orders", NULL, keys[3], KEY_MAX);
}

static void ignore_reply(redisReply *reply, const char *err, void *arg)
{
    (void)arg;
    if (err != NULL)
        log_warn("event=resv_cleanup_failed error=\"%s\"", err);
    else if (reply->type == REDIS_REPLY_ERROR)
        log_error("event=resv_cleanup_failed error=\"%s\"", reply->str);
}

/* Release (or expire) reservation @id's holds in @part, answering nobody. */
static void holds_let_go(struct resv_store *rs, unsigned part, const char *op, const char *id)
{
    struct holds_call hc;

    holds_call_init(rs, &hc, part, op, id);
    if (rclient_eval(redis_of(rs), ignore_reply, NULL, (size_t)rs->script_holds, 5, HOLD_FIXED,
                     hc.argv, NULL) != 0)
        log_warn("event=resv_cleanup_skipped reservation=%s partition=%u", id, part);
}

/* "3,9" -> each partition, for @fn. */
static void parts_each(const char *parts, unsigned limit, void (*fn)(unsigned part, void *arg),
                       void *arg)
{
    const char *p = parts;

    while (p != NULL && *p != '\0') {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p)
            break;
        if (v < limit)
            fn((unsigned)v, arg);
        p = *end == ',' ? end + 1 : NULL;
    }
}

static void result_finish(struct resv_result *res, resv_done_cb *cb, void *arg)
{
    cb(res, arg);
    json_decref(res->lines);
}

static void reply_outcome(enum resv_outcome outcome, resv_done_cb *cb, void *arg)
{
    struct resv_result res;

    memset(&res, 0, sizeof(res));
    res.outcome = outcome;
    result_finish(&res, cb, arg);
}

/* ---- create ---- */

struct create_op {
    struct resv_store *rs;
    const struct resv_request *req; /* the caller's: gone once cb has run */
    size_t nlines;
    char id[PROTO_ID_SIZE];
    long long created_ms, exp_ms;
    unsigned rpart; /* the record's partition */
    unsigned *line_part;
    json_t **allocs;      /* per line, from the holds' answers */
    json_t **short_lines; /* per line, when it cannot be held */
    unsigned char *used;  /* per partition: lines there */
    long unknown_line;
    int unknown_location;
    int unavailable;
    int planning;       /* checking every partition before holding in any */
    int combined;       /* one partition: holds.lua's hold_create holds and makes the record */
    unsigned next_part; /* after planning: the partition to hold next, in order */
    size_t pending;
    resv_done_cb *cb;
    void *arg;
};

struct part_call {
    struct create_op *op;
    unsigned part;
};

static void create_free(struct create_op *op)
{
    for (size_t i = 0; i < op->nlines; i++) {
        json_decref(op->allocs[i]);
        json_decref(op->short_lines[i]);
    }
    free(op->allocs);
    free(op->short_lines);
    free(op->line_part);
    free(op->used);
    free(op);
}

static long line_of(const struct create_op *op, const char *sku)
{
    for (size_t i = 0; i < op->req->nlines; i++) {
        if (strcmp(op->req->lines[i].sku, sku) == 0)
            return (long)i;
    }
    return -1;
}

static void take_lines(struct create_op *op, const redisReply *json, json_t **slots)
{
    json_t *arr = json_loadb(json->str, json->len, 0, NULL), *item;
    size_t i;

    json_array_foreach(arr, i, item)
    {
        long line = line_of(op, json_string_value(json_object_get(item, "sku")));
        if (line < 0)
            continue;
        json_decref(slots[line]);
        slots[line] =
            json_incref(slots == op->allocs ? json_object_get(item, "allocations") : item);
    }
    json_decref(arr);
}

static void compensate(struct create_op *op)
{
    for (unsigned p = 0; p < nparts(op->rs); p++) {
        if (op->used[p])
            holds_let_go(op->rs, p, "release", op->id);
    }
}

/* The record's body, for record.lua's create (a basket held in several partitions). */
static json_t *create_body(const struct create_op *op)
{
    const struct resv_request *req = op->req;
    json_t *body = json_object(), *lines = json_array();
    char t[32];

    json_object_set_new(body, "id", json_string(op->id));
    json_object_set_new(body, "status", json_string("held"));
    json_object_set_new(body, "channel", json_string(proto_channel_name(req->channel)));
    if (req->location[0])
        json_object_set_new(body, "location", json_string(req->location));
    if (req->customer[0])
        json_object_set_new(body, "customer", json_string(req->customer));
    if (req->reference[0])
        json_object_set_new(body, "reference", json_string(req->reference));
    proto_time_format(op->created_ms, t);
    json_object_set_new(body, "created_at", json_string(t));
    proto_time_format(op->exp_ms, t);
    json_object_set_new(body, "expires_at", json_string(t));
    for (size_t i = 0; i < req->nlines; i++) {
        /* Members in the contract's order, which the record keeps (the holds' answers'
         * allocations come in the order of Lua's encoder). */
        json_t *allocs = json_array(), *a;
        size_t j;
        json_array_foreach(op->allocs[i], j, a) json_array_append_new(
            allocs, json_pack("{s:O, s:O}", "location", json_object_get(a, "location"), "quantity",
                              json_object_get(a, "quantity")));
        json_array_append_new(lines,
                              json_pack("{s:s, s:I, s:o}", "sku", req->lines[i].sku, "quantity",
                                        (json_int_t)req->lines[i].quantity, "allocations", allocs));
    }
    json_object_set_new(body, "lines", lines);
    return body;
}

/*
 * The record's body up to its lines, as json_dumps writes create_body's, written directly
 * (jsonw writes what jansson does): holds.lua's hold_create adds the lines. A string to
 * free, or NULL.
 */
static char *create_head(const struct create_op *op)
{
    const struct resv_request *req = op->req;
    struct evbuffer *out = evbuffer_new();
    struct jsonw w;
    char t[32], *text = NULL;
    size_t len;

    if (out == NULL)
        return NULL;
    jw_init(&w, out);
    jw_object(&w);
    jw_name(&w, "id");
    jw_string(&w, op->id);
    jw_name(&w, "status");
    jw_string(&w, "held");
    jw_name(&w, "channel");
    jw_string(&w, proto_channel_name(req->channel));
    if (req->location[0]) {
        jw_name(&w, "location");
        jw_string(&w, req->location);
    }
    if (req->customer[0]) {
        jw_name(&w, "customer");
        jw_string(&w, req->customer);
    }
    if (req->reference[0]) {
        jw_name(&w, "reference");
        jw_string(&w, req->reference);
    }
    proto_time_format(op->created_ms, t);
    jw_name(&w, "created_at");
    jw_string(&w, t);
    proto_time_format(op->exp_ms, t);
    jw_name(&w, "expires_at");
    jw_string(&w, t);
    jw_object_end(&w);
    if (jw_done(&w) == 0 && (text = malloc((len = evbuffer_get_length(out)) + 1)) != NULL) {
        evbuffer_copyout(out, text, len);
        text[len] = '\0';
    }
    evbuffer_free(out);
    return text;
}

/*
 * The record's answer, {'created' | 'exists', body}: from record.lua's
 * create, or from holds.lua's hold_create (@holds_made 0: a record that was
 * there already stopped it before it held anything).
 */
static void record_answer(struct create_op *op, const redisReply *reply, const char *err,
                          int holds_made)
{
    struct resv_result res;

    memset(&res, 0, sizeof(res));
    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        if (holds_made)
            compensate(op);
        res.outcome = RESV_UNAVAILABLE;
    } else {
        char status[16];
        res.outcome = RESV_OK;
        if (reply->element[1]->type == REDIS_REPLY_STRING) {
            res.body = reply->element[1]->str;
            res.body_len = reply->element[1]->len;
        }
        /*
         * A reservation with this id exists: a retry whose idempotency record
         * is gone. While it is live, the holds just "made" were its own (the
         * hold script returns a hold that exists); once it is over they are
         * new and nobody's, so give them back.
         */
        if (holds_made && strcmp(reply->element[0]->str, "exists") == 0 &&
            resv_body_member(res.body, res.body_len, "status", status, sizeof(status)) == 0 &&
            strcmp(status, "held") != 0 && strcmp(status, "committed") != 0)
            compensate(op);
    }
    result_finish(&res, op->cb, op->arg);
    create_free(op);
}

static void record_created(redisReply *reply, const char *err, void *arg)
{
    record_answer(arg, reply, err, 1);
}

static void record_write(struct create_op *op)
{
    json_t *body = create_body(op);
    char *text = json_dumps(body, JSON_COMPACT);
    char keys[RECORD_NKEYS][KEY_MAX], part[TEXT_INT_SIZE], exp[TEXT_INT_SIZE], parts[4096] = "";
    const char *argv[RECORD_NKEYS + 7];
    size_t used = 0;

    json_decref(body);
    record_keys(op->rpart, op->id, keys);
    text_int(part, op->rpart);
    text_int(exp, op->exp_ms);
    for (unsigned p = 0; p < nparts(op->rs) && used + 8 < sizeof(parts); p++) {
        if (op->used[p])
            used +=
                (size_t)snprintf(parts + used, sizeof(parts) - used, "%s%u", used ? "," : "", p);
    }
    for (int i = 0; i < RECORD_NKEYS; i++)
        argv[i] = keys[i];
    argv[RECORD_NKEYS] = "create";
    argv[RECORD_NKEYS + 1] = op->id;
    argv[RECORD_NKEYS + 2] = part;
    argv[RECORD_NKEYS + 3] = op->rs->maxlen;
    argv[RECORD_NKEYS + 4] = text ? text : "{}";
    argv[RECORD_NKEYS + 5] = exp;
    argv[RECORD_NKEYS + 6] = parts;
    if (text == NULL ||
        rclient_eval(redis_of(op->rs), record_created, op, (size_t)op->rs->script_record,
                     RECORD_NKEYS, RECORD_NKEYS + 7, argv, NULL) != 0) {
        compensate(op);
        reply_outcome(RESV_UNAVAILABLE, op->cb, op->arg);
        create_free(op);
    }
    free(text);
}

static int send_parts(struct create_op *op, const char *what);
static int hold_part(struct create_op *op, unsigned part, const char *what);

static int create_failed(const struct create_op *op)
{
    int short_any = 0;

    for (size_t i = 0; i < op->req->nlines; i++)
        short_any |= op->short_lines[i] != NULL;
    return op->unavailable || op->unknown_location || op->unknown_line >= 0 || short_any;
}

/*
 * Hold the next partition of a basket across partitions. One at a time and
 * in partition order, so that two baskets racing for the last units meet
 * in the same partition first: one of them gets it and the other is
 * refused there, rather than each holding one partition and both being
 * refused for the other's (and the units sold to neither).
 * @return 0 when sent, 1 when every partition is held, -1 when it cannot be sent.
 */
static int hold_next(struct create_op *op)
{
    unsigned n = nparts(op->rs);

    while (op->next_part < n && !op->used[op->next_part])
        op->next_part++;
    if (op->next_part == n)
        return 1;
    if (hold_part(op, op->next_part, "hold") != 0)
        return -1;
    op->next_part++;
    op->pending = 1;
    return 0;
}

static void create_settle(struct create_op *op)
{
    struct resv_result res;

    if (!create_failed(op)) {
        if (!op->planning) {
            record_write(op);
            return;
        }
        op->planning = 0;
        if (hold_next(op) == 0)
            return;
        op->unavailable = 1;
    }
    /* hold_create holds and records at once or not at all: what it did is the reservation's,
     * found again by a retry with the same key, or expired. */
    if (!op->planning && !op->combined)
        compensate(op);
    memset(&res, 0, sizeof(res));
    if (op->unavailable) {
        res.outcome = RESV_UNAVAILABLE;
    } else if (op->unknown_location) {
        res.outcome = RESV_UNKNOWN_LOCATION;
    } else if (op->unknown_line >= 0) {
        res.outcome = RESV_UNKNOWN_SKU;
        res.line = (size_t)op->unknown_line;
        snprintf(res.sku, sizeof(res.sku), "%s", op->req->lines[op->unknown_line].sku);
    } else {
        res.outcome = RESV_SHORT;
        res.lines = json_array();
        for (size_t i = 0; i < op->req->nlines; i++) {
            if (op->short_lines[i])
                json_array_append(res.lines, op->short_lines[i]);
        }
    }
    result_finish(&res, op->cb, op->arg);
    create_free(op);
}

static void on_hold(redisReply *reply, const char *err, void *arg)
{
    struct part_call *call = arg;
    struct create_op *op = call->op;
    const char *what;

    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        if (err == NULL)
            log_error("event=hold_failed error=\"%s\"",
                      reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        op->unavailable = 1;
    } else {
        what = reply->element[0]->str;
        if (strcmp(what, "created") == 0 || strcmp(what, "exists") == 0) {
            free(call);
            record_answer(op, reply, NULL, 0);
            return;
        }
        if (strcmp(what, "held") == 0 && reply->elements == 2)
            take_lines(op, reply->element[1], op->allocs);
        else if (strcmp(what, "ok") == 0 && op->planning)
            ;
        else if (strcmp(what, "short") == 0 && reply->elements == 2)
            take_lines(op, reply->element[1], op->short_lines);
        else if (strcmp(what, "unknown-location") == 0)
            op->unknown_location = 1;
        else if (strcmp(what, "unknown-sku") == 0 && reply->elements == 2)
            op->unknown_line = line_of(op, reply->element[1]->str);
        else
            op->unavailable = 1;
    }
    free(call);
    if (--op->pending > 0)
        return;
    if (op->next_part > 0 && !create_failed(op)) {
        int rc = hold_next(op);
        if (rc == 0)
            return;
        if (rc < 0)
            op->unavailable = 1;
    }
    create_settle(op);
}

/* Send partition @part's lines of the basket to holds.lua op @what. @return 0 or -1. */
static int hold_part(struct create_op *op, unsigned part, const char *what)
{
    const struct resv_request *req = op->req;
    size_t n = 0, nkeys, nargs, k;
    struct holds_call hc;
    char exp[TEXT_INT_SIZE], partstr[TEXT_INT_SIZE], (*qty)[TEXT_INT_SIZE] = NULL,
                                                     (*keys)[KEY_MAX] = NULL, *body = NULL;
    const char **argv = NULL;
    struct part_call *call = malloc(sizeof(*call));
    int rc = -1, combined;

    for (size_t i = 0; i < req->nlines; i++)
        n += op->line_part[i] == part;
    combined = strcmp(what, "hold_create") == 0;
    nkeys = 5 + 3 * n + (combined ? 2 : 0);
    nargs = nkeys + 7 + 3 + 2 * n + (combined ? 2 : 0);
    qty = calloc(n, sizeof(*qty));
    keys = calloc(3 * n + 2, sizeof(*keys));
    argv = calloc(nargs, sizeof(*argv));
    if (call == NULL || qty == NULL || keys == NULL || argv == NULL)
        goto out;
    holds_call_init(op->rs, &hc, part, what, op->id);
    text_int(exp, op->exp_ms);
    for (int i = 0; i < 5; i++)
        argv[i] = hc.keys[i];
    k = 0;
    for (size_t i = 0; i < req->nlines; i++) {
        if (op->line_part[i] != part)
            continue;
        stock_key_part(part, "sku", req->lines[i].sku, keys[3 * k], KEY_MAX);
        stock_key_part(part, "hist", req->lines[i].sku, keys[3 * k + 1], KEY_MAX);
        stock_key_part(part, "holdsof", req->lines[i].sku, keys[3 * k + 2], KEY_MAX);
        for (int j = 0; j < 3; j++)
            argv[5 + 3 * k + (size_t)j] = keys[3 * k + (size_t)j];
        k++;
    }
    if (combined) {
        body = create_head(op);
        if (body == NULL)
            goto out;
        stock_key_part(part, "resv", op->id, keys[3 * n], KEY_MAX);
        stock_key_part(part, "resvexp", NULL, keys[3 * n + 1], KEY_MAX);
        argv[5 + 3 * n] = keys[3 * n];
        argv[6 + 3 * n] = keys[3 * n + 1];
        text_int(partstr, part);
        argv[nargs - 2] = body;
        argv[nargs - 1] = partstr;
    }
    memcpy(&argv[nkeys], &hc.argv[5], 7 * sizeof(*argv));
    argv[nkeys + 7] = proto_channel_name(req->channel);
    argv[nkeys + 8] = req->location;
    argv[nkeys + 9] = exp;
    k = 0;
    for (size_t i = 0; i < req->nlines; i++) {
        if (op->line_part[i] != part)
            continue;
        text_int(qty[k], req->lines[i].quantity);
        argv[nkeys + 10 + 2 * k] = req->lines[i].sku;
        argv[nkeys + 11 + 2 * k] = qty[k];
        k++;
    }
    call->op = op;
    call->part = part;
    rc = rclient_eval(redis_of(op->rs), on_hold, call, (size_t)op->rs->script_holds, (int)nkeys,
                      (int)nargs, argv, NULL);
    if (rc == 0)
        call = NULL;
out:
    free(call);
    free(qty);
    free(keys);
    free(argv);
    free(body);
    return rc;
}

int resv_create(struct resv_store *rs, const struct resv_request *req, const char *idem_scope,
                long long ttl_seconds, resv_done_cb *cb, void *arg)
{
    struct create_op *op = calloc(1, sizeof(*op));

    if (op == NULL)
        return -1;
    op->rs = rs;
    op->req = req;
    op->nlines = req->nlines;
    op->cb = cb;
    op->arg = arg;
    op->unknown_line = -1;
    op->line_part = calloc(req->nlines, sizeof(*op->line_part));
    op->allocs = calloc(req->nlines, sizeof(*op->allocs));
    op->short_lines = calloc(req->nlines, sizeof(*op->short_lines));
    op->used = calloc(nparts(rs), 1);
    if (op->line_part == NULL || op->allocs == NULL || op->short_lines == NULL ||
        op->used == NULL) {
        create_free(op);
        return -1;
    }
    for (size_t i = 0; i < req->nlines; i++) {
        op->line_part[i] = partition_of(req->lines[i].sku, nparts(rs));
        op->used[op->line_part[i]] = 1;
    }
    /*
     * A basket in one partition is held, or refused, by one script. One that
     * spans partitions is checked everywhere first, so that a basket refused
     * for an unknown SKU or a shortfall changes nothing, then held one
     * partition after the other (hold_next); only a race lost between the
     * check and the hold leaves holds to compensate.
     */
    op->planning = 0;
    for (unsigned p = 0, n = 0; p < nparts(rs); p++)
        op->planning |= op->used[p] && ++n > 1;
    /* A basket of one partition gets an id of that partition: its record sits with its
     * holds, and hold_create makes both in one script. */
    op->combined = !op->planning;
    if (resv_id_make(idem_scope, op->combined ? op->line_part[0] : UINT_MAX, nparts(rs), op->id) !=
        0) {
        create_free(op);
        return -1;
    }
    op->rpart = partition_of(op->id, nparts(rs));
    op->created_ms = clock_wall_ms();
    op->exp_ms = op->created_ms + ttl_seconds * 1000;
    if (send_parts(op, op->planning ? "plan" : op->combined ? "hold_create" : "hold") != 0) {
        create_free(op);
        return -1;
    }
    return 0;
}

/*
 * Send every partition's lines to holds.lua op @what; create_settle runs when
 * all have answered. @return -1 when nothing could be sent (and nothing will
 * call back), else 0.
 */
static int send_parts(struct create_op *op, const char *what)
{
    size_t sent = 0;

    op->pending = 1; /* held while sending */
    for (unsigned p = 0; p < nparts(op->rs); p++) {
        if (!op->used[p])
            continue;
        if (hold_part(op, p, what) != 0) {
            op->unavailable = 1;
            continue;
        }
        op->pending++;
        sent++;
    }
    if (sent == 0)
        return -1;
    if (--op->pending == 0)
        create_settle(op);
    return 0;
}

/* ---- get and transitions ---- */

struct move_op {
    struct resv_store *rs;
    char id[PROTO_ID_SIZE];
    enum resv_status target; /* RESV_NONE: only get */
    long long exp_ms;
    struct resv_may may;
    char *parts; /* the record's partitions, when its holds are moved one partition at a time */
    size_t pending;
    int unavailable, expired, bad_state;
    resv_done_cb *cb;
    void *arg;
};

static int record_call(struct move_op *op, rclient_cb *fn, const char *rop, const char *target)
{
    unsigned part = partition_of(op->id, nparts(op->rs));
    char keys[RECORD_NKEYS][KEY_MAX], p[TEXT_INT_SIZE], exp[TEXT_INT_SIZE];
    const char *argv[RECORD_NKEYS + 6];

    record_keys(part, op->id, keys);
    text_int(p, part);
    text_int(exp, op->exp_ms);
    for (int i = 0; i < RECORD_NKEYS; i++)
        argv[i] = keys[i];
    argv[RECORD_NKEYS] = rop;
    argv[RECORD_NKEYS + 1] = op->id;
    argv[RECORD_NKEYS + 2] = p;
    argv[RECORD_NKEYS + 3] = op->rs->maxlen;
    argv[RECORD_NKEYS + 4] = target;
    argv[RECORD_NKEYS + 5] = exp;
    return rclient_eval(redis_of(op->rs), fn, op, (size_t)op->rs->script_record, RECORD_NKEYS,
                        target ? RECORD_NKEYS + 6 : RECORD_NKEYS + 4, argv, NULL);
}

static void move_reply(struct move_op *op, enum resv_outcome outcome, const redisReply *body,
                       enum resv_status status)
{
    struct resv_result res;

    memset(&res, 0, sizeof(res));
    res.outcome = outcome;
    res.status = status;
    if (body != NULL && body->type == REDIS_REPLY_STRING) {
        res.body = body->str;
        res.body_len = body->len;
    }
    result_finish(&res, op->cb, op->arg);
    free(op->parts);
    free(op);
}

static const char *target_name(enum resv_status t)
{
    return t == RESV_HELD ? "held" : resv_status_name(t);
}

/* The answer of record.lua's transition, or of holds.lua's move. */
static void on_transition(redisReply *reply, const char *err, void *arg)
{
    struct move_op *op = arg;
    const char *what;

    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        move_reply(op, RESV_UNAVAILABLE, NULL, RESV_NONE);
        return;
    }
    what = reply->element[0]->str;
    if (op->expired)
        move_reply(op, RESV_INVALID, NULL, RESV_EXPIRED);
    else if (strcmp(what, "ok") == 0 && reply->elements == 2)
        move_reply(op, RESV_OK, reply->element[1], RESV_NONE);
    else if (strcmp(what, "same") == 0 && reply->elements == 2)
        move_reply(op, RESV_SAME, reply->element[1], RESV_NONE);
    else if (strcmp(what, "invalid") == 0 && reply->elements == 2)
        move_reply(op, RESV_INVALID, NULL, resv_status_parse(reply->element[1]->str));
    else if (strcmp(what, "forbidden") == 0)
        move_reply(op, RESV_FORBIDDEN, NULL, RESV_NONE);
    else
        move_reply(op, RESV_NOT_FOUND, NULL, RESV_NONE);
}

static void let_go_part(unsigned part, void *arg)
{
    struct move_op *op = arg;

    holds_let_go(op->rs, part, "expire", op->id);
}

/* Every partition has answered: move the record, or report what went wrong. */
static void parts_done(struct move_op *op)
{
    if (op->unavailable) {
        move_reply(op, RESV_UNAVAILABLE, NULL, RESV_NONE);
    } else if (op->expired) {
        /* Its holds ran out under it: it has expired. Give back what any part still holds
         * (reservation.expired), then settle the record. */
        parts_each(op->parts, nparts(op->rs), let_go_part, op);
        op->target = RESV_EXPIRED;
        if (record_call(op, on_transition, "transition", "expired") != 0)
            move_reply(op, RESV_UNAVAILABLE, NULL, RESV_NONE);
    } else if (op->bad_state) {
        move_reply(op, RESV_INVALID, NULL, RESV_HELD);
    } else if (record_call(op, on_transition, "transition", target_name(op->target)) != 0) {
        move_reply(op, RESV_UNAVAILABLE, NULL, RESV_NONE);
    }
}

static void on_part_moved(redisReply *reply, const char *err, void *arg)
{
    struct move_op *op = arg;
    const char *what = NULL;

    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
        op->unavailable = 1;
    else
        what = reply->element[0]->str;
    if (what != NULL &&
        (strcmp(what, "expired") == 0 ||
         (strcmp(what, "gone") == 0 && (op->target == RESV_COMMITTED || op->target == RESV_HELD))))
        op->expired = 1;
    if (what != NULL && strcmp(what, "state") == 0)
        op->bad_state = 1;
    if (--op->pending == 0)
        parts_done(op);
}

static void move_part(unsigned part, void *arg)
{
    struct move_op *op = arg;
    static const char *const ops[] = {[RESV_HELD] = "extend",
                                      [RESV_COMMITTED] = "commit",
                                      [RESV_RELEASED] = "release",
                                      [RESV_FULFILLED] = "fulfil"};
    struct holds_call hc;
    char exp[TEXT_INT_SIZE];
    const char *argv[HOLD_FIXED + 1];

    holds_call_init(op->rs, &hc, part, ops[op->target], op->id);
    memcpy(argv, hc.argv, sizeof(hc.argv));
    text_int(exp, op->exp_ms);
    argv[HOLD_FIXED] = exp;
    if (rclient_eval(redis_of(op->rs), on_part_moved, op, (size_t)op->rs->script_holds, 5,
                     HOLD_FIXED + 1, argv, NULL) != 0)
        op->unavailable = 1;
    else
        op->pending++;
}

/*
 * The record as it stands: its status, body and partitions (strings). Answer a read, or
 * refuse the move, or move it partition by partition and then the record.
 */
static void record_read(struct move_op *op, const redisReply *status_str, const redisReply *raw,
                        const redisReply *parts)
{
    enum resv_status status = resv_status_parse(status_str->str);
    int may = 1;

    if (op->may.rule != RESV_MAY_ANY) {
        json_t *body = json_loadb(raw->str, raw->len, 0, NULL);
        may = resv_may_act(&op->may, body);
        json_decref(body);
    }
    if (!may) {
        move_reply(op, RESV_FORBIDDEN, NULL, RESV_NONE);
        return;
    }
    if (op->target == RESV_NONE) {
        move_reply(op, RESV_OK, raw, RESV_NONE);
        return;
    }
    switch (resv_transition(status, op->target)) {
    case RESV_MOVE_SAME:
        move_reply(op, RESV_SAME, raw, RESV_NONE);
        return;
    case RESV_MOVE_INVALID:
        move_reply(op, RESV_INVALID, NULL, status);
        return;
    case RESV_MOVE_OK:
        break;
    }
    op->parts = strdup(parts->str);
    if (op->parts == NULL) {
        move_reply(op, RESV_UNAVAILABLE, NULL, RESV_NONE);
        return;
    }
    op->pending = 1; /* held while sending */
    parts_each(op->parts, nparts(op->rs), move_part, op);
    if (--op->pending == 0)
        parts_done(op);
}

/* Are @reply's elements all strings? */
static int all_strings(const redisReply *reply)
{
    for (size_t i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING)
            return 0;
    }
    return 1;
}

/* record.lua get's answer: {status, body, parts}, or {'none'}. */
static void on_record(redisReply *reply, const char *err, void *arg)
{
    struct move_op *op = arg;

    if (err != NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        move_reply(op, RESV_UNAVAILABLE, NULL, RESV_NONE);
        return;
    }
    if (reply->elements != 3 || !all_strings(reply)) {
        move_reply(op, RESV_NOT_FOUND, NULL, RESV_NONE);
        return;
    }
    record_read(op, reply->element[0], reply->element[1], reply->element[2]);
}

/* holds.lua move's answer: done in one script, or {'elsewhere', status, body, parts}. */
static void on_moved(redisReply *reply, const char *err, void *arg)
{
    struct move_op *op = arg;

    if (err == NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 4 &&
        all_strings(reply) && strcmp(reply->element[0]->str, "elsewhere") == 0)
        record_read(op, reply->element[1], reply->element[2], reply->element[3]);
    else
        on_transition(reply, err, arg);
}

/* holds.lua move in the partition of the reservation's id. */
static int move_call(struct move_op *op)
{
    unsigned part = partition_of(op->id, nparts(op->rs));
    struct holds_call hc;
    char rkeys[RECORD_NKEYS][KEY_MAX], exp[TEXT_INT_SIZE];
    const char *argv[HOLD_FIXED + 7];

    holds_call_init(op->rs, &hc, part, "move", op->id);
    record_keys(part, op->id, rkeys);
    text_int(exp, op->exp_ms);
    memcpy(argv, hc.argv, 5 * sizeof(argv[0]));
    argv[5] = rkeys[0]; /* {pNN}:resv:<id> */
    argv[6] = rkeys[1]; /* {pNN}:resvexp */
    argv[7] = rkeys[3]; /* {pNN}:orders ({pNN}:events is the holds' KEYS[4]) */
    memcpy(argv + 8, hc.argv + 5, (HOLD_FIXED - 5) * sizeof(argv[0]));
    argv[HOLD_FIXED + 3] = target_name(op->target);
    argv[HOLD_FIXED + 4] = exp;
    argv[HOLD_FIXED + 5] = resv_may_name(op->may.rule);
    argv[HOLD_FIXED + 6] = op->may.location;
    return rclient_eval(redis_of(op->rs), on_moved, op, (size_t)op->rs->script_holds, 8,
                        HOLD_FIXED + 7, argv, NULL);
}

static int move_start(struct resv_store *rs, const char *id, enum resv_status target,
                      long long ttl_seconds, const struct resv_may *may, resv_done_cb *cb,
                      void *arg)
{
    struct move_op *op = calloc(1, sizeof(*op));

    if (op == NULL)
        return -1;
    op->rs = rs;
    snprintf(op->id, sizeof(op->id), "%s", id);
    op->target = target;
    op->exp_ms = clock_wall_ms() + ttl_seconds * 1000;
    op->may = *may;
    op->cb = cb;
    op->arg = arg;
    if ((target == RESV_NONE ? record_call(op, on_record, "get", NULL) : move_call(op)) != 0) {
        free(op);
        return -1;
    }
    return 0;
}

int resv_get(struct resv_store *rs, const char *id, const struct resv_may *may, resv_done_cb *cb,
             void *arg)
{
    return move_start(rs, id, RESV_NONE, 0, may, cb, arg);
}

int resv_move(struct resv_store *rs, const char *id, enum resv_status target, long long ttl_seconds,
              const struct resv_may *may, resv_done_cb *cb, void *arg)
{
    return move_start(rs, id, target, ttl_seconds, may, cb, arg);
}

/* ---- the sweep ---- */

struct sweep_call {
    struct resv_store *rs;
    unsigned part;
};

static void sweep_done(struct resv_store *rs)
{
    if (rs->sweeping > 0)
        rs->sweeping--;
}

static void on_holds_swept(redisReply *reply, const char *err, void *arg)
{
    struct sweep_call *call = arg;

    if (err == NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0)
        log_info("event=holds_expired partition=%u count=%zu", call->part, reply->elements);
    else if (err == NULL && reply->type == REDIS_REPLY_ERROR)
        log_error("event=sweep_failed error=\"%s\"", reply->str);
    sweep_done(call->rs);
    free(call);
}

struct expire_each {
    struct resv_store *rs;
    const char *id;
};

static void expire_part(unsigned part, void *arg)
{
    struct expire_each *e = arg;

    holds_let_go(e->rs, part, "expire", e->id);
}

/* Records past expiry are marked expired; their holds go too, even committed ones left by a
 * commit that never finished. */
static void on_records_swept(redisReply *reply, const char *err, void *arg)
{
    struct sweep_call *call = arg;

    if (err == NULL && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < reply->elements; i += 2) {
            struct expire_each e = {call->rs, reply->element[i]->str};
            parts_each(reply->element[i + 1]->str, nparts(call->rs), expire_part, &e);
        }
    }
    sweep_done(call->rs);
    free(call);
}

static void sweep_part(struct resv_store *rs, unsigned p)
{
    struct holds_call hc;
    const char *argv[HOLD_FIXED + 1];
    char keys[RECORD_NKEYS][KEY_MAX], part[TEXT_INT_SIZE];
    const char *rargv[RECORD_NKEYS + 5];
    struct sweep_call *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return;
    }
    a->rs = b->rs = rs;
    a->part = b->part = p;
    holds_call_init(rs, &hc, p, "sweep", "");
    memcpy(argv, hc.argv, sizeof(hc.argv));
    argv[HOLD_FIXED] = SWEEP_BATCH;
    if (rclient_eval(redis_of(rs), on_holds_swept, a, (size_t)rs->script_holds, 5, HOLD_FIXED + 1,
                     argv, NULL) == 0)
        rs->sweeping++;
    else
        free(a);
    record_keys(p, "", keys);
    text_int(part, p);
    for (int i = 0; i < RECORD_NKEYS; i++)
        rargv[i] = keys[i];
    rargv[RECORD_NKEYS] = "sweep";
    rargv[RECORD_NKEYS + 1] = "";
    rargv[RECORD_NKEYS + 2] = part;
    rargv[RECORD_NKEYS + 3] = rs->maxlen;
    rargv[RECORD_NKEYS + 4] = SWEEP_BATCH;
    if (rclient_eval(redis_of(rs), on_records_swept, b, (size_t)rs->script_record, RECORD_NKEYS,
                     RECORD_NKEYS + 5, rargv, NULL) == 0)
        rs->sweeping++;
    else
        free(b);
}

static void on_sweep_tick(evutil_socket_t fd, short what, void *arg)
{
    struct resv_store *rs = arg;

    (void)fd;
    (void)what;
    /* Partitions whose master is away are skipped (rclient_eval refuses them); the others go on. */
    if (rs->sweeping > 0)
        return;
    for (unsigned p = 0; p < nparts(rs); p++)
        sweep_part(rs, p);
}

int resv_store_init(struct resv_store *rs, struct stock_store *st, struct event_base *base)
{
    struct timeval every = {0, SWEEP_MS * 1000};

    memset(rs, 0, sizeof(*rs));
    rs->stock = st;
    text_int(rs->maxlen, st->cfg->events_maxlen);
    text_int(rs->histmax, st->cfg->history_maxlen);
    text_int(rs->low, st->cfg->low_stock);
    rs->script_holds = rclient_add_script(st->redis, "holds", lib_lua, holds_lua);
    rs->script_record = rclient_add_script(st->redis, "record", lib_lua, record_lua);
    rs->script_check = rclient_add_script(st->redis, "check", NULL, check_lua);
    if (rs->script_holds < 0 || rs->script_record < 0 || rs->script_check < 0)
        return -1;
    rs->sweep = event_new(base, -1, EV_PERSIST, on_sweep_tick, rs);
    if (rs->sweep == NULL || event_add(rs->sweep, &every) != 0)
        return -1;
    return 0;
}

void resv_store_release(struct resv_store *rs)
{
    if (rs->sweep != NULL)
        event_free(rs->sweep);
    rs->sweep = NULL;
}

/* ---- the consistency check ---- */

/* SKUs per script call: short enough to keep Redis answering others between slices. */
#define CHECK_SLICE "500"

struct check_op {
    struct resv_store *rs;
    json_t *report; /* {ok, partitions, skus, holds, problems} */
    json_t *holds;  /* reservation ids seen holding */
    size_t pending;
    int unavailable;
    resv_check_cb *cb;
    void *arg;
};

static void check_finish(struct check_op *op)
{
    json_t *problems = json_object_get(op->report, "problems");

    json_object_set_new(op->report, "holds", json_integer((json_int_t)json_array_size(op->holds)));
    json_object_set_new(op->report, "ok", json_boolean(json_array_size(problems) == 0));
    json_decref(op->holds);
    if (op->unavailable) {
        json_decref(op->report);
        op->cb(NULL, "redis unavailable", op->arg);
    } else {
        op->cb(op->report, NULL, op->arg);
    }
    free(op);
}

struct owner_call {
    struct check_op *op;
    char id[PROTO_ID_SIZE];
};

static void on_owner(redisReply *reply, const char *err, void *arg)
{
    struct owner_call *call = arg;
    struct check_op *op = call->op;

    if (err != NULL) {
        op->unavailable = 1;
    } else if (reply->type != REDIS_REPLY_STRING ||
               (strcmp(reply->str, "held") != 0 && strcmp(reply->str, "committed") != 0)) {
        json_array_append_new(
            json_object_get(op->report, "problems"),
            json_pack("{s:s, s:s, s:s}", "kind", "orphan-hold", "reservation", call->id, "detail",
                      reply->type == REDIS_REPLY_STRING ? "its reservation is no longer active"
                                                        : "no reservation owns it"));
    }
    free(call);
    if (--op->pending == 0)
        check_finish(op);
}

/* Every partition answered: is every hold owned by a held or committed reservation? */
static void check_owners(struct check_op *op)
{
    size_t i;
    json_t *id;

    op->pending = 1;
    json_array_foreach(op->holds, i, id)
    {
        struct owner_call *call = calloc(1, sizeof(*call));
        char key[KEY_MAX];
        const char *argv[] = {"HGET", key, "status"};
        if (call == NULL) {
            op->unavailable = 1;
            continue;
        }
        call->op = op;
        snprintf(call->id, sizeof(call->id), "%s", json_string_value(id));
        stock_key_part(partition_of(call->id, nparts(op->rs)), "resv", call->id, key, KEY_MAX);
        if (rclient_command(redis_of(op->rs), on_owner, call, 3, argv, NULL) != 0) {
            op->unavailable = 1;
            free(call);
            continue;
        }
        op->pending++;
    }
    if (--op->pending == 0)
        check_finish(op);
}

/* One partition's slices, checked one after the other. */
struct check_call {
    struct check_op *op;
    unsigned part;
};

static int check_slice(struct check_op *op, struct check_call *call, const char *cursor);

static void on_checked(redisReply *reply, const char *err, void *arg)
{
    struct check_call *call = arg;
    struct check_op *op = call->op;
    json_t *part = NULL, *v;
    size_t i;

    if (err != NULL || reply->type != REDIS_REPLY_STRING)
        op->unavailable = 1;
    else
        part = json_loadb(reply->str, reply->len, 0, NULL);
    if (part == NULL)
        op->unavailable = 1;
    if (part != NULL) {
        const char *cursor = json_string_value(json_object_get(part, "cursor"));
        json_t *skus = json_object_get(op->report, "skus");
        json_integer_set(skus, json_integer_value(skus) +
                                   json_integer_value(json_object_get(part, "skus")));
        /* Lua encodes an empty list as {}: only arrays carry entries. */
        json_array_foreach(json_object_get(part, "holds"), i, v) json_array_append(op->holds, v);
        json_array_foreach(json_object_get(part, "problems"), i, v)
            json_array_append(json_object_get(op->report, "problems"), v);
        /* More of this partition: the next slice keeps the op's count. */
        if (cursor != NULL && strcmp(cursor, "0") != 0 && !op->unavailable &&
            check_slice(op, call, cursor) == 0) {
            json_decref(part);
            return;
        }
        if (cursor == NULL)
            op->unavailable = 1;
        json_decref(part);
    }
    free(call);
    if (--op->pending > 0)
        return;
    if (op->unavailable) {
        check_finish(op);
        return;
    }
    check_owners(op);
}

static int check_slice(struct check_op *op, struct check_call *call, const char *cursor)
{
    char keys[2][KEY_MAX], prefix[24];
    const char *argv[5];

    stock_key_part(call->part, "skus", NULL, keys[0], KEY_MAX);
    stock_key_part(call->part, "holds", NULL, keys[1], KEY_MAX);
    snprintf(prefix, sizeof(prefix), "{p%02u}:", call->part);
    argv[0] = keys[0];
    argv[1] = keys[1];
    argv[2] = prefix;
    argv[3] = cursor;
    argv[4] = CHECK_SLICE;
    return rclient_eval(redis_of(op->rs), on_checked, call, (size_t)op->rs->script_check, 2, 5,
                        argv, NULL);
}

int resv_check(struct resv_store *rs, resv_check_cb *cb, void *arg)
{
    struct check_op *op = calloc(1, sizeof(*op));
    size_t sent = 0;

    if (op == NULL)
        return -1;
    op->rs = rs;
    op->cb = cb;
    op->arg = arg;
    op->report =
        json_pack("{s:b, s:I, s:I, s:I, s:[]}", "ok", 0, "partitions", (json_int_t)nparts(rs),
                  "skus", (json_int_t)0, "holds", (json_int_t)0, "problems");
    op->holds = json_array();
    op->pending = 1;
    for (unsigned p = 0; p < nparts(rs); p++) {
        struct check_call *call = malloc(sizeof(*call));
        if (call == NULL || (call->op = op, call->part = p, check_slice(op, call, "0")) != 0) {
            free(call);
            op->unavailable = 1;
            continue;
        }
        op->pending++;
        sent++;
    }
    if (sent == 0) {
        json_decref(op->report);
        json_decref(op->holds);
        free(op);
        return -1;
    }
    if (--op->pending == 0)
        check_owners(op);
    return 0;
}
