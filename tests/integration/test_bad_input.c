/*
 * test_bad_input.c - bad requests get the right problem+json and leave Redis
 * byte-for-byte unchanged (DEBUG DIGEST before and after).
 *
 * The cases are data: tests/data/integration/bad_input.json. Oversize bodies
 * are built here.
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

#define ADMIN   (h->keys[HARNESS_ADMIN])
#define ONE_MIB (1024 * 1024)

static int group_setup(void **state)
{
    struct harness *h = harness_start();
    struct harness_response *r;

    *state = h;
    if (h == NULL) {
        return -1;
    }
    harness_admin_put(h, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    harness_admin_put(h, "/v1/locations/store-leeds",
                      "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"store\"]}");
    harness_admin_put(h, "/v1/products/MUG-01",
                      "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "899, \"currency\": \"GBP\"}}");
    r = harness_post_json(h, ADMIN, "/v1/movements",
                          "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", "
                          "\"quantity\": 10}");
    harness_assert_status(r, 201);
    harness_response_free(r);
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* assert_allow - the Allow header lists every method in @allow (a JSON array). */
static void assert_allow(const struct harness_response *r, json_t *allow)
{
    const char *header = harness_header(r, "Allow");
    json_t *m;
    size_t i;

    assert_non_null(header);
    json_array_foreach(allow, i, m)
    {
        assert_non_null(strstr(header, json_string_value(m)));
    }
}

static void test_bad_input__cases_from_data_change_nothing(void **state)
{
    struct harness *h = *state;
    json_t *cases = harness_load_data("bad_input.json");
    json_t *c;
    size_t i;

    json_array_foreach(cases, i, c)
    {
        char before[41];
        struct harness_response *r;

        harness_context("case %zu: %s", i, harness_jstr(c, "name"));
        assert_int_equal(harness_redis_digest(&h->redis, before), 0);
        r = harness_send_case(h, c, ADMIN);
        harness_assert_problem(r, (int)harness_jint(c, "status"), harness_jstr(c, "code"),
                               harness_jstr(c, "field"));
        if (json_object_get(c, "allow") != NULL) {
            assert_allow(r, json_object_get(c, "allow"));
        }
        harness_assert_unchanged(h, before);
        harness_response_free(r);
    }
    harness_context(NULL);
    assert_true(i > 60);
    json_decref(cases);
}

/* padded_movement - a valid receipt of one unit padded with spaces to exactly @size bytes. */
static char *padded_movement(size_t size)
{
    static const char movement[] =
        "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", \"quantity\": 1}";
    char *body = malloc(size);

    memset(body, ' ', size);
    memcpy(body, movement, strlen(movement));
    return body;
}

static void test_bad_input__body_over_1_mib_is_413(void **state)
{
    static const char *const json_ct[] = {"Content-Type: application/json", NULL};
    struct harness *h = *state;
    char *body = padded_movement(ONE_MIB + 1);
    char before[41], head[512];
    struct harness_response *r;

    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    r = harness_http(h, "POST", "/v1/movements", ADMIN, json_ct, body, ONE_MIB + 1);
    harness_assert_problem(r, 413, "payload-too-large", NULL);
    harness_assert_unchanged(h, before);
    harness_response_free(r);

    /*
     * Announced as far larger (1 GiB): refused at once, before any body is
     * read. Past 8 MiB the refusal comes from the HTTP layer itself, whose
     * body is not problem+json (docs/api-extensions.md, "Requests").
     */
    snprintf(head, sizeof(head),
             "POST /v1/movements HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
             "Content-Length: 1073741824\r\n\r\n{}",
             ADMIN);
    r = harness_raw(h, head, strlen(head));
    harness_assert_status(r, 413);
    assert_true(r->seconds < 2.0);
    harness_assert_unchanged(h, before);
    harness_response_free(r);
    free(body);
}

static void test_bad_input__body_of_exactly_1_mib_is_accepted(void **state)
{
    static const char *const json_ct[] = {"Content-Type: application/json", NULL};
    struct harness *h = *state;
    char *body = padded_movement(ONE_MIB);
    struct harness_response *r;

    r = harness_http(h, "POST", "/v1/movements", ADMIN, json_ct, body, ONE_MIB);
    harness_assert_status(r, 201);
    harness_assert_jint(r, "on_hand", 11);
    harness_response_free(r);
    free(body);
}

static void test_bad_input__json_with_charset_is_accepted(void **state)
{
    static const char *const json_ct[] = {"Content-Type: application/json; charset=utf-8", NULL};
    static const char body[] =
        "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"sale\", \"quantity\": 1}";
    struct harness *h = *state;
    struct harness_response *r;

    r = harness_http(h, "POST", "/v1/movements", ADMIN, json_ct, body, strlen(body));
    harness_assert_status(r, 201);
    harness_assert_jint(r, "on_hand", 10);
    harness_response_free(r);
}

static void test_bad_input__garbage_request_gets_an_answer_not_a_crash(void **state)
{
    static const char garbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n";
    struct harness *h = *state;
    struct harness_response *r;

    r = harness_raw(h, garbage, sizeof(garbage) - 1);
    harness_response_free(r);
    /* the daemon still serves */
    r = harness_get(h, ADMIN, "/v1/stock/MUG-01");
    harness_assert_status(r, 200);
    harness_response_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input__cases_from_data_change_nothing),
        cmocka_unit_test(test_bad_input__body_over_1_mib_is_413),
        cmocka_unit_test(test_bad_input__body_of_exactly_1_mib_is_accepted),
        cmocka_unit_test(test_bad_input__json_with_charset_is_accepted),
        cmocka_unit_test(test_bad_input__garbage_request_gets_an_answer_not_a_crash),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
