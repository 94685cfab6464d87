/*
 * test_ratelimit.c - the token bucket behind per-key rate limits: a burst,
 * then one request per 1/rate seconds, and a Retry-After that is never early.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/ratelimit.h"

#define SEC 1000000000ull

static void test_ratelimit__a_new_key_has_its_whole_burst(void **state)
{
    struct rate_bucket b = {0};

    (void)state;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rate_take(&b, 1.0, 5.0, 10 * SEC), 0);
    }
    assert_int_equal(rate_take(&b, 1.0, 5.0, 10 * SEC), 1);
}

static void test_ratelimit__tokens_come_back_at_the_rate(void **state)
{
    struct rate_bucket b = {0};

    (void)state;
    assert_int_equal(rate_take(&b, 2.0, 1.0, 1 * SEC), 0);
    assert_int_equal(rate_take(&b, 2.0, 1.0, 1 * SEC + SEC / 4), 1); /* half a token */
    assert_int_equal(rate_take(&b, 2.0, 1.0, 1 * SEC + SEC / 2), 0); /* a whole one */
    assert_int_equal(rate_take(&b, 2.0, 1.0, 1 * SEC + SEC / 2), 1);
}

static void test_ratelimit__never_more_than_the_burst(void **state)
{
    struct rate_bucket b = {0};
    int taken = 0;

    (void)state;
    assert_int_equal(rate_take(&b, 10.0, 3.0, 1 * SEC), 0);
    /* An hour idle gives back 3 tokens, not 36,000. */
    while (rate_take(&b, 10.0, 3.0, 3601 * SEC) == 0) {
        taken++;
    }
    assert_int_equal(taken, 3);
}

static void test_ratelimit__retry_after_is_rounded_up(void **state)
{
    struct rate_bucket b = {0};

    (void)state;
    assert_int_equal(rate_take(&b, 0.01, 1.0, 1 * SEC), 0);
    assert_int_equal(rate_take(&b, 0.01, 1.0, 1 * SEC), 100);     /* one token in 100 s */
    assert_int_equal(rate_take(&b, 0.01, 1.0, 51 * SEC), 50);     /* half of it is back */
    assert_int_equal(rate_take(&b, 0.01, 1.0, 51 * SEC + 1), 50); /* 49.99... rounds up */
    assert_int_equal(rate_take(&b, 1e-9, 1.0, 60 * SEC), 86400);  /* capped at a day */
}

static void test_ratelimit__a_clock_that_goes_back_gives_nothing(void **state)
{
    struct rate_bucket b = {0};

    (void)state;
    assert_int_equal(rate_take(&b, 1.0, 1.0, 100 * SEC), 0);
    assert_int_equal(rate_take(&b, 1.0, 1.0, 50 * SEC), 1);
    assert_int_equal(rate_take(&b, 1.0, 1.0, 100 * SEC), 1);
    assert_int_equal(rate_take(&b, 1.0, 1.0, 101 * SEC), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit__a_new_key_has_its_whole_burst),
        cmocka_unit_test(test_ratelimit__tokens_come_back_at_the_rate),
        cmocka_unit_test(test_ratelimit__never_more_than_the_burst),
        cmocka_unit_test(test_ratelimit__retry_after_is_rounded_up),
        cmocka_unit_test(test_ratelimit__a_clock_that_goes_back_gives_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
