/*
 * test_catalog.c - locations and products through the real daemon: create,
 * replace, read, list, and every validation failure leaving Redis unchanged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tests/harness/harness.h"

#define ADMIN (h->keys[HARNESS_ADMIN])

static int group_setup(void **state)
{
    *state = harness_start();
    return *state != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

static void assert_fulfils(const struct harness_response *r, const char *const *want)
{
    json_t *arr = harness_jget(r->json, "fulfils");
    size_t n = 0;

    while (want[n] != NULL) {
        n++;
    }
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(json_string_value(json_array_get(arr, i)), want[i]);
    }
}

static void test_catalog__location_created_then_replaced(void **state)
{
    struct harness *h = *state;
    static const char *const both[] = {"web", "store", NULL};
    static const char *const all[] = {"web", "store", "click_collect", NULL};
    struct harness_response *r;

    r = harness_put_json(h, ADMIN, "/v1/locations/store-leeds",
                         "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"web\", "
                         "\"store\"], \"store_buffer\": 2}");
    harness_assert_status(r, 201);
    harness_assert_jstr(r, "id", "store-leeds");
    harness_assert_jstr(r, "name", "Leeds");
    harness_assert_jstr(r, "type", "store");
    harness_assert_jint(r, "store_buffer", 2);
    assert_fulfils(r, both);
    harness_response_free(r);

    r = harness_put_json(h, ADMIN, "/v1/locations/store-leeds",
                         "{\"name\": \"Leeds Briggate\", \"type\": \"store\", \"fulfils\": "
                         "[\"click_collect\", \"store\", \"web\"], \"store_buffer\": 3}");
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "name", "Leeds Briggate");
    harness_assert_jint(r, "store_buffer", 3);
    assert_fulfils(r, all);
    harness_response_free(r);

    r = harness_get(h, ADMIN, "/v1/locations/store-leeds");
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "id", "store-leeds");
    harness_assert_jstr(r, "name", "Leeds Briggate");
    harness_assert_jstr(r, "type", "store");
    harness_assert_jint(r, "store_buffer", 3);
    assert_fulfils(r, all);
    harness_response_free(r);
}

static void test_catalog__warehouse_store_buffer_defaults_to_zero(void **state)
{
    struct harness *h = *state;
    static const char *const web[] = {"web", NULL};
    struct harness_response *r;

    r = harness_put_json(
        h, ADMIN, "/v1/locations/wh-1",
        "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    harness_assert_status(r, 201);
    harness_assert_jstr(r, "type", "warehouse");
    harness_assert_jint(r, "store_buffer", 0);
    assert_fulfils(r, web);
    harness_response_free(r);
}

static void test_catalog__locations_listed_sorted_by_id(void **state)
{
    struct harness *h = *state;
    static const char *const ids[] = {"zz-depot", "aa-store", "mm-store", "B-store"};
    struct harness_response *r;
    json_t *list;
    int seen = 0;

    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char path[128];

        snprintf(path, sizeof(path), "/v1/locations/%s", ids[i]);
        harness_admin_put(h, path, "{\"name\": \"X\", \"type\": \"store\", \"fulfils\": []}");
    }
    r = harness_get(h, ADMIN, "/v1/locations");
    harness_assert_status(r, 200);
    list = harness_jget(r->json, "locations");
    assert_true(json_is_array(list));
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *id = harness_jstr(json_array_get(list, i), "id");

        assert_non_null(id);
        if (i > 0) {
            assert_true(strcmp(harness_jstr(json_array_get(list, i - 1), "id"), id) < 0);
        }
        for (size_t j = 0; j < sizeof(ids) / sizeof(ids[0]); j++) {
            seen += strcmp(id, ids[j]) == 0;
        }
    }
    assert_int_equal(seen, 4);
    harness_response_free(r);
}

static void test_catalog__unknown_location_is_404(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, ADMIN, "/v1/locations/nowhere");

    harness_assert_problem(r, 404, "not-found", NULL);
    harness_response_free(r);
}

static void test_catalog__product_created_then_replaced(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;

    r = harness_put_json(h, ADMIN, "/v1/products/MUG-01",
                         "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                         "899, \"currency\": \"GBP\"}}");
    harness_assert_status(r, 201);
    harness_assert_jstr(r, "sku", "MUG-01");
    harness_assert_jstr(r, "name", "Mug");
    harness_assert_jstr(r, "category", "kitchen");
    harness_assert_jint(r, "price/amount", 899);
    harness_assert_jstr(r, "price/currency", "GBP");
    harness_assert_jint(r, "safety_stock", 0);
    harness_response_free(r);

    r = harness_put_json(h, ADMIN, "/v1/products/MUG-01",
                         "{\"name\": \"Large mug\", \"category\": \"kitchen.mugs\", \"price\": "
                         "{\"amount\": 1299, \"currency\": \"EUR\"}, \"safety_stock\": 4}");
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "name", "Large mug");
    harness_response_free(r);

    r = harness_get(h, ADMIN, "/v1/products/MUG-01");
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "sku", "MUG-01");
    harness_assert_jstr(r, "name", "Large mug");
    harness_assert_jstr(r, "category", "kitchen.mugs");
    harness_assert_jint(r, "price/amount", 1299);
    harness_assert_jstr(r, "price/currency", "EUR");
    harness_assert_jint(r, "safety_stock", 4);
    harness_response_free(r);
}

static void test_catalog__unknown_product_is_404(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, ADMIN, "/v1/products/NO-SUCH-SKU");

    harness_assert_problem(r, 404, "not-found", NULL);
    harness_response_free(r);
}

/* Every case in catalog_invalid.json: the right problem, and Redis byte-for-byte unchanged. */
static void test_catalog__invalid_bodies_change_nothing(void **state)
{
    struct harness *h = *state;
    json_t *cases = harness_load_data("catalog_invalid.json");
    json_t *c;
    size_t i;

    /* Replacing these must fail without touching them. */
    harness_admin_put(h, "/v1/locations/store-leeds",
                      "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"store\"]}");
    harness_admin_put(h, "/v1/products/MUG-01",
                      "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "899, \"currency\": \"GBP\"}}");
    json_array_foreach(cases, i, c)
    {
        char before[41];
        struct harness_response *r;

        harness_context("case %zu: %s", i, harness_jstr(c, "name"));
        assert_int_equal(harness_redis_digest(&h->redis, before), 0);
        r = harness_send_case(h, c, ADMIN);
        harness_assert_problem(r, (int)harness_jint(c, "status"), harness_jstr(c, "code"),
                               harness_jstr(c, "field"));
        harness_assert_unchanged(h, before);
        harness_response_free(r);
    }
    harness_context(NULL);
    assert_true(i > 40);
    json_decref(cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog__location_created_then_replaced),
        cmocka_unit_test(test_catalog__warehouse_store_buffer_defaults_to_zero),
        cmocka_unit_test(test_catalog__locations_listed_sorted_by_id),
        cmocka_unit_test(test_catalog__unknown_location_is_404),
        cmocka_unit_test(test_catalog__product_created_then_replaced),
        cmocka_unit_test(test_catalog__unknown_product_is_404),
        cmocka_unit_test(test_catalog__invalid_bodies_change_nothing),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
