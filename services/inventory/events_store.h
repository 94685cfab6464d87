/*
 * events_store.h - reading the events of every partition in one order.
 *
 * A read asks Redis for its clock and then, in the same pipeline, for the
 * next events of each partition's stream ({pNN}:events) after the cursor;
 * it merges them in the order of events_logic.h, up to the watermark.
 * Filtered reads that find few matches read on (a few rounds at most), and
 * always return where to go on from, so a reader never scans twice.
 */
#ifndef INVENTORY_EVENTS_STORE_H
#define INVENTORY_EVENTS_STORE_H

#include <stddef.h>

#include <jansson.h>

#include "proto/proto.h"
#include "services/inventory/events_logic.h"

struct stock_store;

#define EVENTS_LIMIT_MAX 1000

struct ev_query {
    struct ev_pos after;          /* events after this place; all zero: from the oldest kept */
    size_t limit;                 /* 1..EVENTS_LIMIT_MAX */
    char sku[PROTO_ID_SIZE];      /* only this SKU's events, or "" */
    char location[PROTO_ID_SIZE]; /* only this location's events, or "" */
    char type[40];                /* only this type ("stock.changed") or family ("stock."), or "" */
};

/* ev_query_matches - whether @event (an event object) passes @q's filters. */
int ev_query_matches(const struct ev_query *q, json_t *event);

/*
 * ev_read_cb - a page of events.
 * @events: a new array of event objects with their ids, in order (NULL when err).
 * @next: read on after this place; the last event's id, or further when
 *        events past it were read and did not match.
 */
typedef void ev_read_cb(json_t *events, const struct ev_pos *next, const char *err, void *arg);

/*
 * events_read - the events matching @q (copied). @return 0, or -1 when Redis
 * is not connected (no callback).
 */
int events_read(struct stock_store *st, const struct ev_query *q, ev_read_cb *cb, void *arg);

/* ev_now_cb - the present: a place no event added from now on can come before. */
typedef void ev_now_cb(const struct ev_pos *now, const char *err, void *arg);

/*
 * events_now - the present, as events_read's watermark: Redis's clock, or on
 * a cluster the earliest clock of the partitions' masters, each read on the
 * connection that later commands for the partition follow. @return 0, or -1
 * when Redis is not connected (no callback).
 */
int events_now(struct stock_store *st, ev_now_cb *cb, void *arg);

#endif
