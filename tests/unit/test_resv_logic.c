/*
 * test_resv_logic.c - a reservation's transitions, a store key's rights, ids.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/crc16.h"
#include "services/inventory/resv_logic.h"

static void test_resv_logic__held_may_commit_release_expire_or_extend(void **state)
{
    (void)state;
    assert_int_equal(resv_transition(RESV_HELD, RESV_COMMITTED), RESV_MOVE_OK);
    assert_int_equal(resv_transition(RESV_HELD, RESV_RELEASED), RESV_MOVE_OK);
    assert_int_equal(resv_transition(RESV_HELD, RESV_EXPIRED), RESV_MOVE_OK);
    assert_int_equal(resv_transition(RESV_HELD, RESV_HELD), RESV_MOVE_OK);
    assert_int_equal(resv_transition(RESV_HELD, RESV_FULFILLED), RESV_MOVE_INVALID);
}

static void test_resv_logic__committed_may_release_or_fulfil_only(void **state)
{
    (void)state;
    assert_int_equal(resv_transition(RESV_COMMITTED, RESV_RELEASED), RESV_MOVE_OK);
    assert_int_equal(resv_transition(RESV_COMMITTED, RESV_FULFILLED), RESV_MOVE_OK);
    assert_int_equal(resv_transition(RESV_COMMITTED, RESV_HELD), RESV_MOVE_INVALID);
    assert_int_equal(resv_transition(RESV_COMMITTED, RESV_EXPIRED), RESV_MOVE_INVALID);
}

static void test_resv_logic__ended_reservations_go_nowhere(void **state)
{
    static const enum resv_status ended[] = {RESV_RELEASED, RESV_EXPIRED, RESV_FULFILLED};
    static const enum resv_status targets[] = {RESV_HELD, RESV_COMMITTED, RESV_RELEASED,
                                               RESV_FULFILLED};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 4; j++) {
            enum resv_move m = resv_transition(ended[i], targets[j]);
            assert_int_equal(m, ended[i] == targets[j] ? RESV_MOVE_SAME : RESV_MOVE_INVALID);
        }
    }
}

static void test_resv_logic__repeating_the_last_transition_is_same(void **state)
{
    (void)state;
    assert_int_equal(resv_transition(RESV_COMMITTED, RESV_COMMITTED), RESV_MOVE_SAME);
    assert_int_equal(resv_transition(RESV_RELEASED, RESV_RELEASED), RESV_MOVE_SAME);
    assert_int_equal(resv_transition(RESV_FULFILLED, RESV_FULFILLED), RESV_MOVE_SAME);
}

static void test_resv_logic__status_names_round_trip(void **state)
{
    (void)state;
    for (int s = RESV_HELD; s <= RESV_FULFILLED; s++)
        assert_int_equal(resv_status_parse(resv_status_name((enum resv_status)s)), s);
    assert_int_equal(resv_status_parse("shipped"), RESV_NONE);
    assert_int_equal(resv_status_parse(NULL), RESV_NONE);
}

static void test_resv_logic__store_rights_follow_allocations(void **state)
{
    json_t *web = json_loads("{\"lines\": [{\"sku\": \"A\", \"allocations\": ["
                             "{\"location\": \"wh-1\", \"quantity\": 1},"
                             "{\"location\": \"store-leeds\", \"quantity\": 2}]}]}",
                             0, NULL);
    json_t *cc = json_loads("{\"lines\": [{\"sku\": \"A\", \"allocations\": ["
                            "{\"location\": \"store-leeds\", \"quantity\": 1}]},"
                            "{\"sku\": \"B\", \"allocations\": ["
                            "{\"location\": \"store-leeds\", \"quantity\": 3}]}]}",
                            0, NULL);
    struct resv_may anyone = {RESV_MAY_ANY, ""};
    struct resv_may leeds = {RESV_MAY_SOME_HERE, "store-leeds"};
    struct resv_may leeds_all = {RESV_MAY_ALL_HERE, "store-leeds"};
    struct resv_may york = {RESV_MAY_SOME_HERE, "store-york"};
    struct resv_may york_all = {RESV_MAY_ALL_HERE, "store-york"};
    json_t *none = json_loads("{\"lines\": []}", 0, NULL);

    (void)state;
    assert_true(resv_may_act(&anyone, web));
    assert_true(resv_may_act(&leeds, web));
    assert_false(resv_may_act(&leeds_all, web));
    assert_false(resv_may_act(&york, web));
    assert_false(resv_may_act(&york_all, web));
    assert_true(resv_may_act(&leeds, cc));
    assert_true(resv_may_act(&leeds_all, cc));
    assert_false(resv_may_act(&york, cc));
    /* Nothing allocated: nothing at the store, so no store may act on it. */
    assert_false(resv_may_act(&leeds, none));
    assert_false(resv_may_act(&leeds_all, none));
    assert_true(resv_may_act(&anyone, none));
    assert_string_equal(resv_may_name(RESV_MAY_ANY), "");
    assert_string_equal(resv_may_name(RESV_MAY_SOME_HERE), "some");
    assert_string_equal(resv_may_name(RESV_MAY_ALL_HERE), "all");
    json_decref(none);
    json_decref(web);
    json_decref(cc);
}

static void test_resv_logic__ids_are_identifiers_and_follow_the_key(void **state)
{
    char a[PROTO_ID_SIZE], b[PROTO_ID_SIZE], c[PROTO_ID_SIZE], d[PROTO_ID_SIZE];

    (void)state;
    assert_int_equal(resv_id_make("scope-1", 0, 0, a), 0);
    assert_int_equal(resv_id_make("scope-1", 0, 0, b), 0);
    assert_int_equal(resv_id_make("scope-2", 0, 0, c), 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(resv_id_make("", 0, 0, c), 0);
    assert_int_equal(resv_id_make("", 0, 0, d), 0);
    assert_string_not_equal(c, d);
    assert_true(proto_id_valid(a) && proto_id_valid(c));
    assert_int_equal(strlen(a), 26);
    assert_memory_equal(a, "r-", 2);
}

static void test_resv_logic__an_id_can_be_placed_in_a_partition(void **state)
{
    static const unsigned counts[] = {1, 16, 48, 1024};
    char a[PROTO_ID_SIZE], b[PROTO_ID_SIZE], seen[16][PROTO_ID_SIZE];

    (void)state;
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        unsigned n = counts[c];
        for (unsigned p = 0; p<n; p += n> 64 ? 97 : 1) {
            assert_int_equal(resv_id_make("", p, n, a), 0);
            assert_int_equal(partition_of(a, n), p);
            assert_true(proto_id_valid(a) && strlen(a) == 26);
            /* From a key: the same id every time, in the partition asked. */
            assert_int_equal(resv_id_make("scope-1", p, n, a), 0);
            assert_int_equal(resv_id_make("scope-1", p, n, b), 0);
            assert_string_equal(a, b);
            assert_int_equal(partition_of(a, n), p);
        }
    }
    /*
     * An id from a key is the same in every version of the daemon, so that a request
     * repeated across an upgrade finds its reservation: SHA-256 of the key, its last two
     * bytes counted on until CRC16 says the partition (worked out apart from this code).
     */
    assert_int_equal(resv_id_make("scope-1", 0, 0, a), 0);
    assert_string_equal(a, "r-20fe66d09904df13ae74a9ea");
    assert_int_equal(resv_id_make("scope-1", 3, 16, a), 0);
    assert_string_equal(a, "r-20fe66d09904df13ae74a9ee");
    assert_int_equal(resv_id_make("scope-1", 700, 1024, a), 0);
    assert_string_equal(a, "r-20fe66d09904df13ae74aae0");
    /* Random ids of one partition still differ. */
    for (int i = 0; i < 16; i++) {
        assert_int_equal(resv_id_make("", 5, 16, seen[i]), 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
    }
}

static void test_resv_logic__a_member_of_the_body_is_found_by_its_key(void **state)
{
    static const char body[] =
        "{\"id\":\"r-1\",\"status\":\"committed\",\"channel\":\"web\","
        "\"reference\":\"say \\\"status\\\":\\\"held\\\" \\\"customer\\\":\\\"x\\\"\","
        "\"customer\":\"cust-9\",\"lines\":[]}";
    char out[16] = "unset";

    (void)state;
    assert_int_equal(resv_body_member(body, strlen(body), "status", out, sizeof(out)), 0);
    assert_string_equal(out, "committed");
    /* the reference's escaped look-alikes are not members */
    assert_int_equal(resv_body_member(body, strlen(body), "customer", out, sizeof(out)), 0);
    assert_string_equal(out, "cust-9");
    assert_int_equal(resv_body_member(body, strlen(body), "location", out, sizeof(out)), -1);
    assert_string_equal(out, "cust-9"); /* untouched */
    /* a value that does not fit, or a body cut short */
    assert_int_equal(resv_body_member(body, strlen(body), "status", out, 9), -1);
    assert_int_equal(resv_body_member(body, 30, "status", out, sizeof(out)), -1);
    assert_int_equal(resv_body_member(body, 18, "status", out, sizeof(out)), -1);
    assert_int_equal(resv_body_member(NULL, 0, "status", out, sizeof(out)), -1); /* no body */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resv_logic__held_may_commit_release_expire_or_extend),
        cmocka_unit_test(test_resv_logic__committed_may_release_or_fulfil_only),
        cmocka_unit_test(test_resv_logic__ended_reservations_go_nowhere),
        cmocka_unit_test(test_resv_logic__repeating_the_last_transition_is_same),
        cmocka_unit_test(test_resv_logic__status_names_round_trip),
        cmocka_unit_test(test_resv_logic__store_rights_follow_allocations),
        cmocka_unit_test(test_resv_logic__ids_are_identifiers_and_follow_the_key),
        cmocka_unit_test(test_resv_logic__an_id_can_be_placed_in_a_partition),
        cmocka_unit_test(test_resv_logic__a_member_of_the_body_is_found_by_its_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
