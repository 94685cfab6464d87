/*
 * test_cli_view.c - what a support agent reads: each view of `omnistock`
 * rendered from a captured daemon answer (tests/data/cli/), checked for the
 * rows and figures a person would look at.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/cli/cli_view.h"

#ifndef OMNISTOCK_TEST_DATA_DIR
#define OMNISTOCK_TEST_DATA_DIR "tests/data"
#endif

static json_t *load(const char *name)
{
    const char *dir = getenv("OMNISTOCK_TEST_DATA");
    char path[PATH_MAX];
    json_error_t jerr;
    json_t *j;

    snprintf(path, sizeof(path), "%s/cli/%s", dir != NULL ? dir : OMNISTOCK_TEST_DATA_DIR, name);
    j = json_load_file(path, 0, &jerr);
    if (j == NULL)
        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
    return j;
}

struct capture {
    char *text;
    size_t len;
    FILE *f;
};

static FILE *capture(struct capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
    return c->f;
}

static char *captured(struct capture *c)
{
    fclose(c->f);
    return c->text;
}

/* @text has a line that starts with @prefix (after leading spaces) and equals it squeezed. */
static int has_row(const char *text, const char *want)
{
    const char *p = text;

    while (p != NULL && *p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t n = eol != NULL ? (size_t)(eol - p) : strlen(p);
        char squeezed[512];
        size_t k = 0;
        int space = 0;

        for (size_t i = 0; i < n && k + 1 < sizeof(squeezed); i++) {
            if (p[i] == ' ') {
                space = k > 0;
                continue;
            }
            if (space)
                squeezed[k++] = ' ';
            space = 0;
            squeezed[k++] = p[i];
        }
        squeezed[k] = '\0';
        if (strcmp(squeezed, want) == 0)
            return 1;
        p = eol != NULL ? eol + 1 : NULL;
    }
    return 0;
}

#define assert_row(text, want)                                                                     \
    do {                                                                                           \
        if (!has_row((text), (want)))                                                              \
            fail_msg("no row \"%s\" in:\n%s", (want), (text));                                     \
    } while (0)

static void test_cli_view__prices_in_minor_units(void **state)
{
    char out[64];

    (void)state;
    cli_format_price(1250, "GBP", out, sizeof(out));
    assert_string_equal(out, "GBP 12.50");
    cli_format_price(5, "EUR", out, sizeof(out));
    assert_string_equal(out, "EUR 0.05");
    cli_format_price(1500, "JPY", out, sizeof(out));
    assert_string_equal(out, "JPY 1500");
    cli_format_price(1250, "KWD", out, sizeof(out));
    assert_string_equal(out, "KWD 1.250");
    cli_format_price(-1250, "GBP", out, sizeof(out));
    assert_string_equal(out, "GBP -12.50");
}

static void test_cli_view__stock_shows_levels_then_channels(void **state)
{
    json_t *stock = load("stock_explain.json");
    struct capture c;
    char *out;

    (void)state;
    assert_int_equal(cli_view_stock(capture(&c), stock, NULL), 0);
    out = captured(&c);
    assert_row(out, "MUG-01 (version 17)");
    assert_row(out, "LOCATION ON HAND RESERVED SAFETY AVAILABLE");
    assert_row(out, "store-leeds 10 3 1 6");
    assert_row(out, "wh-1 100 0 1 99");
    assert_row(out, "CHANNEL LOCATION AVAILABLE");
    assert_row(out, "web (all) 103");
    assert_row(out, "click_collect store-york 3");
    assert_row(out, "store store-leeds 7");
    free(out);
    json_decref(stock);
}

static void test_cli_view__stock_at_one_location(void **state)
{
    json_t *stock = load("stock_explain.json");
    struct capture c;
    char *out;

    (void)state;
    assert_int_equal(cli_view_stock(capture(&c), stock, "store-york"), 0);
    out = captured(&c);
    assert_row(out, "store-york 5 0 1 4");
    assert_null(strstr(out, "wh-1"));
    assert_null(strstr(out, "store-leeds"));
    assert_row(out, "click_collect store-york 3");
    assert_row(out, "store store-york 5");
    free(out);
    assert_int_equal(cli_view_stock(capture(&c), stock, "store-bath"), -1);
    free(captured(&c));
    json_decref(stock);
}

static void test_cli_view__where_lists_every_channel_and_store_sorted(void **state)
{
    json_t *stock = load("stock_explain.json"), *locs = load("locations.json");
    json_t *rows = cli_where_rows(stock, locs, NULL);
    json_t *product = json_pack("{s:s}", "name", "Stoneware mug");
    struct capture c;
    char *out;

    (void)state;
    /* web first, then click_collect and store, each by most available */
    assert_int_equal(json_array_size(rows), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "channel")),
                        "web");
    assert_true(json_is_null(json_object_get(json_array_get(rows, 0), "location")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "location")),
                        "store-leeds");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 3), "channel")),
                        "store");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 3), "location")),
                        "store-leeds");
    cli_view_where(capture(&c), "MUG-01", product, rows);
    out = captured(&c);
    assert_row(out, "MUG-01 Stoneware mug");
    assert_row(out, "web - delivery 103 wh-1 99 + store-leeds 4");
    assert_row(out, "click_collect store-leeds Leeds Briggate 4 on hand 10 - reserved 3 - safety 1 "
                    "- buffer 2");
    assert_row(out, "click_collect store-york York Stonegate 3 on hand 5 - reserved 0 - safety 1 "
                    "- buffer 1");
    assert_row(out, "store store-leeds Leeds Briggate 7 on hand 10 - reserved 3");
    assert_row(out, "store store-york York Stonegate 5 on hand 5 - reserved 0");
    assert_true(strstr(out, "on hand 10 - reserved 3 - safety") <
                strstr(out, "on hand 5 - reserved 0 - safety"));
    free(out);
    json_decref(rows);

    rows = cli_where_rows(stock, locs, "store");
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
    json_decref(product);
    json_decref(stock);
    json_decref(locs);
}

static void test_cli_view__reservation_shows_lines_and_allocations(void **state)
{
    json_t *r = load("reservation_web.json");
    struct capture c;
    char *out;

    (void)state;
    cli_view_reservation(capture(&c), r);
    out = captured(&c);
    assert_row(out, "reservation r-1308b4efae9b4c0dc72a53c2");
    assert_row(out, "status held");
    assert_row(out, "customer c-1001");
    assert_row(out, "expires_at 2026-12-02T02:32:58.927Z");
    assert_row(out, "SKU QUANTITY LOCATION ALLOCATED");
    assert_row(out, "MUG-01 101 wh-1 99");
    assert_row(out, "store-leeds 2"); /* the same line, split */
    assert_row(out, "COASTER-4 1 wh-1 1");
    assert_null(strstr(out, "location ")); /* web: no location line */
    free(out);
    json_decref(r);
}

static void test_cli_view__history_says_what_each_event_changed(void **state)
{
    json_t *h = load("history.json");
    struct capture c;
    char *out;

    (void)state;
    cli_view_history(capture(&c), h);
    out = captured(&c);
    assert_row(out, "AT EVENT LOCATION CHANGE ON HAND RESERVED AVAILABLE NOTE");
    assert_row(out, "2026-12-02T02:17:58.928Z reservation.held store-leeds reserved +2 10 3 6 "
                    "r-1308b4efae9b4c0dc72a53c2");
    assert_row(out, "2026-12-02T02:17:57.000Z stock.changed store-leeds sale -2 10 1 8 ref "
                    "till-42-0001");
    assert_row(out, "2026-12-02T02:17:56.000Z stock.changed store-leeds transfer_in +6 12 1 10 "
                    "from wh-1");
    assert_row(out, "2026-12-02T02:17:55.000Z stock.changed store-leeds adjustment -1 6 1 4 "
                    "damaged");
    assert_row(out, "2026-12-02T02:17:54.000Z stock.changed store-leeds count =7 7 1 5 weekly "
                    "count");
    free(out);
    json_decref(h);
}

static void test_cli_view__recommendations_show_the_gate_then_reasons(void **state)
{
    json_t *rec = load("rec_resolved.json");
    struct capture c;
    char *out;

    (void)state;
    cli_view_recommendations(capture(&c), rec, NULL, NULL);
    out = captured(&c);
    assert_row(out, "primary need CAFETIERE-8: resolved (available in web)");
    assert_row(out, "JUG-MILK-05 Enamel milk jug, 0.5 l GBP 14.00 165 Bought with CAFETIERE-8 in "
                    "93 of 284 orders");
    assert_row(out, "MUG-01 Stoneware mug, speckled oat GBP 12.00 105 Bought with CAFETIERE-8 in "
                    "81 of 284 orders");
    assert_non_null(strstr(out, "at most 3 items"));
    free(out);
    json_decref(rec);
}

static void test_cli_view__unresolved_primary_lists_alternatives_only(void **state)
{
    json_t *rec = load("rec_unresolved.json"), *off = load("rec_opt_out.json");
    struct capture c;
    char *out;

    (void)state;
    cli_view_recommendations(capture(&c), rec, "store", "store-bath");
    out = captured(&c);
    assert_row(out, "primary need LAMP-DESK-BRASS: NOT resolved: not available in store at "
                    "store-bath");
    assert_non_null(strstr(out, "no suggestions until the primary need is met"));
    assert_row(out, "web - 15");
    assert_row(out, "click_collect store-leeds 15");
    assert_row(out, "store store-york 1");
    assert_null(strstr(out, "REASON"));
    free(out);

    cli_view_recommendations(capture(&c), off, "web", NULL);
    out = captured(&c);
    assert_row(out, "primary need CAFETIERE-8: resolved (held by the reservation)");
    assert_non_null(strstr(out, "the customer has turned recommendations off"));
    free(out);
    json_decref(rec);
    json_decref(off);
}

static void test_cli_view__consistency_clean_or_each_problem(void **state)
{
    json_t *bad = load("consistency_bad.json");
    json_t *ok = json_loads("{\"ok\": true, \"partitions\": 16, \"skus\": 53, \"holds\": 0, "
                            "\"problems\": []}",
                            0, NULL);
    struct capture c;
    char *out;

    (void)state;
    assert_int_equal(cli_view_consistency(capture(&c), ok), 1);
    out = captured(&c);
    assert_string_equal(out, "clean: 53 SKUs, 0 holds, 16 partitions checked\n");
    free(out);
    assert_int_equal(cli_view_consistency(capture(&c), bad), 0);
    out = captured(&c);
    assert_row(out, "NOT clean: 2 problems (53 SKUs, 4 holds checked)");
    assert_row(out, "reserved-mismatch MUG-01 store-leeds - reserved 3, holds add up to 2");
    assert_row(out, "dangling-hold MUG-02 wh-1 r-00aa the reservation is released");
    free(out);
    json_decref(ok);
    json_decref(bad);
}

static void test_cli_view__problems_show_title_detail_and_lines(void **state)
{
    json_t *p = load("problem_insufficient.json");
    struct capture c;
    char *out;

    (void)state;
    cli_view_problem(capture(&c), 409, p);
    out = captured(&c);
    assert_row(out, "Insufficient stock (HTTP 409): not enough stock to hold every line; nothing "
                    "was held");
    assert_row(out, "MUG-01 500 103");
    free(out);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_view__prices_in_minor_units),
        cmocka_unit_test(test_cli_view__stock_shows_levels_then_channels),
        cmocka_unit_test(test_cli_view__stock_at_one_location),
        cmocka_unit_test(test_cli_view__where_lists_every_channel_and_store_sorted),
        cmocka_unit_test(test_cli_view__reservation_shows_lines_and_allocations),
        cmocka_unit_test(test_cli_view__history_says_what_each_event_changed),
        cmocka_unit_test(test_cli_view__recommendations_show_the_gate_then_reasons),
        cmocka_unit_test(test_cli_view__unresolved_primary_lists_alternatives_only),
        cmocka_unit_test(test_cli_view__consistency_clean_or_each_problem),
        cmocka_unit_test(test_cli_view__problems_show_title_detail_and_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
