/*
 * rec_logic.c - the scoring of DESIGN.md and the ethical policy of API.md as
 * pure decisions: tables, LLR, thresholds, filters, where else the primary
 * can be had, and the reason shown with an item. No I/O, no logging.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/recommend/rec_logic.h"

/*
 * A relative slack on the price cap that forgives the ratio's binary representation (0.3 is
 * 0.2999...) and stays far below one minor unit for any price the catalogue accepts (<= 1e11).
 */
#define PRICE_SLACK 1e-12L

static long long floor0(long long v)
{
    return v < 0 ? 0 : v;
}

/* a - b for a, b >= 0, floored at 0 (never overflows). */
static long long sub0(long long a, long long b)
{
    return a > b ? a - b : 0;
}

static long long min3(long long a, long long b, long long c)
{
    long long m = a < b ? a : b;

    return m < c ? m : c;
}

/*
 * The marginals orders_a and orders_b are kept as given (the reason shows orders_a); together
 * is clamped down to both, never inflating the evidence; total is raised when it is too small
 * for the other three (k22 = 0).
 */
struct rec_table rec_table_make(long long together, long long orders_a, long long orders_b,
                                long long total)
{
    struct rec_table t;
    long long a = floor0(orders_a), b = floor0(orders_b);

    t.k11 = min3(floor0(together), a, b);
    t.k12 = b - t.k11;
    t.k21 = a - t.k11;
    t.k22 = sub0(sub0(sub0(floor0(total), t.k11), t.k12), t.k21);
    return t;
}

static double xlogx(double x)
{
    return x > 0 ? x * log(x) : 0.0;
}

/* H(a, b) = xlogx(a + b) - xlogx(a) - xlogx(b). */
static double entropy2(double a, double b)
{
    return xlogx(a + b) - xlogx(a) - xlogx(b);
}

/* H(a, b, c, d) = xlogx(a + b + c + d) - the sum of xlogx of each. */
static double entropy4(double a, double b, double c, double d)
{
    return xlogx(a + b + c + d) - xlogx(a) - xlogx(b) - xlogx(c) - xlogx(d);
}

double rec_llr(const struct rec_table *t)
{
    double k11 = (double)t->k11, k12 = (double)t->k12, k21 = (double)t->k21, k22 = (double)t->k22;
    double rows = entropy2(k11 + k12, k21 + k22);
    double cols = entropy2(k11 + k21, k12 + k22);
    double cells = entropy4(k11, k12, k21, k22);
    double llr = 2.0 * (rows + cols - cells);

    /* LLR >= 0 mathematically; independent tables can round to a tiny negative. */
    return llr > 0 ? llr : 0.0;
}

/*
 * k11/(k11+k21) > k12/(k12+k22), cross-multiplied: k11*(k12+k22) > k12*(k11+k21), that is
 * k11*k22 > k12*k21. With a zero denominator the comparison is undefined and the answer is 0:
 * A never bought (no evidence), or every order has A (no rate without A to beat). The products
 * are exact in long double for counts below 2^32.
 */
int rec_positive(const struct rec_table *t)
{
    if (t->k11 + t->k21 <= 0 || t->k12 + t->k22 <= 0)
        return 0;
    return (long double)t->k11 * (long double)t->k22 > (long double)t->k12 * (long double)t->k21;
}

const char *rec_reject_name(enum rec_reject r)
{
    static const char *const names[] = {
        [REC_KEEP] = "keep",
        [REC_WEAK] = "weak",
        [REC_UNKNOWN] = "unknown",
        [REC_IN_BASKET] = "in_basket",
        [REC_BOUGHT] = "bought",
        [REC_SUBSTITUTE] = "substitute",
        [REC_SENSITIVE] = "sensitive",
        [REC_PRICE] = "price",
        [REC_UNAVAILABLE] = "unavailable",
        [REC_OVER_LIMIT] = "over_limit",
    };

    if ((unsigned)r >= sizeof(names) / sizeof(names[0]))
        return "?";
    return names[r];
}

/* Not weak first, then score, then orders together (highest first), then SKU. */
static int by_rank(const void *pa, const void *pb)
{
    const struct rec_candidate *a = pa, *b = pb;
    int weak_a = a->reject == REC_WEAK, weak_b = b->reject == REC_WEAK;

    if (weak_a != weak_b)
        return weak_a - weak_b;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->together != b->together)
        return a->together > b->together ? -1 : 1;
    return strcmp(a->sku, b->sku);
}

/* Weak: not positive, too few orders together, or too little evidence (a NaN LLR is weak). */
static int is_weak(const struct rec_table *t, double score, const struct rec_policy *policy)
{
    if (!rec_positive(t) || t->k11 < policy->min_co_orders)
        return 1;
    return !(score >= policy->min_llr);
}

size_t rec_score(struct rec_candidate *c, size_t n, long long primary_orders, long long total,
                 const struct rec_policy *policy)
{
    size_t strong = 0;

    for (size_t i = 0; i < n; i++) {
        struct rec_table t = rec_table_make(c[i].together, primary_orders, c[i].orders, total);

        c[i].score = rec_llr(&t);
        c[i].reject = is_weak(&t, c[i].score, policy) ? REC_WEAK : REC_KEEP;
        if (c[i].reject == REC_KEEP)
            strong++;
    }
    if (n > 1)
        qsort(c, n, sizeof(*c), by_rank);
    return strong;
}

static int is_sensitive(const char *category, const struct rec_policy *policy)
{
    for (size_t i = 0; i < policy->nsensitive; i++) {
        if (strcmp(category, policy->sensitive[i]) == 0)
            return 1;
    }
    return 0;
}

/* Over max_price_ratio x the primary, in another currency, or no primary price to cap by. */
static int over_price(const struct rec_candidate *c, const struct rec_primary *primary,
                      const struct rec_policy *policy)
{
    long double cap;

    if (primary->price <= 0 || strcmp(c->currency, primary->currency) != 0)
        return 1;
    cap = (long double)policy->max_price_ratio * (long double)primary->price;
    /* Written so that a NaN ratio refuses. */
    return !((long double)c->price <= cap * (1.0L + PRICE_SLACK));
}

/* The first rule, in the documented order, that leaves @c out; REC_KEEP if none. */
static enum rec_reject first_rule(const struct rec_candidate *c, const struct rec_primary *primary,
                                  const struct rec_policy *policy)
{
    if (!c->known)
        return REC_UNKNOWN;
    if (c->in_basket || strcmp(c->sku, primary->sku) == 0)
        return REC_IN_BASKET;
    if (c->bought)
        return REC_BOUGHT;
    if (strcmp(c->category, primary->category) == 0)
        return REC_SUBSTITUTE;
    if (is_sensitive(c->category, policy))
        return REC_SENSITIVE;
    if (over_price(c, primary, policy))
        return REC_PRICE;
    if (c->available <= 0)
        return REC_UNAVAILABLE;
    return REC_KEEP;
}

size_t rec_select(struct rec_candidate *c, size_t n, const struct rec_primary *primary,
                  const struct rec_policy *policy)
{
    size_t kept = 0, max = policy->max_items > 0 ? (size_t)policy->max_items : 0;

    for (size_t i = 0; i < n; i++) {
        if (c[i].reject == REC_WEAK)
            continue;
        c[i].reject = first_rule(&c[i], primary, policy);
        if (c[i].reject != REC_KEEP)
            continue;
        if (kept < max)
            kept++;
        else
            c[i].reject = REC_OVER_LIMIT;
    }
    return kept;
}

long long rec_available_in(enum channel channel, const char *location, const struct loc_rule *rules,
                           const struct level *levels, size_t n, long long safety)
{
    if (channel == CHANNEL_WEB)
        return stock_channel_total(CHANNEL_WEB, rules, levels, n, safety);
    if ((channel != CHANNEL_STORE && channel != CHANNEL_CLICK_COLLECT) || location == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rules[i].id, location) == 0)
            return stock_channel_at(channel, &rules[i], &levels[i], safety);
    }
    return -1;
}

/* Append (@channel, @location, @available) to @out when there is room; @return the new count. */
static size_t add_where(struct rec_where *out, size_t count, size_t max, enum channel channel,
                        const char *location, long long available)
{
    if (available <= 0 || count >= max)
        return count;
    out[count].channel = channel;
    snprintf(out[count].location, sizeof(out[count].location), "%s", location);
    out[count].available = available;
    return count + 1;
}

/* Each location's figure in @channel, skipping the asked one. */
static size_t add_stores(enum channel channel, enum channel asked, const char *location,
                         const struct loc_rule *rules, const struct level *levels, size_t n,
                         long long safety, struct rec_where *out, size_t count, size_t max)
{
    for (size_t i = 0; i < n; i++) {
        if (channel == asked && strcmp(rules[i].id, location) == 0)
            continue;
        count = add_where(out, count, max, channel, rules[i].id,
                          stock_channel_at(channel, &rules[i], &levels[i], safety));
    }
    return count;
}

size_t rec_alternatives(enum channel channel, const char *location, const struct loc_rule *rules,
                        const struct level *levels, size_t n, long long safety,
                        struct rec_where *out, size_t max)
{
    size_t count = 0;

    if (location == NULL)
        location = "";
    if (channel != CHANNEL_WEB)
        count = add_where(out, count, max, CHANNEL_WEB, "",
                          stock_channel_total(CHANNEL_WEB, rules, levels, n, safety));
    count = add_stores(CHANNEL_CLICK_COLLECT, channel, location, rules, levels, n, safety, out,
                       count, max);
    count = add_stores(CHANNEL_STORE, channel, location, rules, levels, n, safety, out, count, max);
    return count;
}

char *rec_reason(const char *primary, long long together, long long primary_orders, char *buf,
                 size_t buflen)
{
    snprintf(buf, buflen, "Bought with %s in %lld of %lld orders", primary, together,
             primary_orders);
    return buf;
}
