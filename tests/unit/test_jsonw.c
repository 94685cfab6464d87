/*
 * test_jsonw.c - the JSON writer of the hot answers: what it writes is
 * what jansson writes for the same value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "common/jsonw.h"

/* What @w wrote, once done, as a string (freed by the caller). */
static char *written(struct jsonw *w)
{
    struct evbuffer *buf = w->out;
    size_t n;

    assert_int_equal(jw_done(w), 0);
    n = evbuffer_get_length(buf);
    char *s = malloc(n + 1);

    assert_non_null(s);
    evbuffer_remove(buf, s, n);
    s[n] = '\0';
    return s;
}

/* The text jansson dumps for @v (stolen), as the daemon dumps its answers. */
static char *dumped(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    json_decref(v);
    return s;
}

static void test_jsonw__nesting_and_commas_match_jansson(void **state)
{
    struct evbuffer *buf = evbuffer_new();
    struct jsonw w;
    char *got, *want;

    (void)state;
    jw_init(&w, buf);
    jw_object(&w);
    jw_key(&w, "sku");
    jw_string(&w, "MUG-01");
    jw_key(&w, "empty");
    jw_object(&w);
    jw_object_end(&w);
    jw_key(&w, "none");
    jw_array(&w);
    jw_array_end(&w);
    jw_key(&w, "items");
    jw_array(&w);
    for (int i = 0; i < 3; i++) {
        jw_object(&w);
        jw_key(&w, "n");
        jw_int(&w, i);
        jw_key(&w, "odd");
        jw_bool(&w, i % 2);
        jw_object_end(&w);
    }
    jw_array(&w);
    jw_int(&w, 7);
    jw_array_end(&w);
    jw_array_end(&w);
    jw_object_end(&w);
    got = written(&w);
    want = dumped(json_pack("{s:s, s:{}, s:[], s:[{s:i, s:b}, {s:i, s:b}, {s:i, s:b}, [i]]}", "sku",
                            "MUG-01", "empty", "none", "items", "n", 0, "odd", 0, "n", 1, "odd", 1,
                            "n", 2, "odd", 0, 7));
    assert_string_equal(got, want);
    free(got);
    free(want);
    evbuffer_free(buf);
}

static void test_jsonw__integers_at_their_limits(void **state)
{
    static const long long values[] = {0, 1, -1, 9, 10, -10, 1234567890123LL, LLONG_MAX, LLONG_MIN};
    struct evbuffer *buf = evbuffer_new();
    struct jsonw w;

    (void)state;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char *got, *want;
        jw_init(&w, buf);
        jw_int(&w, values[i]);
        got = written(&w);
        want = dumped(json_integer(values[i]));
        assert_string_equal(got, want);
        free(got);
        free(want);
    }
    evbuffer_free(buf);
}

static void test_jsonw__strings_are_escaped_and_parse_back(void **state)
{
    static const char *const strings[] = {
        "",
        "plain",
        "quote \" and backslash \\",
        "line\nfeed\ttab\rreturn",
        "\x01\x1f bell\x07",
        "slash / stays",
        "caf\xc3\xa9 \xe2\x82\xac",
    };
    struct evbuffer *buf = evbuffer_new();
    struct jsonw w;

    (void)state;
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        json_error_t err;
        char *got;
        json_t *back;
        jw_init(&w, buf);
        jw_object(&w);
        jw_key(&w, strings[i]);
        jw_string(&w, strings[i]);
        jw_object_end(&w);
        got = written(&w);
        back = json_loads(got, 0, &err);
        if (back == NULL)
            fail_msg("%s does not parse: %s", got, err.text);
        assert_string_equal(json_string_value(json_object_get(back, strings[i])), strings[i]);
        json_decref(back);
        free(got);
    }
    evbuffer_free(buf);
}

static void test_jsonw__answers_longer_than_the_writers_buffer_come_out_whole(void **state)
{
    struct evbuffer *buf = evbuffer_new();
    json_t *want = json_array(), *back;
    char long_string[5000];
    struct jsonw w;
    char *got;

    (void)state;
    memset(long_string, 'x', sizeof(long_string) - 1);
    long_string[sizeof(long_string) - 1] = '\0';
    jw_init(&w, buf);
    jw_array(&w);
    for (int i = 0; i < 2000; i++) {
        jw_int(&w, i);
        json_array_append_new(want, json_integer(i));
    }
    jw_string(&w, long_string);
    json_array_append_new(want, json_string(long_string));
    jw_array_end(&w);
    got = written(&w);
    back = json_loads(got, 0, NULL);
    assert_non_null(back);
    assert_true(json_equal(back, want));
    json_decref(back);
    json_decref(want);
    free(got);
    evbuffer_free(buf);
}

/*
 * Digits go two at a time: every number to 10,000, and each side of every
 * power of ten, either sign, comes out as printf writes it.
 */
static void test_jsonw__integers_written_two_digits_at_a_time_match_printf(void **state)
{
    struct evbuffer *buf = evbuffer_new();
    long long values[10001 + 19 * 6];
    size_t n = 0;
    struct jsonw w;
    char want[32];

    (void)state;
    for (long long v = 0; v <= 10000; v++)
        values[n++] = v;
    for (long long p = 10; p <= LLONG_MAX / 10; p *= 10)
        for (long long d = -1; d <= 1; d++) {
            values[n++] = p + d;
            values[n++] = -(p + d);
        }
    for (size_t i = 0; i < n; i++) {
        char *got;
        jw_init(&w, buf);
        jw_int(&w, values[i]);
        got = written(&w);
        snprintf(want, sizeof(want), "%lld", values[i]);
        assert_string_equal(got, want);
        free(got);
    }
    evbuffer_free(buf);
}

/* {"filler": @filler, then @id: @id and "n" three times}, the ids written @plain or scanned. */
static char *ids_after(struct evbuffer *buf, const char *filler, const char *id, size_t len,
                       int plain)
{
    struct jsonw w;

    jw_init(&w, buf);
    jw_object(&w);
    jw_name(&w, "filler");
    jw_string(&w, filler);
    for (int k = 0; k < 3; k++) {
        if (plain) {
            jw_key_plain(&w, id, len);
            jw_string_plain(&w, id, len);
        } else {
            jw_key(&w, id);
            jw_string(&w, id);
        }
        jw_name(&w, "n");
        jw_int(&w, k);
    }
    jw_object_end(&w);
    return written(&w);
}

/*
 * An identifier given to jw_key_plain and jw_string_plain writes what jw_key
 * and jw_string write for it, also where it straddles the end of the
 * writer's buffer.
 */
static void test_jsonw__plain_identifiers_match_jw_key_and_jw_string(void **state)
{
    struct evbuffer *buf = evbuffer_new();
    char id[65];

    (void)state;
    for (size_t len = 1; len < sizeof(id); len += 7) {
        for (size_t i = 0; i < len; i++)
            id[i] = "st-01_WH.9"[i % 10];
        id[len] = '\0';
        /* Fill the buffer to just short of its end, then write the id several times across it. */
        for (size_t lead = sizeof(((struct jsonw *)0)->pending) - 80;
             lead < sizeof(((struct jsonw *)0)->pending); lead += 13) {
            char *plain, *scanned, filler[2048];

            memset(filler, 'f', lead - 12);
            filler[lead - 12] = '\0';
            plain = ids_after(buf, filler, id, len, 1);
            scanned = ids_after(buf, filler, id, len, 0);
            assert_string_equal(plain, scanned);
            free(plain);
            free(scanned);
        }
    }
    evbuffer_free(buf);
}

/* A name given to jw_name writes what jw_key writes for it. */
static void test_jsonw__names_quoted_by_the_compiler_match_jw_key(void **state)
{
    struct evbuffer *buf = evbuffer_new();
    struct jsonw w;
    char *by_name, *by_key;

    (void)state;
    jw_init(&w, buf);
    jw_object(&w);
    jw_name(&w, "on_hand");
    jw_int(&w, 3);
    jw_name(&w, "channels");
    jw_object(&w);
    jw_name(&w, "web");
    jw_int(&w, -1);
    jw_object_end(&w);
    jw_object_end(&w);
    by_name = written(&w);
    jw_init(&w, buf);
    jw_object(&w);
    jw_key(&w, "on_hand");
    jw_int(&w, 3);
    jw_key(&w, "channels");
    jw_object(&w);
    jw_key(&w, "web");
    jw_int(&w, -1);
    jw_object_end(&w);
    jw_object_end(&w);
    by_key = written(&w);
    assert_string_equal(by_name, by_key);
    assert_string_equal(by_name, "{\"on_hand\":3,\"channels\":{\"web\":-1}}");
    free(by_name);
    free(by_key);
    evbuffer_free(buf);
}

/*
 * Strings of every length around the writer's buffer, with escapes at every
 * place, some straddling its end: each comes out whole and parses back.
 */
static void test_jsonw__escapes_across_the_writers_buffer_parse_back(void **state)
{
    static const char specials[] = {'"', '\\', '\n', '\x01', 'a'};
    struct evbuffer *buf = evbuffer_new();
    char s[3 * sizeof(((struct jsonw *)0)->pending)];

    (void)state;
    for (size_t len = sizeof(((struct jsonw *)0)->pending) - 8; len < sizeof(s) - 1; len += 331) {
        json_t *back;
        struct jsonw w;
        char *got;

        for (size_t i = 0; i < len; i++)
            s[i] = i % 7 == 0 ? specials[(i / 7) % sizeof(specials)] : (char)('b' + i % 20);
        s[len] = '\0';
        jw_init(&w, buf);
        jw_object(&w);
        jw_name(&w, "length");
        jw_int(&w, (long long)len);
        jw_key(&w, s);
        jw_string(&w, s);
        jw_object_end(&w);
        got = written(&w);
        back = json_loads(got, 0, NULL);
        assert_non_null(back);
        assert_int_equal(json_integer_value(json_object_get(back, "length")), (json_int_t)len);
        assert_string_equal(json_string_value(json_object_get(back, s)), s);
        json_decref(back);
        free(got);
    }
    evbuffer_free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonw__nesting_and_commas_match_jansson),
        cmocka_unit_test(test_jsonw__integers_at_their_limits),
        cmocka_unit_test(test_jsonw__integers_written_two_digits_at_a_time_match_printf),
        cmocka_unit_test(test_jsonw__plain_identifiers_match_jw_key_and_jw_string),
        cmocka_unit_test(test_jsonw__strings_are_escaped_and_parse_back),
        cmocka_unit_test(test_jsonw__answers_longer_than_the_writers_buffer_come_out_whole),
        cmocka_unit_test(test_jsonw__names_quoted_by_the_compiler_match_jw_key),
        cmocka_unit_test(test_jsonw__escapes_across_the_writers_buffer_parse_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
