/*
 * test_scale_out.c - two daemons sharing one Redis and nothing else, as
 * behind a load balancer: what each keeps in Redis stays right whichever
 * daemon a request reaches.
 *
 * - Orders imported through both, some through both, are counted once each
 *   by the recommendation consumer group (each daemon is one consumer).
 * - Orders a third daemon read and never counted (it died) are taken over
 *   after recommendations.claim_after_ms and counted once, not twice, though
 *   both survivors look for them.
 * - An Idempotency-Key used on one daemon replays on the other.
 * - A reservation held through one expires once, with both sweeping.
 *
 * The reservation race through nginx and a cluster is test_reservation_race.c.
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

#define ADMIN      (s->a->keys[HARNESS_ADMIN])
#define STOREFRONT (s->a->keys[HARNESS_STOREFRONT])
#define PARTITIONS 16
#define WAIT_MS    20000

struct suite {
    struct harness *a, *b;
};

static long long reply_ll(redisReply *rep)
{
    long long v = 0;

    if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
        v = rep->integer;
    else if (rep != NULL && rep->type == REDIS_REPLY_STRING)
        v = strtoll(rep->str, NULL, 10);
    freeReplyObject(rep);
    return v;
}

/* Orders of @sku counted by the model, and orders with both @sku and @with. */
static long long counted(struct suite *s, const char *sku, const char *with)
{
    if (with == NULL)
        return reply_ll(harness_redis_command(&s->a->redis, "HGET {rec}:n %s", sku));
    return reply_ll(harness_redis_command(&s->a->redis, "HGET {rec}:co:%s %s", sku, with));
}

/* Entries in the orders streams (placed, not counted) and delivered but not acknowledged. */
static long long waiting(struct suite *s, long long *pending)
{
    long long n = 0;

    *pending = 0;
    for (unsigned p = 0; p < PARTITIONS; p++) {
        redisReply *rep;

        n += reply_ll(harness_redis_command(&s->a->redis, "XLEN {p%02u}:orders", p));
        rep = harness_redis_command(&s->a->redis, "XPENDING {p%02u}:orders recommend", p);
        if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0)
            *pending += rep->element[0]->integer;
        freeReplyObject(rep);
    }
    return n;
}

/* Every order placed so far counted, nothing pending (WAIT_MS at most, polled). */
static void wait_counted(struct suite *s)
{
    long long deadline = harness_now_ms() + WAIT_MS, pending = 0;

    while (waiting(s, &pending) > 0 || pending > 0) {
        if (harness_now_ms() > deadline) {
            harness_daemon_log(s->a, 2000);
            harness_daemon_log(s->b, 2000);
            fail_msg("orders still waiting (%lld pending) after %d ms", pending, WAIT_MS);
        }
        harness_sleep_ms(50);
    }
}

/* POST /v1/orders of @n orders of SO-P and SO-C, ids <@prefix>-<i>, to @h: what it accepted. */
static long long import(struct suite *s, const struct harness *h, const char *prefix, int n,
                        long long *duplicates)
{
    json_t *orders = json_array(), *body;
    struct harness_response *r;
    long long accepted;
    char *text;

    for (int i = 0; i < n; i++) {
        char id[64];

        snprintf(id, sizeof(id), "%s-%d", prefix, i);
        json_array_append_new(orders, json_pack("{s:s, s:[{s:s, s:i}, {s:s, s:i}]}", "id", id,
                                                "lines", "sku", "SO-P", "quantity", 1, "sku",
                                                "SO-C", "quantity", 1));
    }
    body = json_pack("{s:o}", "orders", orders);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    r = harness_post_json(h, ADMIN, "/v1/orders", text);
    free(text);
    harness_assert_status(r, 200);
    accepted = harness_jint(r->json, "accepted");
    *duplicates = harness_jint(r->json, "duplicates");
    harness_response_free(r);
    return accepted;
}

static int group_setup(void **state)
{
    struct suite *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return -1;
    *state = s;
    s->a = harness_start_config("{\"recommendations\": {\"claim_after_ms\": 1000}}");
    s->b = s->a != NULL ? harness_start_peer(s->a) : NULL;
    if (s->b == NULL) {
        harness_stop(s->a);
        free(s);
        return -1;
    }
    harness_admin_put(s->a, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    harness_admin_put(s->a, "/v1/products/SO-P",
                      "{\"name\": \"Pan\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "1000, \"currency\": \"GBP\"}}");
    harness_admin_put(s->b, "/v1/products/SO-C",
                      "{\"name\": \"Cloth\", \"category\": \"table\", \"price\": {\"amount\": "
                      "300, \"currency\": \"GBP\"}}");
    harness_receipt(s->a, "SO-P", "wh-1", 10);
    return 0;
}

static int group_teardown(void **state)
{
    struct suite *s = *state;
    int rc = harness_stop(s->b);

    if (harness_stop(s->a) != 0)
        rc = -1;
    free(s);
    return rc;
}

static void test_scale_out__orders_through_both_daemons_count_once(void **state)
{
    struct suite *s = *state;
    long long accepted = 0, dup, dups = 0;

    accepted += import(s, s->a, "so-a", 40, &dup);
    dups += dup;
    accepted += import(s, s->b, "so-b", 40, &dup);
    dups += dup;
    /* The same 20 orders through both: the second daemon finds them known. */
    accepted += import(s, s->a, "so-both", 20, &dup);
    dups += dup;
    accepted += import(s, s->b, "so-both", 20, &dup);
    dups += dup;
    assert_int_equal(accepted, 100);
    assert_int_equal(dups, 20);
    wait_counted(s);
    assert_int_equal(counted(s, "SO-P", NULL), 100);
    assert_int_equal(counted(s, "SO-P", "SO-C"), 100);
    assert_int_equal(counted(s, "SO-C", "SO-P"), 100);
}

/*
 * Add an orders-stream entry and deliver it, in the same script, to
 * @consumer: a daemon that read it and died before counting it.
 */
static void deliver_to_the_dead(struct suite *s, unsigned part, const char *consumer,
                                const char *id)
{
    static const char script[] =
        "redis.call('XADD', KEYS[1], '*', 'id', ARGV[2], 'customer', '', 'channel', 'web', "
        "'at', ARGV[3], 'skus', 'SO-P,SO-C') "
        "return redis.call('XREADGROUP', 'GROUP', 'recommend', ARGV[1], 'STREAMS', KEYS[1], '>')";
    char key[32], at[32];
    redisReply *rep;

    snprintf(key, sizeof(key), "{p%02u}:orders", part);
    snprintf(at, sizeof(at), "%lld", harness_now_ms());
    rep =
        harness_redis_command(&s->a->redis, "EVAL %s 1 %s %s %s %s", script, key, consumer, id, at);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    freeReplyObject(rep);
}

static void test_scale_out__a_dead_daemons_orders_are_taken_over_once(void **state)
{
    struct suite *s = *state;
    long long before = counted(s, "SO-P", NULL), pending = 0;

    /* One it had counted already (so-a-1), two new ones, in two partitions. */
    deliver_to_the_dead(s, 5, "omnistockd@gone:1", "so-a-1");
    deliver_to_the_dead(s, 5, "omnistockd@gone:1", "so-dead-1");
    deliver_to_the_dead(s, 11, "omnistockd@gone:1", "so-dead-2");
    assert_int_equal(waiting(s, &pending), 3);
    assert_int_equal(pending, 3);
    wait_counted(s);
    assert_int_equal(counted(s, "SO-P", NULL), before + 2);
    assert_int_equal(counted(s, "SO-P", "SO-C"), before + 2);
}

static void test_scale_out__an_idempotency_key_replays_on_the_other_daemon(void **state)
{
    static const char *const key[] = {"Content-Type: application/json",
                                      "Idempotency-Key: so-basket-1", NULL};
    static const char body[] = "{\"channel\": \"web\", \"lines\": [{\"sku\": \"SO-P\", "
                               "\"quantity\": 2}]}";
    struct suite *s = *state;
    struct harness_response *first, *again;

    first = harness_http(s->a, "POST", "/v1/reservations", STOREFRONT, key, body, strlen(body));
    harness_assert_status(first, 201);
    again = harness_http(s->b, "POST", "/v1/reservations", STOREFRONT, key, body, strlen(body));
    harness_assert_status(again, 201);
    assert_non_null(harness_header(again, "Idempotent-Replayed"));
    assert_string_equal(harness_jstr(again->json, "id"), harness_jstr(first->json, "id"));
    harness_response_free(first);
    harness_response_free(again);

    first = harness_get(s->b, ADMIN, "/v1/stock/SO-P");
    harness_assert_status(first, 200);
    harness_assert_jint(first, "locations/0/reserved", 2); /* held once */
    harness_response_free(first);
}

/* The reservation.expired events of reservation @id in the event log. */
static int expired_events(struct suite *s, const char *id)
{
    struct harness_response *r = harness_get(s->a, ADMIN, "/v1/events?limit=1000");
    int n = 0;
    json_t *e;
    size_t i;

    harness_assert_status(r, 200);
    json_array_foreach(harness_jget(r->json, "events"), i, e)
    {
        const char *type = harness_jstr(e, "type"), *resv = harness_jstr(e, "reservation");
        n += type != NULL && resv != NULL && strcmp(type, "reservation.expired") == 0 &&
             strcmp(resv, id) == 0;
    }
    harness_response_free(r);
    return n;
}

static void test_scale_out__a_reservation_expires_once_with_both_sweeping(void **state)
{
    struct suite *s = *state;
    struct harness_response *r;
    char path[128], id[80];
    int expired = 0;

    r = harness_post_json(s->a, STOREFRONT, "/v1/reservations",
                          "{\"channel\": \"web\", \"ttl_seconds\": 1, \"lines\": [{\"sku\": "
                          "\"SO-P\", \"quantity\": 3}]}");
    harness_assert_status(r, 201);
    snprintf(id, sizeof(id), "%s", harness_jstr(r->json, "id"));
    harness_response_free(r);
    snprintf(path, sizeof(path), "/v1/reservations/%s", id);
    for (int tries = 0; tries < 100 && !expired; tries++) {
        r = harness_get(s->b, STOREFRONT, path);
        expired = r->status == 200 && strcmp(harness_jstr(r->json, "status"), "expired") == 0;
        harness_response_free(r);
        if (!expired)
            harness_sleep_ms(100);
    }
    assert_true(expired);

    /*
     * Its hold goes back within a second: one reservation.expired event,
     * whichever daemon's sweep got there first, and still one a few sweeps
     * later.
     */
    for (int tries = 0; tries < 50 && expired_events(s, id) == 0; tries++)
        harness_sleep_ms(100);
    harness_sleep_ms(1500);
    assert_int_equal(expired_events(s, id), 1);
    r = harness_get(s->a, ADMIN, "/v1/stock/SO-P");
    harness_assert_jint(r, "locations/0/reserved", 2); /* the replayed basket's, still held */
    harness_response_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale_out__orders_through_both_daemons_count_once),
        cmocka_unit_test(test_scale_out__a_dead_daemons_orders_are_taken_over_once),
        cmocka_unit_test(test_scale_out__an_idempotency_key_replays_on_the_other_daemon),
        cmocka_unit_test(test_scale_out__a_reservation_expires_once_with_both_sweeping),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
