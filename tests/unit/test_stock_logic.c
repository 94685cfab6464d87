/*
 * test_stock_logic.c - the channel formulas of API.md, location by location.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "services/inventory/stock_logic.h"

static struct loc_rule rule(const char *id, enum location_type type, unsigned fulfils,
                            long long buffer)
{
    struct loc_rule r;

    memset(&r, 0, sizeof(r));
    strcpy(r.id, id);
    r.type = type;
    r.fulfils = fulfils;
    r.buffer = buffer;
    return r;
}

static struct level level(long long on_hand, long long reserved)
{
    struct level lv = {on_hand, reserved, -1};

    return lv;
}

static void test_stock_logic__available_deducts_reserved_and_safety(void **state)
{
    struct level lv = level(100, 5);

    (void)state;
    assert_int_equal(stock_available(&lv, 2), 93);
    assert_int_equal(stock_available(&lv, 0), 95);
}

static void test_stock_logic__available_never_negative(void **state)
{
    struct level short_of_safety = level(3, 0), over_reserved = level(2, 5);

    (void)state;
    assert_int_equal(stock_available(&short_of_safety, 4), 0);
    assert_int_equal(stock_available(&over_reserved, 0), 0);
}

static void test_stock_logic__warehouse_web_has_no_buffer(void **state)
{
    struct loc_rule wh = rule("wh-1", LOCATION_WAREHOUSE, CHANNEL_WEB, 0);
    struct level lv = level(100, 5);

    (void)state;
    assert_int_equal(stock_channel_at(CHANNEL_WEB, &wh, &lv, 2), 93);
}

static void test_stock_logic__ship_from_store_keeps_the_buffer(void **state)
{
    struct loc_rule leeds = rule("store-leeds", LOCATION_STORE, CHANNEL_ALL, 2);
    struct level lv = level(10, 1);

    (void)state;
    /* web from a store: on_hand - reserved - safety - buffer = 10 - 1 - 3 - 2 */
    assert_int_equal(stock_channel_at(CHANNEL_WEB, &leeds, &lv, 3), 4);
}

static void test_stock_logic__click_collect_deducts_safety_and_buffer(void **state)
{
    struct loc_rule leeds = rule("store-leeds", LOCATION_STORE, CHANNEL_ALL, 2);
    struct level lv = level(8, 2);

    (void)state;
    assert_int_equal(stock_channel_at(CHANNEL_CLICK_COLLECT, &leeds, &lv, 1), 3);
}

static void test_stock_logic__walk_in_may_buy_safety_and_buffer(void **state)
{
    struct loc_rule leeds = rule("store-leeds", LOCATION_STORE, CHANNEL_ALL, 2);
    struct level lv = level(8, 2);

    (void)state;
    /* store (walk-in) = on_hand - reserved, whatever the safety stock and buffer */
    assert_int_equal(stock_channel_at(CHANNEL_STORE, &leeds, &lv, 5), 6);
}

static void test_stock_logic__buffer_larger_than_stock_gives_zero(void **state)
{
    struct loc_rule york = rule("store-york", LOCATION_STORE, CHANNEL_ALL, 5);
    struct level lv = level(4, 0);

    (void)state;
    assert_int_equal(stock_channel_at(CHANNEL_WEB, &york, &lv, 0), 0);
    assert_int_equal(stock_channel_at(CHANNEL_CLICK_COLLECT, &york, &lv, 0), 0);
    assert_int_equal(stock_channel_at(CHANNEL_STORE, &york, &lv, 0), 4);
}

static void test_stock_logic__channel_not_fulfilled_is_minus_one(void **state)
{
    struct loc_rule wh = rule("wh-1", LOCATION_WAREHOUSE, CHANNEL_WEB, 0);
    struct loc_rule bath = rule("store-bath", LOCATION_STORE, CHANNEL_STORE, 0);
    struct loc_rule closed = rule("closed", LOCATION_STORE, 0, 0);
    struct level lv = level(10, 0);

    (void)state;
    assert_int_equal(stock_channel_at(CHANNEL_STORE, &wh, &lv, 0), -1);
    assert_int_equal(stock_channel_at(CHANNEL_CLICK_COLLECT, &wh, &lv, 0), -1);
    assert_int_equal(stock_channel_at(CHANNEL_WEB, &bath, &lv, 0), -1);
    assert_int_equal(stock_channel_at(CHANNEL_WEB, &closed, &lv, 0), -1);
    assert_int_equal(stock_channel_at(CHANNEL_STORE, &closed, &lv, 0), -1);
    assert_int_equal(stock_channel_at(CHANNEL_CLICK_COLLECT, &closed, &lv, 0), -1);
}

static void test_stock_logic__web_sums_fulfilling_locations_only(void **state)
{
    struct loc_rule rules[4];
    struct level levels[4];

    (void)state;
    rules[0] = rule("wh-1", LOCATION_WAREHOUSE, CHANNEL_WEB, 0);
    rules[1] = rule("store-leeds", LOCATION_STORE, CHANNEL_ALL, 2);
    rules[2] = rule("store-bath", LOCATION_STORE, CHANNEL_STORE, 0);
    rules[3] = rule("closed", LOCATION_STORE, 0, 0);
    levels[0] = level(100, 5);
    levels[1] = level(10, 0);
    levels[2] = level(50, 0);
    levels[3] = level(70, 0);
    /* (100 - 5 - 2) + (10 - 0 - 2 - 2); bath and closed do not ship */
    assert_int_equal(stock_channel_total(CHANNEL_WEB, rules, levels, 4, 2), 93 + 6);
    /* walk-in: leeds 10 and bath 50 */
    assert_int_equal(stock_channel_total(CHANNEL_STORE, rules, levels, 4, 2), 60);
    /* click-and-collect: leeds only */
    assert_int_equal(stock_channel_total(CHANNEL_CLICK_COLLECT, rules, levels, 4, 2), 6);
}

static void test_stock_logic__web_total_ignores_negative_locations(void **state)
{
    struct loc_rule rules[2];
    struct level levels[2];

    (void)state;
    rules[0] = rule("wh-1", LOCATION_WAREHOUSE, CHANNEL_WEB, 0);
    rules[1] = rule("store-leeds", LOCATION_STORE, CHANNEL_WEB, 3);
    levels[0] = level(10, 0);
    levels[1] = level(1, 4); /* over-reserved: contributes 0, not -6 */
    assert_int_equal(stock_channel_total(CHANNEL_WEB, rules, levels, 2, 0), 10);
}

static void test_stock_logic__level_parse(void **state)
{
    struct level lv;

    (void)state;
    assert_int_equal(stock_level_parse("12:3:1700000000000", 18, &lv), 0);
    assert_int_equal(lv.on_hand, 12);
    assert_int_equal(lv.reserved, 3);
    assert_int_equal(lv.last_count_ms, 1700000000000LL);
    assert_int_equal(stock_level_parse("12:3", 4, &lv), -1);
    assert_int_equal(lv.on_hand, 0);
    assert_int_equal(stock_level_parse("12:x:0", 6, &lv), -1);
    assert_int_equal(stock_level_parse("1:2:3:4", 7, &lv), -1);
}

static void test_stock_logic__rule_round_trip(void **state)
{
    struct location loc;
    struct loc_rule r;
    char buf[64], id[PROTO_ID_MAX + 2];

    (void)state;
    memset(&loc, 0, sizeof(loc));
    strcpy(loc.id, "store-york");
    loc.type = LOCATION_STORE;
    loc.fulfils = CHANNEL_STORE | CHANNEL_CLICK_COLLECT;
    loc.store_buffer = 1;
    stock_rule_format(&loc, buf, sizeof(buf));
    assert_int_equal(stock_rule_parse("store-york", buf, strlen(buf), &r), 0);
    assert_string_equal(r.id, "store-york");
    assert_int_equal(r.idlen, strlen("store-york"));
    assert_int_equal(r.type, LOCATION_STORE);
    assert_int_equal(r.fulfils, CHANNEL_STORE | CHANNEL_CLICK_COLLECT);
    assert_int_equal(r.buffer, 1);
    assert_int_equal(stock_rule_parse("x", "q:1:0", 5, &r), -1);
    assert_int_equal(stock_rule_parse("x", "s:9:0", 5, &r), -1);
    /* Answers write a location's id as it is: a field that is no identifier is no location. */
    assert_int_equal(stock_rule_parse("st\"01", "s:6:1", 5, &r), -1);
    assert_int_equal(stock_rule_parse("st 01", "s:6:1", 5, &r), -1);
    assert_int_equal(stock_rule_parse("", "s:6:1", 5, &r), -1);
    memset(id, 'a', PROTO_ID_MAX + 1);
    id[PROTO_ID_MAX + 1] = '\0';
    assert_int_equal(stock_rule_parse(id, "s:6:1", 5, &r), -1);
    id[PROTO_ID_MAX] = '\0';
    assert_int_equal(stock_rule_parse(id, "s:6:1", 5, &r), 0);
    assert_int_equal(r.idlen, 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stock_logic__available_deducts_reserved_and_safety),
        cmocka_unit_test(test_stock_logic__available_never_negative),
        cmocka_unit_test(test_stock_logic__warehouse_web_has_no_buffer),
        cmocka_unit_test(test_stock_logic__ship_from_store_keeps_the_buffer),
        cmocka_unit_test(test_stock_logic__click_collect_deducts_safety_and_buffer),
        cmocka_unit_test(test_stock_logic__walk_in_may_buy_safety_and_buffer),
        cmocka_unit_test(test_stock_logic__buffer_larger_than_stock_gives_zero),
        cmocka_unit_test(test_stock_logic__channel_not_fulfilled_is_minus_one),
        cmocka_unit_test(test_stock_logic__web_sums_fulfilling_locations_only),
        cmocka_unit_test(test_stock_logic__web_total_ignores_negative_locations),
        cmocka_unit_test(test_stock_logic__level_parse),
        cmocka_unit_test(test_stock_logic__rule_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
