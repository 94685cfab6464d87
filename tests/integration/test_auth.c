/*
 * test_auth.c - every route of this issue against every role, per the role
 * table of API.md (tests/data/integration/auth.json), plus missing, unknown and
 * malformed keys, and the public operational endpoints.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/harness.h"

#define ADMIN (h->keys[HARNESS_ADMIN])

static int group_setup(void **state)
{
    struct harness *h = harness_start();
    struct harness_response *r;

    *state = h;
    if (h == NULL) {
        return -1;
    }
    harness_admin_put(h, "/v1/locations/store-leeds",
                      "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"store\"]}");
    harness_admin_put(h, "/v1/locations/store-york",
                      "{\"name\": \"York\", \"type\": \"store\", \"fulfils\": [\"store\"]}");
    harness_admin_put(h, "/v1/products/MUG-01",
                      "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "899, \"currency\": \"GBP\"}}");
    r = harness_post_json(h, ADMIN, "/v1/movements",
                          "{\"sku\": \"MUG-01\", \"location\": \"store-york\", \"type\": "
                          "\"receipt\", \"quantity\": 10}");
    harness_assert_status(r, 201);
    harness_response_free(r);
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

static const struct {
    const char *name;
    enum harness_role role;
} roles[] = {
    {"storefront", HARNESS_STOREFRONT},
    {"store_own", HARNESS_STORE_LEEDS},
    {"store_other", HARNESS_STORE_YORK},
    {"agent", HARNESS_AGENT},
    {"admin", HARNESS_ADMIN},
};

static void test_auth__each_route_by_role(void **state)
{
    struct harness *h = *state;
    json_t *cases = harness_load_data("auth.json");
    json_t *c;
    size_t i;

    json_array_foreach(cases, i, c)
    {
        for (size_t k = 0; k < sizeof(roles) / sizeof(roles[0]); k++) {
            json_t *want = harness_jget(c, "expect");
            struct harness_response *r;
            char before[41];

            want = json_object_get(want, roles[k].name);
            if (json_is_null(want)) {
                continue;
            }
            harness_context("%s as %s", harness_jstr(c, "name"), roles[k].name);
            assert_int_equal(harness_redis_digest(&h->redis, before), 0);
            r = harness_send_case(h, c, h->keys[roles[k].role]);
            if (json_integer_value(want) == 403) {
                harness_assert_problem(r, 403, "forbidden", NULL);
                harness_assert_unchanged(h, before);
            } else {
                harness_assert_status(r, (int)json_integer_value(want));
            }
            harness_response_free(r);
        }
    }
    harness_context(NULL);
    json_decref(cases);
}

static void assert_unauthorized(struct harness *h, json_t *c, const char *const *headers)
{
    struct harness_response *r;
    const char *www;
    char before[41];
    const char *body = NULL;
    char *text = NULL;
    const char *hdrs[4] = {NULL};
    size_t n = 0;

    for (; headers != NULL && headers[n] != NULL && n < 2; n++) {
        hdrs[n] = headers[n];
    }
    if (json_object_get(c, "body") != NULL) {
        text = json_dumps(json_object_get(c, "body"), JSON_COMPACT);
        body = text;
        hdrs[n++] = "Content-Type: application/json";
    }
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    r = harness_http(h, harness_jstr(c, "method"), harness_jstr(c, "path"), NULL, hdrs, body,
                     body != NULL ? strlen(body) : 0);
    harness_assert_problem(r, 401, "unauthorized", NULL);
    www = harness_header(r, "WWW-Authenticate");
    assert_non_null(www);
    assert_true(strncmp(www, "Bearer", 6) == 0);
    harness_assert_unchanged(h, before);
    harness_response_free(r);
    free(text);
}

static void test_auth__missing_unknown_or_malformed_key_is_401(void **state)
{
    static const char *const no_key[] = {NULL};
    static const char *const unknown[] = {"Authorization: Bearer not-a-key-we-know", NULL};
    static const char *const basic[] = {"Authorization: Basic b3BzOm9wcw==", NULL};
    static const char *const empty[] = {"Authorization: Bearer ", NULL};
    static const char *const *const variants[] = {no_key, unknown, basic, empty};
    static const char *const names[] = {"no key", "unknown key", "Basic", "empty Bearer"};
    struct harness *h = *state;
    json_t *cases = harness_load_data("auth.json");
    json_t *c;
    size_t i;

    json_array_foreach(cases, i, c)
    {
        for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
            harness_context("%s with %s", harness_jstr(c, "name"), names[v]);
            assert_unauthorized(h, c, variants[v]);
        }
    }
    harness_context(NULL);
    json_decref(cases);
}

static void test_auth__store_cannot_move_stock_elsewhere_in_a_batch(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char before[41];

    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    r = harness_post_json(h, h->keys[HARNESS_STORE_YORK], "/v1/movements",
                          "{\"movements\": [{\"sku\": \"MUG-01\", \"location\": \"store-leeds\", "
                          "\"type\": \"receipt\", \"quantity\": 1}]}");
    if (r->status == 200) {
        harness_assert_jint(r, "results/0/status", 403);
        harness_assert_jstr(r, "results/0/type", "/problems/forbidden");
    } else {
        harness_assert_problem(r, 403, "forbidden", NULL);
    }
    harness_assert_unchanged(h, before);
    harness_response_free(r);

    /* nor take it from another store by transfer */
    r = harness_post_json(h, h->keys[HARNESS_STORE_LEEDS], "/v1/movements",
                          "{\"sku\": \"MUG-01\", \"location\": \"store-york\", \"type\": "
                          "\"transfer\", \"quantity\": 1, \"to_location\": \"store-leeds\"}");
    harness_assert_problem(r, 403, "forbidden", NULL);
    harness_assert_unchanged(h, before);
    harness_response_free(r);
}

static void test_auth__a_key_can_ask_who_it_is(void **state)
{
    static const struct {
        enum harness_role role;
        const char *name, *role_name, *location;
    } keys[] = {
        {HARNESS_STOREFRONT, "web-backend", "storefront", NULL},
        {HARNESS_STORE_LEEDS, "leeds-till", "store", "store-leeds"},
        {HARNESS_STORE_YORK, "york-till", "store", "store-york"},
        {HARNESS_AGENT, "support", "agent", NULL},
        {HARNESS_ADMIN, "ops", "admin", NULL},
    };
    struct harness *h = *state;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct harness_response *r = harness_get(h, h->keys[keys[i].role], "/v1/me");

        harness_context("GET /v1/me as %s", keys[i].name);
        harness_assert_status(r, 200);
        harness_assert_jstr(r, "name", keys[i].name);
        harness_assert_jstr(r, "role", keys[i].role_name);
        if (keys[i].location != NULL)
            harness_assert_jstr(r, "location", keys[i].location);
        else
            assert_null(harness_jget(r->json, "location"));
        /* The answer never carries the key or its hash. */
        assert_null(strstr(r->body, h->keys[keys[i].role]));
        assert_int_equal(json_object_size(r->json), keys[i].location ? 3 : 2);
        harness_response_free(r);
    }
    harness_context(NULL);
}

static void test_auth__operational_endpoints_need_no_key(void **state)
{
    static const char *const paths[] = {"/healthz", "/readyz", "/metrics"};
    struct harness *h = *state;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct harness_response *r = harness_get(h, NULL, paths[i]);

        harness_context("GET %s", paths[i]);
        harness_assert_status(r, 200);
        harness_response_free(r);
    }
    harness_context(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth__each_route_by_role),
        cmocka_unit_test(test_auth__missing_unknown_or_malformed_key_is_401),
        cmocka_unit_test(test_auth__store_cannot_move_stock_elsewhere_in_a_batch),
        cmocka_unit_test(test_auth__a_key_can_ask_who_it_is),
        cmocka_unit_test(test_auth__operational_endpoints_need_no_key),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
