/*
 * test_limits.c - the limits of the config file's "limits": each API key gets
 * its own bucket of requests, and past it a 429 with Retry-After that
 * changes nothing; a connection that stops mid-request is closed after
 * request_timeout_seconds while everyone else is served (test_connections.c has
 * the cap on connections and the deadline of a whole request).
 *
 * The rate is one request per 100 seconds with a burst of 3, so that the
 * burst runs out during the test however slow the machine is.
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

#define LIMITS                                                                                     \
    "{\"limits\": {\"requests_per_second\": 0.01, \"burst\": 3, \"request_timeout_seconds\": 2}}"

static int group_setup(void **state)
{
    struct harness *h = harness_start_config(LIMITS);

    *state = h;
    return h == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

static void test_limits__a_key_past_its_burst_gets_429_and_changes_nothing(void **state)
{
    struct harness *h = *state;
    const char *agent = h->keys[HARNESS_AGENT];
    struct harness_response *r;
    const char *after;
    char before[41];

    for (int i = 0; i < 3; i++) {
        r = harness_get(h, agent, "/v1/me");
        harness_assert_status(r, 200);
        harness_response_free(r);
    }
    r = harness_get(h, agent, "/v1/me");
    harness_assert_problem(r, 429, "rate-limited", NULL);
    after = harness_header(r, "Retry-After");
    assert_non_null(after);
    assert_true(atoi(after) >= 1 && atoi(after) <= 100);
    harness_response_free(r);

    /* A write past the limit is refused before it is read: Redis is as it was. */
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    r = harness_put_json(h, agent, "/v1/customers/c-1/preferences", "{\"notes\": \"x\"}");
    harness_assert_problem(r, 429, "rate-limited", NULL);
    harness_response_free(r);
    harness_assert_unchanged(h, before);
}

static void test_limits__each_key_has_its_own_bucket(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;

    /* The agent's bucket is empty (the test above); the storefront's is full. */
    r = harness_get(h, h->keys[HARNESS_STOREFRONT], "/v1/me");
    harness_assert_status(r, 200);
    harness_response_free(r);
    r = harness_get(h, h->keys[HARNESS_AGENT], "/v1/me");
    harness_assert_status(r, 429);
    harness_response_free(r);
}

static void test_limits__public_routes_and_unknown_keys_are_not_counted(void **state)
{
    static const char *const unknown[] = {"Authorization: Bearer not-a-key-we-know", NULL};
    struct harness *h = *state;
    struct harness_response *r;

    for (int i = 0; i < 10; i++) {
        r = harness_get(h, NULL, "/healthz");
        harness_assert_status(r, 200);
        harness_response_free(r);
        r = harness_http(h, "GET", "/v1/me", NULL, unknown, NULL, 0);
        harness_assert_problem(r, 401, "unauthorized", NULL);
        harness_response_free(r);
    }
    /* The admin key has used none of its burst. */
    r = harness_get(h, h->keys[HARNESS_ADMIN], "/v1/me");
    harness_assert_status(r, 200);
    harness_response_free(r);
}

static void test_limits__a_stalled_request_is_closed_and_others_served(void **state)
{
    static const char partial[] = "GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Stalled: 1\r\n";
    struct harness *h = *state;
    int fd = harness_connect(h, partial);
    struct harness_response *r;

    assert_true(fd >= 0);
    r = harness_get(h, NULL, "/healthz");
    harness_assert_status(r, 200);
    harness_response_free(r);
    assert_true(harness_closed_by_daemon(fd, 60));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits__a_key_past_its_burst_gets_429_and_changes_nothing),
        cmocka_unit_test(test_limits__each_key_has_its_own_bucket),
        cmocka_unit_test(test_limits__public_routes_and_unknown_keys_are_not_counted),
        cmocka_unit_test(test_limits__a_stalled_request_is_closed_and_others_served),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
