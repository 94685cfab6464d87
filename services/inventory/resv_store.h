/*
 * resv_store.h - reservations in Redis: the saga that holds a basket across
 * partitions (with compensation), the transitions, the expiry sweep and the
 * consistency check.
 *
 * A basket of one partition is held and recorded by one script, and moved
 * (commit, release, extend, fulfil) by one: its id is drawn in that
 * partition, so the record sits with the holds. A basket across partitions
 * is held partition by partition (holds.lua), each part all-or-nothing; when
 * a part fails the parts already held are released. Then the record is
 * written in the partition of the reservation's id (record.lua). Every hold
 * carries the reservation's expiry, so holds left by a crash between the two
 * steps are swept when it passes.
 */
#ifndef INVENTORY_RESV_STORE_H
#define INVENTORY_RESV_STORE_H

#include <jansson.h>

#include "proto/reservation.h"
#include "services/inventory/resv_logic.h"
#include "services/inventory/stock_store.h"

struct event_base;
struct event;

struct resv_store {
    struct stock_store *stock; /* borrowed: config, Redis, keys */
    int script_holds;
    int script_record;
    int script_check;
    struct event *sweep;
    int sweeping; /* partitions still being swept by the last tick */
    /* The settings every holds.lua call passes, as text once (the config does not change). */
    char maxlen[24], histmax[24], low[24];
};

/*
 * resv_store_init - register the scripts and start the expiry sweep on @base
 * (every 200 ms, so held stock comes back within a second of its expiry
 * whether or not anyone reads it). @return 0 or -1.
 */
int resv_store_init(struct resv_store *rs, struct stock_store *st, struct event_base *base);
void resv_store_release(struct resv_store *rs);

enum resv_outcome {
    RESV_OK,
    RESV_SAME, /* the transition just made, repeated */
    RESV_NOT_FOUND,
    RESV_FORBIDDEN,   /* the caller may not act on it (struct resv_may) */
    RESV_SHORT,       /* insufficient stock: lines says where */
    RESV_UNKNOWN_SKU, /* sku names it */
    RESV_UNKNOWN_LOCATION,
    RESV_INVALID,     /* not allowed from status */
    RESV_UNAVAILABLE, /* Redis did not answer */
};

struct resv_result {
    enum resv_outcome outcome;
    const char *body; /* the reservation (OK, SAME) as JSON, members in the contract's */
    size_t body_len;  /* order, as the scripts keep it; borrowed by the callback */
    json_t *lines;    /* SHORT: [{sku, requested, available}]; borrowed */
    char sku[PROTO_ID_SIZE];
    size_t line;             /* UNKNOWN_SKU: the index of the line in the request */
    enum resv_status status; /* INVALID: the status it is in */
};

/* resv_done_cb - the outcome; @res is freed when the callback returns. */
typedef void resv_done_cb(const struct resv_result *res, void *arg);

/*
 * resv_create - hold @req's lines and record the reservation.
 * @req: borrowed until the callback. @idem_scope: "" or the request's
 * idempotency scope, from which the id is derived. @ttl_seconds: > 0.
 * @return 0 (the callback will come), or -1 (Redis not connected; no callback).
 */
int resv_create(struct resv_store *rs, const struct resv_request *req, const char *idem_scope,
                long long ttl_seconds, resv_done_cb *cb, void *arg);

/* resv_get - the reservation, expired if held past its expiry; FORBIDDEN unless @may allows. */
int resv_get(struct resv_store *rs, const char *id, const struct resv_may *may, resv_done_cb *cb,
             void *arg);

/*
 * resv_move - move reservation @id to @target: RESV_COMMITTED, RESV_RELEASED,
 * RESV_FULFILLED, or RESV_HELD to extend it by @ttl_seconds from now;
 * FORBIDDEN, before anything changes, unless @may allows. A reservation
 * whose holds are all in its id's partition moves in one script (holds.lua
 * move); one across partitions partition by partition, then its record.
 */
int resv_move(struct resv_store *rs, const char *id, enum resv_status target, long long ttl_seconds,
              const struct resv_may *may, resv_done_cb *cb, void *arg);

/*
 * resv_check - the consistency report of every partition:
 * {"ok", "partitions", "skus", "holds", "problems": [...]}. @report is new
 * (the callee owns it) or NULL with @err when Redis did not answer.
 */
typedef void resv_check_cb(json_t *report, const char *err, void *arg);
int resv_check(struct resv_store *rs, resv_check_cb *cb, void *arg);

#endif
