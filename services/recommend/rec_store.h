/*
 * rec_store.h - the recommend module's Redis side: the co-purchase model, the
 * order.placed consumer, customers' preferences, feedback and the audit trail.
 *
 * Layout: everything the module owns lives in the one slot {rec}:
 *   {rec}:n                  '<sku>' = orders with the SKU, ':total' = all orders
 *   {rec}:co:<a>             '<b>' = orders with both (kept both ways)
 *   {rec}:seen               ids of the orders counted (each counted once)
 *   {rec}:cust:<id>          the customer's preferences
 *   {rec}:cust:<id>:bought   SKUs the customer bought, by the time of the last order
 *   {rec}:cust:<id>:dismiss  '<yyyymmdd>|<primary>' = dismissals that day (expires)
 *   {rec}:sess:<id>:dismiss  the same for an anonymous session
 *   {rec}:stats              'shown', 'accepted', 'dismissed'
 *   {rec}:audit              what was suggested, with scores (a stream, trimmed by age)
 * It reads the inventory's partitions: products and levels, reservation
 * records, and {pNN}:orders, the orders placed, through the consumer group
 * "recommend".
 *
 * Every callback is called exactly once; a non-NULL err means Redis did not
 * answer (the caller replies 503). Functions return -1, with no callback,
 * when Redis is not connected.
 */
#ifndef RECOMMEND_REC_STORE_H
#define RECOMMEND_REC_STORE_H

#include <stddef.h>

#include <jansson.h>

#include "proto/recommend.h"
#include "services/inventory/stock_store.h"
#include "services/recommend/rec_logic.h"

struct event;
struct event_base;

#define REC_PAIR_CAP        30   /* an order's first SKUs whose pairs are counted */
#define REC_CANDIDATES      1000 /* candidates read per primary, most orders together first */
#define REC_AUDIT_DAYS      30   /* audit entries are kept this long */
#define REC_AUDIT_WINDOW_MS 1000 /* anonymous answers alike within this long are one entry */
#define REC_AUDIT_TALLY     4096 /* distinct anonymous answers a window holds before it is written */
#define REC_DISMISS_KEEP    (2 * 24 * 3600)
#define REC_ANSWERS_KEPT                                                                           \
    10000 /* anonymous answers kept at once (recommendations.answer_cache_ms) */

struct rcache;

struct rec_store {
    const struct config *cfg;
    struct rclient *redis;
    struct stock_store stock; /* products and levels */
    struct rcache *answers;   /* anonymous answers (rec_http.c); NULL when not kept */
    int script_learn, script_read, script_feedback, script_prefs, script_erase;
    int script_erase_orders, script_erase_resv;

    /* The order.placed consumer: one read or count in flight per partition. */
    struct event *tick;
    char consumer[160];
    unsigned char *busy;
    unsigned char *backlog; /* read this consumer's pending entries before new ones */
    long long claimed_ms;   /* when dead consumers' entries were last claimed */

    /* The anonymous answers of this window, each with how often it was given (rec_audit). */
    struct event *audit_flush;
    struct audit_tally *tally; /* REC_AUDIT_TALLY */
    unsigned *tally_slot;      /* 2 * REC_AUDIT_TALLY: 1 + index into tally, or 0 */
    size_t ntally;
};

/*
 * rec_store_init - register the scripts with @redis (before rclient_start)
 * and start the consumer's timer on @base. @return 0 or -1.
 */
int rec_store_init(struct rec_store *rs, const struct config *cfg, struct rclient *redis,
                   struct event_base *base);
void rec_store_release(struct rec_store *rs);

typedef void rec_learn_cb(long long accepted, long long duplicates, const char *err, void *arg);

/* rec_learn - count @n orders; one without a time counts at @now_ms. */
int rec_learn(struct rec_store *rs, const struct order *orders, size_t n, long long now_ms,
              rec_learn_cb *cb, void *arg);

/* What the model and the customer's choices say about one primary. */
struct rec_model {
    long long total;          /* orders counted */
    long long primary_orders; /* orders with the primary */
    struct rec_candidate *cands;
    size_t ncands;
    json_t *prefs; /* the customer's stored preferences as a flat object; {} when none */
    char (*bought)[PROTO_ID_SIZE]; /* only with personalisation consent */
    size_t nbought;
    long long dismissed; /* today's dismissals of the primary by the customer or session */
};

void rec_model_free(struct rec_model *m);

/* @m: new, the callee frees it with rec_model_free; NULL when err. */
typedef void rec_model_cb(struct rec_model *m, const char *err, void *arg);

/* rec_model_read - the model for @q's primary; @day is "yyyymmdd" (UTC). */
int rec_model_read(struct rec_store *rs, const struct rec_query *q, const char *day,
                   rec_model_cb *cb, void *arg);

/*
 * rec_resv_holds_cb - @found: the reservation exists; @holds: it is held (not
 * past its expiry) or committed, and has a line of the SKU asked.
 */
typedef void rec_resv_holds_cb(int found, int holds, const char *err, void *arg);

int rec_resv_holds(struct rec_store *rs, const char *id, const char *sku, rec_resv_holds_cb *cb,
                   void *arg);

/* @obj: new, the callee owns it; NULL when err. */
typedef void rec_json_cb(json_t *obj, const char *err, void *arg);

/* rec_feedback_put - count @fb; answers the totals {"shown", "accepted", "dismissed"}. */
int rec_feedback_put(struct rec_store *rs, const struct rec_feedback *fb, const char *day,
                     rec_json_cb *cb, void *arg);

/* rec_stats_get - {"shown", "accepted", "dismissed", "attach_rate"}. */
int rec_stats_get(struct rec_store *rs, rec_json_cb *cb, void *arg);

/* rec_prefs_put - set and clear what @p says; answers the stored preferences (flat). */
int rec_prefs_put(struct rec_store *rs, const char *customer, const struct preferences *p,
                  rec_json_cb *cb, void *arg);

/* rec_prefs_get - the stored preferences (flat; {} when none). */
int rec_prefs_get(struct rec_store *rs, const char *customer, rec_json_cb *cb, void *arg);

/*
 * rec_erase - forget @customer: preferences, purchases, dismissals, audit
 * entries, the customer's name on the orders still waiting in the streams
 * (they stay, anonymous, to be counted) and on reservations, and the events
 * of committing those. Answers {"keys", "audit_entries", "orders",
 * "reservations"}: keys and audit entries deleted, waiting orders and
 * reservations made anonymous.
 */
int rec_erase(struct rec_store *rs, const char *customer, rec_json_cb *cb, void *arg);

/*
 * rec_audit - append what was suggested to the audit trail (fields: at,
 * primary, channel, location, customer, items as JSON, count), trimming
 * entries older than REC_AUDIT_DAYS. Fire and forget. An answer for a
 * customer is one entry, written at once (an erasure must find it).
 * Anonymous answers alike (the same primary, channel, location and items)
 * given within REC_AUDIT_WINDOW_MS are one entry: at the first of them, with
 * how many times it was given, written when the window closes (or when
 * REC_AUDIT_TALLY distinct ones wait, or at rec_audit_flush).
 */
void rec_audit(struct rec_store *rs, const struct rec_query *q, const char *items_json);

/* rec_audit_flush - write the anonymous entries waiting, now (the daemon is stopping). */
void rec_audit_flush(struct rec_store *rs);

#endif
