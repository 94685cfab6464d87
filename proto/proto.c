/*
 * proto.c - the rules every codec shares: identifiers, integers, strings,
 * unknown keys, channels and RFC 3339 times, and the error struct they fill.
 *
 * A detail that names a field starts with the field's name, so that
 * proto_error_prefix can turn "quantity must be ..." into
 * "movements[2].quantity must be ..." when a codec nests another.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/proto.h"

/* The length of the valid UTF-8 sequence at @s (1..4), or 0 if it is not one. */
static int utf8_sequence(const unsigned char *s)
{
    unsigned char lo = 0x80, hi = 0xBF;
    int n;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        lo = s[0] == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = s[0] == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        lo = s[0] == 0xF0 ? 0x90 : 0x80;
        hi = s[0] == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (int i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

/*
 * Replace each byte that does not start a valid UTF-8 sequence with '?'.
 * Truncating a field or detail can split a character, and jansson's own error
 * text is cut at a fixed length; what we hand back must still be valid UTF-8
 * so that it can go into a JSON problem body.
 */
static void utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p != '\0') {
        int n = utf8_sequence(p);
        if (n == 0) {
            *p++ = '?';
        } else {
            p += n;
        }
    }
}

int proto_error_set(struct proto_error *err, enum problem_code code, const char *field,
                    const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return -1;
    }
    err->code = code;
    snprintf(err->field, sizeof(err->field), "%s", field != NULL ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    utf8_scrub(err->field);
    utf8_scrub(err->detail);
    return -1;
}

void proto_error_prefix(struct proto_error *err, const char *prefix)
{
    char field[2 * sizeof(err->field)]; /* truncated to err->field below */
    char detail[2 * sizeof(err->detail)];
    size_t old_len;

    if (err == NULL || prefix == NULL || prefix[0] == '\0') {
        return;
    }
    old_len = strlen(err->field);
    if (old_len == 0) {
        snprintf(field, sizeof(field), "%s", prefix);
    } else {
        snprintf(field, sizeof(field), "%s.%s", prefix, err->field);
    }
    if (old_len > 0 && strncmp(err->detail, err->field, old_len) == 0 &&
        err->detail[old_len] == ' ') {
        snprintf(detail, sizeof(detail), "%s%s", field, err->detail + old_len);
        snprintf(err->detail, sizeof(err->detail), "%.*s", (int)sizeof(err->detail) - 1, detail);
    }
    snprintf(err->field, sizeof(err->field), "%.*s", (int)sizeof(err->field) - 1, field);
    utf8_scrub(err->field);
    utf8_scrub(err->detail);
}

static int id_char_valid(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

int proto_id_valid(const char *s)
{
    size_t i;

    if (s == NULL) {
        return 0;
    }
    for (i = 0; s[i] != '\0'; i++) {
        if (i >= PROTO_ID_MAX || !id_char_valid((unsigned char)s[i])) {
            return 0;
        }
    }
    return i > 0;
}

json_t *proto_json_load(const char *buf, size_t len, struct proto_error *err)
{
    json_error_t jerr;
    json_t *root;

    if (buf == NULL || len == 0) {
        proto_error_set(err, PROBLEM_INVALID_JSON, NULL, "the request body is empty");
        return NULL;
    }
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        proto_error_set(err, PROBLEM_INVALID_JSON, NULL, "%s at line %d, column %d", jerr.text,
                        jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        proto_error_set(err, PROBLEM_INVALID_JSON, NULL, "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

enum channel proto_channel_parse(const char *s)
{
    if (s == NULL) {
        return 0;
    }
    if (strcmp(s, "web") == 0) {
        return CHANNEL_WEB;
    }
    if (strcmp(s, "store") == 0) {
        return CHANNEL_STORE;
    }
    if (strcmp(s, "click_collect") == 0) {
        return CHANNEL_CLICK_COLLECT;
    }
    return 0;
}

const char *proto_channel_name(enum channel c)
{
    switch (c) {
    case CHANNEL_WEB:
        return "web";
    case CHANNEL_STORE:
        return "store";
    case CHANNEL_CLICK_COLLECT:
        return "click_collect";
    }
    return "";
}

/* ---- RFC 3339 times ---- */

#define MS_PER_DAY (86400LL * 1000)

static int is_leap(long long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(long long y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 0000-01-01 to the first of January of year @y (0 <= y). */
static long long days_before_year(long long y)
{
    if (y == 0) {
        return 0;
    }
    /* Year 0 is a leap year; then one in four, less centuries, plus every 400th. */
    return 365 * y + 1 + (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
}

/* Days from 1970-01-01 to @y-@m-@d. */
static long long days_from_civil(long long y, int m, int d)
{
    long long days = days_before_year(y) - days_before_year(1970);

    for (int i = 1; i < m; i++) {
        days += days_in_month(y, i);
    }
    return days + d - 1;
}

/* Read exactly @n decimal digits at *@p, advancing it. @return 0 or -1. */
static int read_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, const char *set)
{
    if (**p == '\0' || strchr(set, **p) == NULL) {
        return -1;
    }
    (*p)++;
    return 0;
}

/* The optional ".digits" fraction, as milliseconds (truncated). */
static int read_fraction(const char **p, int *ms)
{
    int digits = 0;

    *ms = 0;
    if (**p != '.') {
        return 0;
    }
    (*p)++;
    while (**p >= '0' && **p <= '9') {
        if (digits < 3) {
            *ms = *ms * 10 + (**p - '0');
        }
        digits++;
        (*p)++;
    }
    if (digits == 0) {
        return -1;
    }
    for (; digits < 3; digits++) {
        *ms *= 10;
    }
    return 0;
}

/* "Z", "z" or "+HH:MM"/"-HH:MM" as minutes east of UTC. */
static int read_offset(const char **p, int *minutes)
{
    int sign, hh, mm;

    if (**p == 'Z' || **p == 'z') {
        (*p)++;
        *minutes = 0;
        return 0;
    }
    if (**p != '+' && **p != '-') {
        return -1;
    }
    sign = **p == '-' ? -1 : 1;
    (*p)++;
    if (read_digits(p, 2, &hh) < 0 || expect(p, ":") < 0 || read_digits(p, 2, &mm) < 0) {
        return -1;
    }
    if (hh > 23 || mm > 59) {
        return -1;
    }
    *minutes = sign * (hh * 60 + mm);
    return 0;
}

int proto_time_parse(const char *s, long long *ms)
{
    int y, mo, d, h, mi, sec, frac, offset;
    const char *p = s;

    if (s == NULL) {
        return -1;
    }
    if (read_digits(&p, 4, &y) < 0 || expect(&p, "-") < 0 || read_digits(&p, 2, &mo) < 0 ||
        expect(&p, "-") < 0 || read_digits(&p, 2, &d) < 0 || expect(&p, "Tt") < 0 ||
        read_digits(&p, 2, &h) < 0 || expect(&p, ":") < 0 || read_digits(&p, 2, &mi) < 0 ||
        expect(&p, ":") < 0 || read_digits(&p, 2, &sec) < 0 || read_fraction(&p, &frac) < 0 ||
        read_offset(&p, &offset) < 0 || *p != '\0') {
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60) {
        return -1;
    }
    if (sec == 60) {
        sec = 59; /* a leap second: the clock we keep has none */
    }
    if (ms != NULL) {
        long long secs = (long long)h * 3600 + mi * 60 + sec - (long long)offset * 60;
        *ms = days_from_civil(y, mo, d) * MS_PER_DAY + secs * 1000 + frac;
    }
    return 0;
}

/* Write the last @n decimal digits of @v (0 <= v), zero-padded. */
static void put_digits(char *p, long long v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void proto_time_format(long long ms, char buf[32])
{
    long long min_ms = days_from_civil(0, 1, 1) * MS_PER_DAY;
    long long max_ms = days_from_civil(10000, 1, 1) * MS_PER_DAY - 1;
    long long days, rem, y;
    int m = 1;

    if (ms < min_ms) {
        ms = min_ms;
    } else if (ms > max_ms) {
        ms = max_ms;
    }
    days = (ms - min_ms) / MS_PER_DAY; /* days since 0000-01-01, never negative */
    rem = (ms - min_ms) % MS_PER_DAY;
    y = days / 366;
    while (days_before_year(y + 1) <= days) {
        y++;
    }
    days -= days_before_year(y);
    while (days >= days_in_month(y, m)) {
        days -= days_in_month(y, m);
        m++;
    }
    put_digits(buf, y, 4);
    buf[4] = '-';
    put_digits(buf + 5, m, 2);
    buf[7] = '-';
    put_digits(buf + 8, days + 1, 2);
    buf[10] = 'T';
    put_digits(buf + 11, rem / 3600000, 2);
    buf[13] = ':';
    put_digits(buf + 14, rem / 60000 % 60, 2);
    buf[16] = ':';
    put_digits(buf + 17, rem / 1000 % 60, 2);
    buf[19] = '.';
    put_digits(buf + 20, rem % 1000, 3);
    buf[23] = 'Z';
    buf[24] = '\0';
}

/* ---- field readers ---- */

int proto_get_id(json_t *obj, const char *field, int required, char out[PROTO_ID_SIZE],
                 struct proto_error *err)
{
    json_t *v = json_object_get(obj, field);
    const char *s;

    if (v == NULL) {
        if (required) {
            return proto_error_set(err, PROBLEM_INVALID_FIELD, field, "%s is required", field);
        }
        return 1;
    }
    s = json_string_value(v);
    if (s == NULL || strlen(s) != json_string_length(v) || !proto_id_valid(s)) {
        return proto_error_set(err, PROBLEM_INVALID_IDENTIFIER, field,
                               "%s must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' or '-'",
                               field, PROTO_ID_MAX);
    }
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

int proto_get_int(json_t *obj, const char *field, int required, long long min, long long max,
                  long long *out, struct proto_error *err)
{
    json_t *v = json_object_get(obj, field);
    long long n;

    if (v == NULL) {
        if (required) {
            return proto_error_set(err, PROBLEM_INVALID_FIELD, field, "%s is required", field);
        }
        return 1;
    }
    if (!json_is_integer(v)) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, field, "%s must be an integer", field);
    }
    n = json_integer_value(v);
    if (n < min || n > max) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, field,
                               "%s must be an integer from %lld to %lld", field, min, max);
    }
    *out = n;
    return 0;
}

int proto_get_string(json_t *obj, const char *field, int required, size_t max_bytes, char *out,
                     size_t out_size, struct proto_error *err)
{
    json_t *v = json_object_get(obj, field);
    const char *s;
    size_t len;

    if (v == NULL) {
        if (required) {
            return proto_error_set(err, PROBLEM_INVALID_FIELD, field, "%s is required", field);
        }
        return 1;
    }
    s = json_string_value(v);
    if (s == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, field, "%s must be a string", field);
    }
    len = json_string_length(v);
    if (strlen(s) != len) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, field, "%s must not contain NUL", field);
    }
    if (len > max_bytes || len >= out_size) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, field, "%s must be at most %zu bytes",
                               field, max_bytes < out_size ? max_bytes : out_size - 1);
    }
    memcpy(out, s, len + 1);
    return 0;
}

int proto_check_fields(json_t *obj, const char *const *allowed, struct proto_error *err)
{
    const char *key;
    json_t *v;

    if (!json_is_object(obj)) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, NULL, "expected a JSON object");
    }
    json_object_foreach(obj, key, v)
    {
        size_t i;
        for (i = 0; allowed[i] != NULL; i++) {
            if (strcmp(key, allowed[i]) == 0) {
                break;
            }
        }
        if (allowed[i] == NULL) {
            return proto_error_set(err, PROBLEM_INVALID_FIELD, key, "%s is not a known field", key);
        }
    }
    return 0;
}

/* ---- query strings ---- */

int proto_parse_uint(const char *s, const char *name, long long min, long long max, long long *out,
                     struct proto_error *err)
{
    long long n = 0;
    size_t i;

    if (s == NULL || s[0] == '\0') {
        goto bad;
    }
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9') {
            goto bad;
        }
        if (n > (max - (s[i] - '0')) / 10) {
            goto bad; /* would pass max: no need to read further */
        }
        n = n * 10 + (s[i] - '0');
    }
    if (n < min || n > max) {
        goto bad;
    }
    *out = n;
    return 0;
bad:
    return proto_error_set(err, PROBLEM_INVALID_QUERY, name,
                           "%s must be an integer from %lld to %lld", name, min, max);
}

int proto_parse_bool(const char *s, const char *name, int *out, struct proto_error *err)
{
    if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)) {
        *out = 1;
        return 0;
    }
    if (s != NULL && (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)) {
        *out = 0;
        return 0;
    }
    return proto_error_set(err, PROBLEM_INVALID_QUERY, name, "%s must be true or false", name);
}
