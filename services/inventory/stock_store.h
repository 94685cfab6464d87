/*
 * stock_store.h - the inventory's Redis side: key layout, scripts, replies.
 *
 * Layout (DESIGN.md): a SKU belongs to partition crc16(sku) % P, and every key
 * of a partition carries the hash tag {pNN}, so each script touches one slot:
 *   {pNN}:sku:<sku>     stock hash: <location> = "on_hand:reserved:last_count_ms",
 *                       ':s' safety stock, ':v' version
 *   {pNN}:prod:<sku>    product description
 *   {pNN}:skus          the partition's SKUs
 *   {pNN}:locs          location rules, a copy per partition for the scripts
 *   {pNN}:events        the partition's event stream
 *   {pNN}:hist:<sku>    the SKU's ledger, newest first
 *   {pNN}:idem:<scope>  idempotency records
 *   locations           location id -> JSON, the source for GET
 *
 * Every callback is called exactly once; a non-NULL err means Redis did not
 * answer (the caller replies 503).
 */
#ifndef INVENTORY_STOCK_STORE_H
#define INVENTORY_STOCK_STORE_H

#include <stddef.h>

#include <jansson.h>

#include "proto/catalog.h"
#include "proto/movement.h"
#include "services/inventory/stock_logic.h"

struct config;
struct event;
struct event_base;
struct rclient;

struct stock_store {
    const struct config *cfg;
    struct rclient *redis;
    int script_move;
    int script_product;
    int script_time; /* TIME on the master of the key given: a partition's clock */

    /*
     * The location rules as the last read found them, reused by reads for
     * STOCK_RULES_TTL_MS: they change only with PUT /v1/locations, which
     * drops them in every store of the process at once (another daemon's
     * PUT is seen within the TTL).
     */
    struct loc_rule *rules;
    size_t nrules;
    long long rules_until_ms; /* 0: none kept */
    unsigned long rules_generation;
    unsigned long long rules_tag; /* what the kept rules say, as a number */

    struct event *renew_ev; /* stock_renew_start's timer, or NULL */
};

#define STOCK_RULES_TTL_MS 1000

/* stock_store_init - register the scripts. @return 0 or -1. */
int stock_store_init(struct stock_store *st, const struct config *cfg, struct rclient *redis);
/* stock_renew_start - on @base, confirm by their versions the read cache's copies of stock
 * hashes read during their age, before it runs out (rcache_due). Nothing when there is no
 * read cache or its copies do not age. Once per read cache. @return 0 or -1. */
int stock_renew_start(struct stock_store *st, struct event_base *base);

/* stock_store_release - free what the store keeps. */
void stock_store_release(struct stock_store *st);

/* stock_rules_generation - moves whenever this process's kept location rules are dropped (a
 * PUT /v1/locations through it). */
unsigned long stock_rules_generation(void);

/* stock_key - "{pNN}:<kind>:<sku>" (or "{pNN}:<kind>" when @sku is NULL) for @sku's partition. */
void stock_key(const struct stock_store *st, const char *kind, const char *sku, char *buf,
               size_t buflen);

/* stock_key_part - the same, for partition @part. */
void stock_key_part(unsigned part, const char *kind, const char *sku, char *buf, size_t buflen);

struct stock_item {
    int known;
    long long safety;
    long long version;
    struct level *levels;    /* one per snapshot rule, same order */
    unsigned long long copy; /* the read cache's copy they came from (rcache_serial), or 0 */
    struct product product;  /* with STOCK_READ_PRODUCTS: sku "" when there is none */
};

/* Levels of some SKUs with the location rules they were read with. */
struct stock_snapshot {
    struct loc_rule *rules; /* sorted by id */
    size_t nrules;
    unsigned long long rules_tag; /* what they say, as a number; 0: not known */
    struct stock_item *items;     /* in the order asked */
    size_t n;
};

void stock_snapshot_free(struct stock_snapshot *s);

/* @snap: new, the callee frees it with stock_snapshot_free; NULL when err. */
typedef void stock_read_cb(struct stock_snapshot *snap, const char *err, void *arg);

/*
 * stock_read - the levels of @n SKUs, in one round trip: an HGETALL of the
 * location rules and one per SKU, pipelined.
 * @skus: borrowed until the callback. @return 0, or -1 if Redis is not
 * connected (no callback).
 */
int stock_read(struct stock_store *st, const char (*skus)[PROTO_ID_SIZE], size_t n,
               stock_read_cb *cb, void *arg);

/* stock_read_products - the same, with each SKU's product description, in the same round trips. */
int stock_read_products(struct stock_store *st, const char (*skus)[PROTO_ID_SIZE], size_t n,
                        stock_read_cb *cb, void *arg);

/*
 * An answer made from one SKU's levels alone (its GET /v1/stock), kept with
 * the read cache's copy of its stock hash (rcache_attach): given again while
 * that copy holds and the location rules, fresh, say what they said.
 */

/* stock_answer_get - @sku's kept answer, or NULL. @return borrowed, until the next read. */
const char *stock_answer_get(struct stock_store *st, const char *sku, size_t *len);

/*
 * stock_answer_renew - when @sku's answer is kept with a copy past its age, ask Redis for the
 * SKU's version alone: @cb then gets the answer (borrowed, for the call) if the version is
 * the same (the copy renewed), or NULL: read the SKU. @return 0 when asked (@cb follows, from
 * the loop), -1 when there is no such copy or Redis is not connected (no @cb).
 */
typedef void stock_answer_cb(const char *answer, size_t len, void *arg);
int stock_answer_renew(struct stock_store *st, const char *sku, stock_answer_cb *cb, void *arg);

/* stock_answer_keep - keep @len bytes made from @snap's item @i (@sku) alone. */
void stock_answer_keep(struct stock_store *st, const struct stock_snapshot *snap, size_t i,
                       const char *sku, const char *bytes, size_t len);

/*
 * stock_move_cb - the script's answer: JSON (borrowed, valid during the
 * call) as movement.lua documents, and whether it was replayed.
 */
typedef void stock_move_cb(const char *json, size_t len, int replayed, const char *err, void *arg);

/*
 * stock_move - apply one movement. @idem_scope and @fingerprint: the
 * request's idempotency record ("" for none). @return 0 or -1 (not connected).
 */
int stock_move(struct stock_store *st, const struct movement *m, const char *idem_scope,
               const char *fingerprint, stock_move_cb *cb, void *arg);

typedef void stock_done_cb(long long result, const char *err, void *arg);

/* stock_product_put - create or replace; result 1 created, 0 replaced. */
int stock_product_put(struct stock_store *st, const struct product *p, stock_done_cb *cb,
                      void *arg);

/* stock_location_put - write the location and its rule in every partition; result 1 created. */
int stock_location_put(struct stock_store *st, const struct location *loc, stock_done_cb *cb,
                       void *arg);

#endif
