/*
 * test_idempotency.c - POST with Idempotency-Key: a retry returns the first
 * response and does nothing else; the same key with another body is 422; an
 * invalid key is 400; a key whose first request ended in a 5xx is 409 for
 * limits.idempotency_pending_seconds, then runs again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/crc16.h"
#include "tests/harness/harness.h"

#define ADMIN (h->keys[HARNESS_ADMIN])

static const char receipt5[] =
    "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", \"quantity\": 5}";

static int group_setup(void **state)
{
    struct harness *h = harness_start_config("{\"limits\": {\"idempotency_pending_seconds\": 2}}");

    *state = h;
    if (h == NULL) {
        return -1;
    }
    harness_admin_put(h, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    harness_admin_put(h, "/v1/products/MUG-01",
                      "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "899, \"currency\": \"GBP\"}}");
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* post_with_key - POST @body to @path as admin with "Idempotency-Key: @key". */
static struct harness_response *post_with_key(struct harness *h, const char *path, const char *key,
                                              const char *body)
{
    char line[512];
    const char *headers[] = {"Content-Type: application/json", line, NULL};

    snprintf(line, sizeof(line), "Idempotency-Key: %s", key);
    return harness_http(h, "POST", path, ADMIN, headers, body, strlen(body));
}

static long long wh_on_hand(struct harness *h)
{
    struct harness_response *r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    long long n;

    harness_assert_status(r, 200);
    harness_assert_jstr(r, "locations/0/location", "wh-1");
    n = harness_jint(r->json, "locations/0/on_hand");
    harness_response_free(r);
    return n;
}

static void test_idempotency__retry_returns_the_first_response(void **state)
{
    struct harness *h = *state;
    struct harness_response *first, *again;
    char after_first[41];
    long long start = wh_on_hand(h);

    first = post_with_key(h, "/v1/movements", "order-1001-receipt", receipt5);
    harness_assert_status(first, 201);
    harness_assert_jint(first, "on_hand", start + 5);
    assert_int_equal(harness_redis_digest(&h->redis, after_first), 0);

    for (int i = 0; i < 3; i++) {
        again = post_with_key(h, "/v1/movements", "order-1001-receipt", receipt5);
        harness_assert_status(again, 201);
        assert_true(json_equal(first->json, again->json));
        assert_non_null(harness_header(again, "Idempotent-Replayed"));
        assert_string_equal(harness_header(again, "Idempotent-Replayed"), "true");
        harness_assert_unchanged(h, after_first);
        harness_response_free(again);
    }
    assert_null(harness_header(first, "Idempotent-Replayed"));
    assert_int_equal(wh_on_hand(h), start + 5);
    harness_response_free(first);
}

static void test_idempotency__same_key_other_body_is_422(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char before[41];
    long long start;

    r = post_with_key(h, "/v1/movements", "order-1002", receipt5);
    harness_assert_status(r, 201);
    harness_response_free(r);
    start = wh_on_hand(h);
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);

    r = post_with_key(h, "/v1/movements", "order-1002",
                      "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", "
                      "\"quantity\": 6}");
    harness_assert_problem(r, 422, "idempotency-key-reused", NULL);
    harness_response_free(r);
    harness_assert_unchanged(h, before);
    assert_int_equal(wh_on_hand(h), start);
}

static void test_idempotency__different_keys_are_different_requests(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    long long start = wh_on_hand(h);

    r = post_with_key(h, "/v1/movements", "order-1003-a", receipt5);
    harness_assert_status(r, 201);
    harness_response_free(r);
    r = post_with_key(h, "/v1/movements", "order-1003-b", receipt5);
    harness_assert_status(r, 201);
    assert_null(harness_header(r, "Idempotent-Replayed"));
    harness_response_free(r);
    /* and without a key, every POST counts */
    r = harness_post_json(h, ADMIN, "/v1/movements", receipt5);
    harness_assert_status(r, 201);
    harness_response_free(r);
    assert_int_equal(wh_on_hand(h), start + 15);
}

/* The first response is what a retry gets, even when it was a refusal. */
static void test_idempotency__refusal_is_replayed_too(void **state)
{
    static const char sale[] =
        "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"sale\", \"quantity\": 1000}";
    static const char receipt[] =
        "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", \"quantity\": 1000}";
    struct harness *h = *state;
    struct harness_response *first, *again;
    long long start = wh_on_hand(h);

    first = post_with_key(h, "/v1/movements", "order-1004", sale);
    harness_assert_problem(first, 409, "insufficient-stock", NULL);
    /* now the sale would succeed if it ran again */
    again = harness_post_json(h, ADMIN, "/v1/movements", receipt);
    harness_assert_status(again, 201);
    harness_response_free(again);

    again = post_with_key(h, "/v1/movements", "order-1004", sale);
    harness_assert_problem(again, 409, "insufficient-stock", NULL);
    assert_true(json_equal(first->json, again->json));
    harness_response_free(first);
    harness_response_free(again);
    assert_int_equal(wh_on_hand(h), start + 1000);
}

static void test_idempotency__batch_replayed_whole(void **state)
{
    static const char batch[] =
        "{\"movements\": [{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", "
        "\"quantity\": 2}, {\"sku\": \"NOPE\", \"location\": \"wh-1\", \"type\": \"receipt\", "
        "\"quantity\": 2}]}";
    struct harness *h = *state;
    struct harness_response *first, *again;
    long long start = wh_on_hand(h);

    first = post_with_key(h, "/v1/movements", "batch-7", batch);
    harness_assert_status(first, 200);
    harness_assert_jint(first, "results/0/status", 201);
    again = post_with_key(h, "/v1/movements", "batch-7", batch);
    harness_assert_status(again, 200);
    assert_true(json_equal(first->json, again->json));
    harness_response_free(first);
    harness_response_free(again);
    assert_int_equal(wh_on_hand(h), start + 2);
}

static void test_idempotency__invalid_key_is_400(void **state)
{
    struct harness *h = *state;
    char long_key[130], max_key[129];
    const char *const bad[] = {"", long_key, "caf\xc3\xa9", "tab\there"};
    struct harness_response *r;
    char before[41];

    memset(long_key, 'k', 129);
    long_key[129] = '\0';
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        harness_context("Idempotency-Key \"%s\"", bad[i]);
        r = post_with_key(h, "/v1/movements", bad[i], receipt5);
        harness_assert_problem(r, 400, "invalid-field", "Idempotency-Key");
        harness_response_free(r);
    }
    harness_context(NULL);
    harness_assert_unchanged(h, before);

    /* 128 printable characters are fine */
    memset(max_key, 'k', 128);
    max_key[128] = '\0';
    r = post_with_key(h, "/v1/movements", max_key, receipt5);
    harness_assert_status(r, 201);
    harness_response_free(r);
}

/*
 * A request that ended in a 5xx keeps its key pending (what it did is not
 * known): a retry is 409 idempotency-pending with Retry-After and changes
 * nothing; once limits.idempotency_pending_seconds (2 s here) have passed, the
 * retry runs, and takes effect once.
 */
static void test_idempotency__a_key_left_pending_by_a_5xx_runs_again_later(void **state)
{
    static const char hold2[] =
        "{\"channel\": \"web\", \"lines\": [{\"sku\": \"MUG-01\", \"quantity\": 2}]}";
    struct harness *h = *state;
    struct harness_response *r;
    char before[41], field[160], level[80], id[80];
    redisReply *rep;
    long long on_hand = wh_on_hand(h);

    /* A level Redis cannot read makes the hold script fail: 503, the key left pending. */
    snprintf(field, sizeof(field), "{p%02u}:sku:MUG-01", partition_of("MUG-01", 16));
    rep = harness_redis_command(&h->redis, "HGET %s wh-1", field);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    snprintf(level, sizeof(level), "%s", rep->str);
    freeReplyObject(rep);
    freeReplyObject(harness_redis_command(&h->redis, "HSET %s wh-1 not-a-level", field));
    r = post_with_key(h, "/v1/reservations", "pending-1", hold2);
    harness_assert_problem(r, 503, "unavailable", NULL);
    harness_response_free(r);

    /* At once: 409, Retry-After, nothing done. */
    freeReplyObject(harness_redis_command(&h->redis, "HSET %s wh-1 %s", field, level));
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    r = post_with_key(h, "/v1/reservations", "pending-1", hold2);
    harness_assert_problem(r, 409, "idempotency-pending", "Idempotency-Key");
    assert_non_null(harness_header(r, "Retry-After"));
    /* what is left of the 2 s */
    assert_true(atoi(harness_header(r, "Retry-After")) >= 1 &&
                atoi(harness_header(r, "Retry-After")) <= 2);
    harness_response_free(r);
    harness_assert_unchanged(h, before);

    /* After the pending seconds: it runs, once; a retry then replays it. */
    harness_sleep_ms(2200);
    r = post_with_key(h, "/v1/reservations", "pending-1", hold2);
    harness_assert_status(r, 201);
    snprintf(id, sizeof(id), "%s", harness_jstr(r->json, "id"));
    harness_response_free(r);
    r = post_with_key(h, "/v1/reservations", "pending-1", hold2);
    harness_assert_status(r, 201);
    harness_assert_jstr(r, "id", id);
    assert_non_null(harness_header(r, "Idempotent-Replayed"));
    harness_response_free(r);
    assert_int_equal(wh_on_hand(h), on_hand);
    r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    harness_assert_jint(r, "locations/0/reserved", 2);
    harness_response_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idempotency__retry_returns_the_first_response),
        cmocka_unit_test(test_idempotency__same_key_other_body_is_422),
        cmocka_unit_test(test_idempotency__different_keys_are_different_requests),
        cmocka_unit_test(test_idempotency__refusal_is_replayed_too),
        cmocka_unit_test(test_idempotency__batch_replayed_whole),
        cmocka_unit_test(test_idempotency__invalid_key_is_400),
        cmocka_unit_test(test_idempotency__a_key_left_pending_by_a_5xx_runs_again_later),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
