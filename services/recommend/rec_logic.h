/*
 * rec_logic.h - what to suggest after a primary item, and why: the scoring
 * of DESIGN.md and the ethical policy of API.md, as pure decisions (no I/O).
 *
 * For primary A and candidate B over N orders:
 *   k11 = orders with A and B        k12 = orders with B, without A
 *   k21 = orders with A, without B   k22 = orders with neither
 * The score is Dunning's log-likelihood ratio
 *   LLR = 2 [H(k11+k12, k21+k22) + H(k11+k21, k12+k22) - H(k11, k12, k21, k22)]
 *   H(a, ...) = xlogx(sum) - sum xlogx(a_i)
 * kept only for positive association (k11/(k11+k21) > k12/(k12+k22)),
 * k11 >= min_co_orders and LLR >= min_llr.
 */
#ifndef RECOMMEND_REC_LOGIC_H
#define RECOMMEND_REC_LOGIC_H

#include <stddef.h>

#include "proto/proto.h"
#include "services/inventory/stock_logic.h"

/* The 2x2 contingency table of one (primary, candidate) pair. */
struct rec_table {
    long long k11, k12, k21, k22;
};

/*
 * rec_table_make - the table from the counts kept in Redis: @together orders
 * with both, @orders_a with A, @orders_b with B, @total orders. Counts that
 * contradict each other (together > orders_a, ...) are clamped so that no
 * cell is negative.
 */
struct rec_table rec_table_make(long long together, long long orders_a, long long orders_b,
                                long long total);

/* rec_llr - Dunning's log-likelihood ratio of @t (>= 0; 0 for an empty table). */
double rec_llr(const struct rec_table *t);

/* rec_positive - 1 when B is more likely with A than without it, else 0. */
int rec_positive(const struct rec_table *t);

/* The thresholds and caps of the policy (config "recommendations"). */
struct rec_policy {
    int max_items;                          /* at most this many items */
    double max_price_ratio;                 /* an item costs at most this x the primary */
    long long min_co_orders;                /* k11 at least this */
    double min_llr;                         /* LLR at least this */
    const char (*sensitive)[PROTO_ID_SIZE]; /* categories never suggested */
    size_t nsensitive;
};

/* Why a candidate was not suggested. REC_KEEP: it was. */
enum rec_reject {
    REC_KEEP = 0,
    REC_WEAK,        /* not positive, k11 < min_co_orders or LLR < min_llr */
    REC_UNKNOWN,     /* no such product */
    REC_IN_BASKET,   /* the primary, or already in the basket */
    REC_BOUGHT,      /* the customer has it already */
    REC_SUBSTITUTE,  /* same category as the primary */
    REC_SENSITIVE,   /* a sensitive category */
    REC_PRICE,       /* over the price cap, or in another currency */
    REC_UNAVAILABLE, /* not available in the channel and location */
    REC_OVER_LIMIT,  /* passed every rule, but max_items were already chosen */
};

/* One candidate: the evidence, and what the filters need to know of it. */
struct rec_candidate {
    char sku[PROTO_ID_SIZE];
    long long together; /* k11 */
    long long orders;   /* orders with the candidate: k11 + k12 */
    double score;       /* set by rec_score */
    /* Filled in before rec_select; ignored by rec_score. */
    int known; /* the product exists */
    char category[PROTO_ID_SIZE];
    long long price; /* minor units */
    char currency[4];
    long long available;    /* in the asked channel (and location); -1: not offered */
    int in_basket;          /* the primary itself, or already in the basket */
    int bought;             /* the customer bought it (used only with consent) */
    enum rec_reject reject; /* set by rec_select: why it was left out */
};

/* rec_reject_name - "weak", "unknown", ... for logs and the audit trail. */
const char *rec_reject_name(enum rec_reject r);

/*
 * rec_score - score @n candidates of a primary bought in @primary_orders of
 * @total orders: set each one's score, mark the weak ones REC_WEAK, and sort
 * all by score, highest first (ties: more orders together, then SKU).
 * @return how many are not weak (they come first).
 */
size_t rec_score(struct rec_candidate *c, size_t n, long long primary_orders, long long total,
                 const struct rec_policy *policy);

/* The primary as the filters see it. */
struct rec_primary {
    char sku[PROTO_ID_SIZE];
    char category[PROTO_ID_SIZE];
    long long price;
    char currency[4];
};

/*
 * rec_select - apply the policy to the @n scored candidates (rec_score's
 * order), in this order: unknown, in basket, bought, substitute, sensitive,
 * price, unavailable, then at most max_items. Sets each one's reject.
 * @return how many are kept: never filler, so possibly 0.
 */
size_t rec_select(struct rec_candidate *c, size_t n, const struct rec_primary *primary,
                  const struct rec_policy *policy);

/*
 * rec_available_in - what @channel may promise of one SKU, at @location for
 * click_collect and store (ignored for web), from the SKU's @n levels
 * (levels[i] at rules[i]) and safety stock. @return the figure, or -1 when
 * @location does not offer @channel (or is not among @rules).
 */
long long rec_available_in(enum channel channel, const char *location, const struct loc_rule *rules,
                           const struct level *levels, size_t n, long long safety);

/* Somewhere else the primary can be had. */
struct rec_where {
    enum channel channel;
    char location[PROTO_ID_SIZE]; /* "" for web */
    long long available;          /* > 0 */
};

/*
 * rec_alternatives - where the primary can be had other than (@channel,
 * @location): web, then click_collect at each store, then walk-in at each
 * store (stores in @rules' order), only where available > 0. Writes at most
 * @max into @out. @return how many were written.
 */
size_t rec_alternatives(enum channel channel, const char *location, const struct loc_rule *rules,
                        const struct level *levels, size_t n, long long safety,
                        struct rec_where *out, size_t max);

/*
 * rec_reason - the sentence shown with an item, built from the evidence
 * alone: "Bought with <primary> in <together> of <primary_orders> orders".
 * No urgency, no scarcity. @return @buf.
 */
char *rec_reason(const char *primary, long long together, long long primary_orders, char *buf,
                 size_t buflen);

#endif
