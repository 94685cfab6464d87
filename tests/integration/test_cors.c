/*
 * test_cors.c - browsers on other sites: no cross-origin access unless the
 * config names the origin (then the answers say so, and preflights pass).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tests/harness/harness.h"

#define SHOP "https://shop.example"

static struct harness_response *get_from(const struct harness *h, const char *origin,
                                         const char *key, const char *path)
{
    char line[128];
    const char *headers[] = {line, NULL};

    snprintf(line, sizeof(line), "Origin: %s", origin);
    return harness_http(h, "GET", path, key, headers, NULL, 0);
}

static struct harness_response *preflight(const struct harness *h, const char *origin,
                                          const char *path, const char *method)
{
    char o[128], m[64];
    const char *headers[] = {o, m, "Access-Control-Request-Headers: authorization, idempotency-key",
                             NULL};

    snprintf(o, sizeof(o), "Origin: %s", origin);
    snprintf(m, sizeof(m), "Access-Control-Request-Method: %s", method);
    return harness_http(h, "OPTIONS", path, NULL, headers, NULL, 0);
}

static void test_cors__same_origin_only_by_default(void **state)
{
    struct harness *h = harness_start();
    struct harness_response *r;

    (void)state;
    assert_non_null(h);
    r = get_from(h, SHOP, h->keys[HARNESS_STOREFRONT], "/v1/locations");
    harness_assert_status(r, 200);
    assert_null(harness_header(r, "Access-Control-Allow-Origin"));
    harness_response_free(r);
    r = preflight(h, SHOP, "/v1/reservations", "POST");
    harness_assert_problem(r, 405, "method-not-allowed", NULL);
    assert_null(harness_header(r, "Access-Control-Allow-Origin"));
    assert_null(harness_header(r, "Access-Control-Allow-Methods"));
    harness_response_free(r);
    assert_int_equal(harness_stop(h), 0);
}

static void test_cors__a_configured_origin_may_call_the_api(void **state)
{
    struct harness *h = harness_start_config("{\"cors\": {\"allow_origins\": [\"" SHOP
                                             "\", \"http://127.0.0.1:3000\"]}}");
    struct harness_response *r;

    (void)state;
    assert_non_null(h);
    /* Its pages may read the answers, errors included, and the ids and retry hints in them. */
    r = get_from(h, SHOP, h->keys[HARNESS_STOREFRONT], "/v1/locations");
    harness_assert_status(r, 200);
    assert_string_equal(harness_header(r, "Access-Control-Allow-Origin"), SHOP);
    assert_string_equal(harness_header(r, "Vary"), "Origin");
    assert_non_null(strstr(harness_header(r, "Access-Control-Expose-Headers"), "X-Request-Id"));
    assert_non_null(strstr(harness_header(r, "Access-Control-Expose-Headers"), "Retry-After"));
    harness_response_free(r);
    r = get_from(h, SHOP, NULL, "/v1/locations");
    harness_assert_problem(r, 401, "unauthorized", NULL);
    assert_string_equal(harness_header(r, "Access-Control-Allow-Origin"), SHOP);
    harness_response_free(r);

    /* The browser's preflight: the methods of the path and the headers the API reads. */
    r = preflight(h, SHOP, "/v1/reservations", "POST");
    harness_assert_status(r, 204);
    assert_string_equal(harness_header(r, "Access-Control-Allow-Origin"), SHOP);
    assert_non_null(strstr(harness_header(r, "Access-Control-Allow-Methods"), "POST"));
    assert_non_null(strstr(harness_header(r, "Access-Control-Allow-Headers"), "Authorization"));
    assert_non_null(strstr(harness_header(r, "Access-Control-Allow-Headers"), "Idempotency-Key"));
    harness_response_free(r);
    r = preflight(h, SHOP, "/v1/no-such-thing", "GET");
    harness_assert_problem(r, 404, "not-found", NULL);
    harness_response_free(r);

    /* Any other origin gets nothing that would let its pages read an answer. */
    r = get_from(h, "https://evil.example", h->keys[HARNESS_STOREFRONT], "/v1/locations");
    harness_assert_status(r, 200);
    assert_null(harness_header(r, "Access-Control-Allow-Origin"));
    harness_response_free(r);
    r = get_from(h, SHOP ".evil.example", h->keys[HARNESS_STOREFRONT], "/v1/locations");
    assert_null(harness_header(r, "Access-Control-Allow-Origin"));
    harness_response_free(r);
    r = preflight(h, "https://evil.example", "/v1/reservations", "POST");
    harness_assert_problem(r, 405, "method-not-allowed", NULL);
    assert_null(harness_header(r, "Access-Control-Allow-Origin"));
    harness_response_free(r);
    assert_int_equal(harness_stop(h), 0);
}

static void test_cors__an_origin_with_a_path_is_a_config_error(void **state)
{
    struct harness *h =
        harness_start_config("{\"cors\": {\"allow_origins\": [\"https://shop.example/app\"]}}");

    (void)state;
    /* The daemon refuses to start (exit 2, one line naming the problem). */
    assert_null(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cors__same_origin_only_by_default),
        cmocka_unit_test(test_cors__a_configured_origin_may_call_the_api),
        cmocka_unit_test(test_cors__an_origin_with_a_path_is_a_config_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
