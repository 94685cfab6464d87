/*
 * test_observability.c - what an operator reads: /metrics passes
 * `promtool check metrics` after traffic of every kind and carries the
 * families API.md "Operations" names (present from the start, at 0); the log
 * is one key=value line per event, each request line with the request id the
 * client saw, and never an API key or a Redis password.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness/harness.h"

#ifndef OMNISTOCKD_PATH
#define OMNISTOCKD_PATH "omnistockd"
#endif

#define ADMIN      (h->keys[HARNESS_ADMIN])
#define STOREFRONT (h->keys[HARNESS_STOREFRONT])

/* A key of the right shape that the daemon does not know: it must not be logged either. */
static const char unknown_key[] = "0123456789abcdef0123456789abcdef0123456789abcdef";

static int group_setup(void **state)
{
    struct harness *h = harness_start();

    *state = h;
    return h == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

static void expect(struct harness_response *r, int status)
{
    harness_assert_status(r, status);
    harness_response_free(r);
}

/* sample - the value of the sample "@series " (name and labels, exactly) in @text, or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p += p != NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
    }
    return -1;
}

static const char *const operations_series[] = {
    "omnistock_reservations_total{outcome=\"held\"}",
    "omnistock_reservations_total{outcome=\"insufficient\"}",
    "omnistock_oversell_refused_total",
    "omnistock_recommendation_feedback_total{event=\"shown\"}",
    "omnistock_recommendation_feedback_total{event=\"accepted\"}",
    "omnistock_recommendation_feedback_total{event=\"dismissed\"}",
    "omnistock_redis_errors_total",
    "omnistock_redis_reconnects_total",
};
#define NSERIES (sizeof(operations_series) / sizeof(operations_series[0]))

/* Runs first: a daemon that has served nothing yet already shows every series, at 0. */
static void test_observability__operations_series_exist_from_the_start(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, NULL, "/metrics");

    harness_assert_status(r, 200);
    for (size_t i = 0; i < NSERIES; i++) {
        harness_context("%s", operations_series[i]);
        assert_true(sample(r->body, operations_series[i]) == 0);
    }
    harness_context(NULL);
    harness_response_free(r);
}

/* traffic - one of every kind of thing the metrics count. */
static void traffic(struct harness *h)
{
    static const char basket[] =
        "{\"channel\": \"web\", \"lines\": [{\"sku\": \"MUG-01\", \"quantity\": 3}]}";
    static const char *const events[] = {"shown", "accepted", "dismissed"};
    struct harness_response *r;

    harness_admin_put(h, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    harness_admin_put(h, "/v1/products/MUG-01",
                      "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": {\"amount\": 899, "
                      "\"currency\": \"GBP\"}}");
    harness_admin_put(h, "/v1/products/COASTER-4",
                      "{\"name\": \"Coasters\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "299, \"currency\": \"GBP\"}}");
    expect(harness_post_json(h, ADMIN, "/v1/movements",
                             "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", "
                             "\"quantity\": 4}"),
           201);
    expect(harness_post_json(h, STOREFRONT, "/v1/reservations", basket), 201);
    expect(harness_post_json(h, STOREFRONT, "/v1/reservations", basket), 409); /* oversell */
    expect(harness_get(h, STOREFRONT, "/v1/stock/MUG-01"), 200);
    expect(harness_get(h, STOREFRONT, "/v1/stock/NOPE-1"), 404);
    expect(harness_get(h, STOREFRONT, "/v1/recommendations?sku=MUG-01&channel=web"), 200);
    for (size_t i = 0; i < 3; i++) {
        char body[160];

        snprintf(body, sizeof(body),
                 "{\"event\": \"%s\", \"primary\": \"MUG-01\", \"sku\": \"COASTER-4\"}", events[i]);
        expect(harness_post_json(h, STOREFRONT, "/v1/recommendations/feedback", body), 202);
    }
    expect(harness_get(h, unknown_key, "/v1/stock/MUG-01"), 401);
    expect(harness_get(h, NULL, "/v1/stock/MUG-01"), 401);
    expect(harness_delete(h, STOREFRONT, "/v1/stock/MUG-01"), 405);
    r = harness_http(h, "GET", "/v1/stock/MUG-01?key=abc%20\"quoted\"", STOREFRONT, NULL, NULL, 0);
    harness_response_free(r);
    expect(harness_get(h, NULL, "/readyz"), 200);
    /* an event stream, opened and left after a moment (the client gives up waiting) */
    {
        struct harness view = *h;

        view.timeout_ms = 300;
        harness_response_free(harness_get(&view, STOREFRONT, "/v1/events/stream"));
    }
}

static void test_observability__metrics_pass_promtool(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char path[PATH_MAX], cmd[PATH_MAX + 64], out[4096];
    size_t got;
    FILE *f, *p;
    int status;

    traffic(h);
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        fail_msg("promtool is not installed: deploy/install-deps installs it (Debian package "
                 "prometheus)");
    r = harness_get(h, NULL, "/metrics");
    harness_assert_status(r, 200);
    for (size_t i = 0; i < NSERIES; i++) {
        harness_context("%s after traffic", operations_series[i]);
        assert_true(sample(r->body, operations_series[i]) >= (i < 6 ? 1 : 0));
    }
    harness_context(NULL);
    assert_true(strstr(r->body, "omnistock_http_requests_total{route=\"reservation_create\","
                                "method=\"POST\",status=\"409\"} 1\n") != NULL);
    assert_true(strstr(r->body, "omnistock_http_request_duration_seconds_bucket{route="
                                "\"stock_get\",le=\"+Inf\"}") != NULL);
    assert_true(strstr(r->body, "\nomnistock_event_streams_opened_total 1\n") != NULL);

    snprintf(path, sizeof(path), "%s/metrics.txt", h->dir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(r->body, 1, r->body_len, f), r->body_len);
    fclose(f);
    harness_response_free(r);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = '\0';
    status = pclose(p);
    if (status != 0 || got != 0) {
        fprintf(stderr, "promtool check metrics (wait status %d):\n%s\n", status, out);
        fail_msg("promtool complained about /metrics");
    }
}

static void test_observability__every_answer_has_one_date_of_now(void **state)
{
    struct harness *h = *state;
    const char *paths[] = {"/v1/stock/MUG-01", "/v1/stock/NOPE-404", "/healthz"};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct harness_response *r = harness_get(h, STOREFRONT, paths[i]);
        time_t now = time(NULL), then;
        struct tm tm;
        const char *end;
        size_t dates = 0;

        harness_context("%s", paths[i]);
        for (size_t k = 0; k < r->nheaders; k++)
            dates += strcasecmp(r->headers[k].name, "Date") == 0;
        assert_int_equal(dates, 1);
        memset(&tm, 0, sizeof(tm));
        end = strptime(harness_header(r, "Date"), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        assert_non_null(end);
        assert_int_equal(*end, '\0');
        then = timegm(&tm);
        assert_true(then <= now && now - then <= 5);
        harness_response_free(r);
    }
    harness_context(NULL);
}

/* A value: bare (no space or quote) or quoted (no quote or backslash inside). */
#define LOG_VALUE "([^ \"]*|\"[^\"\\\\]*\")"
#define LOG_LINE                                                                                   \
    "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "                       \
    "level=(debug|info|warn|error) event=[a-z_]+( [a-z_]+=" LOG_VALUE ")*$"

static void test_observability__log_lines_are_key_value_without_secrets(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, STOREFRONT, "/v1/stock/MUG-01");
    char line[4096], want[64];
    const char *id = harness_header(r, "X-Request-Id");
    int lines = 0, found = 0;
    regex_t re;
    FILE *f;

    assert_non_null(id);
    snprintf(want, sizeof(want), " id=%s ", id);
    harness_response_free(r);
    assert_int_equal(regcomp(&re, LOG_LINE, REG_EXTENDED | REG_NOSUB), 0);
    f = fopen(h->log_path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);

        assert_true(n > 0 && line[n - 1] == '\n'); /* one line, not cut */
        line[n - 1] = '\0';
        lines++;
        if (regexec(&re, line, 0, NULL, 0) != 0) {
            fail_msg("not a key=value log line: %s", line);
        }
        if (strstr(line, "event=request ") != NULL &&
            (strstr(line, " id=") == NULL || strstr(line, " route=") == NULL)) {
            fail_msg("a request line without its id or route: %s", line);
        }
        for (int k = 0; k < HARNESS_NROLES; k++) {
            if (strstr(line, h->keys[k]) != NULL) {
                fail_msg("an API key in the log: %s", line);
            }
        }
        if (strstr(line, unknown_key) != NULL) {
            fail_msg("the unknown API key in the log: %s", line);
        }
        found |= strstr(line, want) != NULL;
    }
    fclose(f);
    regfree(&re);
    fprintf(stderr, "log: %d lines checked\n", lines);
    assert_true(lines > 10);
    assert_true(found); /* the id the client got names the line of its request */
}

/* A start-up error about the Redis URL names the URL, but not its password. */
static void test_observability__redis_password_never_printed(void **state)
{
    static const char *const urls[] = {
        "redis://:hunter2-secret@127.0.0.1:99999",
        "redis://ops:hunter2-secret@127.0.0.1:6379/nope",
        "rediss://ops:hunter2-secret@127.0.0.1",
    };
    const char *daemon = getenv("OMNISTOCKD") ? getenv("OMNISTOCKD") : OMNISTOCKD_PATH;

    (void)state;
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        char cmd[PATH_MAX + 256], out[4096];
        size_t got;
        FILE *p;
        int status;

        snprintf(cmd, sizeof(cmd), "'%s' --listen 127.0.0.1:0 --redis '%s' 2>&1", daemon, urls[i]);
        p = popen(cmd, "r");
        assert_non_null(p);
        got = fread(out, 1, sizeof(out) - 1, p);
        out[got] = '\0';
        status = pclose(p);
        harness_context("omnistockd --redis '%s' said: %s", urls[i], out);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2); /* a configuration error */
        assert_non_null(strstr(out, "--redis"));
        assert_null(strstr(out, "hunter2"));
    }
    harness_context(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observability__operations_series_exist_from_the_start),
        cmocka_unit_test(test_observability__metrics_pass_promtool),
        cmocka_unit_test(test_observability__every_answer_has_one_date_of_now),
        cmocka_unit_test(test_observability__log_lines_are_key_value_without_secrets),
        cmocka_unit_test(test_observability__redis_password_never_printed),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
