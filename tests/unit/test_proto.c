/*
 * test_proto.c - the codecs as an integrator meets them: which bodies are
 * accepted, and for each one refused, which problem code and which field the
 * answer names. Most bad bodies live as files under tests/data/proto/ (see its
 * README); this file holds the cases that are easier to build in C and the
 * checks on what a good body decodes to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/catalog.h"
#include "proto/movement.h"
#include "proto/problem.h"
#include "proto/proto.h"
#include "tests/unit/case_files.h"

/* Compare slugs rather than numbers so that a failure reads "invalid-field" != "not-found". */
#define assert_problem(err, code_, field_)                                                         \
    do {                                                                                           \
        assert_string_equal(problem_slug((err)->code), problem_slug(code_));                       \
        assert_string_equal((err)->field, (field_));                                               \
    } while (0)

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
    static char buf[2048];

    assert_true(n < sizeof(buf));
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* ---- problem ---- */

static void test_problem__statuses_follow_the_contract(void **state)
{
    (void)state;
    assert_int_equal(problem_status(PROBLEM_INVALID_JSON), 400);
    assert_int_equal(problem_status(PROBLEM_INVALID_FIELD), 400);
    assert_int_equal(problem_status(PROBLEM_INVALID_IDENTIFIER), 400);
    assert_int_equal(problem_status(PROBLEM_INVALID_QUERY), 400);
    assert_int_equal(problem_status(PROBLEM_UNAUTHORIZED), 401);
    assert_int_equal(problem_status(PROBLEM_FORBIDDEN), 403);
    assert_int_equal(problem_status(PROBLEM_NOT_FOUND), 404);
    assert_int_equal(problem_status(PROBLEM_METHOD_NOT_ALLOWED), 405);
    assert_int_equal(problem_status(PROBLEM_INSUFFICIENT_STOCK), 409);
    assert_int_equal(problem_status(PROBLEM_INVALID_TRANSITION), 409);
    assert_int_equal(problem_status(PROBLEM_STALE_COUNT), 409);
    assert_int_equal(problem_status(PROBLEM_IDEMPOTENCY_PENDING), 409);
    assert_int_equal(problem_status(PROBLEM_PAYLOAD_TOO_LARGE), 413);
    assert_int_equal(problem_status(PROBLEM_UNSUPPORTED_MEDIA), 415);
    assert_int_equal(problem_status(PROBLEM_UNKNOWN_REFERENCE), 422);
    assert_int_equal(problem_status(PROBLEM_IDEMPOTENCY_REUSED), 422);
    assert_int_equal(problem_status(PROBLEM_INTERNAL), 500);
    assert_int_equal(problem_status(PROBLEM_UNAVAILABLE), 503);
}

static void test_problem__slugs_are_the_contract_codes(void **state)
{
    (void)state;
    assert_string_equal(problem_slug(PROBLEM_INVALID_JSON), "invalid-json");
    assert_string_equal(problem_slug(PROBLEM_INVALID_FIELD), "invalid-field");
    assert_string_equal(problem_slug(PROBLEM_INVALID_IDENTIFIER), "invalid-identifier");
    assert_string_equal(problem_slug(PROBLEM_INVALID_QUERY), "invalid-query");
    assert_string_equal(problem_slug(PROBLEM_UNAUTHORIZED), "unauthorized");
    assert_string_equal(problem_slug(PROBLEM_FORBIDDEN), "forbidden");
    assert_string_equal(problem_slug(PROBLEM_NOT_FOUND), "not-found");
    assert_string_equal(problem_slug(PROBLEM_METHOD_NOT_ALLOWED), "method-not-allowed");
    assert_string_equal(problem_slug(PROBLEM_INSUFFICIENT_STOCK), "insufficient-stock");
    assert_string_equal(problem_slug(PROBLEM_INVALID_TRANSITION), "invalid-transition");
    assert_string_equal(problem_slug(PROBLEM_STALE_COUNT), "stale-count");
    assert_string_equal(problem_slug(PROBLEM_IDEMPOTENCY_PENDING), "idempotency-pending");
    assert_string_equal(problem_slug(PROBLEM_PAYLOAD_TOO_LARGE), "payload-too-large");
    assert_string_equal(problem_slug(PROBLEM_UNSUPPORTED_MEDIA), "unsupported-media-type");
    assert_string_equal(problem_slug(PROBLEM_UNKNOWN_REFERENCE), "unknown-reference");
    assert_string_equal(problem_slug(PROBLEM_IDEMPOTENCY_REUSED), "idempotency-key-reused");
    assert_string_equal(problem_slug(PROBLEM_INTERNAL), "internal");
    assert_string_equal(problem_slug(PROBLEM_UNAVAILABLE), "unavailable");
}

static void test_problem__slug_round_trips(void **state)
{
    (void)state;
    for (int c = PROBLEM_NONE + 1; c < PROBLEM__COUNT; c++) {
        assert_int_equal(problem_from_slug(problem_slug((enum problem_code)c)), c);
    }
    assert_int_equal(problem_from_slug("no-such-problem"), PROBLEM_NONE);
    assert_int_equal(problem_from_slug(""), PROBLEM_NONE);
    assert_int_equal(problem_from_slug(NULL), PROBLEM_NONE);
    assert_int_equal(problem_from_slug("Invalid-Field"), PROBLEM_NONE);
}

static void test_problem__titles_are_short_sentences(void **state)
{
    (void)state;
    assert_string_equal(problem_title(PROBLEM_INVALID_FIELD), "Invalid field");
    for (int c = PROBLEM_NONE + 1; c < PROBLEM__COUNT; c++) {
        const char *t = problem_title((enum problem_code)c);
        size_t len = strlen(t);

        assert_true(len > 0 && len <= 60);
        assert_true(t[0] >= 'A' && t[0] <= 'Z');
        assert_true(t[len - 1] != '.');
    }
}

static void test_problem__unknown_code_is_internal(void **state)
{
    (void)state;
    assert_int_equal(problem_status((enum problem_code)PROBLEM__COUNT), 500);
    assert_int_equal(problem_status((enum problem_code) - 1), 500);
    assert_string_equal(problem_slug((enum problem_code)1000), "internal");
    assert_int_equal(problem_status(PROBLEM_NONE), 500);
}

/* ---- errors ---- */

static void test_proto__error_set_fills_and_returns_minus_one(void **state)
{
    struct proto_error err;

    (void)state;
    assert_int_equal(proto_error_set(&err, PROBLEM_INVALID_FIELD, "quantity", "%s %d", "x", 3), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "quantity");
    assert_string_equal(err.detail, "x 3");
    assert_int_equal(proto_error_set(&err, PROBLEM_INVALID_JSON, NULL, "bad"), -1);
    assert_problem(&err, PROBLEM_INVALID_JSON, "");
    assert_int_equal(proto_error_set(NULL, PROBLEM_INVALID_JSON, NULL, "bad"), -1);
}

static void test_proto__error_set_truncates_long_text(void **state)
{
    struct proto_error err;
    char field[101];

    (void)state;
    memcpy(field, repeat('f', 100), sizeof(field));
    proto_error_set(&err, PROBLEM_INVALID_FIELD, field, "%s", repeat('d', 500));
    assert_int_equal(strlen(err.field), sizeof(err.field) - 1);
    assert_int_equal(strlen(err.detail), sizeof(err.detail) - 1);
}

/* 1 if @s is valid UTF-8, as a JSON problem body needs it to be. */
static int is_json_text(const char *s)
{
    json_t *j = json_string(s);

    json_decref(j);
    return j != NULL;
}

static void test_proto__error_text_stays_valid_utf8(void **state)
{
    /* Two-byte characters cut at an odd byte count must not leave half a character. */
    char key[256] = "";
    char text[512];
    struct proto_error err;
    struct movement_batch b;
    json_t *j;

    (void)state;
    for (int i = 0; i < 100; i++) {
        strcat(key, "\xc3\xa9");
    }
    proto_error_set(&err, PROBLEM_INVALID_FIELD, key, "%s is not a known field", key);
    assert_true(is_json_text(err.field));
    assert_true(is_json_text(err.detail));

    snprintf(text, sizeof(text),
             "{\"movements\": [{\"sku\": \"S\", \"location\": \"L\", \"type\": \"sale\", "
             "\"quantity\": 1, \"%s\": 1}]}",
             key);
    j = body(text);
    assert_int_equal(movement_batch_parse(j, &b, &err), 0);
    assert_string_equal(problem_slug(b.items[0].err.code), "invalid-field");
    assert_true(strncmp(b.items[0].err.field, "movements[0].\xc3\xa9", 15) == 0);
    assert_true(is_json_text(b.items[0].err.field));
    assert_true(is_json_text(b.items[0].err.detail));
    movement_batch_release(&b);
    json_decref(j);
}

static void test_proto__json_load_detail_is_valid_utf8(void **state)
{
    /* The detail quotes the body near the error: it must still be valid UTF-8. */
    static const char *const bodies[] = {
        "{\"\xe2\x82\xac\xe2\x82\xac\": x}",
        "{\"a\": "
        "\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xff"
        "\"}",
        "{\"a\": \"\xe2\x82\xac\xe2\x82\"}",
        "{\"\xe2\x82\xac\": 1, \"\xe2\x82\xac\": 2}",
    };
    struct proto_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_null(proto_json_load(bodies[i], strlen(bodies[i]), &err));
        assert_problem(&err, PROBLEM_INVALID_JSON, "");
        if (!is_json_text(err.detail)) {
            fail_msg("body %zu: detail is not valid UTF-8", i);
        }
    }
}

static void test_proto__error_prefix_nests_field_and_detail(void **state)
{
    struct proto_error err;

    (void)state;
    proto_error_set(&err, PROBLEM_INVALID_FIELD, "quantity", "quantity must be an integer");
    proto_error_prefix(&err, "movements[2]");
    assert_problem(&err, PROBLEM_INVALID_FIELD, "movements[2].quantity");
    assert_string_equal(err.detail, "movements[2].quantity must be an integer");

    proto_error_set(&err, PROBLEM_INVALID_FIELD, NULL, "must be an object");
    proto_error_prefix(&err, "movements[0]");
    assert_problem(&err, PROBLEM_INVALID_FIELD, "movements[0]");
    assert_string_equal(err.detail, "must be an object");
    proto_error_prefix(NULL, "x");
}

/* ---- identifiers ---- */

static void test_proto__id_valid_accepts_the_alphabet(void **state)
{
    (void)state;
    assert_true(proto_id_valid("a"));
    assert_true(proto_id_valid("MUG-01"));
    assert_true(proto_id_valid("store_leeds.2"));
    assert_true(proto_id_valid("ABCXYZabcxyz0189._-"));
    assert_true(proto_id_valid(repeat('x', 64)));
}

static void test_proto__id_valid_rejects_everything_else(void **state)
{
    static const char *const bad[] = {
        "",    "a b",   "a:b", "a{b}", "\xc3\xbc", "../x", "a/b", "a\tb", "a\nb",
        "a+b", "a%20b", "a#b", "a*b",  "\"a\"",    "a\\b", " a",  "a ",   "caf\xc3\xa9",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (proto_id_valid(bad[i])) {
            fail_msg("identifier \"%s\" was accepted", bad[i]);
        }
    }
    assert_false(proto_id_valid(repeat('x', 65)));
    assert_false(proto_id_valid(NULL));
}

/* ---- proto_json_load ---- */

static void check_load_fails(const char *buf, size_t len)
{
    struct proto_error err = {0};
    json_t *j = proto_json_load(buf, len, &err);

    if (j != NULL) {
        json_decref(j);
        fail_msg("body loaded but should not have: %.*s", (int)len, buf);
    }
    assert_problem(&err, PROBLEM_INVALID_JSON, "");
    assert_true(strlen(err.detail) > 0);
}

/* Only literals: the length is the literal's, embedded NUL bytes included. */
#define LOAD_FAILS(lit) check_load_fails((lit), sizeof(lit) - 1)

static void test_proto__json_load_accepts_an_object(void **state)
{
    const char text[] = "{\"a\": 1, \"b\": \"caf\xc3\xa9\", \"c\": {\"d\": [1, 2]}}";
    struct proto_error err = {0};
    json_t *j;

    (void)state;
    j = proto_json_load(text, strlen(text), &err);
    assert_non_null(j);
    assert_true(json_is_object(j));
    assert_string_equal(json_string_value(json_object_get(j, "b")), "caf\xc3\xa9");
    json_decref(j);

    j = proto_json_load("{}", 2, &err);
    assert_non_null(j);
    json_decref(j);
}

static void test_proto__json_load_uses_only_len_bytes(void **state)
{
    struct proto_error err = {0};
    json_t *j;

    (void)state;
    /* The buffer need not be NUL-terminated: only @len bytes count. */
    j = proto_json_load("{\"a\": 1}garbage", 8, &err);
    assert_non_null(j);
    json_decref(j);
}

static void test_proto__json_load_rejects_empty_and_non_objects(void **state)
{
    (void)state;
    LOAD_FAILS("");
    check_load_fails(NULL, 0);
    LOAD_FAILS("   ");
    LOAD_FAILS("[]");
    LOAD_FAILS("[{\"a\": 1}]");
    LOAD_FAILS("\"a\"");
    LOAD_FAILS("1");
    LOAD_FAILS("true");
    LOAD_FAILS("null");
}

static void test_proto__json_load_rejects_bad_syntax(void **state)
{
    (void)state;
    LOAD_FAILS("{");
    LOAD_FAILS("{\"a\": 1,}");
    LOAD_FAILS("{a: 1}");
    LOAD_FAILS("{\"a\": 1} {}");
    LOAD_FAILS("{\"a\": 01}");
    LOAD_FAILS("{\"a\": NaN}");
}

static void test_proto__json_load_rejects_duplicate_keys(void **state)
{
    const char text[] = "{\"quantity\": 1, \"quantity\": 2}";
    struct proto_error err = {0};

    (void)state;
    assert_null(proto_json_load(text, strlen(text), &err));
    assert_problem(&err, PROBLEM_INVALID_JSON, "");
    assert_non_null(strstr(err.detail, "quantity"));
}

static void test_proto__json_load_rejects_bad_utf8_and_nul(void **state)
{
    static const char nul_byte[] = "{\"a\": \"x\0y\"}";

    (void)state;
    LOAD_FAILS("{\"a\": \"\xff\"}");
    LOAD_FAILS("{\"a\": \"\xc0\xaf\"}");     /* overlong '/' */
    LOAD_FAILS("{\"a\": \"\xed\xa0\x80\"}"); /* encoded surrogate */
    LOAD_FAILS("{\"a\": \"\xe2\x82\"}");     /* truncated sequence */
    LOAD_FAILS("{\"\xff\": 1}");
    LOAD_FAILS("{\"a\": \"\\ud800\"}"); /* lone surrogate escape */
    LOAD_FAILS("{\"a\": \"x\\u0000y\"}");
    LOAD_FAILS(nul_byte);
}

static void test_proto__json_load_detail_gives_position(void **state)
{
    const char text[] = "{\n  \"a\": 1,\n  \"b\": }";
    struct proto_error err = {0};

    (void)state;
    assert_null(proto_json_load(text, strlen(text), &err));
    assert_non_null(strstr(err.detail, "line 3"));
}

static void test_proto__json_load_rejects_huge_integers(void **state)
{
    const char text[] = "{\"quantity\": 123456789012345678901234567890}";

    (void)state;
    check_load_fails(text, strlen(text));
}

/* ---- channels ---- */

static void test_proto__channel_names_round_trip(void **state)
{
    (void)state;
    assert_int_equal(proto_channel_parse("web"), CHANNEL_WEB);
    assert_int_equal(proto_channel_parse("store"), CHANNEL_STORE);
    assert_int_equal(proto_channel_parse("click_collect"), CHANNEL_CLICK_COLLECT);
    assert_string_equal(proto_channel_name(CHANNEL_WEB), "web");
    assert_string_equal(proto_channel_name(CHANNEL_STORE), "store");
    assert_string_equal(proto_channel_name(CHANNEL_CLICK_COLLECT), "click_collect");
}

static void test_proto__channel_parse_rejects_unknown(void **state)
{
    (void)state;
    assert_int_equal(proto_channel_parse("Web"), 0);
    assert_int_equal(proto_channel_parse("click-collect"), 0);
    assert_int_equal(proto_channel_parse(""), 0);
    assert_int_equal(proto_channel_parse(NULL), 0);
    assert_string_equal(proto_channel_name(CHANNEL_ALL), "");
}

/* ---- times ---- */

struct time_case {
    const char *text;
    long long ms;
};

static void test_proto__time_parse_accepts_rfc3339(void **state)
{
    static const struct time_case good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-22T10:00:00Z", 1795341600000LL},
        {"2026-11-22t10:00:00z", 1795341600000LL},
        {"2026-11-22T10:00:00.250+01:00", 1795338000250LL},
        {"2026-11-22T11:00:00+01:00", 1795341600000LL},
        {"2026-11-22T09:30:00-00:30", 1795341600000LL},
        {"2026-11-22T10:00:00+00:00", 1795341600000LL},
        {"2026-11-22T10:00:00-00:00", 1795341600000LL},
        {"2000-02-29T23:59:59.999-05:30", 951888599999LL},
        {"1969-12-31T23:59:59.5Z", -500},
        {"2026-11-22T10:00:00.1Z", 1795341600100LL},
        {"2026-11-22T10:00:00.123456789Z", 1795341600123LL}, /* kept to the millisecond */
        {"2026-11-22T10:00:00.000000000000000000001Z", 1795341600000LL},
        {"2016-12-31T23:59:60Z", 1483228799000LL}, /* leap second read as :59 */
        {"1900-03-01T00:00:00Z", -2203891200000LL},
        {"2100-02-28T12:00:00Z", 4107499200000LL},
        {"0000-01-01T00:00:00Z", -62167219200000LL},
        {"9999-12-31T23:59:59.999Z", 253402300799999LL},
        {"2026-01-01T00:00:00+23:59", 1767139260000LL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        long long ms = 42;

        if (proto_time_parse(good[i].text, &ms) != 0) {
            fail_msg("\"%s\" was refused", good[i].text);
        }
        if (ms != good[i].ms) {
            fail_msg("\"%s\" read as %lld, expected %lld", good[i].text, ms, good[i].ms);
        }
    }
}

static void test_proto__time_parse_rejects_the_rest(void **state)
{
    static const char *const bad[] = {
        "",
        "2026-11-22",
        "2026-11-22T10:00Z",
        "2026-11-22T10:00:00",         /* no offset */
        "2026-11-22 10:00:00Z",        /* space separator */
        "2026-11-22T10:00:00 Z",       /* space before zone */
        "2026-11-22T10:00:00Z ",       /* trailing space */
        " 2026-11-22T10:00:00Z",       /* leading space */
        "2026-11-22T10:00:00.Z",       /* empty fraction */
        "2026-11-22T10:00:00,5Z",      /* comma fraction */
        "2026-11-22T10:00:00+0100",    /* offset without colon */
        "2026-11-22T10:00:00+01",      /* short offset */
        "2026-11-22T10:00:00+24:00",   /* offset hour */
        "2026-11-22T10:00:00+01:60",   /* offset minute */
        "2026-11-22T10:00:00UTC",      /* named zone */
        "2026-13-01T10:00:00Z",        /* month 13 */
        "2026-00-01T10:00:00Z",        /* month 0 */
        "2026-11-00T10:00:00Z",        /* day 0 */
        "2026-11-31T10:00:00Z",        /* November has 30 */
        "2026-02-29T10:00:00Z",        /* not a leap year */
        "1900-02-29T10:00:00Z",        /* centuries are not leap years */
        "2026-11-22T24:00:00Z",        /* hour 24 */
        "2026-11-22T10:60:00Z",        /* minute 60 */
        "2026-11-22T10:00:61Z",        /* second 61 */
        "26-11-22T10:00:00Z",          /* two-digit year */
        "+2026-11-22T10:00:00Z",       /* signed year */
        "2026-1-22T10:00:00Z",         /* one-digit month */
        "2026-11-22T1:00:00Z",         /* one-digit hour */
        "2026/11/22T10:00:00Z",        /* wrong date separator */
        "2026-11-22T10.00.00Z",        /* wrong time separator */
        "1795341600",                  /* epoch seconds */
        "2026-11-22T10:00:00Zjunk",    /* trailing junk */
        "2026-11-22T10:00:00\xc3\xbc", /* non-ASCII */
        "2026-W47-7T10:00:00Z",        /* ISO week date */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long ms = 42;

        if (proto_time_parse(bad[i], &ms) == 0) {
            fail_msg("\"%s\" was accepted", bad[i]);
        }
        assert_int_equal(ms, 42);
    }
    assert_int_equal(proto_time_parse(NULL, NULL), -1);
}

static void test_proto__time_parse_leap_years(void **state)
{
    long long a, b;

    (void)state;
    assert_int_equal(proto_time_parse("2000-02-29T00:00:00Z", &a), 0); /* 400th year */
    assert_int_equal(proto_time_parse("2024-02-29T00:00:00Z", &a), 0);
    assert_int_equal(proto_time_parse("2024-03-01T00:00:00Z", &b), 0);
    assert_int_equal(b - a, 86400000LL);
    assert_int_equal(proto_time_parse("2100-02-29T00:00:00Z", &a), -1);
    assert_int_equal(proto_time_parse("2026-12-31T23:59:59Z", &a), 0);
    assert_int_equal(proto_time_parse("2027-01-01T00:00:00Z", &b), 0);
    assert_int_equal(b - a, 1000);
}

static void test_proto__time_format_is_utc_with_millis(void **state)
{
    char buf[32];

    (void)state;
    proto_time_format(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    proto_time_format(1795338000250LL, buf);
    assert_string_equal(buf, "2026-11-22T09:00:00.250Z");
    proto_time_format(951888599999LL, buf);
    assert_string_equal(buf, "2000-03-01T05:29:59.999Z");
    proto_time_format(-500, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.500Z");
    proto_time_format(-62167219200000LL, buf);
    assert_string_equal(buf, "0000-01-01T00:00:00.000Z");
    proto_time_format(253402300799999LL, buf);
    assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
}

static void test_proto__time_format_round_trips(void **state)
{
    char buf[32];
    long long ms;

    (void)state;
    /* Every day for 1,000 years from 1600, at an odd time of day. */
    for (long long t = -11670912000000LL; t < 19880000000000LL; t += 86400000LL + 3723001) {
        proto_time_format(t, buf);
        assert_int_equal(proto_time_parse(buf, &ms), 0);
        assert_int_equal(ms, t);
    }
}

/* ---- field readers ---- */

static void test_proto__get_int_reads_integers_in_range(void **state)
{
    json_t *j = body("{\"a\": 7, \"max\": 1000000000, \"min\": 1, \"neg\": -5}");
    struct proto_error err = {0};
    long long v = 0;

    (void)state;
    assert_int_equal(proto_get_int(j, "a", 1, 1, PROTO_QUANTITY_MAX, &v, &err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(proto_get_int(j, "max", 1, 1, PROTO_QUANTITY_MAX, &v, &err), 0);
    assert_int_equal(v, PROTO_QUANTITY_MAX);
    assert_int_equal(proto_get_int(j, "min", 1, 1, PROTO_QUANTITY_MAX, &v, &err), 0);
    assert_int_equal(v, 1);
    assert_int_equal(proto_get_int(j, "neg", 1, -10, 10, &v, &err), 0);
    assert_int_equal(v, -5);
    v = 99;
    assert_int_equal(proto_get_int(j, "absent", 0, 1, 10, &v, &err), 1);
    assert_int_equal(v, 99);
    json_decref(j);
}

static void test_proto__get_int_refuses_non_integers(void **state)
{
    static const char *const values[] = {"1.0",   "2.5",  "1e3", "\"1\"", "true",
                                         "false", "null", "[1]", "{}"};
    char text[64];
    struct proto_error err;
    long long v = 99;

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        json_t *j;

        snprintf(text, sizeof(text), "{\"quantity\": %s}", values[i]);
        j = body(text);
        memset(&err, 0, sizeof(err));
        if (proto_get_int(j, "quantity", 1, 1, PROTO_QUANTITY_MAX, &v, &err) != -1) {
            fail_msg("%s was accepted as an integer", values[i]);
        }
        assert_problem(&err, PROBLEM_INVALID_FIELD, "quantity");
        assert_int_equal(v, 99);
        json_decref(j);
    }
}

static void test_proto__get_int_refuses_out_of_range(void **state)
{
    json_t *j = body("{\"big\": 1000000001, \"zero\": 0, \"neg\": -1}");
    struct proto_error err;
    long long v = 0;

    (void)state;
    assert_int_equal(proto_get_int(j, "big", 1, 1, PROTO_QUANTITY_MAX, &v, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "big");
    assert_non_null(strstr(err.detail, "1000000000"));
    assert_int_equal(proto_get_int(j, "zero", 1, 1, PROTO_QUANTITY_MAX, &v, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "zero");
    assert_int_equal(proto_get_int(j, "neg", 1, 0, PROTO_QUANTITY_MAX, &v, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "neg");
    assert_int_equal(proto_get_int(j, "missing", 1, 0, 1, &v, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "missing");
    json_decref(j);
}

static void test_proto__get_string_reads_and_bounds_bytes(void **state)
{
    /* "é" is two bytes: four of them are eight bytes. */
    json_t *j = body("{\"s\": \"caf\xc3\xa9\", \"e\": \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\", "
                     "\"empty\": \"\", \"n\": 5, \"null\": null}");
    struct proto_error err;
    char out[16];

    (void)state;
    assert_int_equal(proto_get_string(j, "s", 1, 10, out, sizeof(out), &err), 0);
    assert_string_equal(out, "caf\xc3\xa9");
    assert_int_equal(proto_get_string(j, "e", 1, 8, out, sizeof(out), &err), 0);
    assert_int_equal(proto_get_string(j, "e", 1, 7, out, sizeof(out), &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "e");
    assert_int_equal(proto_get_string(j, "e", 1, 100, out, 8, &err), -1); /* out too small */
    assert_problem(&err, PROBLEM_INVALID_FIELD, "e");
    assert_int_equal(proto_get_string(j, "empty", 1, 10, out, sizeof(out), &err), 0);
    assert_string_equal(out, "");
    assert_int_equal(proto_get_string(j, "n", 1, 10, out, sizeof(out), &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "n");
    assert_int_equal(proto_get_string(j, "null", 0, 10, out, sizeof(out), &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "null");
    assert_int_equal(proto_get_string(j, "absent", 0, 10, out, sizeof(out), &err), 1);
    assert_int_equal(proto_get_string(j, "absent", 1, 10, out, sizeof(out), &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "absent");
    json_decref(j);
}

static void test_proto__get_string_refuses_embedded_nul(void **state)
{
    /* A value built in C (the loader already refuses \u0000 in a body). */
    json_t *j = json_object();
    struct proto_error err;
    char out[PROTO_ID_SIZE];

    (void)state;
    json_object_set_new(j, "s", json_stringn("a\0b", 3));
    assert_int_equal(proto_get_string(j, "s", 1, 10, out, sizeof(out), &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "s");
    assert_int_equal(proto_get_id(j, "s", 1, out, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "s");
    json_decref(j);
}

static void test_proto__get_id_names_the_field(void **state)
{
    json_t *j = body("{\"sku\": \"MUG-01\", \"bad\": \"a b\", \"num\": 12, \"null\": null}");
    struct proto_error err;
    char out[PROTO_ID_SIZE] = "untouched";

    (void)state;
    assert_int_equal(proto_get_id(j, "sku", 1, out, &err), 0);
    assert_string_equal(out, "MUG-01");
    assert_int_equal(proto_get_id(j, "bad", 1, out, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "bad");
    assert_int_equal(proto_get_id(j, "num", 1, out, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "num");
    assert_int_equal(proto_get_id(j, "null", 0, out, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "null");
    assert_int_equal(proto_get_id(j, "location", 1, out, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "location");
    assert_int_equal(proto_get_id(j, "location", 0, out, &err), 1);
    assert_string_equal(out, "MUG-01");
    json_decref(j);
}

static void test_proto__check_fields_names_the_unknown_key(void **state)
{
    static const char *const allowed[] = {"sku", "quantity", NULL};
    json_t *good = body("{\"quantity\": 1, \"sku\": \"A\"}");
    json_t *bad = body("{\"sku\": \"A\", \"qty\": 1, \"zzz\": 2}");
    json_t *arr = json_array();
    struct proto_error err;

    (void)state;
    assert_int_equal(proto_check_fields(good, allowed, &err), 0);
    assert_int_equal(proto_check_fields(bad, allowed, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "qty");
    assert_int_equal(proto_check_fields(arr, allowed, &err), -1);
    json_decref(good);
    json_decref(bad);
    json_decref(arr);
}

/* ---- query strings ---- */

static void test_proto__parse_uint_accepts_digits_in_range(void **state)
{
    struct proto_error err;
    long long v = 0;

    (void)state;
    assert_int_equal(proto_parse_uint("10", "limit", 1, 1000, &v, &err), 0);
    assert_int_equal(v, 10);
    assert_int_equal(proto_parse_uint("1000", "limit", 1, 1000, &v, &err), 0);
    assert_int_equal(v, 1000);
    assert_int_equal(proto_parse_uint("0", "after", 0, 1000, &v, &err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(proto_parse_uint("007", "limit", 1, 1000, &v, &err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(
        proto_parse_uint("9223372036854775807", "n", 0, 9223372036854775807LL, &v, &err), 0);
    assert_int_equal(v, 9223372036854775807LL);
}

static void test_proto__parse_uint_refuses_the_rest(void **state)
{
    static const char *const bad[] = {"",   "0",  "1001", "-1",  "+1",  " 1",
                                      "1 ", "1a", "0x10", "1.0", "1e3", "99999999999999999999999"};
    struct proto_error err;
    long long v = 42;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (proto_parse_uint(bad[i], "limit", 1, 1000, &v, &err) != -1) {
            fail_msg("limit=\"%s\" was accepted", bad[i]);
        }
        assert_problem(&err, PROBLEM_INVALID_QUERY, "limit");
        assert_int_equal(v, 42);
    }
    assert_int_equal(proto_parse_uint(NULL, "limit", 1, 1000, &v, &err), -1);
    assert_int_equal(
        proto_parse_uint("9223372036854775808", "n", 0, 9223372036854775807LL, &v, &err), -1);
}

static void test_proto__parse_bool(void **state)
{
    struct proto_error err;
    int v = 7;

    (void)state;
    assert_int_equal(proto_parse_bool("true", "explain", &v, &err), 0);
    assert_int_equal(v, 1);
    assert_int_equal(proto_parse_bool("0", "explain", &v, &err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(proto_parse_bool("1", "explain", &v, &err), 0);
    assert_int_equal(v, 1);
    assert_int_equal(proto_parse_bool("false", "explain", &v, &err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(proto_parse_bool("yes", "explain", &v, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_QUERY, "explain");
    assert_int_equal(proto_parse_bool("TRUE", "explain", &v, &err), -1);
    assert_int_equal(proto_parse_bool("", "explain", &v, &err), -1);
    assert_int_equal(proto_parse_bool(NULL, "explain", &v, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_QUERY, "explain");
}

/* ---- locations ---- */

static void assert_json_equals(json_t *got, const char *expected)
{
    json_t *want = body(expected);

    if (!json_equal(got, want)) {
        char *text = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("got %s, expected %s", text, expected);
    }
    json_decref(want);
}

static void test_catalog__location_parse_store(void **state)
{
    json_t *j = body("{\"name\": \"Leeds\", \"type\": \"store\", "
                     "\"fulfils\": [\"click_collect\", \"web\", \"store\"], \"store_buffer\": 2}");
    struct location loc;
    struct proto_error err = {0};
    json_t *out;

    (void)state;
    assert_int_equal(location_parse(j, "store-leeds", &loc, &err), 0);
    assert_string_equal(loc.id, "store-leeds");
    assert_string_equal(loc.name, "Leeds");
    assert_int_equal(loc.type, LOCATION_STORE);
    assert_int_equal(loc.fulfils, CHANNEL_ALL);
    assert_int_equal(loc.store_buffer, 2);
    out = location_to_json(&loc);
    /* fulfils comes back in the API's order whatever order it was sent in. */
    assert_json_equals(out, "{\"id\": \"store-leeds\", \"name\": \"Leeds\", \"type\": \"store\", "
                            "\"fulfils\": [\"web\", \"store\", \"click_collect\"], "
                            "\"store_buffer\": 2}");
    json_decref(out);
    json_decref(j);
}

static void test_catalog__location_parse_warehouse_defaults(void **state)
{
    json_t *j = body("{\"name\": \"Main \xe2\x80\x94 North\", \"type\": \"warehouse\", "
                     "\"fulfils\": [\"web\"]}");
    struct location loc;
    struct proto_error err = {0};
    json_t *out;

    (void)state;
    assert_int_equal(location_parse(j, "wh-1", &loc, &err), 0);
    assert_int_equal(loc.type, LOCATION_WAREHOUSE);
    assert_int_equal(loc.fulfils, CHANNEL_WEB);
    assert_int_equal(loc.store_buffer, 0);
    out = location_to_json(&loc);
    assert_json_equals(out, "{\"id\": \"wh-1\", \"name\": \"Main \xe2\x80\x94 North\", "
                            "\"type\": \"warehouse\", \"fulfils\": [\"web\"], "
                            "\"store_buffer\": 0}");
    json_decref(out);
    json_decref(j);
}

static void test_catalog__location_fulfils_nothing(void **state)
{
    json_t *j = body("{\"name\": \"Closed\", \"type\": \"store\", \"fulfils\": []}");
    struct location loc;
    struct proto_error err = {0};
    json_t *out;

    (void)state;
    assert_int_equal(location_parse(j, "s1", &loc, &err), 0);
    assert_int_equal(loc.fulfils, 0);
    out = location_to_json(&loc);
    assert_int_equal(json_array_size(json_object_get(out, "fulfils")), 0);
    json_decref(out);
    json_decref(j);
}

static const char *const bad_ids[] = {
    "", "a b", "a:b", "a{b}", "\xc3\xbc", "../x", "a/b", "a%2Fb",
};

static void test_catalog__location_path_id_is_an_identifier(void **state)
{
    json_t *j = body("{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": []}");
    struct location loc;
    struct proto_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (location_parse(j, bad_ids[i], &loc, &err) != -1) {
            fail_msg("location id \"%s\" was accepted", bad_ids[i]);
        }
        assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "id");
    }
    assert_int_equal(location_parse(j, repeat('w', 65), &loc, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "id");
    assert_int_equal(location_parse(j, NULL, &loc, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "id");
    assert_int_equal(location_parse(j, repeat('w', 64), &loc, &err), 0);
    assert_string_equal(loc.id, repeat('w', 64));
    json_decref(j);
}

static void test_catalog__location_name_counts_bytes(void **state)
{
    /* 100 two-byte characters are 200 bytes: the limit exactly. */
    char text[512];
    char name[256] = "";
    struct location loc;
    struct proto_error err;
    json_t *j;

    (void)state;
    for (int i = 0; i < 100; i++) {
        strcat(name, "\xc3\xa9");
    }
    snprintf(text, sizeof(text), "{\"name\": \"%s\", \"type\": \"store\", \"fulfils\": []}", name);
    j = body(text);
    assert_int_equal(location_parse(j, "s1", &loc, &err), 0);
    assert_string_equal(loc.name, name);
    json_decref(j);

    strcat(name, "x");
    snprintf(text, sizeof(text), "{\"name\": \"%s\", \"type\": \"store\", \"fulfils\": []}", name);
    j = body(text);
    assert_int_equal(location_parse(j, "s1", &loc, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "name");
    json_decref(j);
}

/* ---- products ---- */

static void test_catalog__product_parse_and_show(void **state)
{
    json_t *j = body("{\"name\": \"Mug\", \"category\": \"kitchen\", "
                     "\"price\": {\"amount\": 899, \"currency\": \"GBP\"}, \"safety_stock\": 2}");
    struct product p;
    struct proto_error err = {0};
    json_t *out;

    (void)state;
    assert_int_equal(product_parse(j, "MUG-01", &p, &err), 0);
    assert_string_equal(p.sku, "MUG-01");
    assert_string_equal(p.name, "Mug");
    assert_string_equal(p.category, "kitchen");
    assert_int_equal(p.price_amount, 899);
    assert_string_equal(p.currency, "GBP");
    assert_int_equal(p.safety_stock, 2);
    out = product_to_json(&p);
    assert_json_equals(out, "{\"sku\": \"MUG-01\", \"name\": \"Mug\", \"category\": \"kitchen\", "
                            "\"price\": {\"amount\": 899, \"currency\": \"GBP\"}, "
                            "\"safety_stock\": 2}");
    json_decref(out);
    json_decref(j);
}

static void test_catalog__product_safety_stock_defaults_to_zero(void **state)
{
    json_t *j = body("{\"name\": \"Mug\", \"category\": \"kitchen\", "
                     "\"price\": {\"amount\": 100000000000, \"currency\": \"EUR\"}}");
    struct product p;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(product_parse(j, "MUG-01", &p, &err), 0);
    assert_int_equal(p.safety_stock, 0);
    assert_int_equal(p.price_amount, 100000000000LL);
    json_decref(j);
}

static void test_catalog__product_path_sku_is_an_identifier(void **state)
{
    json_t *j = body("{\"name\": \"Mug\", \"category\": \"kitchen\", "
                     "\"price\": {\"amount\": 899, \"currency\": \"GBP\"}}");
    struct product p;
    struct proto_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        memset(&err, 0, sizeof(err));
        if (product_parse(j, bad_ids[i], &p, &err) != -1) {
            fail_msg("sku \"%s\" was accepted", bad_ids[i]);
        }
        assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "sku");
    }
    assert_int_equal(product_parse(j, repeat('S', 65), &p, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "sku");
    json_decref(j);
}

static void test_catalog__product_category_is_an_identifier(void **state)
{
    char text[4096];
    struct product p;
    struct proto_error err;
    json_t *j;

    (void)state;
    snprintf(text, sizeof(text),
             "{\"name\": \"Mug\", \"category\": \"%s\", "
             "\"price\": {\"amount\": 1, \"currency\": \"GBP\"}}",
             repeat('c', 65));
    j = body(text);
    assert_int_equal(product_parse(j, "MUG-01", &p, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "category");
    json_decref(j);
}

/* ---- movements ---- */

static int parse_one(const char *text, struct movement *m, struct proto_error *err)
{
    json_t *j = body(text);
    int rc = movement_parse(j, m, err);

    json_decref(j);
    return rc;
}

static void test_movement__parse_receipt(void **state)
{
    struct movement m;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(
        parse_one("{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", "
                  "\"quantity\": 10, \"reason\": \"delivery\", "
                  "\"reference\": \"PO-77\"}",
                  &m, &err),
        0);
    assert_string_equal(m.sku, "MUG-01");
    assert_string_equal(m.location, "wh-1");
    assert_int_equal(m.type, MOVE_RECEIPT);
    assert_int_equal(m.quantity, 10);
    assert_string_equal(m.to_location, "");
    assert_int_equal(m.has_as_of, 0);
    assert_string_equal(m.reason, "delivery");
    assert_string_equal(m.reference, "PO-77");
}

static void test_movement__every_type_by_name(void **state)
{
    static const char *const names[] = {"receipt",    "sale",  "return",
                                        "adjustment", "count", "transfer"};
    char text[256];
    struct movement m;
    struct proto_error err = {0};

    (void)state;
    for (int t = MOVE_RECEIPT; t <= MOVE_TRANSFER; t++) {
        assert_string_equal(movement_type_name((enum movement_type)t), names[t]);
        snprintf(text, sizeof(text),
                 "{\"sku\": \"S\", \"location\": \"L1\", \"type\": \"%s\", \"quantity\": 3%s}",
                 names[t], t == MOVE_TRANSFER ? ", \"to_location\": \"L2\"" : "");
        if (parse_one(text, &m, &err) != 0) {
            fail_msg("%s refused: %s", names[t], err.detail);
        }
        assert_int_equal(m.type, t);
        assert_int_equal(m.quantity, 3);
    }
}

static void test_movement__adjustment_is_signed_but_not_zero(void **state)
{
    struct movement m;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(parse_one("{\"sku\": \"S\", \"location\": \"L\", \"type\": \"adjustment\", "
                               "\"quantity\": -1000000000}",
                               &m, &err),
                     0);
    assert_int_equal(m.quantity, -1000000000LL);
    assert_int_equal(parse_one("{\"sku\": \"S\", \"location\": \"L\", \"type\": \"adjustment\", "
                               "\"quantity\": 0}",
                               &m, &err),
                     -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "quantity");
}

static void test_movement__count_zero_with_as_of(void **state)
{
    struct movement m;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(parse_one("{\"sku\": \"S\", \"location\": \"L\", \"type\": \"count\", "
                               "\"quantity\": 0, \"as_of\": \"2026-11-22T10:00:00.250+01:00\"}",
                               &m, &err),
                     0);
    assert_int_equal(m.quantity, 0);
    assert_int_equal(m.has_as_of, 1);
    assert_int_equal(m.as_of_ms, 1795338000250LL);

    assert_int_equal(parse_one("{\"sku\": \"S\", \"location\": \"L\", \"type\": \"count\", "
                               "\"quantity\": 5}",
                               &m, &err),
                     0);
    assert_int_equal(m.has_as_of, 0);
}

static void test_movement__as_of_only_on_counts(void **state)
{
    static const char *const types[] = {"receipt", "sale", "return", "adjustment"};
    char text[256];
    struct movement m;
    struct proto_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        snprintf(text, sizeof(text),
                 "{\"sku\": \"S\", \"location\": \"L\", \"type\": \"%s\", \"quantity\": 1, "
                 "\"as_of\": \"2026-11-22T10:00:00Z\"}",
                 types[i]);
        memset(&err, 0, sizeof(err));
        assert_int_equal(parse_one(text, &m, &err), -1);
        assert_problem(&err, PROBLEM_INVALID_FIELD, "as_of");
    }
}

static void test_movement__transfer_needs_another_location(void **state)
{
    struct movement m;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(parse_one("{\"sku\": \"S\", \"location\": \"wh-1\", \"type\": \"transfer\", "
                               "\"quantity\": 4, \"to_location\": \"store-leeds\"}",
                               &m, &err),
                     0);
    assert_string_equal(m.to_location, "store-leeds");
    assert_int_equal(parse_one("{\"sku\": \"S\", \"location\": \"wh-1\", \"type\": \"transfer\", "
                               "\"quantity\": 4, \"to_location\": \"wh-1\"}",
                               &m, &err),
                     -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "to_location");
    /* Identifiers are case-sensitive, so "WH-1" is another location. */
    assert_int_equal(parse_one("{\"sku\": \"S\", \"location\": \"wh-1\", \"type\": \"transfer\", "
                               "\"quantity\": 4, \"to_location\": \"WH-1\"}",
                               &m, &err),
                     0);
}

static void test_movement__identifiers_of_65_chars_refused(void **state)
{
    char text[4096];
    struct movement m;
    struct proto_error err;

    (void)state;
    snprintf(text, sizeof(text),
             "{\"sku\": \"S\", \"location\": \"%s\", \"type\": \"sale\", \"quantity\": 1}",
             repeat('L', 65));
    assert_int_equal(parse_one(text, &m, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "location");
}

static void test_movement__non_object_refused(void **state)
{
    json_t *arr = json_array();
    struct movement m;
    struct proto_error err;

    (void)state;
    assert_int_equal(movement_parse(arr, &m, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "");
    json_decref(arr);
}

static void test_movement__single_body_is_a_batch_of_one(void **state)
{
    json_t *j = body("{\"sku\": \"S\", \"location\": \"L\", \"type\": \"sale\", \"quantity\": 2}");
    struct movement_batch b;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(movement_batch_parse(j, &b, &err), 0);
    assert_int_equal(b.is_batch, 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.items[0].ok, 1);
    assert_int_equal(b.items[0].m.type, MOVE_SALE);
    movement_batch_release(&b);
    assert_null(b.items);
    movement_batch_release(&b); /* releasing twice is harmless */
    movement_batch_release(NULL);
    json_decref(j);
}

static void test_movement__bad_single_body_fails_whole(void **state)
{
    json_t *j = body("{\"sku\": \"S\", \"location\": \"L\", \"type\": \"sale\", \"quantity\": 0}");
    struct movement_batch b;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(movement_batch_parse(j, &b, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "quantity");
    assert_null(b.items);
    assert_int_equal(b.n, 0);
    movement_batch_release(&b);
    json_decref(j);
}

static void test_movement__batch_answers_each_item(void **state)
{
    json_t *j =
        body("{\"movements\": ["
             "{\"sku\": \"S\", \"location\": \"L\", \"type\": \"receipt\", \"quantity\": 5},"
             "{\"sku\": \"S\", \"location\": \"L\", \"type\": \"receipt\", \"quantity\": 1.0},"
             "42,"
             "{\"sku\": \"S\", \"location\": \"L\", \"type\": \"sale\", \"quantity\": 1},"
             "{\"sku\": \"S\", \"location\": \"L\", \"type\": \"count\", \"quantity\": 1, "
             "\"as_of\": \"yesterday\"},"
             "{\"sku\": \"a b\", \"location\": \"L\", \"type\": \"sale\", \"quantity\": 1},"
             "{\"sku\": \"S\", \"location\": \"L\", \"type\": \"sale\", \"quantity\": 1, "
             "\"colour\": \"red\"},"
             "[],"
             "{\"sku\": \"S\", \"location\": \"L\", \"type\": \"transfer\", \"quantity\": 1, "
             "\"to_location\": \"L\"}"
             "]}");
    struct movement_batch b;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(movement_batch_parse(j, &b, &err), 0);
    assert_int_equal(b.is_batch, 1);
    assert_int_equal(b.n, 9);
    assert_int_equal(b.items[0].ok, 1);
    assert_int_equal(b.items[0].m.quantity, 5);
    assert_int_equal(b.items[1].ok, 0);
    assert_problem(&b.items[1].err, PROBLEM_INVALID_FIELD, "movements[1].quantity");
    assert_non_null(strstr(b.items[1].err.detail, "movements[1].quantity"));
    assert_int_equal(b.items[2].ok, 0);
    assert_problem(&b.items[2].err, PROBLEM_INVALID_FIELD, "movements[2]");
    assert_int_equal(b.items[3].ok, 1);
    assert_int_equal(b.items[3].m.type, MOVE_SALE);
    assert_int_equal(b.items[4].ok, 0);
    assert_problem(&b.items[4].err, PROBLEM_INVALID_FIELD, "movements[4].as_of");
    assert_int_equal(b.items[5].ok, 0);
    assert_problem(&b.items[5].err, PROBLEM_INVALID_IDENTIFIER, "movements[5].sku");
    assert_int_equal(b.items[6].ok, 0);
    assert_problem(&b.items[6].err, PROBLEM_INVALID_FIELD, "movements[6].colour");
    assert_int_equal(b.items[7].ok, 0);
    assert_problem(&b.items[7].err, PROBLEM_INVALID_FIELD, "movements[7]");
    assert_int_equal(b.items[8].ok, 0);
    assert_problem(&b.items[8].err, PROBLEM_INVALID_FIELD, "movements[8].to_location");
    movement_batch_release(&b);
    json_decref(j);
}

static json_t *batch_of(size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i}", "sku", "S", "location", "L",
                                             "type", "receipt", "quantity", (int)i + 1));
    }
    return json_pack("{s:o}", "movements", arr);
}

static void test_movement__batch_of_1000_accepted(void **state)
{
    json_t *j = batch_of(MOVEMENT_BATCH_MAX);
    struct movement_batch b;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(movement_batch_parse(j, &b, &err), 0);
    assert_int_equal(b.n, 1000);
    for (size_t i = 0; i < b.n; i++) {
        assert_int_equal(b.items[i].ok, 1);
        assert_int_equal(b.items[i].m.quantity, (long long)i + 1);
    }
    movement_batch_release(&b);
    json_decref(j);
}

static void test_movement__batch_of_1001_refused(void **state)
{
    json_t *j = batch_of(MOVEMENT_BATCH_MAX + 1);
    struct movement_batch b;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(movement_batch_parse(j, &b, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "movements");
    assert_null(b.items);
    json_decref(j);
}

static void test_movement__batch_item_fields_fit(void **state)
{
    /* The longest name a batch can produce still fits in proto_error.field. */
    json_t *j = batch_of(MOVEMENT_BATCH_MAX);
    json_t *last = json_array_get(json_object_get(j, "movements"), 999);
    struct movement_batch b;
    struct proto_error err = {0};

    (void)state;
    json_object_set_new(last, "type", json_string("transfer"));
    json_object_set_new(last, "to_location", json_string("L"));
    assert_int_equal(movement_batch_parse(j, &b, &err), 0);
    assert_problem(&b.items[999].err, PROBLEM_INVALID_FIELD, "movements[999].to_location");
    movement_batch_release(&b);
    json_decref(j);
}

/* ---- stock queries ---- */

static void test_movement__stock_query_parse(void **state)
{
    json_t *j = body("{\"skus\": [\"MUG-01\", \"COASTER-4\", \"MUG-01\"], \"channel\": "
                     "\"click_collect\", \"location\": \"store-leeds\"}");
    struct stock_query q;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(stock_query_parse(j, &q, &err), 0);
    assert_int_equal(q.channel, CHANNEL_CLICK_COLLECT);
    assert_string_equal(q.location, "store-leeds");
    assert_int_equal(q.n, 3); /* request order, repeats kept */
    assert_string_equal(q.skus[0], "MUG-01");
    assert_string_equal(q.skus[1], "COASTER-4");
    assert_string_equal(q.skus[2], "MUG-01");
    stock_query_release(&q);
    assert_null(q.skus);
    stock_query_release(&q);
    stock_query_release(NULL);
    json_decref(j);
}

static void test_movement__stock_query_location_is_optional(void **state)
{
    json_t *j = body("{\"channel\": \"web\", \"skus\": [\"A\"]}");
    struct stock_query q;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(stock_query_parse(j, &q, &err), 0);
    assert_int_equal(q.channel, CHANNEL_WEB);
    assert_string_equal(q.location, "");
    assert_int_equal(q.n, 1);
    stock_query_release(&q);
    json_decref(j);
}

static json_t *query_of(size_t n)
{
    json_t *skus = json_array();
    char sku[32];

    for (size_t i = 0; i < n; i++) {
        snprintf(sku, sizeof(sku), "SKU-%zu", i);
        json_array_append_new(skus, json_string(sku));
    }
    return json_pack("{s:o, s:s}", "skus", skus, "channel", "store");
}

static void test_movement__stock_query_500_skus_accepted_501_refused(void **state)
{
    json_t *ok = query_of(STOCK_QUERY_MAX);
    json_t *bad = query_of(STOCK_QUERY_MAX + 1);
    struct stock_query q;
    struct proto_error err = {0};

    (void)state;
    assert_int_equal(stock_query_parse(ok, &q, &err), 0);
    assert_int_equal(q.n, 500);
    assert_string_equal(q.skus[499], "SKU-499");
    stock_query_release(&q);
    assert_int_equal(stock_query_parse(bad, &q, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_FIELD, "skus");
    assert_null(q.skus);
    json_decref(ok);
    json_decref(bad);
}

static void test_movement__stock_query_bad_sku_named_by_index(void **state)
{
    json_t *j = query_of(300);
    struct stock_query q;
    struct proto_error err = {0};

    (void)state;
    json_array_set_new(json_object_get(j, "skus"), 250, json_string(repeat('x', 65)));
    assert_int_equal(stock_query_parse(j, &q, &err), -1);
    assert_problem(&err, PROBLEM_INVALID_IDENTIFIER, "skus[250]");
    assert_null(q.skus);
    json_decref(j);
}

/* ---- data-driven cases: tests/data/proto/<codec>/<case>.case ---- */

static int run_codec(const char *codec, json_t *j, struct proto_error *err)
{
    int rc = -1;

    if (strcmp(codec, "location") == 0) {
        struct location loc;
        rc = location_parse(j, "wh-1", &loc, err);
    } else if (strcmp(codec, "product") == 0) {
        struct product p;
        rc = product_parse(j, "MUG-01", &p, err);
    } else if (strcmp(codec, "movement") == 0) {
        struct movement_batch b;
        rc = movement_batch_parse(j, &b, err);
        for (size_t i = 0; rc == 0 && i < b.n; i++) {
            if (!b.items[i].ok) {
                *err = b.items[i].err; /* a batch case expects every item good */
                rc = -1;
            }
        }
        movement_batch_release(&b);
    } else if (strcmp(codec, "stock_query") == 0) {
        struct stock_query q;
        rc = stock_query_parse(j, &q, err);
        stock_query_release(&q);
    } else {
        fail_msg("unknown codec directory %s", codec);
    }
    return rc;
}

static void test_proto__data_cases(void **state)
{
    static const char *const codecs[] = {"location", "product", "movement", "stock_query"};

    (void)state;
    case_files_run(codecs, sizeof(codecs) / sizeof(codecs[0]), run_codec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_problem__statuses_follow_the_contract),
        cmocka_unit_test(test_problem__slugs_are_the_contract_codes),
        cmocka_unit_test(test_problem__slug_round_trips),
        cmocka_unit_test(test_problem__titles_are_short_sentences),
        cmocka_unit_test(test_problem__unknown_code_is_internal),
        cmocka_unit_test(test_proto__error_set_fills_and_returns_minus_one),
        cmocka_unit_test(test_proto__error_set_truncates_long_text),
        cmocka_unit_test(test_proto__error_text_stays_valid_utf8),
        cmocka_unit_test(test_proto__error_prefix_nests_field_and_detail),
        cmocka_unit_test(test_proto__id_valid_accepts_the_alphabet),
        cmocka_unit_test(test_proto__id_valid_rejects_everything_else),
        cmocka_unit_test(test_proto__json_load_accepts_an_object),
        cmocka_unit_test(test_proto__json_load_uses_only_len_bytes),
        cmocka_unit_test(test_proto__json_load_rejects_empty_and_non_objects),
        cmocka_unit_test(test_proto__json_load_rejects_bad_syntax),
        cmocka_unit_test(test_proto__json_load_rejects_duplicate_keys),
        cmocka_unit_test(test_proto__json_load_rejects_bad_utf8_and_nul),
        cmocka_unit_test(test_proto__json_load_detail_gives_position),
        cmocka_unit_test(test_proto__json_load_rejects_huge_integers),
        cmocka_unit_test(test_proto__json_load_detail_is_valid_utf8),
        cmocka_unit_test(test_proto__channel_names_round_trip),
        cmocka_unit_test(test_proto__channel_parse_rejects_unknown),
        cmocka_unit_test(test_proto__time_parse_accepts_rfc3339),
        cmocka_unit_test(test_proto__time_parse_rejects_the_rest),
        cmocka_unit_test(test_proto__time_parse_leap_years),
        cmocka_unit_test(test_proto__time_format_is_utc_with_millis),
        cmocka_unit_test(test_proto__time_format_round_trips),
        cmocka_unit_test(test_proto__get_int_reads_integers_in_range),
        cmocka_unit_test(test_proto__get_int_refuses_non_integers),
        cmocka_unit_test(test_proto__get_int_refuses_out_of_range),
        cmocka_unit_test(test_proto__get_string_reads_and_bounds_bytes),
        cmocka_unit_test(test_proto__get_string_refuses_embedded_nul),
        cmocka_unit_test(test_proto__get_id_names_the_field),
        cmocka_unit_test(test_proto__check_fields_names_the_unknown_key),
        cmocka_unit_test(test_proto__parse_uint_accepts_digits_in_range),
        cmocka_unit_test(test_proto__parse_uint_refuses_the_rest),
        cmocka_unit_test(test_proto__parse_bool),
        cmocka_unit_test(test_catalog__location_parse_store),
        cmocka_unit_test(test_catalog__location_parse_warehouse_defaults),
        cmocka_unit_test(test_catalog__location_fulfils_nothing),
        cmocka_unit_test(test_catalog__location_path_id_is_an_identifier),
        cmocka_unit_test(test_catalog__location_name_counts_bytes),
        cmocka_unit_test(test_catalog__product_parse_and_show),
        cmocka_unit_test(test_catalog__product_safety_stock_defaults_to_zero),
        cmocka_unit_test(test_catalog__product_path_sku_is_an_identifier),
        cmocka_unit_test(test_catalog__product_category_is_an_identifier),
        cmocka_unit_test(test_movement__parse_receipt),
        cmocka_unit_test(test_movement__every_type_by_name),
        cmocka_unit_test(test_movement__adjustment_is_signed_but_not_zero),
        cmocka_unit_test(test_movement__count_zero_with_as_of),
        cmocka_unit_test(test_movement__as_of_only_on_counts),
        cmocka_unit_test(test_movement__transfer_needs_another_location),
        cmocka_unit_test(test_movement__identifiers_of_65_chars_refused),
        cmocka_unit_test(test_movement__non_object_refused),
        cmocka_unit_test(test_movement__single_body_is_a_batch_of_one),
        cmocka_unit_test(test_movement__bad_single_body_fails_whole),
        cmocka_unit_test(test_movement__batch_answers_each_item),
        cmocka_unit_test(test_movement__batch_of_1000_accepted),
        cmocka_unit_test(test_movement__batch_of_1001_refused),
        cmocka_unit_test(test_movement__batch_item_fields_fit),
        cmocka_unit_test(test_movement__stock_query_parse),
        cmocka_unit_test(test_movement__stock_query_location_is_optional),
        cmocka_unit_test(test_movement__stock_query_500_skus_accepted_501_refused),
        cmocka_unit_test(test_movement__stock_query_bad_sku_named_by_index),
        cmocka_unit_test(test_proto__data_cases),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
