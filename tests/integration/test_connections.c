/*
 * test_connections.c - "limits": max_connections and request_deadline_seconds.
 *
 * Past the cap a new connection is closed at once, unanswered, and counted,
 * while those open go on being served; every way a connection can end gives
 * its place back. A request trickled in a byte at a time is cut off at its
 * deadline, though each byte comes well within request_timeout_seconds; a
 * request being answered (an event stream) has no deadline. An answer larger
 * than the socket takes at once goes out as the client reads it, whole, and
 * its connection serves the next request.
 *
 * Waits below are bounds, polled: nothing asserts how long the daemon took.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/harness/harness.h"

#define CAP        8
#define CAP_CONFIG "{\"limits\": {\"max_connections\": 8, \"request_timeout_seconds\": 120}}"
#define DEADLINE_CONFIG                                                                            \
    "{\"limits\": {\"request_deadline_seconds\": 3, \"request_timeout_seconds\": 120},"            \
    " \"events\": {\"stream_heartbeat_ms\": 300}}"

/*
 * Read one response with a Content-Length from @fd into @out (at most @size
 * bytes, NUL-terminated). @return its status, or 0 when the connection
 * closed or nothing whole came within 10 s.
 */
static int read_response(int fd, char *out, size_t size)
{
    size_t got = 0;

    out[0] = '\0';
    for (int waited = 0; waited < 100;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        const char *end = strstr(out, "\r\n\r\n");
        const char *cl = strcasestr(out, "\r\nContent-Length:");
        ssize_t n;

        if (end != NULL && cl != NULL && cl < end &&
            got >= (size_t)(end + 4 - out) + strtoul(cl + 17, NULL, 10))
            return atoi(out + 9);
        if (poll(&pfd, 1, 100) != 1) {
            waited++;
            continue;
        }
        n = recv(fd, out + got, size - 1 - got, 0);
        if (n <= 0)
            return 0;
        got += (size_t)n;
        out[got] = '\0';
    }
    return 0;
}

/* Whether the daemon closed @fd, waiting up to @ms for it. */
static int peer_closed(int fd, int ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    char b[4096];

    return poll(&pfd, 1, ms) == 1 && recv(fd, b, sizeof(b), 0) <= 0;
}

/* GET @path on the open connection @fd, keeping it open; the status, 0 if none. */
static int keepalive_get(int fd, const char *path, char *out, size_t size)
{
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);

    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        return 0;
    return read_response(fd, out, size);
}

/* The value of metric @name read on the open connection @fd, or -1. */
static double metric_on(int fd, const char *name)
{
    static char text[65536];

    if (keepalive_get(fd, "/metrics", text, sizeof(text)) != 200)
        return -1;
    return harness_metric_value(text, name);
}

/* Wait (up to 10 s) for metric @name to be @want; @return its last value. */
static double await_metric(const struct harness *h, int fd, const char *name, double want)
{
    double v = -1;

    for (int i = 0; i < 100; i++) {
        v = fd >= 0 ? metric_on(fd, name) : harness_metric(h, name);
        if (v == want)
            break;
        usleep(100 * 1000);
    }
    return v;
}

static void test_connections__past_the_cap_new_ones_are_closed_unanswered(void **state)
{
    struct harness *h = harness_start_beside(*state, CAP_CONFIG);
    int idle[CAP - 1], kept, extra;
    char buf[8192];
    ssize_t n;

    assert_non_null(h);
    for (int i = 0; i < CAP - 1; i++) {
        idle[i] = harness_connect(h, NULL);
        assert_true(idle[i] >= 0);
    }
    /* The last place: a kept-alive connection, served (so the others were accepted first). */
    kept = harness_connect(h, NULL);
    assert_true(kept >= 0);
    assert_int_equal(keepalive_get(kept, "/healthz", buf, sizeof(buf)), 200);

    /* One more: closed without an answer, though it sent a whole request. */
    extra = harness_connect(h, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert_true(extra >= 0);
    assert_true(harness_closed_by_daemon(extra, 10));
    close(extra);

    /* Those open are still served, and the numbers say what happened. */
    assert_int_equal(keepalive_get(kept, "/healthz", buf, sizeof(buf)), 200);
    assert_true(metric_on(kept, "omnistock_connections") == CAP);
    assert_true(metric_on(kept, "omnistock_connections_refused_total") == 1);

    /* Places given back are taken again. */
    for (int i = 0; i < 3; i++)
        close(idle[i]);
    assert_true(await_metric(h, kept, "omnistock_connections", CAP - 3) == CAP - 3);
    for (int i = 0; i < 10; i++) {
        struct harness_response *r = harness_get(h, h->keys[HARNESS_AGENT], "/v1/me");

        harness_assert_status(r, 200);
        harness_response_free(r);
    }
    n = recv(kept, buf, sizeof(buf), MSG_DONTWAIT);
    assert_true(n < 0 && errno == EAGAIN); /* nothing unasked for came on the kept one */
    for (int i = 3; i < CAP - 1; i++)
        close(idle[i]);
    close(kept);
    assert_true(await_metric(h, -1, "omnistock_connections", 1) == 1);
    assert_int_equal(harness_stop(h), 0);
}

/* Open an event stream as the admin and read its head; the socket, or -1. */
static int open_stream(const struct harness *h, char *buf, size_t size)
{
    char req[512];
    size_t got = 0;
    int fd;

    snprintf(req, sizeof(req),
             "GET /v1/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
             "Authorization: Bearer %s\r\n\r\n",
             h->keys[HARNESS_ADMIN]);
    fd = harness_connect(h, req);
    buf[0] = '\0';
    while (fd >= 0 && strstr(buf, "\r\n\r\n") == NULL && got + 1 < size) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;

        if (poll(&pfd, 1, 10000) != 1 || (n = recv(fd, buf + got, size - 1 - got, 0)) <= 0) {
            close(fd);
            return -1;
        }
        got += (size_t)n;
        buf[got] = '\0';
    }
    return fd;
}

/* How each round of the test below ends its connection. */
static void end_one_connection(const struct harness *h, int round)
{
    static const char bad[] = "NOT-HTTP\r\n\r\n";
    static const char huge[] = "POST /v1/movements HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               "application/json\r\nContent-Length: 99999999999\r\n\r\n";
    static const char half[] = "GET /v1/stock/MUG-01 HTTP/1.1\r\nHost: x\r\n";
    static const char whole[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    struct harness_response *r;
    struct linger reset = {1, 0};
    char buf[4096];
    int fd;

    harness_context("round %d", round);
    switch (round % 7) {
    case 0: /* an ordinary request, Connection: close */
        r = harness_get(h, h->keys[HARNESS_AGENT], "/v1/me");
        harness_assert_status(r, 200);
        harness_response_free(r);
        return;
    case 1: /* garbage: 400 and closed by the daemon */
        fd = harness_connect(h, bad);
        assert_true(fd >= 0);
        assert_true(harness_closed_by_daemon(fd, 10));
        break;
    case 2: /* a body too large to take: 413 and closed by the daemon */
        fd = harness_connect(h, huge);
        assert_true(fd >= 0);
        assert_true(harness_closed_by_daemon(fd, 10));
        break;
    case 3: /* half a request, then the client hangs up */
        fd = harness_connect(h, half);
        assert_true(fd >= 0);
        break;
    case 4: /* a whole request, then a reset before the answer is read */
        fd = harness_connect(h, whole);
        assert_true(fd >= 0);
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
        break;
    case 5: /* kept alive after its answer, then the client hangs up */
        fd = harness_connect(h, NULL);
        assert_true(fd >= 0);
        assert_int_equal(keepalive_get(fd, "/healthz", buf, sizeof(buf)), 200);
        break;
    default: /* an event stream the client walks away from */
        fd = open_stream(h, buf, sizeof(buf));
        assert_true(fd >= 0);
        assert_non_null(strstr(buf, " 200 "));
        break;
    }
    close(fd);
}

static void test_connections__every_way_of_ending_gives_the_place_back(void **state)
{
    struct harness *h = harness_start_beside(*state, CAP_CONFIG);

    assert_non_null(h);
    /* Far more connections than places: one place kept by mistake, and the cap would close in. */
    for (int round = 0; round < 10 * CAP; round++)
        end_one_connection(h, round);
    harness_context(NULL);
    assert_true(await_metric(h, -1, "omnistock_connections", 1) == 1);
    assert_true(harness_metric(h, "omnistock_connections_refused_total") == 0);
    assert_int_equal(harness_stop(h), 0);
}

static void test_connections__a_trickled_request_is_cut_off_at_its_deadline(void **state)
{
    struct harness *h = harness_start_beside(*state, DEADLINE_CONFIG);
    struct harness_response *r;
    int fd, closed = 0, sent = 0;

    assert_non_null(h);
    fd = harness_connect(h, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    assert_true(fd >= 0);
    /* One byte every 100 ms (the timeout is 120 s): the request is never whole. */
    while (!closed && sent++ < 600)
        closed = send(fd, "a", 1, MSG_NOSIGNAL) != 1 || peer_closed(fd, 100);
    assert_true(closed);
    close(fd);
    assert_true(harness_metric(h, "omnistock_connections_deadline_total") == 1);

    /* Meanwhile and after, everyone else is served. */
    r = harness_get(h, h->keys[HARNESS_AGENT], "/v1/me");
    harness_assert_status(r, 200);
    harness_response_free(r);
    assert_int_equal(harness_stop(h), 0);
}

static void test_connections__a_slow_but_timely_request_is_served(void **state)
{
    static const char body[] = "{\"skus\": [\"MUG-01\"], \"channel\": \"web\"}";
    struct harness *h = harness_start_beside(*state, DEADLINE_CONFIG);
    char req[1024], buf[8192];
    size_t len, piece;
    int fd;

    assert_non_null(h);
    len = (size_t)snprintf(req, sizeof(req),
                           "POST /v1/stock/query HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                           "Authorization: Bearer %s\r\n\r\n%s",
                           strlen(body), h->keys[HARNESS_AGENT], body);
    fd = harness_connect(h, NULL);
    assert_true(fd >= 0);
    /* Six pieces 200 ms apart: slow, but in whole well before the 3 s deadline. */
    piece = len / 6 + 1;
    for (size_t at = 0; at < len; at += piece) {
        size_t n = len - at < piece ? len - at : piece;

        assert_int_equal(send(fd, req + at, n, MSG_NOSIGNAL), (ssize_t)n);
        usleep(200 * 1000);
    }
    assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
    assert_non_null(strstr(buf, "\"MUG-01\""));

    /* Each answer starts the next request's deadline afresh. */
    for (int i = 0; i < 3; i++) {
        usleep(1500 * 1000);
        assert_int_equal(keepalive_get(fd, "/healthz", buf, sizeof(buf)), 200);
    }
    /* Idle past it, the connection is closed. */
    assert_true(harness_closed_by_daemon(fd, 30));
    close(fd);
    assert_int_equal(harness_stop(h), 0);
}

static void test_connections__a_stream_outlives_the_deadline(void **state)
{
    struct harness *h = harness_start_beside(*state, DEADLINE_CONFIG);
    char buf[8192];
    size_t beats = 0;
    int fd;

    assert_non_null(h);
    fd = open_stream(h, buf, sizeof(buf));
    assert_true(fd >= 0);
    assert_non_null(strstr(buf, " 200 "));
    /* Heartbeats every 300 ms go on well past the 3 s deadline. */
    sleep(4);
    for (int i = 0; i < 50 && beats < 3; i++) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;

        if (poll(&pfd, 1, 100) != 1)
            continue;
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        for (const char *p = buf; (p = strstr(p, ": heartbeat\n")) != NULL; p++)
            beats++;
    }
    assert_true(beats >= 3);
    close(fd);
    assert_true(harness_metric(h, "omnistock_connections_deadline_total") == 0);
    assert_int_equal(harness_stop(h), 0);
}

static void test_connections__limits_out_of_range_are_config_errors(void **state)
{
    static const char *const bad[] = {
        "{\"limits\": {\"max_connections\": 0}}",
        "{\"limits\": {\"max_connections\": 1000001}}",
        "{\"limits\": {\"max_connections\": \"many\"}}",
        "{\"limits\": {\"request_deadline_seconds\": 0}}",
        "{\"limits\": {\"request_deadline_seconds\": 3601}}",
        "{\"limits\": {\"idempotency_pending_seconds\": 0}}",
        "{\"limits\": {\"idempotency_pending_seconds\": 3601}}",
    };

    /* The daemon refuses to start (exit 2, one line naming the problem). */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        harness_context("%s", bad[i]);
        assert_null(harness_start_beside(*state, bad[i]));
    }
    harness_context(NULL);
}

/*
 * The daemon writes an answer as soon as it is made; what the socket does not
 * take then goes out as the client reads. A client with a small receive
 * window that waits before reading asks for a page of a thousand events
 * (hundreds of kilobytes): it arrives whole, and the connection then serves
 * its next request.
 */
static void test_connections__a_large_answer_goes_out_as_the_client_reads(void **state)
{
    static const char *const skus[] = {"BIG-01"};
    static char answer[2 * 1024 * 1024], next[4096], get[512];
    struct harness *h = harness_start_beside(*state, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct harness_response *r, *whole;
    int small = 4096, mss = 1024, queued = -1, fd, n;
    const char *body;
    char *batch = malloc(128 * 1024);
    size_t len = 0;

    assert_non_null(h);
    assert_non_null(batch);
    harness_catalogue(h, skus, 1);
    len += (size_t)sprintf(batch, "{\"movements\": [");
    for (int i = 0; i < 1000; i++)
        len += (size_t)sprintf(batch + len,
                               "%s{\"sku\": \"BIG-01\", \"location\": \"wh-1\", \"type\": "
                               "\"receipt\", \"quantity\": 1}",
                               i ? "," : "");
    sprintf(batch + len, "]}");
    r = harness_post_json(h, h->keys[HARNESS_ADMIN], "/v1/movements", batch);
    harness_assert_status(r, 200);
    harness_response_free(r);
    free(batch);
    whole = harness_get(h, h->keys[HARNESS_ADMIN], "/v1/events?sku=BIG-01&limit=1000");
    harness_assert_status(whole, 200);
    assert_int_equal(json_array_size(harness_jget(whole->json, "events")), 1000);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    /* Small segments too: on loopback the daemon's send buffer grows with the segment size. */
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)), 0);
    a.sin_port = htons((uint16_t)h->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    n = snprintf(get, sizeof(get),
                 "GET /v1/events?sku=BIG-01&limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 "Authorization: Bearer %s\r\n\r\n",
                 h->keys[HARNESS_ADMIN]);
    assert_int_equal(send(fd, get, (size_t)n, MSG_NOSIGNAL), n);
    /*
     * Unread for a while: once the answer starts to arrive (a slow daemon, under
     * valgrind, takes longer to make it), a little of it waits here, the rest in
     * the daemon.
     */
    for (int waited = 0; queued <= 0 && waited < h->timeout_ms; waited += 10) {
        usleep(10 * 1000);
        assert_int_equal(ioctl(fd, FIONREAD, &queued), 0);
    }
    usleep(300 * 1000);
    assert_int_equal(ioctl(fd, FIONREAD, &queued), 0);
    assert_true(queued > 0 && (size_t)queued < whole->body_len / 4);
    assert_int_equal(read_response(fd, answer, sizeof(answer)), 200);
    body = strstr(answer, "\r\n\r\n");
    assert_non_null(body);
    assert_int_equal(strlen(body + 4), whole->body_len);
    assert_memory_equal(body + 4, whole->body, whole->body_len);
    assert_int_equal(keepalive_get(fd, "/healthz", next, sizeof(next)), 200);
    close(fd);
    harness_response_free(whole);
    assert_int_equal(harness_stop(h), 0);
}

/* Last: it lowers this process's own hard limit on open files, for good. */
static void test_connections__the_cap_fits_the_open_files_limit(void **state)
{
    struct rlimit rl = {256, 256};
    struct harness *h;

    /* The daemon inherits a hard limit of 256 descriptors, far below 4096 connections. */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    h = harness_start_beside(*state, NULL);
    assert_non_null(h);
    assert_true(harness_metric(h, "omnistock_connections_max") == 256 - 64);
    assert_int_equal(harness_stop(h), 0);
}

/* One Redis (or cluster) for the whole group; each test starts a daemon of its config on it. */
static int group_setup(void **state)
{
    *state = harness_start();
    return *state == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connections__past_the_cap_new_ones_are_closed_unanswered),
        cmocka_unit_test(test_connections__every_way_of_ending_gives_the_place_back),
        cmocka_unit_test(test_connections__a_trickled_request_is_cut_off_at_its_deadline),
        cmocka_unit_test(test_connections__a_slow_but_timely_request_is_served),
        cmocka_unit_test(test_connections__a_stream_outlives_the_deadline),
        cmocka_unit_test(test_connections__limits_out_of_range_are_config_errors),
        cmocka_unit_test(test_connections__a_large_answer_goes_out_as_the_client_reads),
        cmocka_unit_test(test_connections__the_cap_fits_the_open_files_limit),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
