/*
 * test_recommend_codec.c - the recommend module's codecs as an integrator
 * meets them: which POST /v1/orders bodies, GET /v1/recommendations query
 * strings, feedback and preferences bodies are accepted and what they decode
 * to, and for each one refused, which problem code and which field the answer
 * names. Literal bodies also live as files under tests/data/proto/order/,
 * feedback/ and preferences/ (see the README in each).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "proto/problem.h"
#include "proto/proto.h"
#include "proto/recommend.h"
#include "tests/unit/case_files.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* One line and one order, for bodies where they are not what is under test. */
#define LINE  "{\"sku\": \"MUG-01\", \"quantity\": 1}"
#define ORDER "{\"id\": \"o-1\", \"lines\": [" LINE "]}"

struct bad_case {
    const char *text; /* a body, or a query string */
    enum problem_code code;
    const char *field;
};

static json_t *body(const char *text)
{
    struct proto_error err = {0};
    json_t *j = proto_json_load(text, strlen(text), &err);

    if (j == NULL) {
        fail_msg("test body did not load: %s: %s", err.detail, text);
    }
    return j;
}

/* @n copies of @unit then @tail, in a static buffer (tests run one at a time). */
static const char *repeat_str(const char *unit, size_t n, const char *tail)
{
    static char buf[4096];
    size_t len = strlen(unit), used = 0;

    assert_true(n * len + strlen(tail) < sizeof(buf));
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + used, unit, len);
        used += len;
    }
    memcpy(buf + used, tail, strlen(tail) + 1);
    return buf;
}

static const char *repeat(char c, size_t n)
{
    char unit[2] = {c, '\0'};

    return repeat_str(unit, n, "");
}

/*
 * A refusal as a user would see it: -1, the code and field expected, and a
 * detail that starts with the field's name.
 */
static void check_problem(int rc, const struct proto_error *err, enum problem_code code,
                          const char *field, const char *what)
{
    if (rc == 0) {
        fail_msg("accepted, expected %s \"%s\": %s", problem_slug(code), field, what);
    }
    if (rc != -1 || strcmp(problem_slug(err->code), problem_slug(code)) != 0 ||
        strcmp(err->field, field) != 0) {
        fail_msg("expected %s \"%s\", got %d %s \"%s\" (%s): %s", problem_slug(code), field, rc,
                 problem_slug(err->code), err->field, err->detail, what);
    }
    if (err->detail[0] == '\0' || strncmp(err->detail, field, strlen(field)) != 0) {
        fail_msg("detail \"%s\" does not start with \"%s\": %s", err->detail, field, what);
    }
}

/* ---- orders: helpers ---- */

/* @j (borrowed) must be refused with @code naming @field, leaving nothing to release. */
static void check_orders_refused_json(json_t *j, const char *what, enum problem_code code,
                                      const char *field)
{
    struct order_batch b;
    struct proto_error err = {0};
    int rc = order_batch_parse(j, &b, &err);

    if (rc == 0) {
        order_batch_release(&b);
    }
    check_problem(rc, &err, code, field, what);
    assert_null(b.orders);
    assert_int_equal(b.n, 0);
}

static void check_orders_refused(const char *text, enum problem_code code, const char *field)
{
    json_t *j = body(text);

    check_orders_refused_json(j, text, code, field);
    json_decref(j);
}

static void check_orders_table(const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        check_orders_refused(cases[i].text, cases[i].code, cases[i].field);
    }
}

static void parse_orders_ok_json(json_t *j, const char *what, struct order_batch *b)
{
    struct proto_error err = {0};

    if (order_batch_parse(j, b, &err) != 0) {
        fail_msg("refused %s \"%s\" (%s): %s", problem_slug(err.code), err.field, err.detail, what);
    }
}

/* Decode @text; the JSON is gone before the caller looks, so @b must own its data. */
static void parse_orders_ok(const char *text, struct order_batch *b)
{
    json_t *j = body(text);

    parse_orders_ok_json(j, text, b);
    json_decref(j);
}

/* {"orders": [...]} with one order whose value for @key is @value (JSON text). */
static void check_order_field_refused(const char *key, const char *value, enum problem_code code,
                                      const char *field)
{
    char text[512];

    snprintf(text, sizeof(text),
             "{\"orders\": [{\"id\": \"o-1\", \"%s\": %s, \"lines\": [" LINE "]}]}", key, value);
    check_orders_refused(text, code, field);
}

/* A batch whose orders[0] has lines [LINE, {"sku": "PLATE-2", "quantity": @q}]. */
static void check_quantity_refused(const char *q)
{
    char text[256];

    snprintf(text, sizeof(text),
             "{\"orders\": [{\"id\": \"o-1\", \"lines\": [" LINE
             ", {\"sku\": \"PLATE-2\", \"quantity\": %s}]}]}",
             q);
    check_orders_refused(text, PROBLEM_INVALID_FIELD, "orders[0].lines[1].quantity");
}

/* A batch of @n orders "o-0", "o-1", ... each of one line. */
static json_t *orders_of(size_t n)
{
    json_t *orders = json_array();

    assert_non_null(orders);
    for (size_t i = 0; i < n; i++) {
        char id[32];

        snprintf(id, sizeof(id), "o-%zu", i);
        assert_int_equal(
            json_array_append_new(orders, json_pack("{s:s, s:[{s:s, s:i}]}", "id", id, "lines",
                                                    "sku", "MUG-01", "quantity", 1)),
            0);
    }
    return json_pack("{s:o}", "orders", orders);
}

/* One order of @n lines: SKU-0, SKU-1, ... or, if !@distinct, all SKU-0. */
static json_t *order_of_lines(size_t n, int distinct)
{
    json_t *lines = json_array();

    assert_non_null(lines);
    for (size_t i = 0; i < n; i++) {
        char sku[32];

        snprintf(sku, sizeof(sku), "SKU-%zu", distinct ? i : 0);
        assert_int_equal(
            json_array_append_new(lines, json_pack("{s:s, s:i}", "sku", sku, "quantity", 1)), 0);
    }
    return json_pack("{s:[{s:s, s:o}]}", "orders", "id", "o-1", "lines", lines);
}

/* ---- orders: good bodies ---- */

static void test_recommend_codec__orders_batch_decodes(void **state)
{
    struct order_batch b;

    (void)state;
    parse_orders_ok("{\"orders\": [{\"id\": \"o-1001\", \"customer\": \"c-42\", \"channel\": "
                    "\"click_collect\", \"at\": \"2026-11-22T09:00:00Z\", \"lines\": [{\"sku\": "
                    "\"MUG-01\", \"quantity\": 2}, {\"quantity\": 1, \"sku\": \"COASTER-4\"}]},"
                    " {\"lines\": [{\"sku\": \"PLATE-2\", \"quantity\": 1000000000}],"
                    " \"id\": \"o.1002_b\", \"channel\": \"store\"}]}",
                    &b);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.orders[0].id, "o-1001");
    assert_string_equal(b.orders[0].customer, "c-42");
    assert_int_equal(b.orders[0].channel, CHANNEL_CLICK_COLLECT);
    assert_int_equal(b.orders[0].at_ms, 1795338000000LL);
    assert_int_equal(b.orders[0].nskus, 2);
    assert_string_equal(b.orders[0].skus[0], "MUG-01");
    assert_string_equal(b.orders[0].skus[1], "COASTER-4");
    assert_string_equal(b.orders[1].id, "o.1002_b");
    assert_string_equal(b.orders[1].customer, "");
    assert_int_equal(b.orders[1].channel, CHANNEL_STORE);
    assert_int_equal(b.orders[1].at_ms, -1);
    assert_int_equal(b.orders[1].nskus, 1);
    assert_string_equal(b.orders[1].skus[0], "PLATE-2");
    order_batch_release(&b);
}

static void test_recommend_codec__orders_optional_fields_left_empty(void **state)
{
    struct order_batch b;

    (void)state;
    memset(&b, 0x5a, sizeof(b)); /* whatever the caller had there must not show through */
    parse_orders_ok("{\"orders\": [" ORDER "]}", &b);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.orders[0].id, "o-1");
    assert_string_equal(b.orders[0].customer, "");
    assert_int_equal(b.orders[0].channel, 0);
    assert_int_equal(b.orders[0].at_ms, -1);
    assert_int_equal(b.orders[0].nskus, 1);
    assert_string_equal(b.orders[0].skus[0], "MUG-01");
    order_batch_release(&b);
}

static void test_recommend_codec__orders_each_channel_decodes(void **state)
{
    struct order_batch b;

    (void)state;
    parse_orders_ok("{\"orders\": [{\"id\": \"a\", \"channel\": \"web\", \"lines\": [" LINE "]},"
                    " {\"id\": \"b\", \"channel\": \"store\", \"lines\": [" LINE "]},"
                    " {\"id\": \"c\", \"channel\": \"click_collect\", \"lines\": [" LINE "]}]}",
                    &b);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.orders[0].channel, CHANNEL_WEB);
    assert_int_equal(b.orders[1].channel, CHANNEL_STORE);
    assert_int_equal(b.orders[2].channel, CHANNEL_CLICK_COLLECT);
    order_batch_release(&b);
}

static void test_recommend_codec__orders_identifiers_of_64_chars_accepted(void **state)
{
    char text[512], id[PROTO_ID_SIZE];
    struct order_batch b;

    (void)state;
    memcpy(id, repeat('x', 64), sizeof(id));
    snprintf(text, sizeof(text),
             "{\"orders\": [{\"id\": \"%s\", \"customer\": \"%s\", \"lines\": [{\"sku\": \"%s\","
             " \"quantity\": 1}]}]}",
             id, id, id);
    parse_orders_ok(text, &b);
    assert_string_equal(b.orders[0].id, id);
    assert_string_equal(b.orders[0].customer, id);
    assert_string_equal(b.orders[0].skus[0], id);
    order_batch_release(&b);
}

/* ---- orders: at ---- */

static void test_recommend_codec__orders_at_with_offset_is_utc_ms(void **state)
{
    static const struct {
        const char *at;
        long long ms;
    } cases[] = {
        {"2026-11-22T09:00:00Z", 1795338000000LL},
        {"2026-11-22T10:00:00.250+01:00", 1795338000250LL},
        {"2026-11-22t09:00:00.999999z", 1795338000999LL},
        {"2024-02-29T23:30:00-05:00", 1709267400000LL}, /* the next day in UTC */
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T01:00:00.001+01:00", 1},
    };
    char text[256];
    struct order_batch b;

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        snprintf(text, sizeof(text),
                 "{\"orders\": [{\"id\": \"o-1\", \"at\": \"%s\", \"lines\": [" LINE "]}]}",
                 cases[i].at);
        parse_orders_ok(text, &b);
        if (b.orders[0].at_ms != cases[i].ms) {
            fail_msg("%s: at_ms %lld, expected %lld", cases[i].at, b.orders[0].at_ms, cases[i].ms);
        }
        order_batch_release(&b);
    }
}

static void test_recommend_codec__orders_at_refused(void **state)
{
    static const char *const bad[] = {
        "\"2026-11-22\"",
        "\"2026-11-22T10:00:00\"",
        "\"2026-11-22 10:00:00Z\"",
        "\"2026-02-30T10:00:00Z\"",
        "\"2026-11-22T24:00:00Z\"",
        "\"2026-11-22T10:00:00+1:00\"",
        "\"yesterday\"",
        "\"\"",
        "\"1969-12-31T23:59:59.999Z\"",  /* would read as -1, "absent" */
        "\"1970-01-01T00:30:00+01:00\"", /* 1969 in UTC */
        "1795338000000",
        "1.5",
        "true",
        "null",
        "[\"2026-11-22T10:00:00Z\"]",
        "{}",
    };

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        check_order_field_refused("at", bad[i], PROBLEM_INVALID_FIELD, "orders[0].at");
    }
}

static void test_recommend_codec__orders_at_with_embedded_nul_refused(void **state)
{
    json_t *j = body("{\"orders\": [" ORDER "]}");

    (void)state;
    json_object_set_new(json_array_get(json_object_get(j, "orders"), 0), "at",
                        json_stringn("2026-11-22T10:00:00Z\0x", 22));
    check_orders_refused_json(j, "at with a NUL", PROBLEM_INVALID_FIELD, "orders[0].at");
    json_decref(j);
}

/* ---- orders: id, customer, channel ---- */

static void test_recommend_codec__orders_id_required(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"orders\": [{\"lines\": [" LINE "]}]}", PROBLEM_INVALID_FIELD, "orders[0].id"},
        {"{\"orders\": [" ORDER ", {\"customer\": \"c-1\", \"lines\": [" LINE "]}]}",
         PROBLEM_INVALID_FIELD, "orders[1].id"},
    };

    (void)state;
    check_orders_table(cases, COUNT(cases));
}

static void test_recommend_codec__orders_id_must_be_an_identifier(void **state)
{
    static const char *const bad[] = {"\"o 1\"",   "\"\"", "\"o/1\"",    "\"\xc3\xb8-1\"",
                                      "null",      "1001", "10.5",       "true",
                                      "[\"o-1\"]", "{}",   "\"o-1\\n\"", "\"o:1\""};
    char text[256];

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        snprintf(text, sizeof(text),
                 "{\"orders\": [" ORDER ", {\"id\": %s, \"lines\": [" LINE "]}]}", bad[i]);
        check_orders_refused(text, PROBLEM_INVALID_IDENTIFIER, "orders[1].id");
    }
    snprintf(text, sizeof(text), "{\"orders\": [{\"id\": \"%s\", \"lines\": [" LINE "]}]}",
             repeat('o', 65));
    check_orders_refused(text, PROBLEM_INVALID_IDENTIFIER, "orders[0].id");
}

static void test_recommend_codec__orders_customer_must_be_an_identifier(void **state)
{
    static const char *const bad[] = {"\"c 1\"", "\"\"",  "\"c@example.com\"", "null", "42",
                                      "4.2",     "false", "[\"c-1\"]",         "{}"};
    char value[128];

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        check_order_field_refused("customer", bad[i], PROBLEM_INVALID_IDENTIFIER,
                                  "orders[0].customer");
    }
    snprintf(value, sizeof(value), "\"%s\"", repeat('c', 65));
    check_order_field_refused("customer", value, PROBLEM_INVALID_IDENTIFIER, "orders[0].customer");
}

static void test_recommend_codec__orders_channel_must_be_a_channel_name(void **state)
{
    static const char *const bad[] = {"\"WEB\"",  "\"pos\"",   "\"\"", "\"click-collect\"",
                                      "\"web \"", "null",      "1",    "0.5",
                                      "true",     "[\"web\"]", "{}"};

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        check_order_field_refused("channel", bad[i], PROBLEM_INVALID_FIELD, "orders[0].channel");
    }
}

/* ---- orders: lines ---- */

static void test_recommend_codec__orders_lines_required_non_empty_array(void **state)
{
    static const char *const bad[] = {"null", "[]", LINE, "\"MUG-01\"", "1", "1.5", "true"};
    static const struct bad_case missing[] = {
        {"{\"orders\": [{\"id\": \"o-1\"}]}", PROBLEM_INVALID_FIELD, "orders[0].lines"},
    };

    (void)state;
    check_orders_table(missing, COUNT(missing));
    for (size_t i = 0; i < COUNT(bad); i++) {
        char text[256];

        snprintf(text, sizeof(text), "{\"orders\": [" ORDER ", {\"id\": \"o-2\", \"lines\": %s}]}",
                 bad[i]);
        check_orders_refused(text, PROBLEM_INVALID_FIELD, "orders[1].lines");
    }
}

static void test_recommend_codec__orders_line_must_be_an_object(void **state)
{
    static const char *const bad[] = {"null", "5", "\"MUG-01\"", "[\"MUG-01\", 1]", "true", "1.5"};
    char text[256];

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        snprintf(text, sizeof(text), "{\"orders\": [{\"id\": \"o-1\", \"lines\": [" LINE ", %s]}]}",
                 bad[i]);
        check_orders_refused(text, PROBLEM_INVALID_FIELD, "orders[0].lines[1]");
    }
}

static void test_recommend_codec__orders_line_sku_required_and_an_identifier(void **state)
{
    static const char *const bad[] = {"\"MUG 01\"", "\"\"", "\"MUG/01\"", "\"\xc3\xbc\"", "null",
                                      "7",          "7.5",  "false",      "[\"MUG-01\"]", "{}"};
    char text[256];

    (void)state;
    check_orders_refused("{\"orders\": [{\"id\": \"o-1\", \"lines\": [{\"quantity\": 1}]}]}",
                         PROBLEM_INVALID_FIELD, "orders[0].lines[0].sku");
    for (size_t i = 0; i < COUNT(bad); i++) {
        snprintf(text, sizeof(text),
                 "{\"orders\": [" ORDER ", {\"id\": \"o-2\", \"lines\": [" LINE
                 ", {\"sku\": %s, \"quantity\": 1}]}]}",
                 bad[i]);
        check_orders_refused(text, PROBLEM_INVALID_IDENTIFIER, "orders[1].lines[1].sku");
    }
    snprintf(text, sizeof(text),
             "{\"orders\": [{\"id\": \"o-1\", \"lines\": [{\"sku\": \"%s\", \"quantity\": 1}]}]}",
             repeat('m', 65));
    check_orders_refused(text, PROBLEM_INVALID_IDENTIFIER, "orders[0].lines[0].sku");
}

static void test_recommend_codec__orders_line_quantity_required(void **state)
{
    (void)state;
    check_orders_refused("{\"orders\": [{\"id\": \"o-1\", \"lines\": [{\"sku\": \"MUG-01\"}]}]}",
                         PROBLEM_INVALID_FIELD, "orders[0].lines[0].quantity");
}

static void test_recommend_codec__orders_line_quantity_wrong_type_refused(void **state)
{
    static const char *const bad[] = {"null", "\"1\"", "true", "[1]", "{\"n\": 1}",
                                      "1.0",  "1.5",   "2e0",  "1E2", "-0.0"};

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        check_quantity_refused(bad[i]);
    }
}

static void test_recommend_codec__orders_line_quantity_out_of_range_refused(void **state)
{
    static const char *const bad[] = {"0",           "-0",         "-1",
                                      "-1000000000", "1000000001", "9223372036854775807"};

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        check_quantity_refused(bad[i]);
    }
}

static void test_recommend_codec__orders_first_bad_order_is_named(void **state)
{
    static const struct bad_case cases[] = {
        /* orders[1] repeats o-1, and orders[2] has a bad quantity: the first is named. */
        {"{\"orders\": [" ORDER ", " ORDER ", {\"id\": \"o-3\", \"lines\": [{\"sku\": \"A\","
         " \"quantity\": 0}]}]}",
         PROBLEM_INVALID_FIELD, "orders[1].id"},
        {"{\"orders\": [{\"id\": \"o 1\", \"lines\": []}, 5]}", PROBLEM_INVALID_IDENTIFIER,
         "orders[0].id"},
        {"{\"orders\": [" ORDER ", {\"id\": \"o-2\", \"lines\": [{\"sku\": \"A\"}]}, 5]}",
         PROBLEM_INVALID_FIELD, "orders[1].lines[0].quantity"},
    };

    (void)state;
    check_orders_table(cases, COUNT(cases));
}

static void test_recommend_codec__orders_line_error_detail_names_the_path(void **state)
{
    struct order_batch b;
    struct proto_error err = {0};
    json_t *j;

    (void)state;
    j = body("{\"orders\": [" ORDER ", {\"id\": \"o-3\", \"lines\": [" LINE
             ", {\"sku\": \"PLATE-2\", \"quantity\": 0}]}]}");
    assert_int_equal(order_batch_parse(j, &b, &err), -1);
    assert_string_equal(problem_slug(err.code), "invalid-field");
    assert_string_equal(err.field, "orders[1].lines[1].quantity");
    assert_string_equal(err.detail,
                        "orders[1].lines[1].quantity must be an integer from 1 to 1000000000");
    json_decref(j);
}

static void test_recommend_codec__orders_lines_of_one_sku_collapse(void **state)
{
    struct order_batch b;

    (void)state;
    parse_orders_ok("{\"orders\": [{\"id\": \"o-1\", \"lines\": [{\"sku\": \"A\", \"quantity\": 2},"
                    " {\"sku\": \"B\", \"quantity\": 3}, {\"sku\": \"A\", \"quantity\": 4},"
                    " {\"sku\": \"C\", \"quantity\": 1}, {\"sku\": \"B\", \"quantity\": 5},"
                    " {\"sku\": \"a\", \"quantity\": 1}]},"
                    " {\"id\": \"o-2\", \"lines\": [{\"sku\": \"C\", \"quantity\": 1},"
                    " {\"sku\": \"A\", \"quantity\": 1}]}]}",
                    &b);
    assert_int_equal(b.orders[0].nskus, 4);
    assert_string_equal(b.orders[0].skus[0], "A");
    assert_string_equal(b.orders[0].skus[1], "B");
    assert_string_equal(b.orders[0].skus[2], "C");
    assert_string_equal(b.orders[0].skus[3], "a"); /* SKUs are case-sensitive */
    assert_int_equal(b.orders[1].nskus, 2);        /* each order collapses on its own */
    assert_string_equal(b.orders[1].skus[0], "C");
    assert_string_equal(b.orders[1].skus[1], "A");
    order_batch_release(&b);
}

static void test_recommend_codec__orders_quantities_validated_not_summed(void **state)
{
    struct order_batch b;

    (void)state;
    /* Two lines of 1e9 each: fine, the model counts the order once. */
    parse_orders_ok("{\"orders\": [{\"id\": \"o-1\", \"lines\": [{\"sku\": \"A\", \"quantity\": "
                    "1000000000}, {\"sku\": \"A\", \"quantity\": 1000000000}]}]}",
                    &b);
    assert_int_equal(b.orders[0].nskus, 1);
    assert_string_equal(b.orders[0].skus[0], "A");
    order_batch_release(&b);
    /* A bad quantity on a line that collapses is still refused. */
    check_orders_refused(
        "{\"orders\": [{\"id\": \"o-1\", \"lines\": [{\"sku\": \"A\", \"quantity\":"
        " 1}, {\"sku\": \"A\", \"quantity\": 0}]}]}",
        PROBLEM_INVALID_FIELD, "orders[0].lines[1].quantity");
}

static void test_recommend_codec__orders_100_lines_accepted_101_refused(void **state)
{
    json_t *ok = order_of_lines(ORDER_LINES_MAX, 1);
    json_t *same = order_of_lines(ORDER_LINES_MAX, 0);
    json_t *over = order_of_lines(ORDER_LINES_MAX + 1, 1);
    json_t *over_same = order_of_lines(ORDER_LINES_MAX + 1, 0);
    struct order_batch b;

    (void)state;
    parse_orders_ok_json(ok, "100 distinct lines", &b);
    assert_int_equal(b.orders[0].nskus, ORDER_LINES_MAX);
    assert_string_equal(b.orders[0].skus[0], "SKU-0");
    assert_string_equal(b.orders[0].skus[99], "SKU-99");
    order_batch_release(&b);
    parse_orders_ok_json(same, "100 lines of SKU-0", &b);
    assert_int_equal(b.orders[0].nskus, 1);
    order_batch_release(&b);
    check_orders_refused_json(over, "101 distinct lines", PROBLEM_INVALID_FIELD, "orders[0].lines");
    /* The limit counts array elements, so 101 lines refuse even when they collapse. */
    check_orders_refused_json(over_same, "101 lines of SKU-0", PROBLEM_INVALID_FIELD,
                              "orders[0].lines");
    json_decref(ok);
    json_decref(same);
    json_decref(over);
    json_decref(over_same);
}

/* ---- orders: the batch ---- */

static void test_recommend_codec__orders_required_non_empty_array(void **state)
{
    static const struct bad_case cases[] = {
        {"{}", PROBLEM_INVALID_FIELD, "orders"},
        {"{\"orders\": null}", PROBLEM_INVALID_FIELD, "orders"},
        {"{\"orders\": []}", PROBLEM_INVALID_FIELD, "orders"},
        {"{\"orders\": " ORDER "}", PROBLEM_INVALID_FIELD, "orders"},
        {"{\"orders\": \"o-1\"}", PROBLEM_INVALID_FIELD, "orders"},
        {"{\"orders\": 1}", PROBLEM_INVALID_FIELD, "orders"},
        {"{\"orders\": 1.5}", PROBLEM_INVALID_FIELD, "orders"},
        {"{\"orders\": true}", PROBLEM_INVALID_FIELD, "orders"},
        /* one order is not a batch: the body must wrap it */
        {ORDER, PROBLEM_INVALID_FIELD, "id"},
    };

    (void)state;
    check_orders_table(cases, COUNT(cases));
}

static void test_recommend_codec__orders_order_must_be_an_object(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"orders\": [null]}", PROBLEM_INVALID_FIELD, "orders[0]"},
        {"{\"orders\": [" ORDER ", \"o-2\"]}", PROBLEM_INVALID_FIELD, "orders[1]"},
        {"{\"orders\": [" ORDER ", 2]}", PROBLEM_INVALID_FIELD, "orders[1]"},
        {"{\"orders\": [" ORDER ", [" ORDER "]]}", PROBLEM_INVALID_FIELD, "orders[1]"},
        {"{\"orders\": [true]}", PROBLEM_INVALID_FIELD, "orders[0]"},
    };

    (void)state;
    check_orders_table(cases, COUNT(cases));
}

static void test_recommend_codec__orders_1000_accepted_1001_refused(void **state)
{
    json_t *ok = orders_of(ORDERS_MAX);
    json_t *over = orders_of(ORDERS_MAX + 1);
    struct order_batch b;

    (void)state;
    parse_orders_ok_json(ok, "1000 orders", &b);
    assert_int_equal(b.n, ORDERS_MAX);
    assert_string_equal(b.orders[0].id, "o-0");
    assert_string_equal(b.orders[999].id, "o-999");
    assert_int_equal(b.orders[999].nskus, 1);
    assert_string_equal(b.orders[999].skus[0], "MUG-01");
    order_batch_release(&b);
    check_orders_refused_json(over, "1001 orders", PROBLEM_INVALID_FIELD, "orders");
    json_decref(ok);
    json_decref(over);
}

static void test_recommend_codec__orders_duplicate_id_refused_at_the_second(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"orders\": [" ORDER ", " ORDER "]}", PROBLEM_INVALID_FIELD, "orders[1].id"},
        {"{\"orders\": [" ORDER ", {\"id\": \"o-2\", \"lines\": [" LINE "]}, " ORDER "]}",
         PROBLEM_INVALID_FIELD, "orders[2].id"},
    };
    json_t *j = orders_of(ORDERS_MAX);
    struct order_batch b;
    struct proto_error err = {0};

    (void)state;
    check_orders_table(cases, COUNT(cases));
    /* The last of 1000 repeats the first. */
    json_object_set_new(json_array_get(json_object_get(j, "orders"), 999), "id",
                        json_string("o-0"));
    assert_int_equal(order_batch_parse(j, &b, &err), -1);
    assert_string_equal(problem_slug(err.code), "invalid-field");
    assert_string_equal(err.field, "orders[999].id");
    assert_non_null(strstr(err.detail, "orders[0]"));
    assert_null(b.orders);
    json_decref(j);
}

static void test_recommend_codec__orders_ids_differing_in_case_are_distinct(void **state)
{
    struct order_batch b;

    (void)state;
    parse_orders_ok("{\"orders\": [" ORDER ", {\"id\": \"O-1\", \"lines\": [" LINE "]}]}", &b);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.orders[1].id, "O-1");
    order_batch_release(&b);
}

static void test_recommend_codec__orders_unknown_keys_refused_at_each_level(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"orders\": [" ORDER "], \"source\": \"pos\"}", PROBLEM_INVALID_FIELD, "source"},
        {"{\"Orders\": [" ORDER "]}", PROBLEM_INVALID_FIELD, "Orders"},
        {"{\"orders\": [" ORDER ", {\"id\": \"o-2\", \"total\": 5, \"lines\": [" LINE "]}]}",
         PROBLEM_INVALID_FIELD, "orders[1].total"},
        {"{\"orders\": [{\"id\": \"o-1\", \"Channel\": \"web\", \"lines\": [" LINE "]}]}",
         PROBLEM_INVALID_FIELD, "orders[0].Channel"},
        {"{\"orders\": [{\"id\": \"o-1\", \"location\": null, \"lines\": [" LINE "]}]}",
         PROBLEM_INVALID_FIELD, "orders[0].location"},
        {"{\"orders\": [{\"id\": \"o-1\", \"lines\": [" LINE
         ", {\"sku\": \"A\", \"quantity\": 1, \"price\": 5}]}]}",
         PROBLEM_INVALID_FIELD, "orders[0].lines[1].price"},
        {"{\"orders\": [{\"id\": \"o-1\", \"lines\": [{\"SKU\": \"A\", \"quantity\": 1}]}]}",
         PROBLEM_INVALID_FIELD, "orders[0].lines[0].SKU"},
        /* An unknown key is named even when other fields are bad too. */
        {"{\"orders\": [], \"status\": \"done\"}", PROBLEM_INVALID_FIELD, "status"},
        {"{\"orders\": [{\"lines\": [], \"ref\": 1}]}", PROBLEM_INVALID_FIELD, "orders[0].ref"},
    };

    (void)state;
    check_orders_table(cases, COUNT(cases));
}

static void test_recommend_codec__orders_non_object_body_refused(void **state)
{
    json_t *arr = json_array();
    json_t *str = json_string("orders");

    (void)state;
    check_orders_refused_json(arr, "[]", PROBLEM_INVALID_JSON, "");
    check_orders_refused_json(str, "\"orders\"", PROBLEM_INVALID_JSON, "");
    check_orders_refused_json(NULL, "NULL", PROBLEM_INVALID_JSON, "");
    json_decref(arr);
    json_decref(str);
}

static void test_recommend_codec__orders_refused_batch_holds_nothing(void **state)
{
    /* Fails at the last of 500 orders, after every earlier order has its SKUs allocated. */
    json_t *j = orders_of(500);
    json_t *line;
    struct order_batch b;
    struct proto_error err = {0};

    (void)state;
    line = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "orders"), 499), "lines"), 0);
    json_object_set_new(line, "quantity", json_real(1.5));
    assert_int_equal(order_batch_parse(j, &b, &err), -1);
    assert_string_equal(err.field, "orders[499].lines[0].quantity");
    assert_null(b.orders);
    assert_int_equal(b.n, 0);
    order_batch_release(&b); /* harmless after a failure */
    json_decref(j);
}

static void test_recommend_codec__orders_release_is_safe_on_null_and_twice(void **state)
{
    struct order_batch b;

    (void)state;
    order_batch_release(NULL);
    parse_orders_ok("{\"orders\": [" ORDER "]}", &b);
    order_batch_release(&b);
    assert_null(b.orders);
    assert_int_equal(b.n, 0);
    order_batch_release(&b);
}

/* ---- recommendations query ---- */

/* Parse @qs as a query string, then through rec_query_parse. */
static int query_run(const char *qs, struct rec_query *q, struct proto_error *err)
{
    struct evkeyvalq kv;
    int rc;

    if (evhttp_parse_query_str(qs, &kv) != 0) {
        fail_msg("test query did not parse: %s", qs);
    }
    rc = rec_query_parse(&kv, q, err);
    evhttp_clear_headers(&kv);
    return rc;
}

static void query_ok(const char *qs, struct rec_query *q)
{
    struct proto_error err = {0};

    if (query_run(qs, q, &err) != 0) {
        fail_msg("refused %s \"%s\" (%s): %s", problem_slug(err.code), err.field, err.detail, qs);
    }
}

static void check_query_refused(const char *qs, enum problem_code code, const char *field)
{
    struct rec_query q;
    struct proto_error err = {0};
    int rc = query_run(qs, &q, &err);

    if (rc == 0) {
        rec_query_release(&q);
    }
    check_problem(rc, &err, code, field, qs);
    assert_null(q.basket);
    assert_int_equal(q.nbasket, 0);
}

static void check_query_table(const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        check_query_refused(cases[i].text, cases[i].code, cases[i].field);
    }
}

/* "basket=" and @n items SKU-0, SKU-1, ... or, if !@distinct, all SKU-0; then @tail. */
static const char *basket_of(size_t n, int distinct, const char *tail)
{
    static char buf[4096];
    size_t used = (size_t)snprintf(buf, sizeof(buf), "sku=MUG-01&basket=");

    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%sSKU-%zu", i ? "," : "",
                                 distinct ? i : 0);
        assert_true(used < sizeof(buf));
    }
    snprintf(buf + used, sizeof(buf) - used, "%s", tail);
    return buf;
}

static void test_recommend_codec__query_decodes(void **state)
{
    struct rec_query q;

    (void)state;
    query_ok("sku=MUG-01&channel=click_collect&location=store-leeds&customer=c-42"
             "&reservation=r-7&session=s.9_x&basket=COASTER-4,PLATE-2,COASTER-4,mug-01",
             &q);
    assert_string_equal(q.sku, "MUG-01");
    assert_int_equal(q.channel, CHANNEL_CLICK_COLLECT);
    assert_string_equal(q.location, "store-leeds");
    assert_string_equal(q.customer, "c-42");
    assert_string_equal(q.reservation, "r-7");
    assert_string_equal(q.session, "s.9_x");
    assert_int_equal(q.nbasket, 3);
    assert_string_equal(q.basket[0], "COASTER-4");
    assert_string_equal(q.basket[1], "PLATE-2");
    assert_string_equal(q.basket[2], "mug-01");
    rec_query_release(&q);
}

static void test_recommend_codec__query_defaults(void **state)
{
    struct rec_query q;

    (void)state;
    memset(&q, 0x5a, sizeof(q));
    query_ok("sku=MUG-01", &q);
    assert_string_equal(q.sku, "MUG-01");
    assert_int_equal(q.channel, CHANNEL_WEB);
    assert_string_equal(q.location, "");
    assert_string_equal(q.customer, "");
    assert_string_equal(q.reservation, "");
    assert_string_equal(q.session, "");
    assert_int_equal(q.nbasket, 0);
    assert_null(q.basket);
    rec_query_release(&q);
}

static void test_recommend_codec__query_any_order_and_store_channel(void **state)
{
    struct rec_query q;

    (void)state;
    query_ok("location=store-1&basket=A&channel=store&sku=B", &q);
    assert_string_equal(q.sku, "B");
    assert_int_equal(q.channel, CHANNEL_STORE);
    assert_string_equal(q.location, "store-1");
    assert_int_equal(q.nbasket, 1);
    assert_string_equal(q.basket[0], "A");
    rec_query_release(&q);
    query_ok("channel=web&sku=B", &q);
    assert_int_equal(q.channel, CHANNEL_WEB);
    rec_query_release(&q);
}

static void test_recommend_codec__query_values_are_percent_decoded(void **state)
{
    struct rec_query q;

    (void)state;
    query_ok("sku=MUG%2D01&basket=A%2CB%2cA&customer=c%2e1", &q);
    assert_string_equal(q.sku, "MUG-01");
    assert_string_equal(q.customer, "c.1");
    assert_int_equal(q.nbasket, 2); /* the decoded value is split */
    assert_string_equal(q.basket[0], "A");
    assert_string_equal(q.basket[1], "B");
    rec_query_release(&q);
}

static void test_recommend_codec__query_identifiers_of_64_chars_accepted(void **state)
{
    char qs[1024], id[PROTO_ID_SIZE];
    struct rec_query q;

    (void)state;
    memcpy(id, repeat('x', 64), sizeof(id));
    snprintf(qs, sizeof(qs),
             "sku=%s&channel=store&location=%s&customer=%s&reservation=%s&session=%s&basket=%s", id,
             id, id, id, id, id);
    query_ok(qs, &q);
    assert_string_equal(q.sku, id);
    assert_string_equal(q.location, id);
    assert_string_equal(q.customer, id);
    assert_string_equal(q.reservation, id);
    assert_string_equal(q.session, id);
    assert_string_equal(q.basket[0], id);
    rec_query_release(&q);
}

static void test_recommend_codec__query_sku_required(void **state)
{
    static const struct bad_case cases[] = {
        {"", PROBLEM_INVALID_QUERY, "sku"},
        {"channel=web", PROBLEM_INVALID_QUERY, "sku"},
        {"basket=MUG-01", PROBLEM_INVALID_QUERY, "sku"},
    };
    struct rec_query q;
    struct proto_error err = {0};

    (void)state;
    check_query_table(cases, COUNT(cases));
    check_problem(rec_query_parse(NULL, &q, &err), &err, PROBLEM_INVALID_QUERY, "sku", "NULL");
}

/* Each optional identifier parameter @name refuses bad values as invalid-identifier. */
static void check_query_ids_refused(const char *prefix, const char *name)
{
    static const char *const bad[] = {"", "a+b", "a%20b", "a%2Fb", "caf%C3%A9", "a:b", "%00"};
    char qs[512];

    for (size_t i = 0; i < COUNT(bad); i++) {
        snprintf(qs, sizeof(qs), "%s%s=%s", prefix, name, bad[i]);
        check_query_refused(qs, PROBLEM_INVALID_IDENTIFIER, name);
    }
    snprintf(qs, sizeof(qs), "%s%s=%s", prefix, name, repeat('z', 65));
    check_query_refused(qs, PROBLEM_INVALID_IDENTIFIER, name);
}

static void test_recommend_codec__query_identifiers_refused(void **state)
{
    (void)state;
    check_query_ids_refused("channel=web&", "sku");
    check_query_ids_refused("sku=A&channel=store&", "location");
    check_query_ids_refused("sku=A&", "customer");
    check_query_ids_refused("sku=A&", "reservation");
    check_query_ids_refused("sku=A&", "session");
}

static void test_recommend_codec__query_channel_must_be_known(void **state)
{
    static const struct bad_case cases[] = {
        {"sku=A&channel=", PROBLEM_INVALID_QUERY, "channel"},
        {"sku=A&channel=WEB", PROBLEM_INVALID_QUERY, "channel"},
        {"sku=A&channel=pos", PROBLEM_INVALID_QUERY, "channel"},
        {"sku=A&channel=click-collect", PROBLEM_INVALID_QUERY, "channel"},
        {"sku=A&channel=web+", PROBLEM_INVALID_QUERY, "channel"},
        {"sku=A&channel=1", PROBLEM_INVALID_QUERY, "channel"},
    };

    (void)state;
    check_query_table(cases, COUNT(cases));
}

static void test_recommend_codec__query_location_per_channel(void **state)
{
    static const struct bad_case cases[] = {
        {"sku=A&location=store-1", PROBLEM_INVALID_QUERY, "location"},
        {"sku=A&channel=web&location=store-1", PROBLEM_INVALID_QUERY, "location"},
        {"sku=A&channel=web&location=", PROBLEM_INVALID_QUERY, "location"},
        {"sku=A&channel=click_collect", PROBLEM_INVALID_QUERY, "location"},
        {"sku=A&channel=store", PROBLEM_INVALID_QUERY, "location"},
        {"sku=A&channel=store&location=", PROBLEM_INVALID_IDENTIFIER, "location"},
    };

    (void)state;
    check_query_table(cases, COUNT(cases));
}

static void test_recommend_codec__query_repeated_parameter_refused(void **state)
{
    static const struct bad_case cases[] = {
        {"sku=A&sku=A", PROBLEM_INVALID_QUERY, "sku"},
        {"sku=A&sku=B", PROBLEM_INVALID_QUERY, "sku"},
        {"sku=A&channel=web&channel=web", PROBLEM_INVALID_QUERY, "channel"},
        {"sku=A&channel=store&location=s&location=s", PROBLEM_INVALID_QUERY, "location"},
        {"sku=A&customer=c&customer=d", PROBLEM_INVALID_QUERY, "customer"},
        {"sku=A&reservation=r&reservation=r", PROBLEM_INVALID_QUERY, "reservation"},
        {"sku=A&session=s&session=", PROBLEM_INVALID_QUERY, "session"},
        {"sku=A&basket=B&basket=C", PROBLEM_INVALID_QUERY, "basket"},
    };

    (void)state;
    check_query_table(cases, COUNT(cases));
}

static void test_recommend_codec__query_unknown_parameter_refused(void **state)
{
    static const struct bad_case cases[] = {
        {"sku=A&limit=3", PROBLEM_INVALID_QUERY, "limit"},
        {"SKU=A", PROBLEM_INVALID_QUERY, "SKU"},
        {"sku=A&Channel=web", PROBLEM_INVALID_QUERY, "Channel"},
        {"sku=A&basket[]=B", PROBLEM_INVALID_QUERY, "basket[]"},
        {"sku=A&skus=B", PROBLEM_INVALID_QUERY, "skus"},
        /* named even when other parameters are bad too */
        {"sku=a+b&explain=1", PROBLEM_INVALID_QUERY, "explain"},
        {"max_items=9", PROBLEM_INVALID_QUERY, "max_items"},
    };

    (void)state;
    check_query_table(cases, COUNT(cases));
}

static void test_recommend_codec__query_basket_empty_items_refused(void **state)
{
    static const struct bad_case cases[] = {
        {"sku=A&basket=", PROBLEM_INVALID_IDENTIFIER, "basket"},
        {"sku=A&basket=,", PROBLEM_INVALID_IDENTIFIER, "basket"},
        {"sku=A&basket=B,,C", PROBLEM_INVALID_IDENTIFIER, "basket"},
        {"sku=A&basket=B,", PROBLEM_INVALID_IDENTIFIER, "basket"},
        {"sku=A&basket=,B", PROBLEM_INVALID_IDENTIFIER, "basket"},
        {"sku=A&basket=B%2C", PROBLEM_INVALID_IDENTIFIER, "basket"},
    };

    (void)state;
    check_query_table(cases, COUNT(cases));
}

static void test_recommend_codec__query_basket_items_must_be_identifiers(void **state)
{
    static const struct bad_case cases[] = {
        {"sku=A&basket=B,C+D", PROBLEM_INVALID_IDENTIFIER, "basket"},
        {"sku=A&basket=B;C", PROBLEM_INVALID_IDENTIFIER, "basket"},
        {"sku=A&basket=B,%C3%BC", PROBLEM_INVALID_IDENTIFIER, "basket"},
        {"sku=A&basket=B, C", PROBLEM_INVALID_IDENTIFIER, "basket"},
        {"sku=A&basket=B,C/D", PROBLEM_INVALID_IDENTIFIER, "basket"},
    };
    char qs[256];

    (void)state;
    check_query_table(cases, COUNT(cases));
    snprintf(qs, sizeof(qs), "sku=A&basket=B,%s", repeat('b', 65));
    check_query_refused(qs, PROBLEM_INVALID_IDENTIFIER, "basket");
    snprintf(qs, sizeof(qs), "sku=A&basket=%s,B", repeat('b', 65));
    check_query_refused(qs, PROBLEM_INVALID_IDENTIFIER, "basket");
}

static void test_recommend_codec__query_basket_100_items_accepted_101_refused(void **state)
{
    struct rec_query q;

    (void)state;
    query_ok(basket_of(REC_BASKET_MAX, 1, ""), &q);
    assert_int_equal(q.nbasket, REC_BASKET_MAX);
    assert_string_equal(q.basket[0], "SKU-0");
    assert_string_equal(q.basket[99], "SKU-99");
    rec_query_release(&q);

    query_ok(basket_of(REC_BASKET_MAX, 0, ""), &q);
    assert_int_equal(q.nbasket, 1); /* duplicates collapse */
    assert_string_equal(q.basket[0], "SKU-0");
    rec_query_release(&q);

    check_query_refused(basket_of(REC_BASKET_MAX + 1, 1, ""), PROBLEM_INVALID_QUERY, "basket");
    /* Items count as written, before they collapse. */
    check_query_refused(basket_of(REC_BASKET_MAX + 1, 0, ""), PROBLEM_INVALID_QUERY, "basket");
    /* 100 items and a trailing comma: an empty 101st item, counted first. */
    check_query_refused(basket_of(REC_BASKET_MAX, 1, ","), PROBLEM_INVALID_QUERY, "basket");
    check_query_refused(basket_of(REC_BASKET_MAX - 1, 1, ","), PROBLEM_INVALID_IDENTIFIER,
                        "basket");
}

static void test_recommend_codec__query_refused_holds_nothing(void **state)
{
    struct rec_query q;
    struct proto_error err = {0};

    (void)state;
    /* The basket is allocated before its 60th item is found bad. */
    assert_int_equal(query_run(basket_of(59, 1, ",bad item"), &q, &err), -1);
    assert_string_equal(problem_slug(err.code), "invalid-identifier");
    assert_string_equal(err.field, "basket");
    assert_non_null(strstr(err.detail, "item 60"));
    assert_null(q.basket);
    assert_int_equal(q.nbasket, 0);
    rec_query_release(&q);
    rec_query_release(NULL);
}

/* ---- feedback ---- */

static void check_feedback_refused(const char *text, enum problem_code code, const char *field)
{
    json_t *j = body(text);
    struct rec_feedback f;
    struct proto_error err = {0};

    check_problem(rec_feedback_parse(j, &f, &err), &err, code, field, text);
    json_decref(j);
}

static void feedback_ok(const char *text, struct rec_feedback *f)
{
    json_t *j = body(text);
    struct proto_error err = {0};

    if (rec_feedback_parse(j, f, &err) != 0) {
        fail_msg("refused %s \"%s\" (%s): %s", problem_slug(err.code), err.field, err.detail, text);
    }
    json_decref(j);
}

/* A feedback body whose @key is @value (JSON text), the other fields good. */
static void check_feedback_field_refused(const char *key, const char *value, enum problem_code code,
                                         const char *field)
{
    const char *event = "\"shown\"", *primary = "\"MUG-01\"", *sku = "\"COASTER-4\"";
    char text[512];

    if (strcmp(key, "event") == 0) {
        event = value;
    } else if (strcmp(key, "primary") == 0) {
        primary = value;
    } else if (strcmp(key, "sku") == 0) {
        sku = value;
    }
    if (event == value || primary == value || sku == value) {
        snprintf(text, sizeof(text), "{\"event\": %s, \"primary\": %s, \"sku\": %s}", event,
                 primary, sku);
    } else {
        snprintf(text, sizeof(text), "{\"event\": %s, \"primary\": %s, \"sku\": %s, \"%s\": %s}",
                 event, primary, sku, key, value);
    }
    check_feedback_refused(text, code, field);
}

static void test_recommend_codec__feedback_decodes(void **state)
{
    struct rec_feedback f;

    (void)state;
    memset(&f, 0x5a, sizeof(f));
    feedback_ok("{\"event\": \"accepted\", \"primary\": \"MUG-01\", \"sku\": \"COASTER-4\","
                " \"customer\": \"c-42\", \"session\": \"s.9\"}",
                &f);
    assert_int_equal(f.event, FEEDBACK_ACCEPTED);
    assert_string_equal(f.primary, "MUG-01");
    assert_string_equal(f.sku, "COASTER-4");
    assert_string_equal(f.customer, "c-42");
    assert_string_equal(f.session, "s.9");

    memset(&f, 0x5a, sizeof(f));
    feedback_ok("{\"sku\": \"COASTER-4\", \"primary\": \"MUG-01\", \"event\": \"shown\"}", &f);
    assert_int_equal(f.event, FEEDBACK_SHOWN);
    assert_string_equal(f.primary, "MUG-01");
    assert_string_equal(f.sku, "COASTER-4");
    assert_string_equal(f.customer, "");
    assert_string_equal(f.session, "");

    feedback_ok("{\"event\": \"dismissed\", \"primary\": \"A\", \"sku\": \"B\"}", &f);
    assert_int_equal(f.event, FEEDBACK_DISMISSED);
}

static void test_recommend_codec__feedback_names_round_trip(void **state)
{
    static const enum rec_feedback_event events[] = {FEEDBACK_SHOWN, FEEDBACK_ACCEPTED,
                                                     FEEDBACK_DISMISSED};
    char text[256];
    struct rec_feedback f;

    (void)state;
    assert_string_equal(rec_feedback_name(FEEDBACK_SHOWN), "shown");
    assert_string_equal(rec_feedback_name(FEEDBACK_ACCEPTED), "accepted");
    assert_string_equal(rec_feedback_name(FEEDBACK_DISMISSED), "dismissed");
    assert_string_equal(rec_feedback_name(0), "");
    assert_string_equal(rec_feedback_name((enum rec_feedback_event)4), "");
    assert_string_equal(rec_feedback_name((enum rec_feedback_event) - 1), "");
    for (size_t i = 0; i < COUNT(events); i++) {
        snprintf(text, sizeof(text), "{\"event\": \"%s\", \"primary\": \"A\", \"sku\": \"B\"}",
                 rec_feedback_name(events[i]));
        feedback_ok(text, &f);
        assert_int_equal(f.event, events[i]);
    }
}

static void test_recommend_codec__feedback_event_required_and_known(void **state)
{
    static const char *const bad[] = {"\"clicked\"", "\"Shown\"", "\"\"", "\"shown \"",  "null",
                                      "1",           "1.5",       "true", "[\"shown\"]", "{}"};

    (void)state;
    check_feedback_refused("{\"primary\": \"A\", \"sku\": \"B\"}", PROBLEM_INVALID_FIELD, "event");
    for (size_t i = 0; i < COUNT(bad); i++) {
        check_feedback_field_refused("event", bad[i], PROBLEM_INVALID_FIELD, "event");
    }
}

static void test_recommend_codec__feedback_identifiers_required_and_valid(void **state)
{
    static const char *const keys[] = {"primary", "sku", "customer", "session"};
    static const char *const bad[] = {"\"a b\"", "\"\"", "\"a/b\"", "\"\xc3\xa9\"", "null",
                                      "1",       "1.5",  "true",    "[\"A\"]",      "{}"};
    char value[128];

    (void)state;
    check_feedback_refused("{\"event\": \"shown\", \"sku\": \"B\"}", PROBLEM_INVALID_FIELD,
                           "primary");
    check_feedback_refused("{\"event\": \"shown\", \"primary\": \"A\"}", PROBLEM_INVALID_FIELD,
                           "sku");
    for (size_t k = 0; k < COUNT(keys); k++) {
        for (size_t i = 0; i < COUNT(bad); i++) {
            check_feedback_field_refused(keys[k], bad[i], PROBLEM_INVALID_IDENTIFIER, keys[k]);
        }
        snprintf(value, sizeof(value), "\"%s\"", repeat('f', 65));
        check_feedback_field_refused(keys[k], value, PROBLEM_INVALID_IDENTIFIER, keys[k]);
    }
}

static void test_recommend_codec__feedback_unknown_key_refused(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"event\": \"shown\", \"primary\": \"A\", \"sku\": \"B\", \"score\": 1}",
         PROBLEM_INVALID_FIELD, "score"},
        {"{\"event\": \"shown\", \"primary\": \"A\", \"sku\": \"B\", \"Session\": \"s\"}",
         PROBLEM_INVALID_FIELD, "Session"},
        {"{\"event\": \"shown\", \"primary\": \"A\", \"sku\": \"B\", \"at\": null}",
         PROBLEM_INVALID_FIELD, "at"},
        {"{\"kind\": \"shown\"}", PROBLEM_INVALID_FIELD, "kind"},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        check_feedback_refused(cases[i].text, cases[i].code, cases[i].field);
    }
}

static void test_recommend_codec__feedback_non_object_body_refused(void **state)
{
    json_t *arr = json_array();
    struct rec_feedback f;
    struct proto_error err = {0};

    (void)state;
    check_problem(rec_feedback_parse(arr, &f, &err), &err, PROBLEM_INVALID_JSON, "", "[]");
    check_problem(rec_feedback_parse(NULL, &f, &err), &err, PROBLEM_INVALID_JSON, "", "NULL");
    json_decref(arr);
}

/* ---- preferences ---- */

static int preferences_run(const char *text, struct preferences *p, struct proto_error *err)
{
    json_t *j = body(text);
    int rc = preferences_parse(j, p, err);

    json_decref(j);
    return rc;
}

static void preferences_ok(const char *text, struct preferences *p)
{
    struct proto_error err = {0};

    if (preferences_run(text, p, &err) != 0) {
        fail_msg("refused %s \"%s\" (%s): %s", problem_slug(err.code), err.field, err.detail, text);
    }
}

static void check_preferences_refused(const char *text, enum problem_code code, const char *field)
{
    struct preferences p;
    struct proto_error err = {0};

    check_problem(preferences_run(text, &p, &err), &err, code, field, text);
}

/* {"@key": v} for each JSON text v in @bad: each refused with @code naming @key. */
static void check_preference_values_refused(const char *key, const char *const *bad, size_t n,
                                            enum problem_code code)
{
    char text[512];

    for (size_t i = 0; i < n; i++) {
        snprintf(text, sizeof(text), "{\"recommendations\": \"on\", \"%s\": %s}", key, bad[i]);
        check_preferences_refused(text, code, key);
    }
}

/* {"notes": "<@notes>"} */
static const char *notes_body(const char *notes)
{
    static char buf[4096];

    assert_true(strlen(notes) + 16 < sizeof(buf));
    snprintf(buf, sizeof(buf), "{\"notes\": \"%s\"}", notes);
    return buf;
}

static void test_recommend_codec__preferences_decode(void **state)
{
    struct preferences p;

    (void)state;
    memset(&p, 0x5a, sizeof(p));
    preferences_ok("{\"recommendations\": \"on\", \"personalisation_consent\": true,"
                   " \"preferred_store\": \"store-leeds\", \"preferred_channel\": "
                   "\"click_collect\", \"notes\": \"ring the bell \xe2\x80\x94 twice\"}",
                   &p);
    assert_int_equal(p.set,
                     PREF_RECOMMENDATIONS | PREF_CONSENT | PREF_STORE | PREF_CHANNEL | PREF_NOTES);
    assert_int_equal(p.clear, 0);
    assert_int_equal(p.recommendations_on, 1);
    assert_int_equal(p.consent, 1);
    assert_string_equal(p.preferred_store, "store-leeds");
    assert_int_equal(p.preferred_channel, CHANNEL_CLICK_COLLECT);
    assert_string_equal(p.notes, "ring the bell \xe2\x80\x94 twice");
}

static void test_recommend_codec__preferences_off_and_false_are_values(void **state)
{
    struct preferences p;

    (void)state;
    memset(&p, 0x5a, sizeof(p));
    preferences_ok("{\"recommendations\": \"off\", \"personalisation_consent\": false}", &p);
    assert_int_equal(p.set, PREF_RECOMMENDATIONS | PREF_CONSENT);
    assert_int_equal(p.clear, 0);
    assert_int_equal(p.recommendations_on, 0);
    assert_int_equal(p.consent, 0);
    assert_string_equal(p.preferred_store, "");
    assert_int_equal(p.preferred_channel, 0);
    assert_string_equal(p.notes, "");

    preferences_ok("{\"preferred_channel\": \"web\"}", &p);
    assert_int_equal(p.set, PREF_CHANNEL);
    assert_int_equal(p.preferred_channel, CHANNEL_WEB);
    preferences_ok("{\"preferred_channel\": \"store\", \"notes\": \"\"}", &p);
    assert_int_equal(p.set, PREF_CHANNEL | PREF_NOTES);
    assert_int_equal(p.preferred_channel, CHANNEL_STORE);
    assert_string_equal(p.notes, "");
}

static void test_recommend_codec__preferences_null_clears(void **state)
{
    struct preferences p;

    (void)state;
    memset(&p, 0x5a, sizeof(p));
    preferences_ok("{\"recommendations\": null, \"personalisation_consent\": null,"
                   " \"preferred_store\": null, \"preferred_channel\": null, \"notes\": null}",
                   &p);
    assert_int_equal(p.set, 0);
    assert_int_equal(p.clear,
                     PREF_RECOMMENDATIONS | PREF_CONSENT | PREF_STORE | PREF_CHANNEL | PREF_NOTES);
    assert_int_equal(p.recommendations_on, 0);
    assert_int_equal(p.consent, 0);
    assert_string_equal(p.preferred_store, "");
    assert_int_equal(p.preferred_channel, 0);
    assert_string_equal(p.notes, "");

    preferences_ok("{\"notes\": null, \"preferred_store\": \"s-1\"}", &p);
    assert_int_equal(p.set, PREF_STORE);
    assert_int_equal(p.clear, PREF_NOTES);
    assert_string_equal(p.preferred_store, "s-1");

    preferences_ok("{\"personalisation_consent\": null}", &p);
    assert_int_equal(p.set, 0);
    assert_int_equal(p.clear, PREF_CONSENT);
}

static void test_recommend_codec__preferences_empty_body_refused(void **state)
{
    (void)state;
    check_preferences_refused("{}", PROBLEM_INVALID_FIELD, "");
}

static void test_recommend_codec__preferences_recommendations_on_or_off(void **state)
{
    static const char *const bad[] = {"\"ON\"", "\"yes\"", "\"\"",     "\"on \"", "true",
                                      "1",      "0.5",     "[\"on\"]", "{}"};

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        char text[128];

        snprintf(text, sizeof(text), "{\"recommendations\": %s}", bad[i]);
        check_preferences_refused(text, PROBLEM_INVALID_FIELD, "recommendations");
    }
}

static void test_recommend_codec__preferences_consent_is_a_bool(void **state)
{
    static const char *const bad[] = {"\"true\"", "1", "0", "1.0", "\"yes\"", "[true]", "{}"};

    (void)state;
    check_preference_values_refused("personalisation_consent", bad, COUNT(bad),
                                    PROBLEM_INVALID_FIELD);
}

static void test_recommend_codec__preferences_store_is_an_identifier(void **state)
{
    static const char *const bad[] = {"\"store leeds\"", "\"\"", "\"s/1\"",     "1", "1.5", "true",
                                      "[\"s-1\"]",       "{}",   "\"\xc3\xa9\""};
    char value[128];

    (void)state;
    check_preference_values_refused("preferred_store", bad, COUNT(bad), PROBLEM_INVALID_IDENTIFIER);
    snprintf(value, sizeof(value), "{\"preferred_store\": \"%s\"}", repeat('s', 65));
    check_preferences_refused(value, PROBLEM_INVALID_IDENTIFIER, "preferred_store");
}

static void test_recommend_codec__preferences_channel_is_a_channel_name(void **state)
{
    static const char *const bad[] = {"\"WEB\"", "\"pos\"", "\"\"",      "1",
                                      "1.5",     "true",    "[\"web\"]", "{}"};

    (void)state;
    check_preference_values_refused("preferred_channel", bad, COUNT(bad), PROBLEM_INVALID_FIELD);
}

static void test_recommend_codec__preferences_notes_is_a_string(void **state)
{
    static const char *const bad[] = {"1", "1.5", "true", "[\"n\"]", "{}"};

    (void)state;
    check_preference_values_refused("notes", bad, COUNT(bad), PROBLEM_INVALID_FIELD);
}

static void test_recommend_codec__preferences_notes_500_bytes_accepted(void **state)
{
    static const struct {
        const char *unit;
        size_t n;
        const char *tail;
    } ok[] = {
        {"n", 500, ""},
        {"\xc3\xa9", 250, ""},         /* 250 x e-acute, 2 bytes each */
        {"\xe2\x82\xac", 166, "ab"},   /* 166 x euro sign, 3 bytes each, and 2 */
        {"\xf0\x9f\x98\x80", 125, ""}, /* 125 x an emoji, 4 bytes each */
    };
    struct preferences p;
    char want[PREF_NOTES_MAX + 1];

    (void)state;
    for (size_t i = 0; i < COUNT(ok); i++) {
        memcpy(want, repeat_str(ok[i].unit, ok[i].n, ok[i].tail), sizeof(want));
        assert_int_equal(strlen(want), PREF_NOTES_MAX);
        preferences_ok(notes_body(want), &p);
        assert_int_equal(p.set, PREF_NOTES);
        assert_string_equal(p.notes, want);
    }
}

static void test_recommend_codec__preferences_notes_501_bytes_refused(void **state)
{
    static const struct {
        const char *unit;
        size_t n;
        const char *tail;
    } bad[] = {
        {"n", 501, ""},
        {"\xc3\xa9", 250, "x"},    /* 251 characters, 501 bytes */
        {"\xe2\x82\xac", 167, ""}, /* 167 characters, 501 bytes */
        {"\xf0\x9f\x98\x80", 125, "x"},
        {"\xf0\x9f\x98\x80", 126, ""}, /* 126 characters, 504 bytes */
    };

    (void)state;
    for (size_t i = 0; i < COUNT(bad); i++) {
        check_preferences_refused(notes_body(repeat_str(bad[i].unit, bad[i].n, bad[i].tail)),
                                  PROBLEM_INVALID_FIELD, "notes");
    }
}

/* Strings built with a NUL inside (a body from proto_json_load never has one). */
static void test_recommend_codec__strings_with_a_nul_refused(void **state)
{
    static const struct {
        const char *key;
        const char *text; /* 4 bytes with a NUL */
        enum problem_code code;
    } cases[] = {
        {"recommendations", "on\0x", PROBLEM_INVALID_FIELD},
        {"preferred_store", "s1\0x", PROBLEM_INVALID_IDENTIFIER},
        {"preferred_channel", "web\0", PROBLEM_INVALID_FIELD},
        {"notes", "ab\0c", PROBLEM_INVALID_FIELD},
    };
    json_t *fb = body("{\"primary\": \"A\", \"sku\": \"B\"}");
    struct rec_feedback f;
    struct preferences p;
    struct proto_error err = {0};

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        json_t *j = json_object();

        json_object_set_new(j, cases[i].key, json_stringn(cases[i].text, 4));
        check_problem(preferences_parse(j, &p, &err), &err, cases[i].code, cases[i].key,
                      cases[i].key);
        json_decref(j);
    }
    json_object_set_new(fb, "event", json_stringn("shown\0", 6));
    check_problem(rec_feedback_parse(fb, &f, &err), &err, PROBLEM_INVALID_FIELD, "event", "event");
    json_decref(fb);
}

static void test_recommend_codec__preferences_unknown_key_refused(void **state)
{
    static const struct bad_case cases[] = {
        {"{\"recommendations\": \"on\", \"email\": \"a@b.c\"}", PROBLEM_INVALID_FIELD, "email"},
        {"{\"Notes\": \"x\"}", PROBLEM_INVALID_FIELD, "Notes"},
        {"{\"consent\": true}", PROBLEM_INVALID_FIELD, "consent"},
        {"{\"preferred_location\": null}", PROBLEM_INVALID_FIELD, "preferred_location"},
        /* named even when other fields are bad too */
        {"{\"recommendations\": 1, \"x\": 1}", PROBLEM_INVALID_FIELD, "x"},
    };

    (void)state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        check_preferences_refused(cases[i].text, cases[i].code, cases[i].field);
    }
}

static void test_recommend_codec__preferences_non_object_body_refused(void **state)
{
    json_t *arr = json_pack("[s]", "on");
    struct preferences p;
    struct proto_error err = {0};

    (void)state;
    check_problem(preferences_parse(arr, &p, &err), &err, PROBLEM_INVALID_JSON, "", "[\"on\"]");
    check_problem(preferences_parse(NULL, &p, &err), &err, PROBLEM_INVALID_JSON, "", "NULL");
    json_decref(arr);
}

/* ---- data-driven cases: tests/data/proto/{order,feedback,preferences}/<case>.case ---- */

static int run_codec(const char *codec, json_t *j, struct proto_error *err)
{
    if (strcmp(codec, "order") == 0) {
        struct order_batch b;
        int rc = order_batch_parse(j, &b, err);
        order_batch_release(&b);
        return rc;
    }
    if (strcmp(codec, "feedback") == 0) {
        struct rec_feedback f;
        return rec_feedback_parse(j, &f, err);
    }
    if (strcmp(codec, "preferences") == 0) {
        struct preferences p;
        return preferences_parse(j, &p, err);
    }
    fail_msg("unknown codec directory %s", codec);
    return -1;
}

static void test_recommend_codec__data_cases(void **state)
{
    static const char *const codecs[] = {"order", "feedback", "preferences"};

    (void)state;
    case_files_run(codecs, COUNT(codecs), run_codec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recommend_codec__orders_batch_decodes),
        cmocka_unit_test(test_recommend_codec__orders_optional_fields_left_empty),
        cmocka_unit_test(test_recommend_codec__orders_each_channel_decodes),
        cmocka_unit_test(test_recommend_codec__orders_identifiers_of_64_chars_accepted),
        cmocka_unit_test(test_recommend_codec__orders_at_with_offset_is_utc_ms),
        cmocka_unit_test(test_recommend_codec__orders_at_refused),
        cmocka_unit_test(test_recommend_codec__orders_at_with_embedded_nul_refused),
        cmocka_unit_test(test_recommend_codec__orders_id_required),
        cmocka_unit_test(test_recommend_codec__orders_id_must_be_an_identifier),
        cmocka_unit_test(test_recommend_codec__orders_customer_must_be_an_identifier),
        cmocka_unit_test(test_recommend_codec__orders_channel_must_be_a_channel_name),
        cmocka_unit_test(test_recommend_codec__orders_lines_required_non_empty_array),
        cmocka_unit_test(test_recommend_codec__orders_line_must_be_an_object),
        cmocka_unit_test(test_recommend_codec__orders_line_sku_required_and_an_identifier),
        cmocka_unit_test(test_recommend_codec__orders_line_quantity_required),
        cmocka_unit_test(test_recommend_codec__orders_line_quantity_wrong_type_refused),
        cmocka_unit_test(test_recommend_codec__orders_line_quantity_out_of_range_refused),
        cmocka_unit_test(test_recommend_codec__orders_first_bad_order_is_named),
        cmocka_unit_test(test_recommend_codec__orders_line_error_detail_names_the_path),
        cmocka_unit_test(test_recommend_codec__orders_lines_of_one_sku_collapse),
        cmocka_unit_test(test_recommend_codec__orders_quantities_validated_not_summed),
        cmocka_unit_test(test_recommend_codec__orders_100_lines_accepted_101_refused),
        cmocka_unit_test(test_recommend_codec__orders_required_non_empty_array),
        cmocka_unit_test(test_recommend_codec__orders_order_must_be_an_object),
        cmocka_unit_test(test_recommend_codec__orders_1000_accepted_1001_refused),
        cmocka_unit_test(test_recommend_codec__orders_duplicate_id_refused_at_the_second),
        cmocka_unit_test(test_recommend_codec__orders_ids_differing_in_case_are_distinct),
        cmocka_unit_test(test_recommend_codec__orders_unknown_keys_refused_at_each_level),
        cmocka_unit_test(test_recommend_codec__orders_non_object_body_refused),
        cmocka_unit_test(test_recommend_codec__orders_refused_batch_holds_nothing),
        cmocka_unit_test(test_recommend_codec__orders_release_is_safe_on_null_and_twice),
        cmocka_unit_test(test_recommend_codec__query_decodes),
        cmocka_unit_test(test_recommend_codec__query_defaults),
        cmocka_unit_test(test_recommend_codec__query_any_order_and_store_channel),
        cmocka_unit_test(test_recommend_codec__query_values_are_percent_decoded),
        cmocka_unit_test(test_recommend_codec__query_identifiers_of_64_chars_accepted),
        cmocka_unit_test(test_recommend_codec__query_sku_required),
        cmocka_unit_test(test_recommend_codec__query_identifiers_refused),
        cmocka_unit_test(test_recommend_codec__query_channel_must_be_known),
        cmocka_unit_test(test_recommend_codec__query_location_per_channel),
        cmocka_unit_test(test_recommend_codec__query_repeated_parameter_refused),
        cmocka_unit_test(test_recommend_codec__query_unknown_parameter_refused),
        cmocka_unit_test(test_recommend_codec__query_basket_empty_items_refused),
        cmocka_unit_test(test_recommend_codec__query_basket_items_must_be_identifiers),
        cmocka_unit_test(test_recommend_codec__query_basket_100_items_accepted_101_refused),
        cmocka_unit_test(test_recommend_codec__query_refused_holds_nothing),
        cmocka_unit_test(test_recommend_codec__feedback_decodes),
        cmocka_unit_test(test_recommend_codec__feedback_names_round_trip),
        cmocka_unit_test(test_recommend_codec__feedback_event_required_and_known),
        cmocka_unit_test(test_recommend_codec__feedback_identifiers_required_and_valid),
        cmocka_unit_test(test_recommend_codec__feedback_unknown_key_refused),
        cmocka_unit_test(test_recommend_codec__feedback_non_object_body_refused),
        cmocka_unit_test(test_recommend_codec__preferences_decode),
        cmocka_unit_test(test_recommend_codec__preferences_off_and_false_are_values),
        cmocka_unit_test(test_recommend_codec__preferences_null_clears),
        cmocka_unit_test(test_recommend_codec__preferences_empty_body_refused),
        cmocka_unit_test(test_recommend_codec__preferences_recommendations_on_or_off),
        cmocka_unit_test(test_recommend_codec__preferences_consent_is_a_bool),
        cmocka_unit_test(test_recommend_codec__preferences_store_is_an_identifier),
        cmocka_unit_test(test_recommend_codec__preferences_channel_is_a_channel_name),
        cmocka_unit_test(test_recommend_codec__preferences_notes_is_a_string),
        cmocka_unit_test(test_recommend_codec__preferences_notes_500_bytes_accepted),
        cmocka_unit_test(test_recommend_codec__preferences_notes_501_bytes_refused),
        cmocka_unit_test(test_recommend_codec__strings_with_a_nul_refused),
        cmocka_unit_test(test_recommend_codec__preferences_unknown_key_refused),
        cmocka_unit_test(test_recommend_codec__preferences_non_object_body_refused),
        cmocka_unit_test(test_recommend_codec__data_cases),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
