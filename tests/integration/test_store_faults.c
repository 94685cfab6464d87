/*
 * test_store_faults.c - what the daemon does when Redis misbehaves without
 * going away, and the shortfall event, which needs levels seeded in Redis.
 *
 * - Redis frozen (SIGSTOP): requests get 503 after the command timeout, never
 *   a hang; thawed (SIGCONT), full service returns without a restart.
 * - Functions flushed (FUNCTION FLUSH): the next write loads the scripts'
 *   libraries again ("Function not found") and goes through.
 * - A sale that takes on_hand below reserved is applied and records
 *   stock.shortfall. Reserved units come from reservations (a later module),
 *   so the test seeds a level with reserved units directly in Redis.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/crc16.h"
#include "tests/harness/harness.h"

#define ADMIN (h->keys[HARNESS_ADMIN])

static int group_setup(void **state)
{
    struct harness *h = harness_start();

    *state = h;
    if (h == NULL)
        return -1;
    harness_admin_put(h, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    harness_admin_put(h, "/v1/locations/store-leeds",
                      "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"web\", "
                      "\"store\", \"click_collect\"], \"store_buffer\": 1}");
    harness_admin_put(h, "/v1/products/MUG-01",
                      "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": "
                      "{\"amount\": 899, \"currency\": \"GBP\"}}");
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

static void test_store_faults__frozen_redis_gives_503_then_recovers(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;

    harness_receipt(h, "MUG-01", "wh-1", 5);
    assert_int_equal(harness_redis_signal(&h->redis, SIGSTOP), 0);
    r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    /* The command timeout is 2 s: an answer, and a 503, well before the client's 10 s. */
    assert_int_equal(harness_redis_signal(&h->redis, SIGCONT), 0);
    harness_assert_problem(r, 503, "unavailable", NULL);
    assert_non_null(harness_header(r, "Retry-After"));
    assert_true(r->seconds < 5.0);
    harness_response_free(r);

    /* Thawed: the daemon reconnects by itself. */
    for (int i = 0; i < 50; i++) {
        struct timespec pause = {0, 100 * 1000 * 1000};
        r = harness_get(h, NULL, "/readyz");
        if (r->status == 200) {
            harness_response_free(r);
            break;
        }
        harness_response_free(r);
        nanosleep(&pause, NULL);
    }
    r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    harness_assert_status(r, 200);
    harness_assert_jint(r, "channels/web/available", 5);
    harness_response_free(r);
}

static void test_store_faults__flushed_scripts_are_reloaded(void **state)
{
    struct harness *h = *state;
    redisReply *reply = harness_redis_command(&h->redis, "FUNCTION FLUSH");
    struct harness_response *r;

    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STATUS);
    freeReplyObject(reply);
    harness_receipt(h, "MUG-01", "wh-1", 2);
    r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    harness_assert_status(r, 200);
    harness_assert_jint(r, "locations/1/on_hand", 7);
    harness_response_free(r);
}

static void test_store_faults__sale_below_reserved_records_shortfall(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    redisReply *reply;
    char key[64];

    /* Leeds holds 3 on hand, 2 of them reserved. */
    snprintf(key, sizeof(key), "{p%02u}:sku:MUG-01", partition_of("MUG-01", 16));
    reply = harness_redis_command(&h->redis, "HSET %s store-leeds 3:2:-1", key);
    assert_non_null(reply);
    freeReplyObject(reply);

    r = harness_post_json(h, ADMIN, "/v1/movements",
                          "{\"sku\": \"MUG-01\", \"location\": \"store-leeds\", \"type\": "
                          "\"sale\", \"quantity\": 2}");
    harness_assert_status(r, 201);
    harness_assert_jint(r, "on_hand", 1);
    harness_assert_jint(r, "reserved", 2);
    harness_assert_jint(r, "available", 0);
    harness_response_free(r);

    r = harness_get(h, ADMIN, "/v1/stock/MUG-01/history?location=store-leeds&limit=5");
    harness_assert_status(r, 200);
    {
        json_t *events = harness_jget(r->json, "events");
        int found = 0;
        for (size_t i = 0; i < json_array_size(events); i++) {
            json_t *ev = json_array_get(events, i);
            if (strcmp(json_string_value(json_object_get(ev, "type")), "stock.shortfall") != 0)
                continue;
            found = 1;
            assert_int_equal(harness_jint(ev, "shortfall"), 1);
            assert_int_equal(harness_jint(ev, "levels/on_hand"), 1);
            assert_int_equal(harness_jint(ev, "levels/reserved"), 2);
        }
        assert_true(found);
    }
    harness_response_free(r);

    /* The walk-in figure never goes negative. */
    r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    harness_assert_jint(r, "channels/store/store-leeds/available", 0);
    harness_response_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_faults__frozen_redis_gives_503_then_recovers),
        cmocka_unit_test(test_store_faults__flushed_scripts_are_reloaded),
        cmocka_unit_test(test_store_faults__sale_below_reserved_records_shortfall),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
