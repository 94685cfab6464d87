/*
 * test_text.c - text_add: pieces joined as snprintf would join them, cut
 * where the buffer ends and always NUL-terminated; text_int: what printf's
 * "%lld" writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"

static void test_text__pieces_and_separators_join(void **state)
{
    char buf[64];
    size_t at = 0;

    (void)state;
    text_add(buf, sizeof(buf), &at, "web", '|');
    text_add(buf, sizeof(buf), &at, "", '|');
    text_add(buf, sizeof(buf), &at, "MUG-01", '\0');
    assert_string_equal(buf, "web||MUG-01");
    assert_int_equal(at, strlen("web||MUG-01"));
}

/* What does not fit is cut, the separator first; the end is a NUL in the buffer. */
static void test_text__a_full_buffer_cuts_and_terminates(void **state)
{
    char buf[8];
    size_t at = 0;

    (void)state;
    memset(buf, 'x', sizeof(buf));
    text_add(buf, sizeof(buf), &at, "abcdef", '|');
    assert_string_equal(buf, "abcdef|");
    assert_int_equal(at, 7);
    text_add(buf, sizeof(buf), &at, "gh", '|');
    assert_string_equal(buf, "abcdef|");
    assert_int_equal(at, 7);
    at = 0;
    text_add(buf, sizeof(buf), &at, "abcdefghij", '|');
    assert_string_equal(buf, "abcdefg");
    assert_int_equal(at, 7);
    at = 0;
    text_add(buf, sizeof(buf), &at, "abcdefg", '|'); /* fits exactly, the separator not */
    assert_string_equal(buf, "abcdefg");
}

static void expect_int(long long v)
{
    char got[TEXT_INT_SIZE + 8], want[32];
    size_t len;

    memset(got, 'x', sizeof(got));
    len = text_int(got, v);
    snprintf(want, sizeof(want), "%lld", v);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
}

/* Every integer to 10,000, and each side of every power of ten, either sign, and the limits. */
static void test_text__integers_match_printf(void **state)
{
    (void)state;
    for (long long v = 0; v <= 10000; v++) {
        expect_int(v);
        expect_int(-v);
    }
    for (long long p = 10; p <= LLONG_MAX / 10; p *= 10) {
        for (long long d = -1; d <= 1; d++) {
            expect_int(p + d);
            expect_int(-(p + d));
        }
    }
    expect_int(LLONG_MAX);
    expect_int(LLONG_MIN);
    expect_int(LLONG_MIN + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text__pieces_and_separators_join),
        cmocka_unit_test(test_text__a_full_buffer_cuts_and_terminates),
        cmocka_unit_test(test_text__integers_match_printf),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
