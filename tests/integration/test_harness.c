/*
 * test_harness.c - the harness itself, on redis-server alone: start, stop,
 * restart on the same port, unix socket, DEBUG DIGEST and the JSON lookups.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>

#include "tests/harness/harness.h"

static void test_harness__redis_digest_tracks_changes(void **state)
{
    struct harness_redis r = {0};
    char empty[41], after[41], again[41];
    redisReply *rep;

    (void)state;
    assert_int_equal(harness_redis_start(&r), 0);
    assert_int_equal(harness_redis_digest(&r, empty), 0);
    assert_int_equal(strlen(empty), 40);

    rep = harness_redis_command(&r, "SET %s %s", "k", "v");
    assert_non_null(rep);
    freeReplyObject(rep);
    assert_int_equal(harness_redis_digest(&r, after), 0);
    assert_string_not_equal(empty, after);

    rep = harness_redis_command(&r, "GET %s", "k");
    assert_non_null(rep);
    assert_string_equal(rep->str, "v");
    freeReplyObject(rep);
    assert_int_equal(harness_redis_digest(&r, again), 0);
    assert_string_equal(after, again);

    assert_int_equal(harness_redis_flushall(&r), 0);
    assert_int_equal(harness_redis_digest(&r, again), 0);
    assert_string_equal(empty, again);
    assert_int_equal(harness_redis_stop(&r), 0);
    harness_redis_release(&r);
}

static void test_harness__redis_restarts_on_the_same_port(void **state)
{
    struct harness_redis r = {.use_unix = 1};
    char digest[41];
    int port;

    (void)state;
    assert_int_equal(harness_redis_start(&r), 0);
    port = r.port;
    assert_true(port > 0);
    assert_true(strlen(r.sock_path) > 0);
    assert_int_equal(harness_redis_stop(&r), 0);
    assert_int_equal(r.pid, 0);
    assert_int_equal(harness_redis_digest(&r, digest), -1); /* really down */

    assert_int_equal(harness_redis_start(&r), 0);
    assert_int_equal(r.port, port);
    assert_int_equal(harness_redis_digest(&r, digest), 0);
    assert_int_equal(harness_redis_stop(&r), 0);
    harness_redis_release(&r);
}

static void test_harness__json_paths(void **state)
{
    json_t *root = json_loads("{\"a\": {\"b-c\": [1, {\"d\": \"x\"}]}}", 0, NULL);

    (void)state;
    assert_non_null(root);
    assert_int_equal(harness_jint(root, "a/b-c/0"), 1);
    assert_string_equal(harness_jstr(root, "a/b-c/1/d"), "x");
    assert_null(harness_jget(root, "a/b-c/2"));
    assert_null(harness_jget(root, "a/x"));
    assert_true(harness_jint(root, "a/b-c/1") == LLONG_MIN);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harness__redis_digest_tracks_changes),
        cmocka_unit_test(test_harness__redis_restarts_on_the_same_port),
        cmocka_unit_test(test_harness__json_paths),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
