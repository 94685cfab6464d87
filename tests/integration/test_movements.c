/*
 * test_movements.c - every movement type through the real daemon, the rules
 * that refuse a movement (and then change nothing), the batch form and the
 * per-SKU history.
 *
 * TODO(reservations): stock.shortfall (a sale or count taking on_hand below
 * reserved) needs reserved units, which only reservations create; test it
 * with the reservations issue.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tests/harness/harness.h"

#define ADMIN (h->keys[HARNESS_ADMIN])

static int group_setup(void **state)
{
    struct harness *h = harness_start();

    *state = h;
    if (h == NULL) {
        return -1;
    }
    harness_admin_put(h, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    harness_admin_put(h, "/v1/locations/store-leeds",
                      "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"web\", "
                      "\"store\", \"click_collect\"]}");
    harness_admin_put(h, "/v1/locations/store-york",
                      "{\"name\": \"York\", \"type\": \"store\", \"fulfils\": [\"store\"]}");
    for (int i = 1; i <= 6; i++) {
        char path[64];

        snprintf(path, sizeof(path), "/v1/products/SKU-%d", i);
        harness_admin_put(h, path,
                          "{\"name\": \"Thing\", \"category\": \"kitchen\", \"price\": "
                          "{\"amount\": 100, \"currency\": \"GBP\"}}");
    }
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* move - POST one movement as admin. */
static struct harness_response *move(struct harness *h, const char *body)
{
    return harness_post_json(h, ADMIN, "/v1/movements", body);
}

/* move_ok - POST one movement, expect 201 with these levels; @return its version. */
static long long move_ok(struct harness *h, const char *body, const char *sku, const char *location,
                         long long on_hand)
{
    struct harness_response *r = move(h, body);
    long long version;

    harness_context("movement %s", body);
    harness_assert_status(r, 201);
    assert_non_null(harness_jget(r->json, "event_id"));
    harness_assert_jstr(r, "sku", sku);
    harness_assert_jstr(r, "location", location);
    harness_assert_jint(r, "on_hand", on_hand);
    harness_assert_jint(r, "reserved", 0);
    harness_assert_jint(r, "available", on_hand);
    version = harness_jint(r->json, "version");
    assert_true(version > 0 && version != LLONG_MIN);
    harness_response_free(r);
    harness_context(NULL);
    return version;
}

/* on_hand - the on_hand of @sku at @location as GET /v1/stock/{sku} shows it. */
static long long on_hand(struct harness *h, const char *sku, const char *location)
{
    char path[128];
    struct harness_response *r;
    long long n = LLONG_MIN;
    json_t *v;
    size_t i;

    snprintf(path, sizeof(path), "/v1/stock/%s", sku);
    r = harness_get(h, ADMIN, path);
    harness_assert_status(r, 200);
    json_array_foreach(harness_jget(r->json, "locations"), i, v)
    {
        if (strcmp(harness_jstr(v, "location"), location) == 0) {
            n = harness_jint(v, "on_hand");
        }
    }
    harness_response_free(r);
    return n;
}

static void test_movements__each_type_changes_on_hand(void **state)
{
    struct harness *h = *state;
    long long v[7];

    v[0] = move_ok(h,
                   "{\"sku\": \"SKU-1\", \"location\": \"store-leeds\", \"type\": \"receipt\", "
                   "\"quantity\": 10, \"reference\": \"PO-1\"}",
                   "SKU-1", "store-leeds", 10);
    v[1] = move_ok(h,
                   "{\"sku\": \"SKU-1\", \"location\": \"store-leeds\", \"type\": \"sale\", "
                   "\"quantity\": 3}",
                   "SKU-1", "store-leeds", 7);
    v[2] = move_ok(h,
                   "{\"sku\": \"SKU-1\", \"location\": \"store-leeds\", \"type\": \"return\", "
                   "\"quantity\": 1, \"reason\": \"unwanted gift\"}",
                   "SKU-1", "store-leeds", 8);
    v[3] = move_ok(h,
                   "{\"sku\": \"SKU-1\", \"location\": \"store-leeds\", \"type\": \"adjustment\", "
                   "\"quantity\": -2, \"reason\": \"damaged\"}",
                   "SKU-1", "store-leeds", 6);
    v[4] = move_ok(h,
                   "{\"sku\": \"SKU-1\", \"location\": \"store-leeds\", \"type\": \"adjustment\", "
                   "\"quantity\": 4, \"reason\": \"found\"}",
                   "SKU-1", "store-leeds", 10);
    v[5] = move_ok(h,
                   "{\"sku\": \"SKU-1\", \"location\": \"store-leeds\", \"type\": \"count\", "
                   "\"quantity\": 4, \"as_of\": \"2024-05-01T10:00:00Z\"}",
                   "SKU-1", "store-leeds", 4);
    v[6] = move_ok(h,
                   "{\"sku\": \"SKU-1\", \"location\": \"store-leeds\", \"type\": \"count\", "
                   "\"quantity\": 0, \"as_of\": \"2024-05-02T10:00:00Z\"}",
                   "SKU-1", "store-leeds", 0);
    for (int i = 1; i < 7; i++) {
        assert_true(v[i] > v[i - 1]);
    }
    assert_int_equal(on_hand(h, "SKU-1", "store-leeds"), 0);
    assert_int_equal(on_hand(h, "SKU-1", "wh-1"), 0);
}

static void test_movements__older_count_is_stale_and_changes_nothing(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char before[41];

    move_ok(h,
            "{\"sku\": \"SKU-2\", \"location\": \"wh-1\", \"type\": \"count\", \"quantity\": 20, "
            "\"as_of\": \"2024-06-01T12:00:00Z\"}",
            "SKU-2", "wh-1", 20);
    move_ok(h, "{\"sku\": \"SKU-2\", \"location\": \"wh-1\", \"type\": \"sale\", \"quantity\": 5}",
            "SKU-2", "wh-1", 15);
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    r = move(h, "{\"sku\": \"SKU-2\", \"location\": \"wh-1\", \"type\": \"count\", \"quantity\": "
                "50, \"as_of\": \"2024-06-01T11:59:59Z\"}");
    harness_assert_problem(r, 409, "stale-count", NULL);
    harness_response_free(r);
    harness_assert_unchanged(h, before);
    assert_int_equal(on_hand(h, "SKU-2", "wh-1"), 15);

    /* a count is per SKU and location: another location has no count yet */
    move_ok(h,
            "{\"sku\": \"SKU-2\", \"location\": \"store-york\", \"type\": \"count\", \"quantity\": "
            "3, \"as_of\": \"2024-01-01T00:00:00Z\"}",
            "SKU-2", "store-york", 3);
    /* a newer count applies, given in another time zone */
    move_ok(h,
            "{\"sku\": \"SKU-2\", \"location\": \"wh-1\", \"type\": \"count\", \"quantity\": 12, "
            "\"as_of\": \"2024-06-01T13:30:00+01:00\"}",
            "SKU-2", "wh-1", 12);
}

static void test_movements__transfer_moves_both_levels(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char before[41];

    move_ok(h,
            "{\"sku\": \"SKU-3\", \"location\": \"wh-1\", \"type\": \"receipt\", \"quantity\": 50}",
            "SKU-3", "wh-1", 50);
    r = move(h, "{\"sku\": \"SKU-3\", \"location\": \"wh-1\", \"type\": \"transfer\", "
                "\"quantity\": 20, \"to_location\": \"store-leeds\"}");
    harness_assert_status(r, 201);
    harness_assert_jstr(r, "location", "wh-1");
    harness_assert_jint(r, "on_hand", 30);
    harness_assert_jstr(r, "to/location", "store-leeds");
    harness_assert_jint(r, "to/on_hand", 20);
    harness_assert_jint(r, "to/reserved", 0);
    harness_assert_jint(r, "to/available", 20);
    harness_response_free(r);
    assert_int_equal(on_hand(h, "SKU-3", "wh-1"), 30);
    assert_int_equal(on_hand(h, "SKU-3", "store-leeds"), 20);

    /* more than the source has: refused, neither level moves */
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    r = move(h, "{\"sku\": \"SKU-3\", \"location\": \"store-leeds\", \"type\": \"transfer\", "
                "\"quantity\": 21, \"to_location\": \"wh-1\"}");
    harness_assert_problem(r, 409, "insufficient-stock", NULL);
    harness_assert_jint(r, "on_hand", 20);
    harness_response_free(r);
    harness_assert_unchanged(h, before);
    assert_int_equal(on_hand(h, "SKU-3", "wh-1"), 30);
    assert_int_equal(on_hand(h, "SKU-3", "store-leeds"), 20);
}

static void test_movements__on_hand_never_below_zero(void **state)
{
    static const char *const refused[] = {
        "{\"sku\": \"SKU-4\", \"location\": \"store-york\", \"type\": \"sale\", \"quantity\": 6}",
        ("{\"sku\": \"SKU-4\", \"location\": \"store-york\", \"type\": \"adjustment\", "
         "\"quantity\": -6}"),
        "{\"sku\": \"SKU-4\", \"location\": \"wh-1\", \"type\": \"sale\", \"quantity\": 1}",
    };
    struct harness *h = *state;
    char before[41];

    move_ok(h,
            "{\"sku\": \"SKU-4\", \"location\": \"store-york\", \"type\": \"receipt\", "
            "\"quantity\": 5}",
            "SKU-4", "store-york", 5);
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct harness_response *r = move(h, refused[i]);

        harness_context("movement %s", refused[i]);
        harness_assert_problem(r, 409, "insufficient-stock", NULL);
        harness_assert_jint(r, "on_hand", i < 2 ? 5 : 0);
        harness_response_free(r);
    }
    harness_context(NULL);
    harness_assert_unchanged(h, before);
    /* exactly all of it is fine */
    move_ok(h,
            "{\"sku\": \"SKU-4\", \"location\": \"store-york\", \"type\": \"sale\", \"quantity\": "
            "5}",
            "SKU-4", "store-york", 0);
}

static void test_movements__unknown_references_name_the_field(void **state)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"sku\": \"NOPE-1\", \"location\": \"wh-1\", \"type\": \"receipt\", \"quantity\": 1}",
         "sku"},
        {"{\"sku\": \"SKU-5\", \"location\": \"nowhere\", \"type\": \"receipt\", \"quantity\": 1}",
         "location"},
        {"{\"sku\": \"SKU-5\", \"location\": \"wh-1\", \"type\": \"transfer\", \"quantity\": 1, "
         "\"to_location\": \"nowhere\"}",
         "to_location"},
    };
    struct harness *h = *state;
    char before[41];

    move_ok(h,
            "{\"sku\": \"SKU-5\", \"location\": \"wh-1\", \"type\": \"receipt\", \"quantity\": 2}",
            "SKU-5", "wh-1", 2);
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct harness_response *r = move(h, cases[i].body);

        harness_context("movement %s", cases[i].body);
        harness_assert_problem(r, 422, "unknown-reference", cases[i].field);
        harness_response_free(r);
    }
    harness_context(NULL);
    harness_assert_unchanged(h, before);
}

static void test_movements__batch_answers_each_in_order(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    json_t *results;

    r = move(h, "{\"movements\": ["
                "{\"sku\": \"SKU-6\", \"location\": \"wh-1\", \"type\": \"receipt\", \"quantity\": "
                "10},"
                "{\"sku\": \"NOPE-6\", \"location\": \"wh-1\", \"type\": \"receipt\", "
                "\"quantity\": 10},"
                "{\"sku\": \"SKU-6\", \"location\": \"wh-1\", \"type\": \"sale\", \"quantity\": 4},"
                "{\"sku\": \"SKU-6\", \"location\": \"wh-1\", \"type\": \"sale\", \"quantity\": "
                "7},"
                "{\"sku\": \"SKU-6\", \"location\": \"wh-1\", \"type\": \"receipt\", \"quantity\": "
                "0},"
                "{\"sku\": \"SKU-6\", \"location\": \"wh-1\", \"type\": \"transfer\", "
                "\"quantity\": 1, \"to_location\": \"store-york\"}"
                "]}");
    harness_assert_status(r, 200);
    results = harness_jget(r->json, "results");
    assert_int_equal(json_array_size(results), 6);

    harness_assert_jint(r, "results/0/status", 201);
    harness_assert_jint(r, "results/0/on_hand", 10);
    assert_non_null(harness_jget(r->json, "results/0/event_id"));
    harness_assert_jstr(r, "results/1/type", "/problems/unknown-reference");
    harness_assert_jint(r, "results/1/status", 422);
    harness_assert_jstr(r, "results/1/field", "movements[1].sku");
    harness_assert_jint(r, "results/2/status", 201);
    harness_assert_jint(r, "results/2/on_hand", 6);
    harness_assert_jstr(r, "results/3/type", "/problems/insufficient-stock");
    harness_assert_jint(r, "results/3/status", 409);
    harness_assert_jstr(r, "results/4/type", "/problems/invalid-field");
    harness_assert_jint(r, "results/4/status", 400);
    harness_assert_jstr(r, "results/4/field", "movements[4].quantity");
    harness_assert_jint(r, "results/5/status", 201);
    harness_assert_jint(r, "results/5/on_hand", 5);
    harness_assert_jint(r, "results/5/to/on_hand", 1);
    assert_true(harness_jint(r->json, "results/2/version") >
                harness_jint(r->json, "results/0/version"));
    harness_response_free(r);

    assert_int_equal(on_hand(h, "SKU-6", "wh-1"), 5);
    assert_int_equal(on_hand(h, "SKU-6", "store-york"), 1);
}

/* changed - the stock.changed events of @events, in order. @return a new array. */
static json_t *changed(json_t *events)
{
    json_t *out = json_array();
    json_t *e;
    size_t i;

    json_array_foreach(events, i, e)
    {
        if (harness_jstr(e, "type") != NULL &&
            strcmp(harness_jstr(e, "type"), "stock.changed") == 0) {
            json_array_append(out, e);
        }
    }
    return out;
}

/* history - GET @path, expect 200; @return the stock.changed events (new). */
static json_t *history(struct harness *h, const char *path)
{
    struct harness_response *r = harness_get(h, ADMIN, path);
    json_t *events;

    harness_context("GET %s", path);
    harness_assert_status(r, 200);
    assert_true(json_is_array(harness_jget(r->json, "events")));
    events = changed(harness_jget(r->json, "events"));
    harness_response_free(r);
    harness_context(NULL);
    return events;
}

/* Runs after the tests above: SKU-1 has seven movements at store-leeds, SKU-3 a transfer. */
static void test_movements__history_newest_first(void **state)
{
    static const char *const types[] = {"count",  "count", "adjustment", "adjustment",
                                        "return", "sale",  "receipt"};
    struct harness *h = *state;
    struct harness_response *r;
    json_t *all, *events, *e;
    int out_seen = 0;
    size_t i;

    r = harness_get(h, ADMIN, "/v1/stock/SKU-1/history");
    harness_assert_status(r, 200);
    all = harness_jget(r->json, "events");
    json_array_foreach(all, i, e)
    {
        harness_context("history event %zu", i);
        assert_string_equal(harness_jstr(e, "sku"), "SKU-1");
        assert_string_equal(harness_jstr(e, "location"), "store-leeds");
        assert_non_null(harness_jstr(e, "id"));
        assert_non_null(harness_jstr(e, "at"));
        if (i > 0) {
            json_t *newer = json_array_get(all, i - 1);

            assert_true(harness_jint(e, "version") <= harness_jint(newer, "version"));
            assert_true(strcmp(harness_jstr(e, "at"), harness_jstr(newer, "at")) <= 0);
        }
        /* the count to 0 took the level out of stock */
        out_seen += strcmp(harness_jstr(e, "type"), "stock.out") == 0 &&
                    harness_jint(e, "levels/on_hand") == 0;
    }
    harness_context(NULL);
    assert_int_equal(out_seen, 1);

    events = changed(all);
    assert_int_equal(json_array_size(events), 7);
    json_array_foreach(events, i, e)
    {
        harness_context("stock.changed event %zu", i);
        assert_string_equal(harness_jstr(e, "movement/type"), types[i]);
        if (i > 0) {
            assert_true(harness_jint(e, "version") <
                        harness_jint(json_array_get(events, i - 1), "version"));
        }
    }
    harness_context(NULL);
    assert_int_equal(harness_jint(events, "0/levels/on_hand"), 0);
    assert_int_equal(harness_jint(events, "1/levels/on_hand"), 4);
    assert_int_equal(harness_jint(events, "6/levels/on_hand"), 10);
    assert_int_equal(harness_jint(events, "6/movement/quantity"), 10);
    assert_string_equal(harness_jstr(events, "6/movement/reference"), "PO-1");
    assert_int_equal(harness_jint(events, "3/movement/quantity"), -2);
    assert_string_equal(harness_jstr(events, "3/movement/reason"), "damaged");
    json_decref(events);

    /* limit: the newest ones */
    {
        struct harness_response *lim = harness_get(h, ADMIN, "/v1/stock/SKU-1/history?limit=2");

        harness_assert_status(lim, 200);
        assert_int_equal(json_array_size(harness_jget(lim->json, "events")), 2);
        assert_string_equal(harness_jstr(lim->json, "events/0/id"), harness_jstr(all, "0/id"));
        assert_string_equal(harness_jstr(lim->json, "events/1/id"), harness_jstr(all, "1/id"));
        harness_response_free(lim);
    }
    harness_response_free(r);

    /* SKU-3: a receipt at wh-1, then a transfer recorded at both ends */
    events = history(h, "/v1/stock/SKU-3/history?location=store-leeds");
    assert_int_equal(json_array_size(events), 1);
    assert_string_equal(harness_jstr(events, "0/location"), "store-leeds");
    assert_string_equal(harness_jstr(events, "0/movement/type"), "transfer_in");
    assert_string_equal(harness_jstr(events, "0/movement/from_location"), "wh-1");
    assert_int_equal(harness_jint(events, "0/levels/on_hand"), 20);
    json_decref(events);

    events = history(h, "/v1/stock/SKU-3/history?location=wh-1");
    assert_int_equal(json_array_size(events), 2);
    assert_string_equal(harness_jstr(events, "0/movement/type"), "transfer_out");
    assert_string_equal(harness_jstr(events, "0/movement/to_location"), "store-leeds");
    assert_int_equal(harness_jint(events, "0/levels/on_hand"), 30);
    assert_string_equal(harness_jstr(events, "1/movement/type"), "receipt");
    json_decref(events);

    events = history(h, "/v1/stock/SKU-3/history");
    assert_int_equal(json_array_size(events), 3);
    json_decref(events);
}

static void test_movements__history_rejects_bad_queries(void **state)
{
    static const struct {
        const char *path, *code, *field;
        int status;
    } cases[] = {
        {"/v1/stock/SKU-1/history?limit=0", "invalid-query", "limit", 400},
        {"/v1/stock/SKU-1/history?limit=1001", "invalid-query", "limit", 400},
        {"/v1/stock/SKU-1/history?limit=abc", "invalid-query", "limit", 400},
        {"/v1/stock/NOPE-1/history", "not-found", NULL, 404},
    };
    struct harness *h = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct harness_response *r = harness_get(h, ADMIN, cases[i].path);

        harness_context("GET %s", cases[i].path);
        harness_assert_problem(r, cases[i].status, cases[i].code, cases[i].field);
        harness_response_free(r);
    }
    harness_context(NULL);
    /* the largest limit is fine */
    {
        struct harness_response *r = harness_get(h, ADMIN, "/v1/stock/SKU-1/history?limit=1000");

        harness_assert_status(r, 200);
        harness_response_free(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_movements__each_type_changes_on_hand),
        cmocka_unit_test(test_movements__older_count_is_stale_and_changes_nothing),
        cmocka_unit_test(test_movements__transfer_moves_both_levels),
        cmocka_unit_test(test_movements__on_hand_never_below_zero),
        cmocka_unit_test(test_movements__unknown_references_name_the_field),
        cmocka_unit_test(test_movements__batch_answers_each_in_order),
        cmocka_unit_test(test_movements__history_newest_first),
        cmocka_unit_test(test_movements__history_rejects_bad_queries),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
