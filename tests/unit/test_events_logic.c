/*
 * test_events_logic.c - the order of events across partitions, and cursors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "services/inventory/events_logic.h"

static struct ev_pos pos(uint64_t ms, unsigned part, uint64_t seq)
{
    struct ev_pos p = {ms, part, seq};
    return p;
}

static void test_events_logic__order_is_ms_then_partition_then_seq(void **state)
{
    struct ev_pos a = pos(1000, 3, 7), b;

    (void)state;
    b = pos(1001, 0, 0);
    assert_true(ev_pos_cmp(&a, &b) < 0);
    b = pos(1000, 4, 0);
    assert_true(ev_pos_cmp(&a, &b) < 0);
    b = pos(1000, 2, 99);
    assert_true(ev_pos_cmp(&a, &b) > 0);
    b = pos(1000, 3, 8);
    assert_true(ev_pos_cmp(&a, &b) < 0);
    b = pos(1000, 3, 7);
    assert_int_equal(ev_pos_cmp(&a, &b), 0);
    b = pos(999, 15, UINT64_MAX);
    assert_true(ev_pos_cmp(&a, &b) > 0);
}

static void test_events_logic__cursor_round_trips(void **state)
{
    struct ev_pos cases[] = {pos(0, 0, 0), pos(1764633600123ULL, 15, 2),
                             pos(UINT64_MAX, 1023, UINT64_MAX)};
    char text[EV_CURSOR_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ev_pos back;
        ev_cursor_format(&cases[i], text);
        assert_int_equal(ev_cursor_parse(text, 1024, &back), 0);
        assert_int_equal(ev_pos_cmp(&back, &cases[i]), 0);
    }
    ev_cursor_format(&cases[1], text);
    assert_string_equal(text, "15-1764633600123-2");
}

static void test_events_logic__bad_cursors_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "3",
        "3-",
        "3-10",
        "-3-10-0",
        "3-10-",
        "3--10-0",
        "16-10-0",
        "3-10-0-1",
        "3-1O-0",
        "03-10-0",
        "3- 10-0",
        "3-10-0 ",
        "+3-10-0",
        "3-18446744073709551616-0",
        "3-10-18446744073709551616",
        "99999999999999999999999-1-1",
        "3-0x10-0",
    };
    struct ev_pos p;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ev_cursor_parse(bad[i], 16, &p) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(ev_cursor_parse("15-0-0", 16, &p), 0);
    assert_int_equal(ev_cursor_parse("0-18446744073709551615-18446744073709551615", 16, &p), 0);
}

static void test_events_logic__watermark_is_the_last_place_of_the_previous_ms(void **state)
{
    struct ev_pos w = ev_watermark(5000, 16), in = pos(4999, 15, 12345), out = pos(5000, 0, 0);

    (void)state;
    assert_true(ev_pos_cmp(&in, &w) < 0);
    assert_true(ev_pos_cmp(&out, &w) > 0);
    assert_int_equal(w.part, 15);
}

static void test_events_logic__range_starts_follow_the_order(void **state)
{
    struct ev_pos after = pos(1000, 5, 2);
    char start[48];

    (void)state;
    /* Its own partition: strictly after the cursor's entry. */
    ev_range_start(&after, 5, start, sizeof(start));
    assert_string_equal(start, "(1000-2");
    /* Later partitions: their entries of the same ms come after it. */
    ev_range_start(&after, 9, start, sizeof(start));
    assert_string_equal(start, "1000-0");
    /* Earlier partitions: their entries of the same ms came before it. */
    ev_range_start(&after, 0, start, sizeof(start));
    assert_string_equal(start, "1001-0");
}

/* A cursor at the last id a stream can hold: every start is one Redis accepts, and reads nothing.
 */
static void test_events_logic__range_starts_past_the_last_id_read_nothing(void **state)
{
    struct ev_pos last = pos(UINT64_MAX, 5, UINT64_MAX), last_ms = pos(UINT64_MAX, 5, 7);
    char start[48];

    (void)state;
    ev_range_start(&last, 5, start, sizeof(start));
    assert_string_equal(start, "+");
    ev_range_start(&last, 0, start, sizeof(start));
    assert_string_equal(start, "+");
    ev_range_start(&last, 9, start, sizeof(start));
    assert_string_equal(start, "18446744073709551615-0");
    ev_range_start(&last_ms, 5, start, sizeof(start));
    assert_string_equal(start, "(18446744073709551615-7");
    ev_range_start(&last_ms, 0, start, sizeof(start));
    assert_string_equal(start, "+");
}

static void test_events_logic__a_cut_short_read_limits_completeness(void **state)
{
    struct ev_pos w = ev_watermark(9000, 4), through;
    struct ev_part_read reads[4];

    (void)state;
    memset(reads, 0, sizeof(reads));
    through = ev_complete_through(reads, 4, &w);
    assert_int_equal(ev_pos_cmp(&through, &w), 0);

    reads[2].truncated = 1;
    reads[2].last = pos(5000, 2, 1);
    reads[3].truncated = 1;
    reads[3].last = pos(7000, 3, 0);
    through = ev_complete_through(reads, 4, &w);
    assert_int_equal(ev_pos_cmp(&through, &reads[2].last), 0);

    /* A read cut short past the watermark limits nothing. */
    memset(reads, 0, sizeof(reads));
    reads[1].truncated = 1;
    reads[1].last = pos(9500, 1, 0);
    through = ev_complete_through(reads, 4, &w);
    assert_int_equal(ev_pos_cmp(&through, &w), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_logic__order_is_ms_then_partition_then_seq),
        cmocka_unit_test(test_events_logic__cursor_round_trips),
        cmocka_unit_test(test_events_logic__bad_cursors_are_refused),
        cmocka_unit_test(test_events_logic__watermark_is_the_last_place_of_the_previous_ms),
        cmocka_unit_test(test_events_logic__range_starts_follow_the_order),
        cmocka_unit_test(test_events_logic__range_starts_past_the_last_id_read_nothing),
        cmocka_unit_test(test_events_logic__a_cut_short_read_limits_completeness),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
