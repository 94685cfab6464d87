/*
 * test_operations.c - /healthz, /readyz and /metrics as an operator sees
 * them: request counts by route and status that move with the traffic,
 * latency histograms, Redis health counters, and a request id on responses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/harness.h"

#define ADMIN (h->keys[HARNESS_ADMIN])

static int group_setup(void **state)
{
    struct harness *h = harness_start();

    *state = h;
    if (h == NULL) {
        return -1;
    }
    harness_admin_put(h, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* A scrape of /metrics: the sample lines of one family, "name{labels} value". */
struct sample {
    char labels[512];
    double value;
};

#define MAX_SAMPLES 512

static size_t scrape(struct harness *h, const char *family, struct sample *out)
{
    struct harness_response *r = harness_get(h, NULL, "/metrics");
    size_t n = 0, flen = strlen(family);
    const char *p;

    harness_assert_status(r, 200);
    for (p = r->body; p != NULL && *p != '\0' && n < MAX_SAMPLES;
         p = strchr(p, '\n'), p += p != NULL) {
        const char *eol = strchr(p, '\n');
        const char *close;

        if (strncmp(p, family, flen) != 0 || p[flen] != '{') {
            continue;
        }
        close = strstr(p, "} ");
        if (close == NULL || (eol != NULL && close > eol)) {
            continue;
        }
        snprintf(out[n].labels, sizeof(out[n].labels), "%.*s", (int)(close - p - flen - 1),
                 p + flen + 1);
        out[n].value = strtod(close + 2, NULL);
        n++;
    }
    harness_response_free(r);
    return n;
}

static double value_of(const struct sample *s, size_t n, const char *labels)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s[i].labels, labels) == 0) {
            return s[i].value;
        }
    }
    return 0;
}

/*
 * grown - the series of @after that grew by exactly @by since @before and
 * carry @must (a label pair such as status="404"). @return how many.
 */
static int grown(const struct sample *before, size_t nb, const struct sample *after, size_t na,
                 double by, const char *must, char *labels, size_t size)
{
    int count = 0;

    for (size_t i = 0; i < na; i++) {
        if (after[i].value - value_of(before, nb, after[i].labels) == by &&
            strstr(after[i].labels, must) != NULL) {
            snprintf(labels, size, "%s", after[i].labels);
            count++;
        }
    }
    return count;
}

static void test_operations__health_and_readiness(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;

    r = harness_get(h, NULL, "/healthz");
    harness_assert_status(r, 200);
    harness_response_free(r);
    r = harness_get(h, NULL, "/readyz");
    harness_assert_status(r, 200);
    harness_response_free(r);
}

static void test_operations__request_counts_by_route_and_status(void **state)
{
    static struct sample before[MAX_SAMPLES], after[MAX_SAMPLES];
    struct harness *h = *state;
    size_t nb, na;
    char labels[512];

    nb = scrape(h, "omnistock_http_requests_total", before);
    for (int i = 0; i < 3; i++) {
        struct harness_response *r = harness_get(h, ADMIN, "/v1/locations");

        harness_assert_status(r, 200);
        harness_response_free(r);
    }
    for (int i = 0; i < 2; i++) {
        struct harness_response *r = harness_get(h, ADMIN, "/v1/stock/NO-SUCH-SKU-4711");

        harness_assert_status(r, 404);
        harness_response_free(r);
    }
    na = scrape(h, "omnistock_http_requests_total", after);

    /* exactly one series counts the three GET /v1/locations, with method, status and a route */
    assert_int_equal(grown(before, nb, after, na, 3, "status=\"200\"", labels, sizeof(labels)), 1);
    assert_non_null(strstr(labels, "method=\"GET\""));
    assert_non_null(strstr(labels, "route=\""));
    /* and one the two 404s */
    assert_int_equal(grown(before, nb, after, na, 2, "status=\"404\"", labels, sizeof(labels)), 1);
    assert_non_null(strstr(labels, "route=\""));
    /* routes are templates: a SKU from a path never becomes a label */
    for (size_t i = 0; i < na; i++) {
        assert_null(strstr(after[i].labels, "NO-SUCH-SKU-4711"));
    }
}

static void test_operations__latency_histogram_by_route(void **state)
{
    static struct sample buckets[MAX_SAMPLES], counts[MAX_SAMPLES];
    struct harness *h = *state;
    size_t nb = scrape(h, "omnistock_http_request_duration_seconds_bucket", buckets);
    size_t nc = scrape(h, "omnistock_http_request_duration_seconds_count", counts);
    int inf = 0;

    assert_true(nb > 0);
    assert_true(nc > 0);
    for (size_t i = 0; i < nb; i++) {
        assert_non_null(strstr(buckets[i].labels, "route=\""));
        assert_non_null(strstr(buckets[i].labels, "le=\""));
        inf += strstr(buckets[i].labels, "le=\"+Inf\"") != NULL && buckets[i].value > 0;
    }
    assert_true(inf > 0);
}

static void test_operations__redis_health_metrics(void **state)
{
    struct harness *h = *state;
    struct harness_response *r = harness_get(h, NULL, "/metrics");
    const char *ct = harness_header(r, "Content-Type");

    harness_assert_status(r, 200);
    assert_non_null(ct);
    assert_true(strncmp(ct, "text/plain", 10) == 0);
    assert_non_null(strstr(r->body, "\nomnistock_redis_up 1"));
    assert_non_null(strstr(r->body, "\nomnistock_redis_reconnects_total "));
    assert_non_null(strstr(r->body, "\nomnistock_redis_errors_total "));
    assert_non_null(strstr(r->body, "# TYPE omnistock_redis_reconnects_total counter"));
    assert_non_null(strstr(r->body, "# TYPE omnistock_http_requests_total counter"));
    assert_non_null(strstr(r->body, "# TYPE omnistock_http_request_duration_seconds histogram"));
    harness_response_free(r);
}

static void test_operations__every_response_has_a_request_id(void **state)
{
    struct harness *h = *state;
    struct harness_response *a = harness_get(h, ADMIN, "/v1/locations");
    struct harness_response *b = harness_get(h, NULL, "/v1/locations");
    struct harness_response *c = harness_get(h, ADMIN, "/v1/nothing-here");

    assert_non_null(harness_header(a, "X-Request-Id"));
    assert_non_null(harness_header(b, "X-Request-Id"));
    assert_non_null(harness_header(c, "X-Request-Id"));
    assert_string_not_equal(harness_header(a, "X-Request-Id"), harness_header(b, "X-Request-Id"));
    harness_response_free(a);
    harness_response_free(b);
    harness_response_free(c);
}

/* Send @method @path and read the whole answer (the server closes the connection). */
static size_t raw(const struct harness *h, const char *method, const char *path, char *out,
                  size_t max)
{
    char req[512];
    size_t n = 0;
    ssize_t got;
    int fd;

    snprintf(req, sizeof(req),
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
             "Connection: close\r\n\r\n",
             method, path, h->keys[HARNESS_ADMIN]);
    fd = harness_connect(h, req);
    assert_true(fd >= 0);
    while (n + 1 < max && (got = read(fd, out + n, max - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = '\0';
    close(fd);
    return n;
}

static void test_operations__head_answers_the_headers_of_a_get_without_its_body(void **state)
{
    static const char *const paths[] = {"/healthz", "/v1/stock/NO-SUCH-SKU", "/v1/locations",
                                        "/console/", "/v1/events/stream"};
    struct harness *h = *state;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        int stream = strcmp(paths[i], "/v1/events/stream") == 0;
        char answer[8192], want[64], *end;
        int status = 0;

        harness_context("HEAD %s", paths[i]);
        raw(h, "HEAD", paths[i], answer, sizeof(answer));
        end = strstr(answer, "\r\n\r\n");
        assert_non_null(end);
        assert_string_equal(end + 4, ""); /* no body */
        assert_int_equal(sscanf(answer, "HTTP/1.1 %d", &status), 1);
        if (stream) {
            /* Its GET never ends: the HEAD says what it would be, and ends. */
            assert_int_equal(status, 200);
            assert_non_null(strstr(answer, "Content-Type: text/event-stream"));
        } else {
            struct harness_response *get = harness_get(h, h->keys[HARNESS_ADMIN], paths[i]);
            assert_int_equal(status, get->status);
            snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", get->body_len);
            assert_non_null(strstr(answer, want));
            harness_response_free(get);
        }
    }
    harness_context(NULL);
}

/* How many times @answer's headers name @header ("\r\nName:"), and the first value in *@value. */
static int header_count(const char *answer, const char *header, long *value)
{
    const char *end = strstr(answer, "\r\n\r\n"), *at = answer;
    int n = 0;

    while ((at = strcasestr(at, header)) != NULL && end != NULL && at < end) {
        if (n++ == 0)
            *value = strtol(at + strlen(header), NULL, 10);
        at += strlen(header);
    }
    return n;
}

/*
 * Every answer with a body says its length once, and it is the body's length
 * (the daemon writes the header itself, evhttp only when it is missing); an
 * answer that has no body (204) says none.
 */
static void test_operations__an_answer_says_its_length_once(void **state)
{
    static const char *const paths[] = {"/healthz", "/v1/locations", "/v1/stock/NO-SUCH-SKU",
                                        "/v1/no/such/route"};
    struct harness *h = *state;
    char answer[16384];
    const char *end;
    long len = -1;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        harness_context("GET %s", paths[i]);
        raw(h, "GET", paths[i], answer, sizeof(answer));
        end = strstr(answer, "\r\n\r\n");
        assert_non_null(end);
        assert_int_equal(header_count(answer, "\r\nContent-Length:", &len), 1);
        assert_int_equal(len, (long)strlen(end + 4));
        assert_true(len > 0);
    }
    harness_context("DELETE a customer");
    raw(h, "DELETE", "/v1/customers/c-length", answer, sizeof(answer));
    assert_int_equal(strncmp(answer, "HTTP/1.1 204", 12), 0);
    assert_int_equal(header_count(answer, "\r\nContent-Length:", &len), 0);
    end = strstr(answer, "\r\n\r\n");
    assert_non_null(end);
    assert_string_equal(end + 4, "");
    harness_context(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operations__health_and_readiness),
        cmocka_unit_test(test_operations__request_counts_by_route_and_status),
        cmocka_unit_test(test_operations__latency_histogram_by_route),
        cmocka_unit_test(test_operations__redis_health_metrics),
        cmocka_unit_test(test_operations__every_response_has_a_request_id),
        cmocka_unit_test(test_operations__head_answers_the_headers_of_a_get_without_its_body),
        cmocka_unit_test(test_operations__an_answer_says_its_length_once),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
