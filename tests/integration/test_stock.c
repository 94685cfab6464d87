/*
 * test_stock.c - channel availability through the real daemon, checked
 * against the formulas of API.md for one setup:
 *
 *   wh-1         warehouse, fulfils web                     MUG-01 on_hand 100
 *   store-leeds  store, fulfils web, store, click_collect,  MUG-01 on_hand 10
 *                store_buffer 2
 *   store-york   store, fulfils store only, store_buffer 1 MUG-01 on_hand 5
 *   depot-x      warehouse, fulfils nothing                 MUG-01 on_hand 7
 *
 * MUG-01 has safety_stock 1, PLATE-02 has none and one unit at store-leeds,
 * BOWL-03 has no stock anywhere (until a test receives 2 at store-york,
 * which does not fulfil web). Nothing is reserved (reservations do not
 * exist yet), so reserved is 0 everywhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
                      "\"store\", \"click_collect\"], \"store_buffer\": 2}");
    harness_admin_put(h, "/v1/locations/store-york",
                      "{\"name\": \"York\", \"type\": \"store\", \"fulfils\": [\"store\"], "
                      "\"store_buffer\": 1}");
    harness_admin_put(h, "/v1/locations/depot-x",
                      "{\"name\": \"Depot\", \"type\": \"warehouse\", \"fulfils\": []}");
    harness_admin_put(h, "/v1/products/MUG-01",
                      "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "899, \"currency\": \"GBP\"}, \"safety_stock\": 1}");
    harness_admin_put(h, "/v1/products/PLATE-02",
                      "{\"name\": \"Plate\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "599, \"currency\": \"GBP\"}}");
    harness_admin_put(h, "/v1/products/BOWL-03",
                      "{\"name\": \"Bowl\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "699, \"currency\": \"GBP\"}}");
    harness_receipt(h, "MUG-01", "wh-1", 100);
    harness_receipt(h, "MUG-01", "store-leeds", 10);
    harness_receipt(h, "MUG-01", "store-york", 5);
    harness_receipt(h, "MUG-01", "depot-x", 7);
    harness_receipt(h, "PLATE-02", "store-leeds", 1);
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* location_entry - the entry of @location in the response's "locations" array. */
static json_t *location_entry(const struct harness_response *r, const char *location)
{
    json_t *list = harness_jget(r->json, "locations");
    json_t *v;
    size_t i;

    json_array_foreach(list, i, v)
    {
        if (harness_jstr(v, "location") != NULL &&
            strcmp(harness_jstr(v, "location"), location) == 0) {
            return v;
        }
    }
    return NULL;
}

static void assert_level(const struct harness_response *r, const char *location, long long on_hand,
                         long long safety_stock, long long available)
{
    json_t *e = location_entry(r, location);

    harness_context("locations entry %s", location);
    assert_non_null(e);
    assert_int_equal(harness_jint(e, "on_hand"), on_hand);
    assert_int_equal(harness_jint(e, "reserved"), 0);
    assert_int_equal(harness_jint(e, "safety_stock"), safety_stock);
    assert_int_equal(harness_jint(e, "available"), available);
    harness_context(NULL);
}

static void test_stock__levels_and_channels_follow_the_formulas(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    json_t *list;

    harness_assert_status(r, 200);
    harness_assert_jstr(r, "sku", "MUG-01");
    assert_true(harness_jint(r->json, "version") > 0);

    /* available(L) = max(0, on_hand - reserved - S), every known location, sorted by id */
    list = harness_jget(r->json, "locations");
    assert_int_equal(json_array_size(list), 4);
    harness_assert_jstr(r, "locations/0/location", "depot-x");
    harness_assert_jstr(r, "locations/1/location", "store-leeds");
    harness_assert_jstr(r, "locations/2/location", "store-york");
    harness_assert_jstr(r, "locations/3/location", "wh-1");
    assert_level(r, "wh-1", 100, 1, 99);
    assert_level(r, "store-leeds", 10, 1, 9);
    assert_level(r, "store-york", 5, 1, 4);
    assert_level(r, "depot-x", 7, 1, 6);

    /* web = wh-1 (100 - 1) + store-leeds (10 - 1 - buffer 2); york and depot do not fulfil web */
    harness_assert_jint(r, "channels/web/available", 99 + 7);
    /* walk-in: on_hand - reserved, no safety stock and no buffer, stores fulfilling store */
    harness_assert_jint(r, "channels/store/store-leeds/available", 10);
    harness_assert_jint(r, "channels/store/store-york/available", 5);
    assert_int_equal(json_object_size(harness_jget(r->json, "channels/store")), 2);
    /* click_collect only at store-leeds: 10 - 1 - 2 */
    harness_assert_jint(r, "channels/click_collect/store-leeds/available", 7);
    assert_int_equal(json_object_size(harness_jget(r->json, "channels/click_collect")), 1);
    harness_response_free(r);
}

static long long web_available(struct harness *h, const char *sku)
{
    char path[64];
    struct harness_response *r;
    long long v;

    snprintf(path, sizeof(path), "/v1/stock/%s", sku);
    r = harness_get(h, ADMIN, path);
    harness_assert_status(r, 200);
    v = harness_jint(r->json, "channels/web/available");
    harness_response_free(r);
    return v;
}

/* Rewrite store-leeds's rule as scripts see it in every partition, as another daemon's PUT would.
 */
static void rewrite_leeds_rule(struct harness *h, const char *rule)
{
    redisReply *keys = harness_redis_command(&h->redis, "KEYS {p*}:locs");

    assert_non_null(keys);
    assert_true(keys->elements > 0);
    for (size_t i = 0; i < keys->elements; i++)
        freeReplyObject(harness_redis_command(&h->redis, "HSET %s store-leeds %s",
                                              keys->element[i]->str, rule));
    freeReplyObject(keys);
}

static void test_stock__location_changes_show_in_stock_answers(void **state)
{
    static const char leeds[] = "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": "
                                "[\"web\", \"store\", \"click_collect\"], \"store_buffer\": %d}";
    struct harness *h = *state;
    char body[256];
    long long web = -1;

    /* web = wh-1 99 + store-leeds (10 - safety 1 - buffer) */
    assert_int_equal(web_available(h, "MUG-01"), 99 + 7);
    snprintf(body, sizeof(body), leeds, 4);
    harness_admin_put(h, "/v1/locations/store-leeds", body);
    assert_int_equal(web_available(h, "MUG-01"), 99 + 5); /* at once, through this daemon */

    /* Changed behind this daemon's back (another daemon): seen once its copy expires. */
    rewrite_leeds_rule(h, "s:7:6");
    for (int i = 0; i < 100 && web != 99 + 3; i++) {
        web = web_available(h, "MUG-01");
        if (web != 99 + 3)
            usleep(100 * 1000);
    }
    assert_int_equal(web, 99 + 3);

    snprintf(body, sizeof(body), leeds, 2);
    harness_admin_put(h, "/v1/locations/store-leeds", body);
    assert_int_equal(web_available(h, "MUG-01"), 99 + 7);
}

static void test_stock__figures_never_go_below_zero(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, ADMIN, "/v1/stock/PLATE-02");

    /* one unit at store-leeds: the buffer of 2 keeps it back from web and click_collect */
    harness_assert_status(r, 200);
    harness_assert_jint(r, "channels/web/available", 0);
    harness_assert_jint(r, "channels/click_collect/store-leeds/available", 0);
    harness_assert_jint(r, "channels/store/store-leeds/available", 1);
    harness_assert_jint(r, "channels/store/store-york/available", 0);
    assert_level(r, "store-leeds", 1, 0, 1);
    assert_level(r, "wh-1", 0, 0, 0);
    harness_response_free(r);
}

static void test_stock__product_without_stock_lists_zeros(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, ADMIN, "/v1/stock/BOWL-03");

    harness_assert_status(r, 200);
    assert_int_equal(json_array_size(harness_jget(r->json, "locations")), 4);
    assert_level(r, "depot-x", 0, 0, 0);
    assert_level(r, "store-leeds", 0, 0, 0);
    assert_level(r, "store-york", 0, 0, 0);
    assert_level(r, "wh-1", 0, 0, 0);
    harness_assert_jint(r, "channels/web/available", 0);
    harness_assert_jint(r, "channels/store/store-york/available", 0);
    harness_assert_jint(r, "channels/click_collect/store-leeds/available", 0);
    harness_response_free(r);
}

static json_t *explain_entry(json_t *explain, const char *location)
{
    json_t *v;
    size_t i;

    json_array_foreach(explain, i, v)
    {
        if (harness_jstr(v, "location") != NULL &&
            strcmp(harness_jstr(v, "location"), location) == 0) {
            return v;
        }
    }
    return NULL;
}

static void test_stock__explain_shows_the_deductions(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, ADMIN, "/v1/stock/MUG-01?explain=true");
    json_t *web, *e;

    harness_assert_status(r, 200);
    harness_assert_jint(r, "channels/web/available", 106);
    web = harness_jget(r->json, "channels/web/explain");
    assert_int_equal(json_array_size(web), 2);
    e = explain_entry(web, "wh-1");
    assert_non_null(e);
    assert_int_equal(harness_jint(e, "on_hand"), 100);
    assert_int_equal(harness_jint(e, "reserved"), 0);
    assert_int_equal(harness_jint(e, "safety_stock"), 1);
    assert_int_equal(harness_jint(e, "store_buffer"), 0);
    assert_int_equal(harness_jint(e, "available"), 99);
    e = explain_entry(web, "store-leeds");
    assert_non_null(e);
    assert_int_equal(harness_jint(e, "on_hand"), 10);
    assert_int_equal(harness_jint(e, "safety_stock"), 1);
    assert_int_equal(harness_jint(e, "store_buffer"), 2);
    assert_int_equal(harness_jint(e, "available"), 7);

    /* the locations that do not fulfil web say why */
    e = harness_jget(r->json, "channels/web/excluded");
    assert_int_equal(json_array_size(e), 2);
    assert_non_null(harness_jstr(explain_entry(e, "store-york"), "reason"));
    assert_non_null(harness_jstr(explain_entry(e, "depot-x"), "reason"));

    e = harness_jget(r->json, "channels/click_collect/store-leeds/explain");
    assert_int_equal(json_array_size(e), 1);
    assert_int_equal(harness_jint(json_array_get(e, 0), "store_buffer"), 2);
    assert_int_equal(harness_jint(json_array_get(e, 0), "available"), 7);
    e = harness_jget(r->json, "channels/store/store-york/explain");
    assert_int_equal(json_array_size(e), 1);
    assert_int_equal(harness_jint(json_array_get(e, 0), "on_hand"), 5);
    assert_int_equal(harness_jint(json_array_get(e, 0), "available"), 5);
    harness_response_free(r);

    /* without explain, no explanation */
    r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    assert_null(harness_jget(r->json, "channels/web/explain"));
    harness_response_free(r);

    r = harness_get(h, ADMIN, "/v1/stock/MUG-01?explain=maybe");
    harness_assert_problem(r, 400, "invalid-query", "explain");
    harness_response_free(r);
}

static void test_stock__version_moves_with_each_change(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, ADMIN, "/v1/stock/BOWL-03");
    long long before = harness_jint(r->json, "version");

    harness_response_free(r);
    harness_receipt(h, "BOWL-03", "store-york", 2);
    r = harness_get(h, ADMIN, "/v1/stock/BOWL-03");
    harness_assert_status(r, 200);
    assert_true(harness_jint(r->json, "version") > before);
    harness_assert_jint(r, "channels/store/store-york/available", 2);
    harness_assert_jint(r, "channels/web/available", 0);
    harness_response_free(r);
}

static void test_stock__unknown_product_is_404(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, ADMIN, "/v1/stock/NO-SUCH-SKU");

    harness_assert_problem(r, 404, "not-found", NULL);
    harness_response_free(r);
}

/* query - POST /v1/stock/query; fails unless 200. */
static struct harness_response *query(struct harness *h, const char *body)
{
    struct harness_response *r = harness_post_json(h, ADMIN, "/v1/stock/query", body);

    harness_assert_status(r, 200);
    return r;
}

static void test_stock__query_keeps_request_order(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;

    r = query(h, "{\"skus\": [\"PLATE-02\", \"NOPE-9\", \"MUG-01\", \"BOWL-03\"], "
                 "\"channel\": \"web\"}");
    assert_int_equal(json_array_size(harness_jget(r->json, "items")), 4);
    harness_assert_jstr(r, "items/0/sku", "PLATE-02");
    harness_assert_jint(r, "items/0/available", 0);
    assert_true(json_is_true(harness_jget(r->json, "items/0/known")));
    harness_assert_jstr(r, "items/1/sku", "NOPE-9");
    harness_assert_jint(r, "items/1/available", 0);
    assert_true(json_is_false(harness_jget(r->json, "items/1/known")));
    harness_assert_jstr(r, "items/2/sku", "MUG-01");
    harness_assert_jint(r, "items/2/available", 106);
    assert_true(json_is_true(harness_jget(r->json, "items/2/known")));
    harness_assert_jstr(r, "items/3/sku", "BOWL-03");
    harness_assert_jint(r, "items/3/available", 0);
    assert_true(json_is_true(harness_jget(r->json, "items/3/known")));
    harness_response_free(r);
}

static void test_stock__query_by_channel_and_location(void **state)
{
    static const struct {
        const char *body;
        long long mug;
    } cases[] = {
        /* without location: the sum over the locations that fulfil the channel */
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"store\"}", 10 + 5},
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"click_collect\"}", 7},
        /* with location: that location's figure */
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"store\", \"location\": \"store-york\"}", 5},
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"store\", \"location\": \"store-leeds\"}", 10},
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"click_collect\", \"location\": "
         "\"store-leeds\"}",
         7},
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"web\", \"location\": \"wh-1\"}", 99},
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"web\", \"location\": \"store-leeds\"}", 7},
        /* a location that does not fulfil the channel can promise nothing there */
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"web\", \"location\": \"store-york\"}", 0},
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"click_collect\", \"location\": "
         "\"store-york\"}",
         0},
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"web\", \"location\": \"depot-x\"}", 0},
    };
    struct harness *h = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct harness_response *r;

        harness_context("query %s", cases[i].body);
        r = query(h, cases[i].body);
        harness_assert_jstr(r, "items/0/sku", "MUG-01");
        harness_assert_jint(r, "items/0/available", cases[i].mug);
        harness_response_free(r);
    }
    harness_context(NULL);
}

/* skus_body - {"skus": ["MUG-01", "Q-1", ... n in all], "channel": "web"}; free() it. */
static char *skus_body(size_t n)
{
    char *body = malloc(64 + n * 16);
    size_t len = 0;

    len += (size_t)sprintf(body + len, "{\"channel\": \"web\", \"skus\": [\"MUG-01\"");
    for (size_t i = 1; i < n; i++) {
        len += (size_t)sprintf(body + len, ", \"Q-%zu\"", i);
    }
    sprintf(body + len, "]}");
    return body;
}

static void test_stock__query_takes_500_skus_not_501(void **state)
{
    struct harness *h = *state;
    char *body = skus_body(500);
    char before[41];
    struct harness_response *r = query(h, body);

    assert_int_equal(json_array_size(harness_jget(r->json, "items")), 500);
    harness_assert_jint(r, "items/0/available", 106);
    harness_assert_jstr(r, "items/499/sku", "Q-499");
    assert_true(json_is_false(harness_jget(r->json, "items/499/known")));
    harness_response_free(r);
    free(body);

    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    body = skus_body(501);
    r = harness_post_json(h, ADMIN, "/v1/stock/query", body);
    harness_assert_problem(r, 400, "invalid-field", "skus");
    harness_assert_unchanged(h, before);
    harness_response_free(r);
    free(body);
}

static void test_stock__query_rejects_bad_requests(void **state)
{
    static const struct {
        const char *body, *code, *field;
    } cases[] = {
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"fax\"}", "invalid-field", "channel"},
        {"{\"skus\": [\"MUG-01\"]}", "invalid-field", "channel"},
        {"{\"skus\": [], \"channel\": \"web\"}", "invalid-field", "skus"},
        {"{\"skus\": \"MUG-01\", \"channel\": \"web\"}", "invalid-field", "skus"},
        {"{\"channel\": \"web\"}", "invalid-field", "skus"},
        {"{\"skus\": [\"MUG-01\", \"bad sku\"], \"channel\": \"web\"}", "invalid-identifier",
         "skus[1]"},
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"web\", \"location\": \"no/where\"}",
         "invalid-identifier", "location"},
        {"{\"skus\": [\"MUG-01\"], \"channel\": \"web\", \"limit\": 3}", "invalid-field", "limit"},
    };
    struct harness *h = *state;
    char before[41];

    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct harness_response *r;

        harness_context("query %s", cases[i].body);
        r = harness_post_json(h, ADMIN, "/v1/stock/query", cases[i].body);
        harness_assert_problem(r, 400, cases[i].code, cases[i].field);
        harness_response_free(r);
    }
    harness_context(NULL);
    harness_assert_unchanged(h, before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stock__levels_and_channels_follow_the_formulas),
        cmocka_unit_test(test_stock__location_changes_show_in_stock_answers),
        cmocka_unit_test(test_stock__figures_never_go_below_zero),
        cmocka_unit_test(test_stock__product_without_stock_lists_zeros),
        cmocka_unit_test(test_stock__explain_shows_the_deductions),
        cmocka_unit_test(test_stock__version_moves_with_each_change),
        cmocka_unit_test(test_stock__unknown_product_is_404),
        cmocka_unit_test(test_stock__query_keeps_request_order),
        cmocka_unit_test(test_stock__query_by_channel_and_location),
        cmocka_unit_test(test_stock__query_takes_500_skus_not_501),
        cmocka_unit_test(test_stock__query_rejects_bad_requests),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
