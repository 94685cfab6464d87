/*
 * test_read_cache.c - the daemon's read cache of stock levels and products
 * (common/rcache.h), against a real Redis, alone or a cluster:
 *
 * - a level read again is answered from the daemon's copy;
 * - a stock answer read again is the one kept with that copy, the same bytes,
 *   until the copy changes or the location rules do (through this daemon: in
 *   the next answer; through another: within the second the rules are kept);
 * - a change made through the daemon is in its very next answer, every time;
 * - a change made through another daemon, or straight in Redis, is in the
 *   answers within a moment: Redis names the key that changed (the copies
 *   are kept for a minute, so nothing else would show it);
 * - losing the connection that hears the changes drops every copy;
 * - Redis going away drops every copy: no answer comes from the cache while
 *   Redis is gone (503), and none from before once it is back; a FLUSHALL
 *   drops them too;
 * - a Redis that refuses to report changes (an ACL) still serves, without copies;
 * - a copy past its age asks Redis for the SKU's version alone: the same
 *   renews it and its kept answer, another (a change Redis never reported)
 *   reads the hash whole;
 * - a copy read during its age is confirmed by its version before the age
 *   runs out: a SKU read steadily never waits for Redis;
 * - read_cache.entries bounds the copies, max_age_ms their age, entries 0
 *   turns the cache off, and values out of range are config errors.
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

#define PARTITIONS 16
#define MOMENT_MS  1000 /* "within a moment": a copy is otherwise kept 60 s */

/* The harness's small catalogue, with 10 units of each SKU at wh-1. */
static void catalogue(struct harness *h, const char *const *skus, size_t n)
{
    harness_catalogue(h, skus, n);
    for (size_t i = 0; i < n; i++)
        harness_receipt(h, skus[i], "wh-1", 10);
}

static int group_setup(void **state)
{
    static const char *const skus[] = {"MUG-01", "MUG-02", "MUG-03", "MUG-04", "MUG-05"};
    struct harness *h = harness_start();

    *state = h;
    if (h == NULL)
        return -1;
    catalogue(h, skus, 5);
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* GET /v1/stock/@sku: the status, and the level at @location in *@on_hand, *@reserved. */
static int level(const struct harness *h, const char *sku, const char *location, long long *on_hand,
                 long long *reserved)
{
    char path[128];
    struct harness_response *r;
    json_t *v;
    size_t i;
    int status;

    snprintf(path, sizeof(path), "/v1/stock/%s", sku);
    r = harness_get(h, h->keys[HARNESS_ADMIN], path);
    status = r->status;
    *on_hand = *reserved = -1;
    json_array_foreach(harness_jget(r->json, "locations"), i, v)
    {
        if (strcmp(harness_jstr(v, "location"), location) == 0) {
            *on_hand = harness_jint(v, "on_hand");
            *reserved = harness_jint(v, "reserved");
        }
    }
    harness_response_free(r);
    return status;
}

static long long on_hand(const struct harness *h, const char *sku)
{
    long long n, reserved;

    assert_int_equal(level(h, sku, "wh-1", &n, &reserved), 200);
    return n;
}

/* Poll until @sku's on_hand at wh-1 is @want, MOMENT_MS at most. @return the time it took,
 * or -1. */
static long long seen_within(const struct harness *h, const char *sku, long long want)
{
    long long start = harness_now_ms(), n, reserved;

    do {
        if (level(h, sku, "wh-1", &n, &reserved) == 200 && n == want)
            return harness_now_ms() - start;
        harness_sleep_ms(5);
    } while (harness_now_ms() - start < MOMENT_MS);
    return -1;
}

/* Set @sku's level at wh-1 straight in Redis, as another writer would. */
static void redis_set_level(struct harness *h, const char *sku, long long n)
{
    redisReply *rep = harness_redis_command(&h->redis, "HSET {p%02u}:sku:%s wh-1 %lld:0:0",
                                            partition_of(sku, PARTITIONS), sku, n);

    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
}

static void test_read_cache__a_level_read_again_comes_from_the_daemon(void **state)
{
    struct harness *h = *state;
    double hits, misses;

    assert_true(harness_metric(h, "omnistock_read_cache_live") == 1);
    assert_int_equal(on_hand(h, "MUG-01"), 10);
    hits = harness_metric(h, "omnistock_read_cache_hits_total");
    misses = harness_metric(h, "omnistock_read_cache_misses_total");
    for (int i = 0; i < 20; i++)
        assert_int_equal(on_hand(h, "MUG-01"), 10);
    assert_true(harness_metric(h, "omnistock_read_cache_hits_total") == hits + 20);
    assert_true(harness_metric(h, "omnistock_read_cache_misses_total") == misses);
    assert_true(harness_metric(h, "omnistock_read_cache_entries") >= 1);
}

/* GET /v1/stock/@sku's body (the caller frees it), asserting a 200. */
static char *stock_body(const struct harness *h, const char *sku)
{
    char path[128], *body;
    struct harness_response *r;

    snprintf(path, sizeof(path), "/v1/stock/%s", sku);
    r = harness_get(h, h->keys[HARNESS_ADMIN], path);
    harness_assert_status(r, 200);
    body = strdup(r->body);
    assert_non_null(body);
    harness_response_free(r);
    return body;
}

/* Whether @sku's answer lists store-leeds among the click-and-collect stores. */
static int leeds_collects(const struct harness *h, const char *sku)
{
    char path[128];
    struct harness_response *r;
    int listed;

    snprintf(path, sizeof(path), "/v1/stock/%s", sku);
    r = harness_get(h, h->keys[HARNESS_ADMIN], path);
    harness_assert_status(r, 200);
    listed = harness_jget(r->json, "channels/click_collect/store-leeds") != NULL;
    harness_response_free(r);
    return listed;
}

static void test_read_cache__a_kept_answer_holds_until_its_copy_or_the_rules_change(void **state)
{
    static const char leeds[] = "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [%s], "
                                "\"store_buffer\": 1}";
    struct harness *h = *state, *peer;
    char body[256], *first, *again;
    double kept, given;
    long long start;

    /* Read again: the same bytes, each one the answer kept. */
    first = stock_body(h, "MUG-05");
    free(stock_body(h, "MUG-05"));
    kept = harness_metric(h, "omnistock_read_cache_answers_total");
    start = harness_now_ms();
    for (int i = 0; i < 20; i++) {
        again = stock_body(h, "MUG-05");
        assert_string_equal(again, first);
        free(again);
    }
    /* Every one the kept answer, but for a read that found the rules' second over (it reads
     * them again, and makes the answer again: once a second at most). */
    given = harness_metric(h, "omnistock_read_cache_answers_total") - kept;
    assert_true(given <= 20 && given >= 20 - ((harness_now_ms() - start) / 1000 + 1));
    /* The level changes: the next answer is a new one, and is kept in turn. */
    harness_receipt(h, "MUG-05", "wh-1", 1);
    assert_int_equal(on_hand(h, "MUG-05"), 11);
    again = stock_body(h, "MUG-05");
    assert_string_not_equal(again, first);
    free(again);
    free(first);

    /* The rules change through this daemon: at once, though the level did not. */
    assert_int_equal(leeds_collects(h, "MUG-05"), 1);
    assert_int_equal(leeds_collects(h, "MUG-05"), 1); /* the answer kept */
    kept = harness_metric(h, "omnistock_read_cache_answers_total");
    snprintf(body, sizeof(body), leeds, "\"web\", \"store\"");
    harness_admin_put(h, "/v1/locations/store-leeds", body);
    /* Another SKU's read takes the new rules first: MUG-05's kept answer was made with others. */
    assert_int_equal(leeds_collects(h, "MUG-01"), 0);
    assert_int_equal(leeds_collects(h, "MUG-05"), 0);
    assert_int_equal(leeds_collects(h, "MUG-05"), 0);
    assert_true(harness_metric(h, "omnistock_read_cache_answers_total") == kept + 1);

    /* Through another daemon: within the second this daemon keeps the rules, and a moment. */
    peer = harness_start_peer(h);
    assert_non_null(peer);
    snprintf(body, sizeof(body), leeds, "\"web\", \"store\", \"click_collect\"");
    harness_admin_put(peer, "/v1/locations/store-leeds", body);
    start = harness_now_ms();
    while (!leeds_collects(h, "MUG-01") && harness_now_ms() - start < 1000 + MOMENT_MS)
        harness_sleep_ms(20);
    assert_int_equal(leeds_collects(h, "MUG-05"), 1);
    printf("# a rule changed by another daemon showed after %lld ms\n", harness_now_ms() - start);
    assert_int_equal(harness_stop(peer), 0);
}

static void test_read_cache__a_change_through_the_daemon_is_in_its_next_answer(void **state)
{
    struct harness *h = *state;
    const char *body =
        "{\"channel\": \"web\", \"lines\": [{\"sku\": \"MUG-02\", \"quantity\": 1}]}";
    long long n, reserved;
    double dropped = harness_metric(h, "omnistock_read_cache_invalidations_total");

    for (int i = 1; i <= 50; i++) {
        harness_context("receipt %d", i);
        assert_int_equal(on_hand(h, "MUG-02"), 10 + i - 1); /* kept */
        harness_receipt(h, "MUG-02", "wh-1", 1);
        assert_int_equal(on_hand(h, "MUG-02"), 10 + i); /* at once, not the copy */
    }
    for (int i = 1; i <= 10; i++) {
        struct harness_response *r;
        harness_context("reservation %d", i);
        assert_int_equal(level(h, "MUG-02", "wh-1", &n, &reserved), 200);
        assert_int_equal(reserved, i - 1);
        r = harness_post_json(h, h->keys[HARNESS_STOREFRONT], "/v1/reservations", body);
        harness_assert_status(r, 201);
        harness_response_free(r);
        assert_int_equal(level(h, "MUG-02", "wh-1", &n, &reserved), 200);
        assert_int_equal(reserved, i);
    }
    harness_context(NULL);
    assert_true(harness_metric(h, "omnistock_read_cache_invalidations_total") >= dropped + 60);
}

static void test_read_cache__a_change_made_elsewhere_is_read_within_a_moment(void **state)
{
    struct harness *h = *state, *peer;
    long long took, slowest = 0;

    /* Straight in Redis. */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(on_hand(h, "MUG-03"), 10 + i);
        assert_int_equal(on_hand(h, "MUG-03"), 10 + i); /* now a copy */
        redis_set_level(h, "MUG-03", 10 + i + 1);
        took = seen_within(h, "MUG-03", 10 + i + 1);
        assert_true(took >= 0);
        slowest = took > slowest ? took : slowest;
    }
    /* Through another daemon on the same Redis. */
    peer = harness_start_peer(h);
    assert_non_null(peer);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(on_hand(h, "MUG-03"), 30 + i);
        assert_int_equal(on_hand(peer, "MUG-03"), 30 + i);
        harness_receipt(peer, "MUG-03", "wh-1", 1);
        assert_int_equal(on_hand(peer, "MUG-03"), 30 + i + 1);
        took = seen_within(h, "MUG-03", 30 + i + 1);
        assert_true(took >= 0);
        slowest = took > slowest ? took : slowest;
    }
    assert_int_equal(harness_stop(peer), 0);
    printf("# a change made elsewhere showed after %lld ms at the most\n", slowest);
}

static void test_read_cache__a_lost_watch_drops_every_copy(void **state)
{
    struct harness *h = *state;
    double clears = harness_metric(h, "omnistock_read_cache_clears_total");
    redisReply *rep;

    assert_int_equal(on_hand(h, "MUG-01"), 10);
    assert_int_equal(on_hand(h, "MUG-01"), 10); /* a copy */
    /* The daemon's watching connection is cut and the level changed before it is back (it
     * waits 50 ms before connecting again): nobody tells the daemon of this change. */
    rep = harness_redis_command(&h->redis, "CLIENT KILL TYPE pubsub");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_true(rep->integer >= 1);
    freeReplyObject(rep);
    redis_set_level(h, "MUG-01", 11);
    assert_true(seen_within(h, "MUG-01", 11) >= 0);
    assert_true(harness_metric(h, "omnistock_read_cache_clears_total") > clears);
    redis_set_level(h, "MUG-01", 10);
    assert_true(seen_within(h, "MUG-01", 10) >= 0);
}

static void test_read_cache__no_copy_outlives_a_redis_restart(void **state)
{
    struct harness *h = *state;
    long long n, reserved, deadline;
    int status;

    assert_int_equal(on_hand(h, "MUG-04"), 10);
    assert_int_equal(on_hand(h, "MUG-04"), 10); /* a copy */
    assert_int_equal(harness_redis_stop(&h->redis), 0);
    /* Redis is gone: 503, not the copy. */
    deadline = harness_now_ms() + 5000;
    while ((status = level(h, "MUG-04", "wh-1", &n, &reserved)) == 200 &&
           harness_now_ms() < deadline)
        harness_sleep_ms(20);
    assert_int_equal(status, 503);
    assert_true(harness_metric(h, "omnistock_read_cache_live") == 0);
    assert_true(harness_metric(h, "omnistock_read_cache_entries") == 0);
    /* Back (a cluster comes back empty: the location again), with a level the daemon did not
     * see change. */
    assert_int_equal(harness_redis_start(&h->redis), 0);
    deadline = harness_now_ms() + 15000;
    do {
        struct harness_response *r =
            harness_put_json(h, h->keys[HARNESS_ADMIN], "/v1/locations/wh-1",
                             "{\"name\": \"Warehouse\", \"type\": \"warehouse\", "
                             "\"fulfils\": [\"web\"]}");
        status = r->status;
        harness_response_free(r);
        if (status != 200 && status != 201)
            harness_sleep_ms(50);
    } while (status != 200 && status != 201 && harness_now_ms() < deadline);
    redis_set_level(h, "MUG-04", 77);
    deadline = harness_now_ms() + 15000;
    while ((status = level(h, "MUG-04", "wh-1", &n, &reserved)) != 200 &&
           harness_now_ms() < deadline)
        harness_sleep_ms(50);
    assert_int_equal(status, 200);
    assert_int_equal(n, 77);
    /* And the cache works again once the watch is back. */
    deadline = harness_now_ms() + 5000;
    while (harness_metric(h, "omnistock_read_cache_live") != 1 && harness_now_ms() < deadline)
        harness_sleep_ms(20);
    assert_true(harness_metric(h, "omnistock_read_cache_live") == 1);
    assert_int_equal(on_hand(h, "MUG-04"), 77);
    redis_set_level(h, "MUG-04", 78);
    assert_true(seen_within(h, "MUG-04", 78) >= 0);
}

/* Last of the group: it empties Redis. */
static void test_read_cache__a_flushall_drops_every_copy(void **state)
{
    struct harness *h = *state;
    long long n, reserved, start = harness_now_ms();
    int status;

    redis_set_level(h, "MUG-01", 10); /* the restart before may have lost it */
    assert_true(seen_within(h, "MUG-01", 10) >= 0);
    assert_int_equal(on_hand(h, "MUG-01"), 10); /* a copy */
    assert_int_equal(harness_redis_flushall(&h->redis), 0);
    while ((status = level(h, "MUG-01", "wh-1", &n, &reserved)) == 200 &&
           harness_now_ms() - start < MOMENT_MS)
        harness_sleep_ms(5);
    assert_int_equal(status, 404);
}

static void test_read_cache__entries_and_age_are_bounded(void **state)
{
    static const char *const skus[] = {"CUP-1", "CUP-2", "CUP-3"};
    struct harness *h =
        harness_start_config("{\"read_cache\": {\"entries\": 2, \"max_age_ms\": 600}}");
    double misses;

    (void)state;
    assert_non_null(h);
    catalogue(h, skus, 3);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(on_hand(h, skus[i]), 10);
    }
    /* Three SKUs through two places: each read pushes out the oldest copy. */
    assert_true(harness_metric(h, "omnistock_read_cache_entries") == 2);
    assert_true(harness_metric(h, "omnistock_read_cache_evictions_total") >= 7);
    assert_true(harness_metric(h, "omnistock_read_cache_hits_total") == 0);
    /*
     * One SKU: a copy for at least half of max_age_ms, none once Redis has not confirmed it
     * for max_age_ms. Read during its age, it is confirmed before the age runs out (the
     * test below); not read since, it lapses within the next age at the latest.
     */
    assert_int_equal(on_hand(h, "CUP-1"), 10);
    misses = harness_metric(h, "omnistock_read_cache_misses_total");
    assert_int_equal(on_hand(h, "CUP-1"), 10);
    assert_true(harness_metric(h, "omnistock_read_cache_misses_total") == misses);
    harness_sleep_ms(1300);
    assert_int_equal(on_hand(h, "CUP-1"), 10);
    assert_true(harness_metric(h, "omnistock_read_cache_misses_total") == misses + 1);
    assert_int_equal(harness_stop(h), 0);
}

/* INFO commandstats: how many times Redis ran @cmd (lower case), scripts' calls included. */
static long long redis_calls(struct harness *h, const char *cmd)
{
    redisReply *rep = harness_redis_command(&h->redis, "INFO commandstats");
    char field[64];
    const char *at;
    long long n = 0;

    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    snprintf(field, sizeof(field), "cmdstat_%s:calls=", cmd);
    if ((at = strstr(rep->str, field)) != NULL)
        n = strtoll(at + strlen(field), NULL, 10);
    freeReplyObject(rep);
    return n;
}

/* One command on @h's Redis that must not fail. */
static void redis_do(struct harness *h, const char *fmt, const char *a, const char *b)
{
    redisReply *rep = harness_redis_command(&h->redis, fmt, a, b);

    assert_non_null(rep);
    assert_int_not_equal(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
}

/* POST /v1/stock/query of @sku alone: what the web may promise. */
static long long web_available(const struct harness *h, const char *sku)
{
    char body[128];
    struct harness_response *r;
    long long n;

    snprintf(body, sizeof(body), "{\"skus\": [\"%s\"], \"channel\": \"web\"}", sku);
    r = harness_post_json(h, h->keys[HARNESS_ADMIN], "/v1/stock/query", body);
    harness_assert_status(r, 200);
    n = harness_jint(json_array_get(harness_jget(r->json, "items"), 0), "available");
    harness_response_free(r);
    return n;
}

/*
 * A change that Redis never reports (SWAPDB tells no one: Redis 7.0) is what
 * max_age_ms is for. A copy past its age asks Redis for the SKU's version
 * alone, for a SKU's answer and for a query alike: the same, and the copy
 * (and its kept answer) serve on; another, and the whole hash is read.
 * Databases are needed, so one redis-server always.
 */
static void test_read_cache__a_copy_past_its_age_is_checked_by_its_version(void **state)
{
    static const char *const skus[] = {"CUP-1"};
    struct harness *h = harness_start_standalone("{\"read_cache\": {\"max_age_ms\": 600}}");
    char key[64], *first, *again;
    double renewals, answers;
    long long hget, hgetall, web;
    redisReply *keys;

    (void)state;
    assert_non_null(h);
    catalogue(h, skus, 1);
    /* Database 1 becomes a copy of 0 with CUP-1 received (its level and its version changed,
     * as a script changes them), to be swapped in later. Writes are heard by key name
     * whatever the database, so this comes before the daemon keeps a copy of CUP-1. */
    snprintf(key, sizeof(key), "{p%02u}:sku:CUP-1", partition_of("CUP-1", PARTITIONS));
    keys = harness_redis_command(&h->redis, "KEYS *");
    assert_non_null(keys);
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < keys->elements; i++)
        redis_do(h, "COPY %s %s DB 1", keys->element[i]->str, keys->element[i]->str);
    freeReplyObject(keys);
    redis_do(h, "COPY %s %s", key, "aside:CUP-1");
    redis_do(h, "HSET %s wh-1 %s", "aside:CUP-1", "12:0:0");
    redis_do(h, "HINCRBY %s %s 1", "aside:CUP-1", ":v");
    redis_do(h, "COPY %s %s DB 1 REPLACE", "aside:CUP-1", key);

    first = stock_body(h, "CUP-1");
    free(stock_body(h, "CUP-1"));
    web = web_available(h, "CUP-1");
    renewals = harness_metric(h, "omnistock_read_cache_renewals_total");
    answers = harness_metric(h, "omnistock_read_cache_answers_total");
    /* Past its age, unchanged: one HGET, and the very answer kept with the copy. (Read twice,
     * the copy may be confirmed ahead of its age first; then it lapses unread by 1200 ms.) */
    harness_sleep_ms(1300);
    hget = redis_calls(h, "hget");
    hgetall = redis_calls(h, "hgetall");
    again = stock_body(h, "CUP-1");
    assert_string_equal(again, first);
    free(again);
    free(first);
    assert_true(harness_metric(h, "omnistock_read_cache_renewals_total") == renewals + 1);
    assert_true(harness_metric(h, "omnistock_read_cache_answers_total") == answers + 1);
    assert_true(redis_calls(h, "hget") >= hget + 1);
    /* The stock hash was not read whole (the location rules may have been: kept for a second). */
    assert_true(redis_calls(h, "hgetall") <= hgetall + 1);
    /* A query's read the same way (the answer given counts as a read: 1300 ms again). */
    harness_sleep_ms(1300);
    hget = redis_calls(h, "hget");
    hgetall = redis_calls(h, "hgetall");
    assert_int_equal(web_available(h, "CUP-1"), web);
    assert_true(harness_metric(h, "omnistock_read_cache_renewals_total") == renewals + 2);
    assert_true(redis_calls(h, "hget") >= hget + 1);
    assert_true(redis_calls(h, "hgetall") <= hgetall + 1);

    /* The swap, behind the daemon's back: the copy, young again since its renewal, answers. */
    redis_do(h, "SWAPDB %s %s", "0", "1");
    assert_int_equal(on_hand(h, "CUP-1"), 10);
    /* Past its age: another version, so the hash is read whole. */
    harness_sleep_ms(700);
    assert_int_equal(on_hand(h, "CUP-1"), 12);
    /* Swapped back, unheard again (an older version, but another): a query reads it whole. */
    assert_int_equal(web_available(h, "CUP-1"), web + 2);
    redis_do(h, "SWAPDB %s %s", "0", "1");
    harness_sleep_ms(700);
    assert_int_equal(web_available(h, "CUP-1"), web);
    assert_true(harness_metric(h, "omnistock_read_cache_renewals_total") == renewals + 2);
    assert_int_equal(harness_stop(h), 0);
}

/*
 * A SKU read steadily: its copy, read during its age, is confirmed by its
 * version before the age runs out, with no read waiting on Redis. Every read
 * for more than an age comes from the cache (no miss: the stock hash is not
 * asked for), the same answer. A SKU read once is not confirmed: it lapses,
 * and its next read asks Redis. With max_age_ms 4000 the daemon looks for
 * copies due every 62 ms and asks about those with 187 ms or less to go.
 */
static void test_read_cache__a_sku_read_steadily_never_waits_for_redis(void **state)
{
    static const char *const skus[] = {"CUP-1", "CUP-2"};
    struct harness *h = harness_start_config("{\"read_cache\": {\"max_age_ms\": 4000}}");
    double misses, renewals, ahead;
    long long start;
    char *first, *again;

    (void)state;
    assert_non_null(h);
    catalogue(h, skus, 2);
    first = stock_body(h, "CUP-1");
    assert_int_equal(on_hand(h, "CUP-2"), 10);
    misses = harness_metric(h, "omnistock_read_cache_misses_total");
    renewals = harness_metric(h, "omnistock_read_cache_renewals_total");
    ahead = harness_metric(h, "omnistock_read_cache_renewals_ahead_total");
    start = harness_now_ms();
    while (harness_now_ms() - start < 4500) {
        again = stock_body(h, "CUP-1");
        assert_string_equal(again, first);
        free(again);
        harness_sleep_ms(100);
    }
    /* Confirmed at least once (the copy's first age is 2 to 4 s), never found lapsed. */
    assert_true(harness_metric(h, "omnistock_read_cache_renewals_ahead_total") >= ahead + 1);
    assert_true(harness_metric(h, "omnistock_read_cache_misses_total") == misses);
    assert_true(harness_metric(h, "omnistock_read_cache_renewals_total") == renewals);
    /* CUP-2, read once, 4.5 s ago: past its age, not confirmed ahead; the read asks. */
    assert_int_equal(on_hand(h, "CUP-2"), 10);
    assert_true(harness_metric(h, "omnistock_read_cache_misses_total") == misses + 1);
    assert_true(harness_metric(h, "omnistock_read_cache_renewals_total") == renewals + 1);
    free(first);
    assert_int_equal(harness_stop(h), 0);
}

static void test_read_cache__entries_0_turns_it_off(void **state)
{
    static const char *const skus[] = {"CUP-1"};
    struct harness *h = harness_start_config("{\"read_cache\": {\"entries\": 0}}");

    (void)state;
    assert_non_null(h);
    catalogue(h, skus, 1);
    assert_int_equal(on_hand(h, "CUP-1"), 10);
    redis_set_level(h, "CUP-1", 12);
    assert_int_equal(on_hand(h, "CUP-1"), 12);
    assert_true(harness_metric(h, "omnistock_read_cache_live") == -1); /* not shown */
    assert_int_equal(harness_stop(h), 0);
}

/* @needle in the daemon's log. */
static int logged(const struct harness *h, const char *needle)
{
    char line[4096];
    int found = 0;
    FILE *f = fopen(h->log_path, "r");

    assert_non_null(f);
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void test_read_cache__a_redis_that_refuses_tracking_still_serves(void **state)
{
    /* An ACL that allows everything but CLIENT TRACKING. */
    static const char *const acl[] = {"--user", "default",          "on", "nopass", "~*", "&*",
                                      "+@all",  "-client|tracking", NULL};
    static const char *const skus[] = {"CUP-1"};
    struct harness *h = harness_start_redis_args(NULL, acl);
    long long deadline;

    (void)state;
    assert_non_null(h);
    catalogue(h, skus, 1);
    assert_int_equal(on_hand(h, "CUP-1"), 10);
    deadline = harness_now_ms() + 5000;
    while (!logged(h, "event=redis_watch_refused") && harness_now_ms() < deadline)
        harness_sleep_ms(20);
    assert_true(logged(h, "event=redis_watch_refused"));
    assert_true(harness_metric(h, "omnistock_read_cache_live") == 0);
    /* Every read goes to Redis: a change made there is in the very next answer. */
    for (int i = 0; i < 5; i++) {
        redis_set_level(h, "CUP-1", 20 + i);
        assert_int_equal(on_hand(h, "CUP-1"), 20 + i);
    }
    assert_true(harness_metric(h, "omnistock_read_cache_hits_total") == 0);
    assert_int_equal(harness_stop(h), 0);
}

static void test_read_cache__values_out_of_range_are_config_errors(void **state)
{
    static const char *const bad[] = {
        "{\"read_cache\": {\"entries\": -1}}",
        "{\"read_cache\": {\"entries\": 10000001}}",
        "{\"read_cache\": {\"max_age_ms\": 86400001}}",
        "{\"read_cache\": {\"size\": 5}}",
        "{\"read_cache\": 5}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        harness_context("%s", bad[i]);
        assert_null(harness_start_config(bad[i]));
    }
    harness_context(NULL);
}

int main(void)
{
    const struct CMUnitTest group[] = {
        cmocka_unit_test(test_read_cache__a_level_read_again_comes_from_the_daemon),
        cmocka_unit_test(test_read_cache__a_kept_answer_holds_until_its_copy_or_the_rules_change),
        cmocka_unit_test(test_read_cache__a_change_through_the_daemon_is_in_its_next_answer),
        cmocka_unit_test(test_read_cache__a_change_made_elsewhere_is_read_within_a_moment),
        cmocka_unit_test(test_read_cache__a_lost_watch_drops_every_copy),
        cmocka_unit_test(test_read_cache__no_copy_outlives_a_redis_restart),
        cmocka_unit_test(test_read_cache__a_flushall_drops_every_copy),
    };
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(test_read_cache__entries_and_age_are_bounded),
        cmocka_unit_test(test_read_cache__a_copy_past_its_age_is_checked_by_its_version),
        cmocka_unit_test(test_read_cache__a_sku_read_steadily_never_waits_for_redis),
        cmocka_unit_test(test_read_cache__entries_0_turns_it_off),
        cmocka_unit_test(test_read_cache__a_redis_that_refuses_tracking_still_serves),
        cmocka_unit_test(test_read_cache__values_out_of_range_are_config_errors),
    };
    int failed = cmocka_run_group_tests(group, group_setup, group_teardown);

    return failed + cmocka_run_group_tests(alone, NULL, NULL);
}
