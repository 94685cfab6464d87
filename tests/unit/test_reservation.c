/*
 * test_reservation.c - the reservation codecs as an integrator meets them:
 * which POST /v1/reservations and /extend bodies are accepted and what they
 * decode to, and for each one refused, which problem code and which field the
 * answer names. Literal request bodies also live as files under
 * tests/data/proto/reservation/ (see the README there).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/problem.h"
#include "proto/proto.h"
#include "proto/reservation.h"
#include "tests/unit/case_files.h"

#define MAX_TTL 14400 /* the contract's example max_ttl_seconds */

/* One line, for bodies where the lines are not what is under test. */
#define LINE "{\"sku\": \"MUG-01\", \"quantity\": 1}"

struct bad_case {
    const char *body;
    enum problem_code code;
    const char *field;
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static json_t *body(const char *text)
{
    struct proto_error err = {0};
    json_t *j = proto_json_load(text, strlen(text), &err);

    if (j == NULL) {
        fail_msg("test body did not load: %s: %s", err.detail, text);
    }
    return j;
}

/* A string of @n copies of @c, in a static buffer (tests run one at a time). */
static const char *repeat(char c, size_t n)
{
    static char buf[1024];

    assert_true(n < sizeof(buf));
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/*
 * @j (borrowed), as described by @what, must be refused with @code naming
 * @field: a detail that starts with the field's name, and nothing left to
 * release.
 */
static void check_refused_json(json_t *j, long long max_ttl, const char *what,
                               enum problem_code code, const char *field)
{
    struct resv_request r;
    struct proto_error err = {0};
    int rc;

    rc = resv_request_parse(j, max_ttl, &r, &err);
    if (rc == 0) {
        resv_request_release(&r);
        fail_msg("accepted, expected %s \"%s\": %s", problem_slug(code), field, what);
    }
    if (rc != -1 || strcmp(problem_slug(err.code), problem_slug(code)) != 0 ||
        strcmp(err.field, field) != 0) {
        fail_msg("expected %s \"%s\", got %d %s \"%s\" (%s): %s", problem_slug(code), field, rc,
                 problem_slug(err.code), err.field, err.detail, what);
    }
    if (strlen(err.detail) == 0 || strncmp(err.detail, field, strlen(field)) != 0) {
        fail_msg("detail \"%s\" does not start with \"%s\": %s", err.detail, field, what);
    }
    assert_null(r.lines);
    assert_int_equal(r.nlines, 0);
}

static void check_refused(const char *text, enum problem_code code, const char *field)
{
    json_t *j = body(text);

    check_refused_json(j, MAX_TTL, text, code, field);
    json_decref(j);
}

static void check_table(const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        check_refused(cases[i].body, cases[i].code, cases[i].field);
    }
}

/* Decode @j (borrowed) into @r, failing the test if it is refused. */
static void parse_ok_json(json_t *j, long long max_ttl, const char *what, struct resv_request *r)
{
    struct proto_error err = {0};

    if (resv_request_parse(j, max_ttl, r, &err) != 0) {
        fail_msg("refused %s \"%s\" (%s): %s", problem_slug(err.code), err.field, err.detail, what);
    }
}

/* Decode @text into @r; the JSON is gone before the caller looks, so @r must own its data. */
static void parse_ok(const char *text, struct resv_request *r)
{
    json_t *j = body(text);

    parse_ok_json(j, MAX_TTL, text, r);
    json_decref(j);
}

/* A web body of @n lines of quantity @qty: SKU-0, SKU-1, ... or, if !@distinct, all SKU-0. */
static json_t *web_body_of(size_t n, int distinct, long long qty)
{
    json_t *lines = json_array();

    assert_non_null(lines);
    for (size_t i = 0; i < n; i++) {
        char sku[32];

        snprintf(sku, sizeof(sku), "SKU-%zu", distinct ? i : 0);
        assert_int_equal(json_array_append_new(lines, json_pack("{s:s, s:I}", "sku", sku,
                                                                "quantity", (json_int_t)qty)),
                         0);
    }
    return json_pack("{s:s, s:o}", "channel", "web", "lines", lines);
}

/* ---- good bodies ---- */

static void test_reservation__web_body_decodes(void **state)
{
    struct resv_request r;

    (void)state;
    parse_ok(
        "{\"channel\": \"web\", \"customer\": \"c-42\", \"reference\": \"basket 7 \xe2\x82\xac\","
        " \"ttl_seconds\": 600, \"lines\": [{\"sku\": \"MUG-01\", \"quantity\": 2},"
        " {\"quantity\": 1, \"sku\": \"COASTER-4\"}]}",
        &r);
    assert_int_equal(r.channel, CHANNEL_WEB);
    assert_string_equal(r.location, "");
    assert_string_equal(r.customer, "c-42");
    assert_string_equal(r.reference, "basket 7 \xe2\x82\xac");
    assert_int_equal(r.ttl_seconds, 600);
    assert_int_equal(r.nlines, 2);
    assert_string_equal(r.lines[0].sku, "MUG-01");
    assert_int_equal(r.lines[0].quantity, 2);
    assert_string_equal(r.lines[1].sku, "COASTER-4");
    assert_int_equal(r.lines[1].quantity, 1);
    resv_request_release(&r);
}

static void test_reservation__click_collect_body_decodes(void **state)
{
    struct resv_request r;

    (void)state;
    parse_ok("{\"lines\": [{\"sku\": \"MUG-01\", \"quantity\": 3}], \"location\": \"store-leeds\","
             " \"channel\": \"click_collect\", \"customer\": \"c.1_x\"}",
             &r);
    assert_int_equal(r.channel, CHANNEL_CLICK_COLLECT);
    assert_string_equal(r.location, "store-leeds");
    assert_string_equal(r.customer, "c.1_x");
    assert_string_equal(r.reference, "");
    assert_int_equal(r.ttl_seconds, 0);
    assert_int_equal(r.nlines, 1);
    assert_string_equal(r.lines[0].sku, "MUG-01");
    assert_int_equal(r.lines[0].quantity, 3);
    resv_request_release(&r);
}

static void test_reservation__store_body_decodes(void **state)
{
    struct resv_request r;

    (void)state;
    parse_ok("{\"channel\": \"store\", \"location\": \"store-leeds\", \"reference\": \"till 3\","
             " \"ttl_seconds\": 14400, \"lines\": [{\"sku\": \"MUG-01\", \"quantity\": 1}]}",
             &r);
    assert_int_equal(r.channel, CHANNEL_STORE);
    assert_string_equal(r.location, "store-leeds");
    assert_string_equal(r.customer, "");
    assert_string_equal(r.reference, "till 3");
    assert_int_equal(r.ttl_seconds, MAX_TTL);
    assert_int_equal(r.nlines, 1);
    resv_request_release(&r);
}

static void test_reservation__optional_fields_left_empty(void **state)
{
    struct resv_request r;

    (void)state;
    memset(&r, 0x5a, sizeof(r)); /* whatever the caller had there must not show through */
    parse_ok("{\"channel\": \"web\", \"lines\": [" LINE "]}", &r);
    assert_int_equal(r.channel, CHANNEL_WEB);
    assert_string_equal(r.location, "");
    assert_string_equal(r.customer, "");
    assert_string_equal(r.reference, "");
    assert_int_equal(r.ttl_seconds, 0);
    assert_int_equal(r.nlines, 1);
    resv_request_release(&r);
}

static void test_reservation__identifiers_of_64_chars_accepted(void **state)
{
    char text[512];
    struct resv_request r;
    char id[PROTO_ID_SIZE];

    (void)state;
    memcpy(id, repeat('x', 64), sizeof(id));
    snprintf(text, sizeof(text),
             "{\"channel\": \"store\", \"location\": \"%s\", \"customer\": \"%s\","
             " \"lines\": [{\"sku\": \"%s\", \"quantity\": 1}]}",
             id, id, id);
    parse_ok(text, &r);
    assert_string_equal(r.location, id);
    assert_string_equal(r.customer, id);
    assert_string_equal(r.lines[0].sku, id);
    resv_request_release(&r);
}

/* ---- channel ---- */

static void test_reservation__channel_required_and_known(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD, "channel"},
        {"{\"channel\": null, \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD, "channel"},
        {"{\"channel\": 1, \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD, "channel"},
        {"{\"channel\": true, \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD, "channel"},
        {"{\"channel\": [\"web\"], \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD, "channel"},
        {"{\"channel\": \"\", \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD, "channel"},
        {"{\"channel\": \"pos\", \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD, "channel"},
        {"{\"channel\": \"WEB\", \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD, "channel"},
        {"{\"channel\": \"click-collect\", \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD,
         "channel"},
    };

    (void)state;
    check_table(cases, COUNT(cases));
}

/* ---- location ---- */

static void test_reservation__location_required_for_click_collect_and_store(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"channel\": \"store\", \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD, "location"},
        {"{\"channel\": \"click_collect\", \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD,
         "location"},
    };

    (void)state;
    check_table(cases, COUNT(cases));
}

static void test_reservation__location_refused_on_web(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"channel\": \"web\", \"location\": \"wh-1\", \"lines\": [" LINE "]}",
         PROBLEM_INVALID_FIELD, "location"},
        {"{\"channel\": \"web\", \"location\": null, \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD,
         "location"},
        {"{\"channel\": \"web\", \"location\": \"\", \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD,
         "location"},
        {"{\"location\": \"store-leeds\", \"lines\": [" LINE "], \"channel\": \"web\"}",
         PROBLEM_INVALID_FIELD, "location"},
    };

    (void)state;
    check_table(cases, COUNT(cases));
}

static void test_reservation__location_must_be_an_identifier(void **state)
{
    static const char *const bad[] = {
        "\"store leeds\"", "\"\"", "\"a/b\"", "\"caf\xc3\xa9\"", "null", "12", "true",
        "[\"s\"]",         "{}",
    };
    char text[256];

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        snprintf(text, sizeof(text),
                 "{\"channel\": \"%s\", \"location\": %s, \"lines\": [" LINE "]}",
                 i % 2 ? "store" : "click_collect", bad[i]);
        check_refused(text, PROBLEM_INVALID_IDENTIFIER, "location");
    }
    snprintf(text, sizeof(text),
             "{\"channel\": \"store\", \"location\": \"%s\", \"lines\": [" LINE "]}",
             repeat('s', 65));
    check_refused(text, PROBLEM_INVALID_IDENTIFIER, "location");
}

/* ---- customer and reference ---- */

static void test_reservation__customer_must_be_an_identifier(void **state)
{
    static const char *const bad[] = {"\"c 1\"", "\"\"", "\"c@example.com\"", "null", "42", "{}"};
    char text[256];

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        snprintf(text, sizeof(text),
                 "{\"channel\": \"web\", \"customer\": %s, \"lines\": [" LINE "]}", bad[i]);
        check_refused(text, PROBLEM_INVALID_IDENTIFIER, "customer");
    }
    snprintf(text, sizeof(text),
             "{\"channel\": \"web\", \"customer\": \"%s\", \"lines\": [" LINE "]}",
             repeat('c', 65));
    check_refused(text, PROBLEM_INVALID_IDENTIFIER, "customer");
}

static void test_reservation__reference_is_text_up_to_256_bytes(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"channel\": \"web\", \"reference\": null, \"lines\": [" LINE "]}",
         PROBLEM_INVALID_FIELD, "reference"},
        {"{\"channel\": \"web\", \"reference\": 7, \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD,
         "reference"},
        {"{\"channel\": \"web\", \"reference\": [\"a\"], \"lines\": [" LINE "]}",
         PROBLEM_INVALID_FIELD, "reference"}};
    char text[1024];
    struct resv_request r;

    (void)state;
    check_table(cases, COUNT(cases));

    snprintf(text, sizeof(text),
             "{\"channel\": \"web\", \"reference\": \"%s\", \"lines\": [" LINE "]}",
             repeat('r', 256));
    parse_ok(text, &r);
    assert_int_equal(strlen(r.reference), 256);
    resv_request_release(&r);

    snprintf(text, sizeof(text),
             "{\"channel\": \"web\", \"reference\": \"%s\", \"lines\": [" LINE "]}",
             repeat('r', 257));
    check_refused(text, PROBLEM_INVALID_FIELD, "reference");
}

/* ---- ttl_seconds ---- */

static void test_reservation__ttl_seconds_from_1_to_max(void **state)
{
    struct resv_request r;

    (void)state;
    parse_ok("{\"channel\": \"web\", \"ttl_seconds\": 1, \"lines\": [" LINE "]}", &r);
    assert_int_equal(r.ttl_seconds, 1);
    resv_request_release(&r);
    parse_ok("{\"channel\": \"web\", \"ttl_seconds\": 14400, \"lines\": [" LINE "]}", &r);
    assert_int_equal(r.ttl_seconds, 14400);
    resv_request_release(&r);
}

static void test_reservation__ttl_seconds_refused_out_of_range_or_type(void **state)
{
    static const char *const bad[] = {"0",    "-1",   "-900",       "14401",  "9223372036854775807",
                                      "1.5",  "60.0", "6e1",        "\"60\"", "null",
                                      "true", "[60]", "{\"s\": 60}"};
    char text[256];

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        snprintf(text, sizeof(text),
                 "{\"channel\": \"web\", \"ttl_seconds\": %s, \"lines\": [" LINE "]}", bad[i]);
        check_refused(text, PROBLEM_INVALID_FIELD, "ttl_seconds");
    }
}

static void test_reservation__ttl_seconds_max_is_the_callers(void **state)
{
    json_t *ok = body("{\"channel\": \"web\", \"ttl_seconds\": 60, \"lines\": [" LINE "]}");
    json_t *over = body("{\"channel\": \"web\", \"ttl_seconds\": 61, \"lines\": [" LINE "]}");
    struct resv_request r;

    (void)state;
    parse_ok_json(ok, 60, "ttl 60 of 60", &r);
    assert_int_equal(r.ttl_seconds, 60);
    resv_request_release(&r);
    check_refused_json(over, 60, "ttl 61 of 60", PROBLEM_INVALID_FIELD, "ttl_seconds");
    json_decref(ok);
    json_decref(over);
}

/* ---- lines: shape ---- */

static void test_reservation__lines_required_non_empty_array(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"channel\": \"web\"}", PROBLEM_INVALID_FIELD, "lines"},
        {"{\"channel\": \"web\", \"lines\": null}", PROBLEM_INVALID_FIELD, "lines"},
        {"{\"channel\": \"web\", \"lines\": []}", PROBLEM_INVALID_FIELD, "lines"},
        {"{\"channel\": \"web\", \"lines\": " LINE "}", PROBLEM_INVALID_FIELD, "lines"},
        {"{\"channel\": \"web\", \"lines\": \"MUG-01\"}", PROBLEM_INVALID_FIELD, "lines"},
        {"{\"channel\": \"web\", \"lines\": 1}", PROBLEM_INVALID_FIELD, "lines"},
    };

    (void)state;
    check_table(cases, COUNT(cases));
}

static void test_reservation__line_must_be_an_object(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"channel\": \"web\", \"lines\": [" LINE ", null]}", PROBLEM_INVALID_FIELD, "lines[1]"},
        {"{\"channel\": \"web\", \"lines\": [" LINE ", 5]}", PROBLEM_INVALID_FIELD, "lines[1]"},
        {"{\"channel\": \"web\", \"lines\": [\"MUG-01\"]}", PROBLEM_INVALID_FIELD, "lines[0]"},
        {"{\"channel\": \"web\", \"lines\": [[\"MUG-01\", 1]]}", PROBLEM_INVALID_FIELD, "lines[0]"},
    };

    (void)state;
    check_table(cases, COUNT(cases));
}

static void test_reservation__line_sku_required(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"channel\": \"web\", \"lines\": [{\"quantity\": 1}]}", PROBLEM_INVALID_FIELD,
         "lines[0].sku"},
        {"{\"channel\": \"web\", \"lines\": [" LINE ", " LINE ", {}]}", PROBLEM_INVALID_FIELD,
         "lines[2].sku"},
    };

    (void)state;
    check_table(cases, COUNT(cases));
}

static void test_reservation__line_sku_must_be_an_identifier(void **state)
{
    static const char *const bad[] = {"\"MUG 01\"",   "\"\"",         "\"MUG/01\"",
                                      "\"\xc3\xbc\"", "null",         "7",
                                      "false",        "[\"MUG-01\"]", "{}"};
    char text[256];

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        snprintf(text, sizeof(text),
                 "{\"channel\": \"web\", \"lines\": [" LINE ", {\"sku\": %s, \"quantity\": 1}]}",
                 bad[i]);
        check_refused(text, PROBLEM_INVALID_IDENTIFIER, "lines[1].sku");
    }
    snprintf(text, sizeof(text),
             "{\"channel\": \"web\", \"lines\": [{\"sku\": \"%s\", \"quantity\": 1}]}",
             repeat('m', 65));
    check_refused(text, PROBLEM_INVALID_IDENTIFIER, "lines[0].sku");
}

/* ---- lines: quantity ---- */

/* A web body whose lines[1] has quantity @q (JSON text), after a good lines[0]. */
static void check_quantity_refused(const char *q)
{
    char text[256];

    snprintf(text, sizeof(text),
             "{\"channel\": \"web\", \"lines\": [" LINE
             ", {\"sku\": \"PLATE-2\", \"quantity\": %s}]}",
             q);
    check_refused(text, PROBLEM_INVALID_FIELD, "lines[1].quantity");
}

static void test_reservation__line_quantity_required(void **state)
{
    (void)state;
    check_refused("{\"channel\": \"web\", \"lines\": [{\"sku\": \"MUG-01\"}]}",
                  PROBLEM_INVALID_FIELD, "lines[0].quantity");
}

static void test_reservation__line_quantity_wrong_type_refused(void **state)
{
    static const char *const bad[] = {"null", "\"1\"", "true", "[1]", "{\"n\": 1}"};

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        check_quantity_refused(bad[i]);
    }
}

static void test_reservation__line_quantity_floats_refused(void **state)
{
    static const char *const bad[] = {"1.0", "1.5", "0.5", "2e0", "1E2", "1e9", "-0.0"};

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        check_quantity_refused(bad[i]);
    }
}

static void test_reservation__line_quantity_zero_and_negative_refused(void **state)
{
    static const char *const bad[] = {"0", "-0", "-1", "-1000000000", "-9223372036854775808"};

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        check_quantity_refused(bad[i]);
    }
}

static void test_reservation__line_quantity_1e9_accepted_one_more_refused(void **state)
{
    struct resv_request r;

    (void)state;
    parse_ok("{\"channel\": \"web\", \"lines\": [{\"sku\": \"MUG-01\", \"quantity\": 1000000000}]}",
             &r);
    assert_int_equal(r.lines[0].quantity, PROTO_QUANTITY_MAX);
    resv_request_release(&r);
    check_quantity_refused("1000000001");
    check_quantity_refused("9223372036854775807");
}

static void test_reservation__unknown_key_in_line_refused(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"channel\": \"web\", \"lines\": [" LINE ", {\"sku\": \"PLATE-2\", \"quantity\": 1, "
         "\"price\": 5}]}",
         PROBLEM_INVALID_FIELD, "lines[1].price"},
        {"{\"channel\": \"web\", \"lines\": [{\"sku\": \"PLATE-2\", \"quantity\": 1, "
         "\"location\": \"wh-1\"}]}",
         PROBLEM_INVALID_FIELD, "lines[0].location"},
        {"{\"channel\": \"web\", \"lines\": [{\"SKU\": \"PLATE-2\", \"quantity\": 1}]}",
         PROBLEM_INVALID_FIELD, "lines[0].SKU"},
        {"{\"channel\": \"web\", \"lines\": [{\"sku\": \"PLATE-2\", \"quantity\": 1, "
         "\"allocations\": null}]}",
         PROBLEM_INVALID_FIELD, "lines[0].allocations"},
    };

    (void)state;
    check_table(cases, COUNT(cases));
}

static void test_reservation__line_error_detail_names_the_line(void **state)
{
    json_t *j = body("{\"channel\": \"web\", \"lines\": [" LINE ", " LINE
                     ", {\"sku\": \"PLATE-2\", \"quantity\": 0}]}");
    struct resv_request r;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(resv_request_parse(j, MAX_TTL, &r, &err), -1);
    assert_string_equal(err.field, "lines[2].quantity");
    assert_string_equal(err.detail, "lines[2].quantity must be an integer from 1 to 1000000000");
    json_decref(j);
}

/* ---- lines: summing ---- */

static void test_reservation__same_sku_lines_summed_in_first_order(void **state)
{
    struct resv_request r;

    (void)state;
    parse_ok("{\"channel\": \"web\", \"lines\": [{\"sku\": \"A\", \"quantity\": 2},"
             " {\"sku\": \"B\", \"quantity\": 3}, {\"sku\": \"A\", \"quantity\": 4},"
             " {\"sku\": \"C\", \"quantity\": 1}, {\"sku\": \"B\", \"quantity\": 5}]}",
             &r);
    assert_int_equal(r.nlines, 3);
    assert_string_equal(r.lines[0].sku, "A");
    assert_int_equal(r.lines[0].quantity, 6);
    assert_string_equal(r.lines[1].sku, "B");
    assert_int_equal(r.lines[1].quantity, 8);
    assert_string_equal(r.lines[2].sku, "C");
    assert_int_equal(r.lines[2].quantity, 1);
    resv_request_release(&r);
}

static void test_reservation__two_lines_of_one_sku_become_one(void **state)
{
    struct resv_request r;

    (void)state;
    parse_ok("{\"channel\": \"store\", \"location\": \"store-leeds\", \"lines\": ["
             "{\"sku\": \"MUG-01\", \"quantity\": 1}, {\"sku\": \"MUG-01\", \"quantity\": 2}]}",
             &r);
    assert_int_equal(r.nlines, 1);
    assert_string_equal(r.lines[0].sku, "MUG-01");
    assert_int_equal(r.lines[0].quantity, 3);
    resv_request_release(&r);
}

static void test_reservation__skus_differing_in_case_are_distinct(void **state)
{
    struct resv_request r;

    (void)state;
    parse_ok("{\"channel\": \"web\", \"lines\": [{\"sku\": \"mug-01\", \"quantity\": 1},"
             " {\"sku\": \"MUG-01\", \"quantity\": 2}]}",
             &r);
    assert_int_equal(r.nlines, 2);
    assert_string_equal(r.lines[0].sku, "mug-01");
    assert_string_equal(r.lines[1].sku, "MUG-01");
    resv_request_release(&r);
}

static void test_reservation__sum_of_exactly_1e9_accepted(void **state)
{
    struct resv_request r;

    (void)state;
    parse_ok("{\"channel\": \"web\", \"lines\": [{\"sku\": \"A\", \"quantity\": 600000000},"
             " {\"sku\": \"B\", \"quantity\": 1000000000},"
             " {\"sku\": \"A\", \"quantity\": 400000000}]}",
             &r);
    assert_int_equal(r.nlines, 2);
    assert_int_equal(r.lines[0].quantity, PROTO_QUANTITY_MAX);
    assert_int_equal(r.lines[1].quantity, PROTO_QUANTITY_MAX);
    resv_request_release(&r);
}

static void test_reservation__sum_over_1e9_refused_at_the_crossing_line(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"channel\": \"web\", \"lines\": [{\"sku\": \"A\", \"quantity\": 1000000000},"
         " {\"sku\": \"A\", \"quantity\": 1}]}",
         PROBLEM_INVALID_FIELD, "lines[1].quantity"},
        {"{\"channel\": \"web\", \"lines\": [{\"sku\": \"A\", \"quantity\": 600000000},"
         " {\"sku\": \"B\", \"quantity\": 1}, {\"sku\": \"A\", \"quantity\": 400000000},"
         " {\"sku\": \"B\", \"quantity\": 1}, {\"sku\": \"A\", \"quantity\": 1}]}",
         PROBLEM_INVALID_FIELD, "lines[4].quantity"},
        {"{\"channel\": \"web\", \"lines\": [{\"sku\": \"A\", \"quantity\": 1000000000},"
         " {\"sku\": \"A\", \"quantity\": 1000000000}]}",
         PROBLEM_INVALID_FIELD, "lines[1].quantity"},
    };

    (void)state;
    check_table(cases, COUNT(cases));
}

static void test_reservation__sum_over_1e9_detail_names_the_sku(void **state)
{
    json_t *j = body("{\"channel\": \"web\", \"lines\": [{\"sku\": \"MUG-01\", \"quantity\": "
                     "999999999}, {\"sku\": \"MUG-01\", \"quantity\": 2}]}");
    struct resv_request r;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(resv_request_parse(j, MAX_TTL, &r, &err), -1);
    assert_string_equal(problem_slug(err.code), "invalid-field");
    assert_string_equal(err.field, "lines[1].quantity");
    assert_non_null(strstr(err.detail, "MUG-01"));
    assert_non_null(strstr(err.detail, "1000000000"));
    json_decref(j);
}

/* ---- lines: how many ---- */

static void test_reservation__100_distinct_lines_accepted(void **state)
{
    json_t *j = web_body_of(RESV_LINES_MAX, 1, 7);
    struct resv_request r;

    (void)state;
    parse_ok_json(j, MAX_TTL, "100 distinct lines", &r);
    assert_int_equal(r.nlines, RESV_LINES_MAX);
    assert_string_equal(r.lines[0].sku, "SKU-0");
    assert_string_equal(r.lines[99].sku, "SKU-99");
    assert_int_equal(r.lines[99].quantity, 7);
    resv_request_release(&r);
    json_decref(j);
}

static void test_reservation__101_distinct_lines_refused(void **state)
{
    json_t *j = web_body_of(RESV_LINES_MAX + 1, 1, 1);

    (void)state;
    check_refused_json(j, MAX_TTL, "101 distinct lines", PROBLEM_INVALID_FIELD, "lines");
    json_decref(j);
}

static void test_reservation__100_lines_of_one_sku_become_one(void **state)
{
    json_t *j = web_body_of(RESV_LINES_MAX, 0, 10000000);
    struct resv_request r;

    (void)state;
    parse_ok_json(j, MAX_TTL, "100 lines of SKU-0", &r);
    assert_int_equal(r.nlines, 1);
    assert_string_equal(r.lines[0].sku, "SKU-0");
    assert_int_equal(r.lines[0].quantity, PROTO_QUANTITY_MAX);
    resv_request_release(&r);
    json_decref(j);
}

static void test_reservation__101_lines_of_one_sku_refused(void **state)
{
    /* The limit counts array elements too, not only distinct SKUs. */
    json_t *j = web_body_of(RESV_LINES_MAX + 1, 0, 1);

    (void)state;
    check_refused_json(j, MAX_TTL, "101 lines of SKU-0", PROBLEM_INVALID_FIELD, "lines");
    json_decref(j);
}

/* ---- the body as a whole ---- */

static void test_reservation__unknown_top_level_key_refused(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"channel\": \"web\", \"colour\": \"red\", \"lines\": [" LINE "]}",
         PROBLEM_INVALID_FIELD, "colour"},
        {"{\"channel\": \"web\", \"Channel\": \"web\", \"lines\": [" LINE "]}",
         PROBLEM_INVALID_FIELD, "Channel"},
        {"{\"channel\": \"web\", \"expires_at\": null, \"lines\": [" LINE "]}",
         PROBLEM_INVALID_FIELD, "expires_at"},
        {"{\"channel\": \"web\", \"ttl\": 60, \"lines\": [" LINE "]}", PROBLEM_INVALID_FIELD,
         "ttl"},
        /* An unknown key is named even when other fields are bad too. */
        {"{\"lines\": [], \"status\": \"held\"}", PROBLEM_INVALID_FIELD, "status"},
    };

    (void)state;
    check_table(cases, COUNT(cases));
}

static void test_reservation__non_object_body_refused(void **state)
{
    json_t *arr = json_array();
    json_t *str = json_string("web");

    (void)state;
    check_refused_json(arr, MAX_TTL, "[]", PROBLEM_INVALID_JSON, "");
    check_refused_json(str, MAX_TTL, "\"web\"", PROBLEM_INVALID_JSON, "");
    check_refused_json(NULL, MAX_TTL, "NULL", PROBLEM_INVALID_JSON, "");
    json_decref(arr);
    json_decref(str);
}

static void test_reservation__refused_request_holds_nothing(void **state)
{
    /* Fails at the last of 60 lines, after the line array has been allocated. */
    json_t *j = web_body_of(60, 1, 1);
    struct resv_request r;
    struct proto_error err = {0};

    (void)state;
    json_object_set_new(json_array_get(json_object_get(j, "lines"), 59), "quantity",
                        json_real(1.5));
    assert_int_equal(resv_request_parse(j, MAX_TTL, &r, &err), -1);
    assert_string_equal(err.field, "lines[59].quantity");
    assert_null(r.lines);
    assert_int_equal(r.nlines, 0);
    resv_request_release(&r); /* harmless after a failure */
    json_decref(j);
}

static void test_reservation__release_is_safe_on_null_and_twice(void **state)
{
    struct resv_request r;

    (void)state;
    resv_request_release(NULL);
    parse_ok("{\"channel\": \"web\", \"lines\": [" LINE "]}", &r);
    resv_request_release(&r);
    assert_null(r.lines);
    assert_int_equal(r.nlines, 0);
    resv_request_release(&r);
}

/* ---- extend ---- */

static int extend(const char *text, long long max_ttl, long long *ttl, struct proto_error *err)
{
    json_t *j = body(text);
    int rc = resv_extend_parse(j, max_ttl, ttl, err);

    json_decref(j);
    return rc;
}

static void check_extend_refused(const char *text, enum problem_code code, const char *field)
{
    struct proto_error err = {0};
    long long ttl = -42;

    if (extend(text, MAX_TTL, &ttl, &err) != -1) {
        fail_msg("extend accepted: %s", text);
    }
    if (strcmp(problem_slug(err.code), problem_slug(code)) != 0 || strcmp(err.field, field) != 0 ||
        strncmp(err.detail, field, strlen(field)) != 0 || err.detail[0] == '\0') {
        fail_msg("expected %s \"%s\", got %s \"%s\" (%s): %s", problem_slug(code), field,
                 problem_slug(err.code), err.field, err.detail, text);
    }
    assert_int_equal(ttl, -42); /* untouched */
}

static void test_reservation__extend_body_decodes(void **state)
{
    struct proto_error err = {0};
    long long ttl = 0;

    (void)state;
    assert_int_equal(extend("{\"ttl_seconds\": 900}", MAX_TTL, &ttl, &err), 0);
    assert_int_equal(ttl, 900);
    assert_int_equal(extend("{\"ttl_seconds\": 1}", MAX_TTL, &ttl, &err), 0);
    assert_int_equal(ttl, 1);
    assert_int_equal(extend("{\"ttl_seconds\": 14400}", MAX_TTL, &ttl, &err), 0);
    assert_int_equal(ttl, MAX_TTL);
    assert_int_equal(extend("{\"ttl_seconds\": 60}", 60, &ttl, &err), 0);
    assert_int_equal(ttl, 60);
}

static void test_reservation__extend_ttl_refused(void **state)
{
    static const char *const bad[] = {"0",       "-5",   "14401", "1.5",   "900.0", "9e2",
                                      "\"900\"", "null", "true",  "[900]", "{}"};
    char text[128];
    struct proto_error err = {0};
    long long ttl = -42;

    (void)state;
    check_extend_refused("{}", PROBLEM_INVALID_FIELD, "ttl_seconds");
    for (size_t i = 0; i < COUNT(bad); i++) {
        snprintf(text, sizeof(text), "{\"ttl_seconds\": %s}", bad[i]);
        check_extend_refused(text, PROBLEM_INVALID_FIELD, "ttl_seconds");
    }
    assert_int_equal(extend("{\"ttl_seconds\": 61}", 60, &ttl, &err), -1);
    assert_string_equal(problem_slug(err.code), "invalid-field");
    assert_string_equal(err.field, "ttl_seconds");
    assert_int_equal(ttl, -42);
}

static void test_reservation__extend_unknown_key_refused(void **state)
{
    (void)state;
    check_extend_refused("{\"ttl_seconds\": 60, \"until\": \"2026-11-22T10:00:00Z\"}",
                         PROBLEM_INVALID_FIELD, "until");
    check_extend_refused("{\"ttl\": 60}", PROBLEM_INVALID_FIELD, "ttl");
}

static void test_reservation__extend_non_object_refused(void **state)
{
    json_t *arr = json_pack("[i]", 60);
    struct proto_error err = {0};
    long long ttl = -42;

    (void)state;
    assert_int_equal(resv_extend_parse(arr, MAX_TTL, &ttl, &err), -1);
    assert_string_equal(problem_slug(err.code), "invalid-json");
    assert_string_equal(err.field, "");
    assert_int_equal(resv_extend_parse(NULL, MAX_TTL, &ttl, &err), -1);
    assert_string_equal(problem_slug(err.code), "invalid-json");
    assert_int_equal(ttl, -42);
    json_decref(arr);
}

/* ---- data-driven cases: tests/data/proto/reservation/[extend/]<case>.case ---- */

static int run_codec(const char *codec, json_t *j, struct proto_error *err)
{
    int rc = -1;

    if (strcmp(codec, "reservation") == 0) {
        struct resv_request r;
        rc = resv_request_parse(j, MAX_TTL, &r, err);
        if (rc == 0) {
            resv_request_release(&r);
        }
    } else if (strcmp(codec, "reservation/extend") == 0) {
        long long ttl;
        rc = resv_extend_parse(j, MAX_TTL, &ttl, err);
    } else {
        fail_msg("unknown codec directory %s", codec);
    }
    return rc;
}

static void test_reservation__data_cases(void **state)
{
    static const char *const codecs[] = {"reservation", "reservation/extend"};

    (void)state;
    case_files_run(codecs, COUNT(codecs), run_codec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reservation__web_body_decodes),
        cmocka_unit_test(test_reservation__click_collect_body_decodes),
        cmocka_unit_test(test_reservation__store_body_decodes),
        cmocka_unit_test(test_reservation__optional_fields_left_empty),
        cmocka_unit_test(test_reservation__identifiers_of_64_chars_accepted),
        cmocka_unit_test(test_reservation__channel_required_and_known),
        cmocka_unit_test(test_reservation__location_required_for_click_collect_and_store),
        cmocka_unit_test(test_reservation__location_refused_on_web),
        cmocka_unit_test(test_reservation__location_must_be_an_identifier),
        cmocka_unit_test(test_reservation__customer_must_be_an_identifier),
        cmocka_unit_test(test_reservation__reference_is_text_up_to_256_bytes),
        cmocka_unit_test(test_reservation__ttl_seconds_from_1_to_max),
        cmocka_unit_test(test_reservation__ttl_seconds_refused_out_of_range_or_type),
        cmocka_unit_test(test_reservation__ttl_seconds_max_is_the_callers),
        cmocka_unit_test(test_reservation__lines_required_non_empty_array),
        cmocka_unit_test(test_reservation__line_must_be_an_object),
        cmocka_unit_test(test_reservation__line_sku_required),
        cmocka_unit_test(test_reservation__line_sku_must_be_an_identifier),
        cmocka_unit_test(test_reservation__line_quantity_required),
        cmocka_unit_test(test_reservation__line_quantity_wrong_type_refused),
        cmocka_unit_test(test_reservation__line_quantity_floats_refused),
        cmocka_unit_test(test_reservation__line_quantity_zero_and_negative_refused),
        cmocka_unit_test(test_reservation__line_quantity_1e9_accepted_one_more_refused),
        cmocka_unit_test(test_reservation__unknown_key_in_line_refused),
        cmocka_unit_test(test_reservation__line_error_detail_names_the_line),
        cmocka_unit_test(test_reservation__same_sku_lines_summed_in_first_order),
        cmocka_unit_test(test_reservation__two_lines_of_one_sku_become_one),
        cmocka_unit_test(test_reservation__skus_differing_in_case_are_distinct),
        cmocka_unit_test(test_reservation__sum_of_exactly_1e9_accepted),
        cmocka_unit_test(test_reservation__sum_over_1e9_refused_at_the_crossing_line),
        cmocka_unit_test(test_reservation__sum_over_1e9_detail_names_the_sku),
        cmocka_unit_test(test_reservation__100_distinct_lines_accepted),
        cmocka_unit_test(test_reservation__101_distinct_lines_refused),
        cmocka_unit_test(test_reservation__100_lines_of_one_sku_become_one),
        cmocka_unit_test(test_reservation__101_lines_of_one_sku_refused),
        cmocka_unit_test(test_reservation__unknown_top_level_key_refused),
        cmocka_unit_test(test_reservation__non_object_body_refused),
        cmocka_unit_test(test_reservation__refused_request_holds_nothing),
        cmocka_unit_test(test_reservation__release_is_safe_on_null_and_twice),
        cmocka_unit_test(test_reservation__extend_body_decodes),
        cmocka_unit_test(test_reservation__extend_ttl_refused),
        cmocka_unit_test(test_reservation__extend_unknown_key_refused),
        cmocka_unit_test(test_reservation__extend_non_object_refused),
        cmocka_unit_test(test_reservation__data_cases),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
