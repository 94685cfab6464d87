/*
 * events_store.c - reading the events of every partition in one order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/config.h"
#include "common/crc16.h"
#include "common/redis.h"
#include "services/inventory/events_store.h"
#include "services/inventory/stock_store.h"

#define KEY_MAX      64
#define READ_ROUNDS  8   /* rounds of a filtered read before it answers with what it has */
#define FILTER_COUNT 500 /* entries asked per partition when a filter may skip most */

/* One stream entry read: its place and its event, still encoded. */
struct ev_entry {
    struct ev_pos pos;
    char *json;
    size_t len;
};

struct read_op {
    struct stock_store *st;
    struct ev_query q;
    unsigned first, last; /* the partitions read */
    struct ev_pos watermark;
    int have_time;         /* the clocks were read (the first round) */
    unsigned long long ms; /* the earliest clock read, 0 before any */
    size_t count;          /* entries asked per partition */
    size_t pending;
    const char *err; /* the round's first error: NULL, or errbuf */
    char errbuf[128];
    int rounds;
    struct ev_part_read *reads; /* by partition */
    struct ev_entry *entries;
    size_t n, cap;
    json_t *out;
    ev_read_cb *cb;
    void *arg;
};

struct part_call {
    struct read_op *op;
    unsigned part;
};

int ev_query_matches(const struct ev_query *q, json_t *event)
{
    const char *v;
    size_t tlen = strlen(q->type);

    if (q->sku[0] &&
        ((v = json_string_value(json_object_get(event, "sku"))) == NULL || strcmp(v, q->sku) != 0))
        return 0;
    if (q->location[0] && ((v = json_string_value(json_object_get(event, "location"))) == NULL ||
                           strcmp(v, q->location) != 0))
        return 0;
    if (tlen > 0) {
        if ((v = json_string_value(json_object_get(event, "type"))) == NULL)
            return 0;
        if (q->type[tlen - 1] == '.' ? strncmp(v, q->type, tlen) != 0 : strcmp(v, q->type) != 0)
            return 0;
    }
    return 1;
}

static void entries_clear(struct read_op *op)
{
    for (size_t i = 0; i < op->n; i++)
        free(op->entries[i].json);
    op->n = 0;
}

static void op_free(struct read_op *op)
{
    entries_clear(op);
    free(op->entries);
    free(op->reads);
    json_decref(op->out);
    free(op);
}

static int entry_add(struct read_op *op, const struct ev_pos *pos, const char *json, size_t len)
{
    struct ev_entry *e;

    if (op->n == op->cap) {
        size_t cap = op->cap ? op->cap * 2 : 64;
        struct ev_entry *grown = realloc(op->entries, cap * sizeof(*grown));
        if (grown == NULL)
            return -1;
        op->entries = grown;
        op->cap = cap;
    }
    e = &op->entries[op->n];
    if ((e->json = malloc(len + 1)) == NULL)
        return -1;
    memcpy(e->json, json, len);
    e->json[len] = '\0';
    e->len = len;
    e->pos = *pos;
    op->n++;
    return 0;
}

/* The 'e' field of one stream entry's field list, or NULL. */
static const redisReply *entry_event(const redisReply *fields)
{
    if (fields->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && k->len == 1 && k->str[0] == 'e' &&
            v->type == REDIS_REPLY_STRING)
            return v;
    }
    return NULL;
}

static const char *take_range(struct read_op *op, unsigned part, const redisReply *reply)
{
    struct ev_part_read *read = &op->reads[part];

    if (reply->type == REDIS_REPLY_ERROR)
        return reply->str;
    if (reply->type != REDIS_REPLY_ARRAY)
        return "unexpected reply";
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *entry = reply->element[i], *ev;
        struct ev_pos pos = {0, part, 0};
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
            entry->element[0]->type != REDIS_REPLY_STRING ||
            ev_stream_id_parse(entry->element[0]->str, entry->element[0]->len, &pos) != 0)
            return "unexpected reply";
        read->last = pos;
        if ((ev = entry_event(entry->element[1])) != NULL &&
            entry_add(op, &pos, ev->str, ev->len) != 0)
            return "out of memory";
    }
    read->truncated = reply->elements >= op->count;
    return NULL;
}

static int entry_cmp(const void *a, const void *b)
{
    return ev_pos_cmp(&((const struct ev_entry *)a)->pos, &((const struct ev_entry *)b)->pos);
}

static int send_round(struct read_op *op);

/*
 * Keep @err as the round's error unless it has one. Copied: an error from a
 * reply lives only as long as the reply, and the round ends after it.
 */
static void op_fail(struct read_op *op, const char *err)
{
    if (op->err == NULL) {
        snprintf(op->errbuf, sizeof(op->errbuf), "%s", err);
        op->err = op->errbuf;
    }
}

static void finish(struct read_op *op, const struct ev_pos *next, const char *err)
{
    json_t *out = err ? NULL : json_incref(op->out);

    op->cb(out, next, err, op->arg);
    op_free(op);
}

/*
 * Every reply of a round is in: keep the matching events up to where the
 * read is complete, and read on if a filter left the page short.
 */
static void round_done(struct read_op *op)
{
    struct ev_pos through, next;

    if (op->err != NULL) {
        finish(op, NULL, op->err);
        return;
    }
    through = ev_complete_through(op->reads + op->first, op->last - op->first + 1, &op->watermark);
    next = ev_pos_cmp(&through, &op->q.after) > 0 ? through : op->q.after;
    if (op->n > 1)
        qsort(op->entries, op->n, sizeof(*op->entries), entry_cmp);
    for (size_t i = 0; i < op->n; i++) {
        struct ev_entry *e = &op->entries[i];
        char id[EV_CURSOR_SIZE];
        json_t *event;

        if (ev_pos_cmp(&e->pos, &through) > 0)
            break;
        event = json_loadb(e->json, e->len, 0, NULL);
        if (event != NULL && json_is_object(event) && ev_query_matches(&op->q, event)) {
            ev_cursor_format(&e->pos, id);
            json_object_set_new(event, "id", json_string(id));
            json_array_append(op->out, event);
        }
        json_decref(event);
        if (json_array_size(op->out) == op->q.limit) {
            next = e->pos;
            break;
        }
    }
    entries_clear(op);
    op->q.after = next;
    if (json_array_size(op->out) < op->q.limit && ev_pos_cmp(&through, &op->watermark) < 0 &&
        ++op->rounds < READ_ROUNDS && send_round(op) == 0)
        return;
    finish(op, &next, NULL);
}

/*
 * A clock read: Redis's, or on a cluster one partition's master's. The
 * watermark is just below the earliest: an entry added to a stream after
 * its range was read has an id at or above the clock of its master, read
 * before on the same connection.
 */
/* The milliseconds of a TIME reply into @ms. @return NULL, or what is wrong. */
static const char *time_of(const redisReply *reply, unsigned long long *ms)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING)
        return "unexpected reply";
    *ms = strtoull(reply->element[0]->str, NULL, 10) * 1000 +
          strtoull(reply->element[1]->str, NULL, 10) / 1000;
    return NULL;
}

static void on_time(redisReply *reply, const char *err, void *arg)
{
    struct read_op *op = arg;
    unsigned long long ms = 0;

    if (err == NULL)
        err = time_of(reply, &ms);
    if (err != NULL) {
        op_fail(op, err);
    } else {
        if (op->ms == 0 || ms < op->ms)
            op->ms = ms;
        op->watermark = ev_watermark(op->ms, op->st->cfg->partitions);
    }
    if (--op->pending == 0)
        round_done(op);
}

static void on_range(redisReply *reply, const char *err, void *arg)
{
    struct part_call *call = arg;
    struct read_op *op = call->op;

    if (err == NULL)
        err = take_range(op, call->part, reply);
    if (err != NULL)
        op_fail(op, err);
    free(call);
    if (--op->pending == 0)
        round_done(op);
}

/*
 * Send each partition's range, after its master's clock when @clocks (a
 * cluster's first round), adding to op->pending. @return the commands sent.
 */
static int send_ranges(struct read_op *op, int clocks)
{
    char count[24];
    int sent = 0;

    snprintf(count, sizeof(count), "%zu", op->count);
    for (unsigned p = op->first; p <= op->last; p++) {
        char key[KEY_MAX], start[48];
        const char *argv[6] = {"XRANGE", key, start, "+", "COUNT", count};
        const char *clock_key[] = {key};
        struct part_call *call = malloc(sizeof(*call));

        if (call == NULL) {
            op_fail(op, "out of memory");
            break;
        }
        call->op = op;
        call->part = p;
        stock_key_part(p, "events", NULL, key, sizeof(key));
        ev_range_start(&op->q.after, p, start, sizeof(start));
        if (clocks && rclient_eval(op->st->redis, on_time, op, (size_t)op->st->script_time, 1, 1,
                                   clock_key, NULL) != 0) {
            free(call);
            op_fail(op, "redis unavailable");
            break;
        }
        op->pending += clocks;
        sent += clocks;
        if (rclient_command(op->st->redis, on_range, call, 6, argv, NULL) != 0) {
            free(call);
            op_fail(op, "redis unavailable");
            break;
        }
        op->pending++;
        sent++;
    }
    return sent;
}

/*
 * Send one round: the clock first (on the first round), so that no entry
 * below the watermark can be added after the ranges are read: Redis runs
 * the commands of a connection in order. On a cluster the partitions'
 * masters each have a clock: each is read before its ranges.
 * @return 0, or -1 if nothing could be sent.
 */
static int send_round(struct read_op *op)
{
    int cluster = rclient_cluster_nodes(op->st->redis) > 0, sent = 0;

    memset(op->reads, 0, op->st->cfg->partitions * sizeof(*op->reads));
    op->pending = 1; /* held while sending, so no reply finishes the round early */
    if (!op->have_time && !cluster) {
        const char *argv[] = {"TIME"};
        if (rclient_command(op->st->redis, on_time, op, 1, argv, NULL) != 0)
            return -1;
        op->pending++;
        sent++;
    }
    sent += send_ranges(op, !op->have_time && cluster);
    op->have_time = 1;
    if (sent == 0)
        return -1;
    if (--op->pending == 0)
        round_done(op);
    return 0;
}

/* ---- the present ---- */

struct now_op {
    struct stock_store *st;
    size_t pending;
    unsigned long long ms; /* the earliest clock read, 0 before any */
    const char *err;
    ev_now_cb *cb;
    void *arg;
};

static void on_now(redisReply *reply, const char *err, void *arg)
{
    struct now_op *op = arg;
    unsigned long long ms = 0;

    if (err == NULL)
        err = time_of(reply, &ms);
    if (err != NULL && op->err == NULL)
        op->err = "redis unavailable";
    else if (err == NULL && (op->ms == 0 || ms < op->ms))
        op->ms = ms;
    if (--op->pending > 0)
        return;
    if (op->err != NULL) {
        op->cb(NULL, op->err, op->arg);
    } else {
        struct ev_pos now = ev_watermark(op->ms, op->st->cfg->partitions);
        op->cb(&now, NULL, op->arg);
    }
    free(op);
}

int events_now(struct stock_store *st, ev_now_cb *cb, void *arg)
{
    struct now_op *op = calloc(1, sizeof(*op));
    const char *argv[] = {"TIME"};

    if (op == NULL)
        return -1;
    op->st = st;
    op->cb = cb;
    op->arg = arg;
    op->pending = 1; /* held while sending */
    if (rclient_cluster_nodes(st->redis) == 0) {
        if (rclient_command(st->redis, on_now, op, 1, argv, NULL) == 0)
            op->pending++;
    } else {
        for (unsigned p = 0; p < st->cfg->partitions; p++) {
            char key[KEY_MAX];
            const char *keys[] = {key};

            stock_key_part(p, "events", NULL, key, sizeof(key));
            if (rclient_eval(st->redis, on_now, op, (size_t)st->script_time, 1, 1, keys, NULL) !=
                0) {
                op->err = "redis unavailable";
                break;
            }
            op->pending++;
        }
    }
    if (op->pending == 1) {
        free(op); /* nothing sent */
        return -1;
    }
    op->pending--; /* a reply is still to come: it finishes */
    return 0;
}

int events_read(struct stock_store *st, const struct ev_query *q, ev_read_cb *cb, void *arg)
{
    struct read_op *op = calloc(1, sizeof(*op));
    unsigned nparts = st->cfg->partitions;

    if (op == NULL || (op->reads = calloc(nparts, sizeof(*op->reads))) == NULL ||
        (op->out = json_array()) == NULL)
        goto fail;
    op->st = st;
    op->q = *q;
    op->cb = cb;
    op->arg = arg;
    if (q->sku[0]) {
        op->first = op->last = partition_of(q->sku, nparts);
    } else {
        op->first = 0;
        op->last = nparts - 1;
    }
    op->count = q->sku[0] || q->location[0] || q->type[0]
                    ? (q->limit > FILTER_COUNT ? q->limit : FILTER_COUNT)
                    : q->limit;
    if (send_round(op) != 0)
        goto fail;
    return 0;
fail:
    if (op != NULL) {
        free(op->reads);
        json_decref(op->out);
        free(op);
    }
    return -1;
}
