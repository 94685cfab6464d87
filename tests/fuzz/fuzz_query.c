/*
 * fuzz_query.c - the query-string parsers of proto.c as handlers use them:
 * the input (up to a NUL) is decoded by evhttp_parse_query_str, and every
 * value goes through proto_parse_uint (limit=, after= ranges),
 * proto_parse_bool (explain=), proto_time_parse and proto_channel_parse.
 * A time that parses is formatted and parsed again: the same instant.
 */
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "tests/fuzz/fuzz.h"

static void check_value(const char *name, const char *value)
{
    struct proto_error err;
    long long n, ms, again;
    int b;
    char buf[32];

    if (proto_parse_uint(value, name, 1, 1000, &n, &err) < 0) {
        fuzz_check_error(&err);
        FUZZ_CHECK(err.code == PROBLEM_INVALID_QUERY);
    } else {
        FUZZ_CHECK(n >= 1 && n <= 1000);
    }
    if (proto_parse_uint(value, name, 0, 9223372036854775807LL, &n, &err) < 0) {
        fuzz_check_error(&err);
    } else {
        FUZZ_CHECK(n >= 0 && value[0] >= '0' && value[0] <= '9');
    }
    if (proto_parse_bool(value, name, &b, &err) < 0) {
        fuzz_check_error(&err);
    } else {
        FUZZ_CHECK(b == 0 || b == 1);
    }
    if (proto_channel_parse(value) != 0) {
        FUZZ_CHECK(strcmp(proto_channel_name(proto_channel_parse(value)), value) == 0);
    }
    if (proto_time_parse(value, &ms) == 0) {
        proto_time_format(ms, buf);
        FUZZ_CHECK(strlen(buf) == 24);
        /* Inside years 0000..9999 the format is exact to the millisecond. */
        if (ms >= -62167219200000LL && ms < 253402300800000LL) {
            FUZZ_CHECK(proto_time_parse(buf, &again) == 0 && again == ms);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evkeyvalq query;
    struct evkeyval *kv;
    char *s = malloc(size + 1);

    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    check_value("raw", s);
    TAILQ_INIT(&query);
    if (evhttp_parse_query_str(s, &query) == 0) {
        TAILQ_FOREACH(kv, &query, next)
        {
            check_value(kv->key, kv->value);
        }
    }
    evhttp_clear_headers(&query);
    free(s);
    return 0;
}
