/*
 * test_redis_down.c - Redis stops under a running daemon: requests get a
 * quick 503 with Retry-After (never a hang), /readyz says 503, /healthz 200.
 * Redis comes back on the same port: full service again within seconds,
 * without restarting the daemon.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/harness/harness.h"

#define ADMIN (h->keys[HARNESS_ADMIN])

/* How long a user may wait for an answer while Redis is down. */
#define QUICK_SECONDS 3.0
/* How long the daemon may take to find Redis again. */
#define RECOVERY_MS 10000

static const char location[] =
    "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}";
static const char product[] = "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": "
                              "{\"amount\": 899, \"currency\": \"GBP\"}}";
static const char receipt[] =
    "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", \"quantity\": 4}";

static int group_setup(void **state)
{
    struct harness *h = harness_start();
    struct harness_response *r;

    *state = h;
    if (h == NULL) {
        return -1;
    }
    h->timeout_ms = 15000; /* long enough to tell a slow answer from a hang */
    harness_admin_put(h, "/v1/locations/wh-1", location);
    harness_admin_put(h, "/v1/products/MUG-01", product);
    r = harness_post_json(h, ADMIN, "/v1/movements", receipt);
    harness_assert_status(r, 201);
    harness_response_free(r);
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

static void assert_unavailable(struct harness_response *r)
{
    const char *retry = harness_header(r, "Retry-After");
    char *end;

    harness_assert_problem(r, 503, "unavailable", NULL);
    assert_non_null(retry);
    assert_true(strtol(retry, &end, 10) > 0 && *end == '\0');
    assert_true(r->seconds < QUICK_SECONDS);
}

static void test_redis_down__503_quickly_then_recovers(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    int ready = 0;

    assert_int_equal(harness_redis_stop(&h->redis), 0);

    /* several rounds: the first requests find the connection gone, later ones find it down */
    for (int round = 0; round < 3; round++) {
        harness_context("Redis down, round %d", round);
        r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
        assert_unavailable(r);
        harness_response_free(r);
        r = harness_post_json(h, ADMIN, "/v1/movements", receipt);
        assert_unavailable(r);
        harness_response_free(r);
        r = harness_get(h, ADMIN, "/v1/locations");
        assert_unavailable(r);
        harness_response_free(r);

        r = harness_get(h, NULL, "/readyz");
        harness_assert_status(r, 503);
        assert_true(r->seconds < QUICK_SECONDS);
        harness_response_free(r);
        r = harness_get(h, NULL, "/healthz");
        harness_assert_status(r, 200);
        assert_true(r->seconds < QUICK_SECONDS);
        harness_response_free(r);
        harness_sleep_ms(300);
    }
    harness_context(NULL);

    assert_int_equal(harness_redis_start(&h->redis), 0);
    for (int waited = 0; waited < RECOVERY_MS && !ready; waited += 100) {
        r = harness_get(h, NULL, "/readyz");
        ready = r->status == 200;
        harness_response_free(r);
        if (!ready) {
            harness_sleep_ms(100);
        }
    }
    assert_true(ready);

    /* the new Redis is empty (no persistence in tests): the daemon works on it from scratch */
    r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    harness_assert_problem(r, 404, "not-found", NULL);
    harness_response_free(r);
    harness_admin_put(h, "/v1/locations/wh-1", location);
    harness_admin_put(h, "/v1/products/MUG-01", product);
    r = harness_post_json(h, ADMIN, "/v1/movements", receipt);
    harness_assert_status(r, 201);
    harness_assert_jint(r, "on_hand", 4);
    harness_response_free(r);
    r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    harness_assert_status(r, 200);
    harness_assert_jint(r, "locations/0/on_hand", 4);
    harness_assert_jint(r, "channels/web/available", 4);
    harness_response_free(r);
}

static void test_redis_down__metrics_count_the_reconnect(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, NULL, "/metrics");

    harness_assert_status(r, 200);
    assert_true(harness_metric_value(r->body, "omnistock_redis_reconnects_total") >= 1);
    assert_true(harness_metric_value(r->body, "omnistock_redis_up") == 1);
    harness_response_free(r);
}

/* A second outage works like the first: recovery is not a one-off. */
static void test_redis_down__second_outage_recovers_too(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    int ok = 0;

    assert_int_equal(harness_redis_stop(&h->redis), 0);
    r = harness_get(h, ADMIN, "/v1/locations");
    assert_unavailable(r);
    harness_response_free(r);
    assert_int_equal(harness_redis_start(&h->redis), 0);
    for (int waited = 0; waited < RECOVERY_MS && !ok; waited += 100) {
        r = harness_get(h, ADMIN, "/v1/locations");
        ok = r->status == 200;
        harness_response_free(r);
        if (!ok) {
            harness_sleep_ms(100);
        }
    }
    assert_true(ok);
    harness_admin_put(h, "/v1/locations/wh-1", location);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_down__503_quickly_then_recovers),
        cmocka_unit_test(test_redis_down__metrics_count_the_reconnect),
        cmocka_unit_test(test_redis_down__second_outage_recovers_too),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
