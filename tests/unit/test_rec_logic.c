/*
 * test_rec_logic.c - the scoring and the ethical policy of recommendations:
 * LLR against an independent G-statistic, thresholds and order, each filter
 * rule on its own, where else the primary can be had, and the reason text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "services/recommend/rec_logic.h"

/* |got - want| within 1e-6 of |want| (1e-9 absolute around 0), reported with both values. */
#define assert_close(got, want) assert_close_at((got), (want), __FILE__, __LINE__)

static void assert_close_at(double got, double want, const char *file, int line)
{
    double tol = fmax(1e-6 * fabs(want), 1e-9);

    if (!(fabs(got - want) <= tol)) {
        print_error("%.17g is not within %.3g of %.17g\n", got, tol, want);
        _fail(file, line);
    }
}

static struct rec_table table(long long k11, long long k12, long long k21, long long k22)
{
    struct rec_table t = {k11, k12, k21, k22};

    return t;
}

/*
 * The G-statistic written independently of rec_llr: 2 sum k_ij ln(k_ij N / (row_i col_j)) over
 * the non-zero cells, rows (k11+k12, k21+k22), columns (k11+k21, k12+k22).
 */
static double g_statistic(const struct rec_table *t)
{
    double k[2][2] = {{(double)t->k11, (double)t->k12}, {(double)t->k21, (double)t->k22}};
    double row[2] = {k[0][0] + k[0][1], k[1][0] + k[1][1]};
    double col[2] = {k[0][0] + k[1][0], k[0][1] + k[1][1]};
    double n = row[0] + row[1], g = 0;

    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            if (k[i][j] > 0)
                g += k[i][j] * log(k[i][j] * n / (row[i] * col[j]));
        }
    }
    return 2 * g;
}

/* ---- tables and LLR ---- */

static void test_rec_logic__table_from_redis_counts(void **state)
{
    struct rec_table t = rec_table_make(41, 980, 100, 100000);

    (void)state;
    assert_int_equal(t.k11, 41);
    assert_int_equal(t.k12, 59);
    assert_int_equal(t.k21, 939);
    assert_int_equal(t.k22, 98961);
}

static void test_rec_logic__table_clamps_contradictions(void **state)
{
    struct rec_table t;

    (void)state;
    /* together > orders_a: k11 clamped to the primary's orders, never inflated. */
    t = rec_table_make(50, 40, 100, 1000);
    assert_int_equal(t.k11, 40);
    assert_int_equal(t.k21, 0);
    assert_int_equal(t.k12, 60);
    assert_int_equal(t.k22, 900);
    /* together > orders_b. */
    t = rec_table_make(50, 100, 30, 1000);
    assert_int_equal(t.k11, 30);
    assert_int_equal(t.k12, 0);
    assert_int_equal(t.k21, 70);
    assert_int_equal(t.k22, 900);
    /* total smaller than the orders it must contain: k22 = 0, marginals kept. */
    t = rec_table_make(5, 60, 50, 80);
    assert_int_equal(t.k11, 5);
    assert_int_equal(t.k12, 45);
    assert_int_equal(t.k21, 55);
    assert_int_equal(t.k22, 0);
    /* negative counts are 0. */
    t = rec_table_make(-3, -1, 7, -10);
    assert_int_equal(t.k11, 0);
    assert_int_equal(t.k12, 7);
    assert_int_equal(t.k21, 0);
    assert_int_equal(t.k22, 0);
}

static void test_rec_logic__llr_matches_g_statistic(void **state)
{
    static const struct rec_table tables[] = {
        {10, 10, 10, 10},                        /* balanced, independent: 0 */
        {10, 20, 30, 60},                        /* independent, unbalanced: 0 */
        {30, 10, 10, 30},                        /* balanced, associated */
        {5, 15, 25, 955},                        /* skewed, small */
        {41, 59, 939, 98961},                    /* the API's example, realistic */
        {1, 50, 50, 10},                         /* negative association */
        {1000000, 2000000, 3000000, 94000000},   /* ~1e8 */
        {12345678, 8765432, 23456789, 98765432}, /* ~1e8, irregular */
        {50000000, 1000, 2000, 50000000},        /* huge and nearly diagonal */
        {2000000, 3, 7, 1000000},                /* ~1e6 with tiny cells */
        {0, 5, 7, 100},                          /* one zero cell */
        {3, 0, 4, 10},                           /* one zero cell */
        {12, 0, 0, 30},                          /* two zero cells */
        {0, 0, 5, 5},                            /* a zero row: 0 */
        {0, 0, 0, 42},                           /* everything in one cell: 0 */
        {7, 0, 0, 0},                            /* everything in one cell: 0 */
        {0, 0, 0, 0},                            /* empty: 0 */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        double got = rec_llr(&tables[i]), want = g_statistic(&tables[i]);

        print_message("table %zu: llr %.12g g %.12g\n", i, got, want);
        assert_true(got >= 0);
        assert_close(got, want);
    }
}

static void test_rec_logic__llr_known_values(void **state)
{
    struct rec_table diagonal = table(10, 0, 0, 10), unit = table(1, 0, 0, 1),
                     two_one = table(2, 1, 1, 2);

    (void)state;
    assert_close(rec_llr(&diagonal), 40 * log(2.0)); /* 27.7259 */
    assert_close(rec_llr(&diagonal), 27.725887222397812);
    assert_close(rec_llr(&unit), 4 * log(2.0)); /* 2.77259 */
    /* 2[4 ln(4/3) + 2 ln(2/3)] = 4 ln(32/27) = 0.679596 */
    assert_close(rec_llr(&two_one), 0.6795961471815897);
}

static void test_rec_logic__llr_zero_without_association(void **state)
{
    struct rec_table empty = table(0, 0, 0, 0), one_cell = table(0, 0, 0, 1000000000),
                     independent = table(100000000, 200000000, 300000000, 600000000);

    (void)state;
    assert_true(rec_llr(&empty) == 0.0);
    assert_true(rec_llr(&one_cell) == 0.0);
    assert_true(rec_llr(&independent) >= 0.0);
    assert_true(rec_llr(&independent) < 1e-3);
}

/* ---- positive association ---- */

static void test_rec_logic__positive_association(void **state)
{
    struct rec_table pos = table(10, 5, 5, 80), neg = table(1, 50, 50, 10),
                     indep = table(10, 20, 30, 60);

    (void)state;
    assert_int_equal(rec_positive(&pos), 1);
    assert_int_equal(rec_positive(&neg), 0);
    assert_int_equal(rec_positive(&indep), 0);
}

static void test_rec_logic__positive_zero_denominators_are_not_positive(void **state)
{
    struct rec_table never_a = table(0, 5, 0, 5), always_a = table(5, 0, 5, 0),
                     empty = table(0, 0, 0, 0);

    (void)state;
    assert_int_equal(rec_positive(&never_a), 0);
    assert_int_equal(rec_positive(&always_a), 0);
    assert_int_equal(rec_positive(&empty), 0);
}

static void test_rec_logic__positive_exact_with_large_counts(void **state)
{
    /* k11 k22 and k12 k21 differ by 1 around 1e18, beyond a double's 53 bits. */
    struct rec_table above = table(1000000000, 1000000001, 999999999, 1000000000),
                     below = table(1000000001, 1000000000, 1000000000, 999999999);

    (void)state;
    assert_int_equal(rec_positive(&above), 1);
    assert_int_equal(rec_positive(&below), 0);
}

/* ---- rec_score ---- */

static struct rec_policy policy_of(long long min_co_orders, double min_llr)
{
    struct rec_policy p;

    memset(&p, 0, sizeof(p));
    p.max_items = 3;
    p.max_price_ratio = 0.5;
    p.min_co_orders = min_co_orders;
    p.min_llr = min_llr;
    return p;
}

static struct rec_candidate scored(const char *sku, long long together, long long orders)
{
    struct rec_candidate c;

    memset(&c, 0, sizeof(c));
    snprintf(c.sku, sizeof(c.sku), "%s", sku);
    c.together = together;
    c.orders = orders;
    c.reject = REC_OVER_LIMIT; /* stale: rec_score must set it */
    return c;
}

static void test_rec_logic__score_is_llr_of_the_table(void **state)
{
    struct rec_policy p = policy_of(1, 1.0);
    struct rec_candidate c = scored("COASTER-4", 41, 100);
    struct rec_table t = table(41, 59, 939, 98961);

    (void)state;
    assert_int_equal(rec_score(&c, 1, 980, 100000, &p), 1);
    assert_close(c.score, g_statistic(&t));
    assert_true(c.score > 100);
    assert_int_equal(c.reject, REC_KEEP);
}

static void test_rec_logic__negative_association_is_weak_despite_big_llr(void **state)
{
    struct rec_policy p = policy_of(5, 10.0);
    /* in 1% of the primary's orders, but in half of all the others */
    struct rec_candidate c = scored("BAG-1", 10, 50000);

    (void)state;
    assert_int_equal(rec_score(&c, 1, 1000, 100000, &p), 0);
    assert_true(c.score > 500);
    assert_int_equal(c.reject, REC_WEAK);
}

static void test_rec_logic__score_min_co_orders(void **state)
{
    struct rec_policy p = policy_of(5, 1.0);
    struct rec_candidate c[2] = {scored("BELOW", 4, 10), scored("AT", 5, 10)};

    (void)state;
    assert_int_equal(rec_score(c, 2, 100, 10000, &p), 1);
    assert_string_equal(c[0].sku, "AT");
    assert_int_equal(c[0].reject, REC_KEEP);
    assert_string_equal(c[1].sku, "BELOW");
    assert_int_equal(c[1].reject, REC_WEAK);
    assert_true(c[1].score > p.min_llr); /* weak for k11 alone, score still set */
}

static void test_rec_logic__score_min_llr(void **state)
{
    struct rec_policy at = policy_of(1, 27.72), above = policy_of(1, 27.73);
    struct rec_candidate c = scored("SAUCER", 10, 10); /* table 10 0 0 10: 40 ln 2 = 27.7259 */
    struct rec_table t = table(10, 0, 0, 10);

    (void)state;
    assert_int_equal(rec_score(&c, 1, 10, 20, &at), 1);
    assert_int_equal(c.reject, REC_KEEP);
    assert_int_equal(rec_score(&c, 1, 10, 20, &above), 0);
    assert_int_equal(c.reject, REC_WEAK);
    assert_close(c.score, 27.725887222397812);
    /* exactly at the threshold is kept; one step above it is not */
    at.min_llr = rec_llr(&t);
    above.min_llr = nextafter(at.min_llr, INFINITY);
    assert_int_equal(rec_score(&c, 1, 10, 20, &at), 1);
    assert_int_equal(rec_score(&c, 1, 10, 20, &above), 0);
}

static void test_rec_logic__score_sorts_strong_first_then_by_score(void **state)
{
    struct rec_policy p = policy_of(3, 5.0);
    struct rec_candidate c[5] = {
        scored("WEAK-LOW", 2, 20),     /* k11 < 3 */
        scored("STRONG-MID", 8, 40),   /* positive, LLR well above 5 */
        scored("NEGATIVE", 10, 5000),  /* big LLR, negative: weak */
        scored("STRONG-HIGH", 30, 60), /* the strongest */
        scored("UNRELATED", 0, 0),     /* never bought: LLR 0 */
    };
    static const char *const order[] = {"STRONG-HIGH", "STRONG-MID", "NEGATIVE", "WEAK-LOW",
                                        "UNRELATED"};

    (void)state;
    assert_int_equal(rec_score(c, 5, 100, 10000, &p), 2);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(c[i].sku, order[i]);
    assert_true(c[0].score > c[1].score);
    assert_true(c[2].score > c[1].score); /* the negative one outscores a strong one */
    assert_true(c[2].score > c[3].score);
    assert_true(c[4].score == 0.0);
    assert_int_equal(c[0].reject, REC_KEEP);
    assert_int_equal(c[1].reject, REC_KEEP);
    assert_int_equal(c[2].reject, REC_WEAK);
    assert_int_equal(c[3].reject, REC_WEAK);
    assert_int_equal(c[4].reject, REC_WEAK);
}

static void test_rec_logic__score_ties_by_together_then_sku(void **state)
{
    struct rec_policy p = policy_of(1, 1.0);
    /* Equal tables score equally: SKU decides. */
    struct rec_candidate same[3] = {scored("C-2", 20, 30), scored("A-2", 20, 30),
                                    scored("B-2", 20, 30)};
    /* Every order has the primary: every LLR is exactly 0, together decides, then SKU. */
    struct rec_candidate zero[4] = {scored("X-10", 10, 10), scored("Z-20", 20, 20),
                                    scored("Y-20", 20, 20), scored("W-30", 30, 30)};

    (void)state;
    assert_int_equal(rec_score(same, 3, 100, 10000, &p), 3);
    assert_string_equal(same[0].sku, "A-2");
    assert_string_equal(same[1].sku, "B-2");
    assert_string_equal(same[2].sku, "C-2");
    assert_true(same[0].score == same[2].score);

    assert_int_equal(rec_score(zero, 4, 50, 50, &p), 0);
    assert_string_equal(zero[0].sku, "W-30");
    assert_string_equal(zero[1].sku, "Y-20");
    assert_string_equal(zero[2].sku, "Z-20");
    assert_string_equal(zero[3].sku, "X-10");
    for (size_t i = 0; i < 4; i++)
        assert_true(zero[i].score == 0.0);
}

/* ---- rec_select ---- */

static const char sensitive[][PROTO_ID_SIZE] = {"medicine", "adult"};

static struct rec_policy select_policy(void)
{
    struct rec_policy p = policy_of(1, 1.0);

    p.sensitive = sensitive;
    p.nsensitive = 2;
    return p;
}

static struct rec_primary mug(void)
{
    struct rec_primary m;

    memset(&m, 0, sizeof(m));
    strcpy(m.sku, "MUG-01");
    strcpy(m.category, "mugs");
    m.price = 1200;
    strcpy(m.currency, "GBP");
    return m;
}

/* A candidate that passes every rule for mug() unless changed. */
static struct rec_candidate item(const char *sku)
{
    struct rec_candidate c = scored(sku, 10, 20);

    c.reject = REC_KEEP;
    c.known = 1;
    strcpy(c.category, "kitchen");
    c.price = 400;
    strcpy(c.currency, "GBP");
    c.available = 12;
    return c;
}

static void test_rec_logic__select_keeps_a_good_item(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c = item("COASTER-4");

    (void)state;
    assert_int_equal(rec_select(&c, 1, &m, &p), 1);
    assert_int_equal(c.reject, REC_KEEP);
}

static void test_rec_logic__select_refuses_substitutes(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[2] = {item("MUG-02"), item("COASTER-4")};

    (void)state;
    strcpy(c[0].category, "mugs");
    assert_int_equal(rec_select(c, 2, &m, &p), 1);
    assert_int_equal(c[0].reject, REC_SUBSTITUTE);
    assert_int_equal(c[1].reject, REC_KEEP);
}

static void test_rec_logic__select_refuses_sensitive_categories(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[3] = {item("PILLS"), item("TOY"), item("TEA")};

    (void)state;
    strcpy(c[0].category, "medicine");
    strcpy(c[1].category, "adult");
    strcpy(c[2].category, "Medicine"); /* exact and case-sensitive */
    assert_int_equal(rec_select(c, 3, &m, &p), 1);
    assert_int_equal(c[0].reject, REC_SENSITIVE);
    assert_int_equal(c[1].reject, REC_SENSITIVE);
    assert_int_equal(c[2].reject, REC_KEEP);
}

static void test_rec_logic__select_price_cap(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[4] = {item("AT-CAP"), item("OVER-CAP"), item("EURO"), item("FREE")};

    (void)state;
    p.max_items = 10;
    c[0].price = 600; /* 0.5 x 1200 exactly */
    c[1].price = 601;
    c[2].price = 100;
    strcpy(c[2].currency, "EUR");
    c[3].price = 0;
    assert_int_equal(rec_select(c, 4, &m, &p), 2);
    assert_int_equal(c[0].reject, REC_KEEP);
    assert_int_equal(c[1].reject, REC_PRICE);
    assert_int_equal(c[2].reject, REC_PRICE);
    assert_int_equal(c[3].reject, REC_KEEP);
}

static void test_rec_logic__select_price_cap_with_an_inexact_ratio(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[2] = {item("AT-CAP"), item("OVER-CAP")};

    (void)state;
    p.max_price_ratio = 0.3; /* 0.2999... in binary */
    m.price = 1000;
    c[0].price = 300;
    c[1].price = 301;
    assert_int_equal(rec_select(c, 2, &m, &p), 1);
    assert_int_equal(c[0].reject, REC_KEEP);
    assert_int_equal(c[1].reject, REC_PRICE);
}

static void test_rec_logic__select_primary_without_price_refuses_all(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[2] = {item("COASTER-4"), item("FREE")};

    (void)state;
    c[1].price = 0;
    m.price = 0;
    assert_int_equal(rec_select(c, 2, &m, &p), 0);
    assert_int_equal(c[0].reject, REC_PRICE);
    assert_int_equal(c[1].reject, REC_PRICE);
}

static void test_rec_logic__select_refuses_the_basket(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[3] = {item("SPOON"), item("MUG-01"), item("COASTER-4")};

    (void)state;
    c[0].in_basket = 1;
    strcpy(c[1].category, "mugs-primary"); /* the primary itself, flag not set */
    assert_int_equal(rec_select(c, 3, &m, &p), 1);
    assert_int_equal(c[0].reject, REC_IN_BASKET);
    assert_int_equal(c[1].reject, REC_IN_BASKET);
    assert_int_equal(c[2].reject, REC_KEEP);
}

static void test_rec_logic__select_refuses_what_was_bought(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[2] = {item("KETTLE"), item("COASTER-4")};

    (void)state;
    c[0].bought = 1;
    assert_int_equal(rec_select(c, 2, &m, &p), 1);
    assert_int_equal(c[0].reject, REC_BOUGHT);
    assert_int_equal(c[1].reject, REC_KEEP);
}

static void test_rec_logic__select_refuses_unknown_products(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[2] = {item("GONE"), item("COASTER-4")};

    (void)state;
    c[0].known = 0;
    assert_int_equal(rec_select(c, 2, &m, &p), 1);
    assert_int_equal(c[0].reject, REC_UNKNOWN);
    assert_int_equal(c[1].reject, REC_KEEP);
}

static void test_rec_logic__select_refuses_the_unavailable(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[3] = {item("NONE-LEFT"), item("NOT-OFFERED"), item("LAST-ONE")};

    (void)state;
    c[0].available = 0;
    c[1].available = -1;
    c[2].available = 1;
    assert_int_equal(rec_select(c, 3, &m, &p), 1);
    assert_int_equal(c[0].reject, REC_UNAVAILABLE);
    assert_int_equal(c[1].reject, REC_UNAVAILABLE);
    assert_int_equal(c[2].reject, REC_KEEP);
}

static void test_rec_logic__select_first_rule_in_order_wins(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[6] = {item("A"), item("B"), item("C"), item("D"), item("E"), item("F")};

    (void)state;
    for (size_t i = 0; i < 6; i++) {
        strcpy(c[i].category, "mugs");
        c[i].price = 5000;
        c[i].available = 0;
    }
    c[0].known = 0;
    c[0].in_basket = 1;
    c[1].in_basket = 1;
    c[1].bought = 1;
    c[2].bought = 1;
    strcpy(c[4].category, "medicine");
    strcpy(c[5].category, "kitchen");
    assert_int_equal(rec_select(c, 6, &m, &p), 0);
    assert_int_equal(c[0].reject, REC_UNKNOWN);
    assert_int_equal(c[1].reject, REC_IN_BASKET);
    assert_int_equal(c[2].reject, REC_BOUGHT);
    assert_int_equal(c[3].reject, REC_SUBSTITUTE);
    assert_int_equal(c[4].reject, REC_SENSITIVE);
    assert_int_equal(c[5].reject, REC_PRICE);
    c[5].price = 100;
    assert_int_equal(rec_select(c, 6, &m, &p), 0);
    assert_int_equal(c[5].reject, REC_UNAVAILABLE);
}

static void test_rec_logic__select_at_most_max_items_in_place(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[6] = {item("ONE"),   item("SUB"),  item("TWO"),
                                 item("THREE"), item("FOUR"), item("FIVE")};

    (void)state;
    strcpy(c[1].category, "mugs");
    assert_int_equal(rec_select(c, 6, &m, &p), 3);
    assert_string_equal(c[0].sku, "ONE");
    assert_int_equal(c[0].reject, REC_KEEP);
    assert_int_equal(c[1].reject, REC_SUBSTITUTE);
    assert_int_equal(c[2].reject, REC_KEEP);
    assert_int_equal(c[3].reject, REC_KEEP);
    assert_string_equal(c[4].sku, "FOUR");
    assert_int_equal(c[4].reject, REC_OVER_LIMIT);
    assert_int_equal(c[5].reject, REC_OVER_LIMIT);
}

static void test_rec_logic__select_never_fills(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[4] = {item("WEAK"), item("SUB"), item("GOOD"), item("PRICEY")};

    (void)state;
    c[0].reject = REC_WEAK; /* passes every filter, but weak stays weak */
    strcpy(c[1].category, "mugs");
    c[3].price = 5000;
    assert_int_equal(rec_select(c, 4, &m, &p), 1);
    assert_int_equal(c[0].reject, REC_WEAK);
    assert_int_equal(c[1].reject, REC_SUBSTITUTE);
    assert_int_equal(c[2].reject, REC_KEEP);
    assert_int_equal(c[3].reject, REC_PRICE);

    c[2].available = 0;
    assert_int_equal(rec_select(c, 4, &m, &p), 0);
    assert_int_equal(c[0].reject, REC_WEAK);
    assert_int_equal(c[2].reject, REC_UNAVAILABLE);
    assert_int_equal(rec_select(c, 0, &m, &p), 0);
}

static void test_rec_logic__score_then_select(void **state)
{
    struct rec_policy p = select_policy();
    struct rec_primary m = mug();
    struct rec_candidate c[3] = {item("MID"), item("TOP"), item("WEAK")};

    (void)state;
    p.min_co_orders = 5;
    p.min_llr = 5.0;
    c[0].together = 8;
    c[0].orders = 40;
    c[1].together = 30;
    c[1].orders = 60;
    c[2].together = 2;
    c[2].orders = 20;
    assert_int_equal(rec_score(c, 3, 100, 10000, &p), 2);
    assert_int_equal(rec_select(c, 3, &m, &p), 2);
    assert_string_equal(c[0].sku, "TOP");
    assert_int_equal(c[0].reject, REC_KEEP);
    assert_string_equal(c[1].sku, "MID");
    assert_int_equal(c[1].reject, REC_KEEP);
    assert_string_equal(c[2].sku, "WEAK");
    assert_int_equal(c[2].reject, REC_WEAK);
}

/* ---- where the primary can be had ---- */

static struct loc_rule rule(const char *id, enum location_type type, unsigned fulfils,
                            long long buffer)
{
    struct loc_rule r;

    memset(&r, 0, sizeof(r));
    strcpy(r.id, id);
    r.type = type;
    r.fulfils = fulfils;
    r.buffer = buffer;
    return r;
}

static struct level level(long long on_hand, long long reserved)
{
    struct level lv = {on_hand, reserved, -1};

    return lv;
}

/*
 * With safety stock 2:
 *   wh-1         warehouse, web                  100 - 5 - 2         web 93
 *   store-leeds  web+store+cc, buffer 3          20 - 2 - 2 - 3      web 13, cc 13, store 18
 *   store-york   store only                      6 - 1               store 5
 *   store-hull   cc+store, buffer 2              4 - 0 - 2 - 2       cc 0, store 4
 */
#define NLOC 4
static void places(struct loc_rule rules[NLOC], struct level levels[NLOC])
{
    rules[0] = rule("wh-1", LOCATION_WAREHOUSE, CHANNEL_WEB, 0);
    rules[1] = rule("store-leeds", LOCATION_STORE, CHANNEL_ALL, 3);
    rules[2] = rule("store-york", LOCATION_STORE, CHANNEL_STORE, 0);
    rules[3] = rule("store-hull", LOCATION_STORE, CHANNEL_STORE | CHANNEL_CLICK_COLLECT, 2);
    levels[0] = level(100, 5);
    levels[1] = level(20, 2);
    levels[2] = level(6, 1);
    levels[3] = level(4, 0);
}

static void test_rec_logic__available_in_each_channel(void **state)
{
    struct loc_rule r[NLOC];
    struct level lv[NLOC];

    (void)state;
    places(r, lv);
    assert_int_equal(rec_available_in(CHANNEL_WEB, "", r, lv, NLOC, 2), 93 + 13);
    assert_int_equal(rec_available_in(CHANNEL_WEB, NULL, r, lv, NLOC, 2), 106);
    assert_int_equal(rec_available_in(CHANNEL_WEB, "store-york", r, lv, NLOC, 2), 106);
    assert_int_equal(rec_available_in(CHANNEL_WEB, "", r, lv, NLOC, 0), 95 + 15);
    assert_int_equal(rec_available_in(CHANNEL_CLICK_COLLECT, "store-leeds", r, lv, NLOC, 2), 13);
    assert_int_equal(rec_available_in(CHANNEL_CLICK_COLLECT, "store-leeds", r, lv, NLOC, 0), 15);
    assert_int_equal(rec_available_in(CHANNEL_STORE, "store-leeds", r, lv, NLOC, 2), 18);
    assert_int_equal(rec_available_in(CHANNEL_STORE, "store-york", r, lv, NLOC, 2), 5);
    assert_int_equal(rec_available_in(CHANNEL_CLICK_COLLECT, "store-hull", r, lv, NLOC, 2), 0);
    assert_int_equal(rec_available_in(CHANNEL_STORE, "store-hull", r, lv, NLOC, 2), 4);
}

static void test_rec_logic__available_in_not_offered_is_minus_one(void **state)
{
    struct loc_rule r[NLOC];
    struct level lv[NLOC];

    (void)state;
    places(r, lv);
    assert_int_equal(rec_available_in(CHANNEL_CLICK_COLLECT, "store-york", r, lv, NLOC, 2), -1);
    assert_int_equal(rec_available_in(CHANNEL_STORE, "wh-1", r, lv, NLOC, 2), -1);
    assert_int_equal(rec_available_in(CHANNEL_CLICK_COLLECT, "wh-1", r, lv, NLOC, 2), -1);
    assert_int_equal(rec_available_in(CHANNEL_STORE, "store-nowhere", r, lv, NLOC, 2), -1);
    assert_int_equal(rec_available_in(CHANNEL_STORE, NULL, r, lv, NLOC, 2), -1);
    assert_int_equal(rec_available_in(CHANNEL_STORE, "store-leeds", r, lv, 0, 2), -1);
}

static void assert_where(const struct rec_where *w, enum channel channel, const char *location,
                         long long available)
{
    assert_int_equal(w->channel, channel);
    assert_string_equal(w->location, location);
    assert_int_equal(w->available, available);
}

static void test_rec_logic__alternatives_to_click_collect(void **state)
{
    struct loc_rule r[NLOC];
    struct level lv[NLOC];
    struct rec_where w[8];

    (void)state;
    places(r, lv);
    /* not cc at leeds (asked), not cc at hull (0) */
    assert_int_equal(rec_alternatives(CHANNEL_CLICK_COLLECT, "store-leeds", r, lv, NLOC, 2, w, 8),
                     4);
    assert_where(&w[0], CHANNEL_WEB, "", 106);
    assert_where(&w[1], CHANNEL_STORE, "store-leeds", 18);
    assert_where(&w[2], CHANNEL_STORE, "store-york", 5);
    assert_where(&w[3], CHANNEL_STORE, "store-hull", 4);
}

static void test_rec_logic__alternatives_to_web(void **state)
{
    struct loc_rule r[NLOC];
    struct level lv[NLOC];
    struct rec_where w[8];

    (void)state;
    places(r, lv);
    assert_int_equal(rec_alternatives(CHANNEL_WEB, "", r, lv, NLOC, 2, w, 8), 4);
    assert_where(&w[0], CHANNEL_CLICK_COLLECT, "store-leeds", 13);
    assert_where(&w[1], CHANNEL_STORE, "store-leeds", 18);
    assert_where(&w[2], CHANNEL_STORE, "store-york", 5);
    assert_where(&w[3], CHANNEL_STORE, "store-hull", 4);
}

static void test_rec_logic__alternatives_to_a_store(void **state)
{
    struct loc_rule r[NLOC];
    struct level lv[NLOC];
    struct rec_where w[8];

    (void)state;
    places(r, lv);
    /* without safety stock hull's click and collect has 2 */
    assert_int_equal(rec_alternatives(CHANNEL_STORE, "store-york", r, lv, NLOC, 0, w, 8), 5);
    assert_where(&w[0], CHANNEL_WEB, "", 110);
    assert_where(&w[1], CHANNEL_CLICK_COLLECT, "store-leeds", 15);
    assert_where(&w[2], CHANNEL_CLICK_COLLECT, "store-hull", 2);
    assert_where(&w[3], CHANNEL_STORE, "store-leeds", 18);
    assert_where(&w[4], CHANNEL_STORE, "store-hull", 4);
}

static void test_rec_logic__alternatives_at_most_max(void **state)
{
    struct loc_rule r[NLOC];
    struct level lv[NLOC];
    struct rec_where w[3];

    (void)state;
    places(r, lv);
    memset(w, 0, sizeof(w));
    w[2].available = 777; /* untouched */
    assert_int_equal(rec_alternatives(CHANNEL_CLICK_COLLECT, "store-leeds", r, lv, NLOC, 2, w, 2),
                     2);
    assert_where(&w[0], CHANNEL_WEB, "", 106);
    assert_where(&w[1], CHANNEL_STORE, "store-leeds", 18);
    assert_int_equal(w[2].available, 777);
    assert_int_equal(rec_alternatives(CHANNEL_WEB, "", r, lv, NLOC, 2, w, 0), 0);
}

static void test_rec_logic__alternatives_none_when_nothing_anywhere(void **state)
{
    struct loc_rule r[NLOC];
    struct level lv[NLOC];
    struct rec_where w[8];

    (void)state;
    places(r, lv);
    for (size_t i = 0; i < NLOC; i++)
        lv[i] = level(3, 3);
    assert_int_equal(rec_alternatives(CHANNEL_WEB, "", r, lv, NLOC, 0, w, 8), 0);
    assert_int_equal(rec_alternatives(CHANNEL_STORE, "store-york", r, lv, NLOC, 0, w, 8), 0);
}

/* ---- words ---- */

static void test_rec_logic__reason_text(void **state)
{
    char buf[128], small[12];

    (void)state;
    assert_ptr_equal(rec_reason("MUG-01", 41, 980, buf, sizeof(buf)), buf);
    assert_string_equal(buf, "Bought with MUG-01 in 41 of 980 orders");
    assert_string_equal(rec_reason("TEA-9", 1000000000, 3000000000LL, buf, sizeof(buf)),
                        "Bought with TEA-9 in 1000000000 of 3000000000 orders");
    assert_string_equal(rec_reason("MUG-01", 41, 980, small, sizeof(small)), "Bought with");
}

static void test_rec_logic__reject_names(void **state)
{
    (void)state;
    assert_string_equal(rec_reject_name(REC_KEEP), "keep");
    assert_string_equal(rec_reject_name(REC_WEAK), "weak");
    assert_string_equal(rec_reject_name(REC_UNKNOWN), "unknown");
    assert_string_equal(rec_reject_name(REC_IN_BASKET), "in_basket");
    assert_string_equal(rec_reject_name(REC_BOUGHT), "bought");
    assert_string_equal(rec_reject_name(REC_SUBSTITUTE), "substitute");
    assert_string_equal(rec_reject_name(REC_SENSITIVE), "sensitive");
    assert_string_equal(rec_reject_name(REC_PRICE), "price");
    assert_string_equal(rec_reject_name(REC_UNAVAILABLE), "unavailable");
    assert_string_equal(rec_reject_name(REC_OVER_LIMIT), "over_limit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rec_logic__table_from_redis_counts),
        cmocka_unit_test(test_rec_logic__table_clamps_contradictions),
        cmocka_unit_test(test_rec_logic__llr_matches_g_statistic),
        cmocka_unit_test(test_rec_logic__llr_known_values),
        cmocka_unit_test(test_rec_logic__llr_zero_without_association),
        cmocka_unit_test(test_rec_logic__positive_association),
        cmocka_unit_test(test_rec_logic__positive_zero_denominators_are_not_positive),
        cmocka_unit_test(test_rec_logic__positive_exact_with_large_counts),
        cmocka_unit_test(test_rec_logic__score_is_llr_of_the_table),
        cmocka_unit_test(test_rec_logic__negative_association_is_weak_despite_big_llr),
        cmocka_unit_test(test_rec_logic__score_min_co_orders),
        cmocka_unit_test(test_rec_logic__score_min_llr),
        cmocka_unit_test(test_rec_logic__score_sorts_strong_first_then_by_score),
        cmocka_unit_test(test_rec_logic__score_ties_by_together_then_sku),
        cmocka_unit_test(test_rec_logic__select_keeps_a_good_item),
        cmocka_unit_test(test_rec_logic__select_refuses_substitutes),
        cmocka_unit_test(test_rec_logic__select_refuses_sensitive_categories),
        cmocka_unit_test(test_rec_logic__select_price_cap),
        cmocka_unit_test(test_rec_logic__select_price_cap_with_an_inexact_ratio),
        cmocka_unit_test(test_rec_logic__select_primary_without_price_refuses_all),
        cmocka_unit_test(test_rec_logic__select_refuses_the_basket),
        cmocka_unit_test(test_rec_logic__select_refuses_what_was_bought),
        cmocka_unit_test(test_rec_logic__select_refuses_unknown_products),
        cmocka_unit_test(test_rec_logic__select_refuses_the_unavailable),
        cmocka_unit_test(test_rec_logic__select_first_rule_in_order_wins),
        cmocka_unit_test(test_rec_logic__select_at_most_max_items_in_place),
        cmocka_unit_test(test_rec_logic__select_never_fills),
        cmocka_unit_test(test_rec_logic__score_then_select),
        cmocka_unit_test(test_rec_logic__available_in_each_channel),
        cmocka_unit_test(test_rec_logic__available_in_not_offered_is_minus_one),
        cmocka_unit_test(test_rec_logic__alternatives_to_click_collect),
        cmocka_unit_test(test_rec_logic__alternatives_to_web),
        cmocka_unit_test(test_rec_logic__alternatives_to_a_store),
        cmocka_unit_test(test_rec_logic__alternatives_at_most_max),
        cmocka_unit_test(test_rec_logic__alternatives_none_when_nothing_anywhere),
        cmocka_unit_test(test_rec_logic__reason_text),
        cmocka_unit_test(test_rec_logic__reject_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
