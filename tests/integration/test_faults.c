/*
 * test_faults.c - the daemon under the faults DESIGN.md "Reliability" names,
 * each with client threads keeping it busy (loopback only, bounded in time):
 *
 * 1. Redis SIGKILLed under load and restarted (deploy/redis/fast.conf: AOF
 *    with appendfsync everysec): meanwhile every answer is 2xx or a 503
 *    problem+json with Retry-After, never a reset, a hang or a crash; once
 *    Redis is back the daemon serves 2xx again (recovery time printed), and
 *    past the holds' TTL baskets the crash cut short have left nothing held.
 * 2. deploy/redis/durable.conf (appendonly yes, appendfsync always): Redis
 *    SIGKILLed under load and restarted on the same data: every reservation
 *    and movement answered 2xx before the kill is there after it.
 * 3. The daemon SIGKILLed under load and restarted: clients retry with the
 *    same Idempotency-Key until answered, and every operation takes effect
 *    exactly once (on_hand and reserved match the acknowledged operations);
 *    the consistency check is clean.
 * 4. SIGTERM with requests in flight: they are answered, new connections are
 *    refused, the daemon exits 0.
 * 5. Clients that hang up before Redis answers (Redis paused, sleeping, or
 *    stalled past the daemon's Redis timeout): the daemon stays up, answers
 *    the clients that stayed (503 at worst), and (under the Asan build)
 *    exits with nothing leaked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/crc16.h"
#include "tests/harness/harness.h"

#ifndef OMNISTOCK_DEPLOY_DIR
#define OMNISTOCK_DEPLOY_DIR "deploy"
#endif

#define ADMIN      (h->keys[HARNESS_ADMIN])
#define STOREFRONT (h->keys[HARNESS_STOREFRONT])

#define NSKUS        4
#define CLIENTS      8
#define RECOVERY_MS  10000 /* a generous bound, not a target: the observed time is printed */
#define MAX_ACKED    1024  /* per client */
#define BIG_STOCK    1000000
#define HTTP_TIMEOUT 15000 /* long enough to tell a slow answer from a hang */

static char skus[NSKUS][32];

/* ---- helpers ---- */

/* seed - a warehouse, NSKUS products in NSKUS different partitions, @units of each. */
static void seed(struct harness *h, long long units)
{
    unsigned parts[NSKUS];

    harness_admin_put(h, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    for (int s = 0, n = 0; s < NSKUS; n++) {
        int clash = 0;

        snprintf(skus[s], sizeof(skus[s]), "FAULT-%d", n);
        parts[s] = partition_of(skus[s], 16);
        for (int t = 0; t < s; t++) {
            clash |= parts[t] == parts[s];
        }
        s += !clash;
    }
    for (int s = 0; s < NSKUS; s++) {
        char path[96], body[256];
        struct harness_response *r;

        snprintf(path, sizeof(path), "/v1/products/%s", skus[s]);
        harness_admin_put(h, path,
                          "{\"name\": \"Thing\", \"category\": \"kitchen\", \"price\": "
                          "{\"amount\": 500, \"currency\": \"GBP\"}}");
        snprintf(body, sizeof(body),
                 "{\"sku\": \"%s\", \"location\": \"wh-1\", \"type\": \"receipt\", "
                 "\"quantity\": %lld}",
                 skus[s], units);
        r = harness_post_json(h, ADMIN, "/v1/movements", body);
        harness_assert_status(r, 201);
        harness_response_free(r);
    }
}

static void assert_consistent(struct harness *h, const char *when)
{
    struct harness_response *r = harness_get(h, ADMIN, "/v1/admin/consistency");

    harness_context("GET /v1/admin/consistency %s", when);
    harness_assert_status(r, 200);
    if (!json_is_true(harness_jget(r->json, "ok")) ||
        json_array_size(harness_jget(r->json, "problems")) != 0) {
        fprintf(stderr, "%s\n", r->body);
        fail_msg("consistency check not clean %s", when);
    }
    harness_context(NULL);
    harness_response_free(r);
}

/* levels - on_hand and reserved of @sku at wh-1. */
static void levels(struct harness *h, const char *sku, long long *on_hand, long long *reserved)
{
    char path[96];
    struct harness_response *r;

    snprintf(path, sizeof(path), "/v1/stock/%s", sku);
    r = harness_get(h, ADMIN, path);
    harness_context("GET %s", path);
    harness_assert_status(r, 200);
    harness_context(NULL);
    *on_hand = harness_jint(r->json, "locations/0/on_hand");
    *reserved = harness_jint(r->json, "locations/0/reserved");
    harness_response_free(r);
}

/* wait_ok - GET @path until it answers 200 (up to @ms). @return the ms it took, or -1. */
static long long wait_ok(const struct harness *h, const char *key, const char *path, int ms)
{
    long long start = harness_now_ms();

    while (harness_now_ms() - start < ms) {
        struct harness_response *r = harness_get(h, key, path);
        int status = r->status;

        harness_response_free(r);
        if (status == 200) {
            return harness_now_ms() - start;
        }
        harness_sleep_ms(10);
    }
    return -1;
}

/* An answer while Redis is away: 503 problem+json with a Retry-After. */
static int is_good_503(const struct harness_response *r)
{
    const char *ctype = harness_header(r, "Content-Type");

    return r->status == 503 && ctype != NULL &&
           strncmp(ctype, "application/problem+json", 24) == 0 &&
           harness_header(r, "Retry-After") != NULL;
}

/* ---- a raw HTTP client that tells refused, reset and answered apart ---- */

enum raw_outcome {
    RAW_ANSWERED, /* a status line, then EOF */
    RAW_REFUSED,  /* connect() refused: nobody listening */
    RAW_RESET,    /* connected, but no complete answer (reset, EOF or timeout) */
};

static int raw_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* body_complete - the response in @in has all the body its Content-Length announces. */
static int body_complete(const char *in, size_t len)
{
    const char *end = strstr(in, "\r\n\r\n");
    const char *cl = strcasestr(in, "\r\nContent-Length:");

    if (end == NULL || cl == NULL || cl > end) {
        return 0;
    }
    return (size_t)(end + 4 - in) + strtoul(cl + 17, NULL, 10) == len;
}

/* raw_request - send @req (with Connection: close) and read to EOF; @status gets the code. */
static enum raw_outcome raw_request(int port, const char *req, int *status)
{
    char in[8192];
    size_t got = 0;
    long long deadline = harness_now_ms() + HTTP_TIMEOUT;
    int fd = raw_connect(port);
    int eof = 0;

    *status = 0;
    if (fd < 0) {
        return errno == ECONNREFUSED ? RAW_REFUSED : RAW_RESET;
    }
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
        close(fd);
        return RAW_RESET;
    }
    while (!eof && harness_now_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t n;

        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        n = recv(fd, in + got, sizeof(in) - 1 - got, 0);
        if (n < 0) {
            break;
        }
        eof = n == 0 || got + (size_t)n == sizeof(in) - 1;
        got += (size_t)n;
    }
    close(fd);
    in[got] = '\0';
    if (!eof || sscanf(in, "HTTP/1.1 %d", status) != 1) {
        return RAW_RESET;
    }
    return body_complete(in, got) ? RAW_ANSWERED : RAW_RESET;
}

/* ---- load for tests 1 and 2: reads, reservations and movements until told to stop ---- */

struct load {
    struct harness view; /* a copy: the main thread may change its own */
    int with_movements;
    int ttl; /* of the reservations; 0: a basket of one SKU held 600 s, else two SKUs */
    atomic_int stop;
    atomic_int acked;        /* 2xx writes so far, all clients */
    atomic_llong redis_back; /* harness_now_ms() when Redis answered again; 0 before */
};

struct loader {
    struct load *ld;
    int index;
    int requests, ok, unavailable, bad_503, lost, other;
    long long first_ok_after_back; /* harness_now_ms() of the first 2xx of a request sent after */
    double slowest;
    char other_body[320];
    /* what was acknowledged: reservation ids; movement event ids with their SKU */
    int nresv, nmoves;
    char resv[MAX_ACKED][72];
    char moves[MAX_ACKED][48];
    int move_sku[MAX_ACKED];
    long long moved[NSKUS];
};

static struct harness_response *load_one(struct loader *c, int n, int *write, int *sku)
{
    const struct harness *h = &c->ld->view;
    char body[256];
    int kind = n % (c->ld->with_movements ? 3 : 2);

    *sku = (c->index + n) % NSKUS;
    *write = kind != 0;
    if (kind == 0) {
        char path[96];

        snprintf(path, sizeof(path), "/v1/stock/%s", skus[*sku]);
        return harness_get(h, ADMIN, path);
    }
    if (kind == 1) {
        if (c->ld->ttl == 0) {
            snprintf(body, sizeof(body),
                     "{\"channel\": \"web\", \"ttl_seconds\": 600, \"lines\": [{\"sku\": "
                     "\"%s\", \"quantity\": 1}]}",
                     skus[*sku]);
        } else {
            /* two partitions: Redis may die between the holds and the record */
            snprintf(body, sizeof(body),
                     "{\"channel\": \"web\", \"ttl_seconds\": %d, \"lines\": [{\"sku\": "
                     "\"%s\", \"quantity\": 1}, {\"sku\": \"%s\", \"quantity\": 2}]}",
                     c->ld->ttl, skus[*sku], skus[(*sku + 1) % NSKUS]);
        }
        return harness_post_json(h, STOREFRONT, "/v1/reservations", body);
    }
    snprintf(body, sizeof(body),
             "{\"sku\": \"%s\", \"location\": \"wh-1\", \"type\": \"receipt\", \"quantity\": 1}",
             skus[*sku]);
    return harness_post_json(h, ADMIN, "/v1/movements", body);
}

static void load_note(struct loader *c, struct harness_response *r, int write, int sku,
                      long long sent)
{
    long long back = atomic_load(&c->ld->redis_back);

    if (r->seconds > c->slowest) {
        c->slowest = r->seconds;
    }
    if (r->status >= 200 && r->status < 300) {
        const char *id = harness_jstr(r->json, "id");
        const char *event = harness_jstr(r->json, "event_id");

        c->ok++;
        if (back != 0 && sent >= back && c->first_ok_after_back == 0) {
            c->first_ok_after_back = harness_now_ms();
        }
        if (write) {
            atomic_fetch_add(&c->ld->acked, 1);
        }
        if (id != NULL && c->nresv < MAX_ACKED) {
            snprintf(c->resv[c->nresv++], sizeof(c->resv[0]), "%s", id);
        }
        if (event != NULL && c->nmoves < MAX_ACKED) {
            c->move_sku[c->nmoves] = sku;
            snprintf(c->moves[c->nmoves++], sizeof(c->moves[0]), "%s", event);
            c->moved[sku]++;
        }
    } else if (r->status == 503) {
        c->unavailable++;
        if (!is_good_503(r)) {
            c->bad_503++;
            snprintf(c->other_body, sizeof(c->other_body),
                     "503 without problem+json or "
                     "Retry-After");
        }
    } else if (r->status == 0) {
        c->lost++;
    } else {
        c->other++;
        snprintf(c->other_body, sizeof(c->other_body), "%d %.300s", r->status, r->body);
    }
}

static void *loader_main(void *arg)
{
    struct loader *c = arg;

    for (int n = 0; !atomic_load(&c->ld->stop); n++) {
        long long sent = harness_now_ms();
        int write, sku;
        struct harness_response *r = load_one(c, n, &write, &sku);

        c->requests++;
        load_note(c, r, write, sku, sent);
        harness_response_free(r);
    }
    return NULL;
}

static void load_start(struct load *ld, struct loader *c, pthread_t *t, int n)
{
    for (int i = 0; i < n; i++) {
        c[i].ld = ld;
        c[i].index = i;
        assert_int_equal(pthread_create(&t[i], NULL, loader_main, &c[i]), 0);
    }
}

/* load_stop - stop and join; @sum gets the totals of the counters. */
static void load_stop(struct load *ld, struct loader *c, pthread_t *t, int n, struct loader *sum)
{
    atomic_store(&ld->stop, 1);
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < n; i++) {
        sum->requests += c[i].requests;
        sum->ok += c[i].ok;
        sum->unavailable += c[i].unavailable;
        sum->bad_503 += c[i].bad_503;
        sum->lost += c[i].lost;
        sum->other += c[i].other;
        sum->nresv += c[i].nresv;
        sum->nmoves += c[i].nmoves;
        if (c[i].slowest > sum->slowest) {
            sum->slowest = c[i].slowest;
        }
        if (c[i].first_ok_after_back != 0 &&
            (sum->first_ok_after_back == 0 ||
             c[i].first_ok_after_back < sum->first_ok_after_back)) {
            sum->first_ok_after_back = c[i].first_ok_after_back;
        }
        if (c[i].other + c[i].bad_503 > 0) {
            fprintf(stderr, "client %d: unexpected answer %s\n", i, c[i].other_body);
        }
    }
}

/* ---- 1. Redis SIGKILLed under load ---- */

#define FAST_TTL 2

/* The shipped profiles, as they are; the harness needs DEBUG (DEBUG SLEEP, DEBUG DIGEST). */
static const char *const fast_profile[] = {"--include", OMNISTOCK_DEPLOY_DIR "/redis/fast.conf",
                                           "--enable-debug-command", "yes", NULL};

/* The harness's Redis runs with @fsync, as the profile says. */
static void assert_fsync(struct harness *h, const char *fsync)
{
    redisReply *rep = harness_redis_command(&h->redis, "CONFIG GET appendfsync");

    assert_non_null(rep);
    assert_true(rep->type == REDIS_REPLY_ARRAY && rep->elements == 2);
    assert_string_equal(rep->element[1]->str, fsync);
    freeReplyObject(rep);
}

static void test_faults__redis_sigkill_under_load(void **state)
{
    static struct loader clients[CLIENTS];
    static struct load ld; /* static: outlives this frame if an assertion jumps out */
    struct harness *h = harness_start_redis_args(NULL, fast_profile);
    struct loader sum;
    pthread_t threads[CLIENTS];
    struct harness_response *r;
    char path[96];
    long long killed, back, recovery;

    (void)state;
    assert_non_null(h);
    assert_fsync(h, "everysec");
    h->timeout_ms = HTTP_TIMEOUT;
    seed(h, BIG_STOCK);
    memset(&ld, 0, sizeof(ld));
    memset(clients, 0, sizeof(clients));
    ld.view = *h;
    ld.ttl = FAST_TTL;
    load_start(&ld, clients, threads, CLIENTS);

    harness_sleep_ms(500);
    assert_int_equal(harness_redis_kill(&h->redis), 0);
    killed = harness_now_ms();
    harness_sleep_ms(300);
    r = harness_get(h, NULL, "/healthz");
    harness_assert_status(r, 200); /* the process runs */
    harness_response_free(r);
    r = harness_get(h, NULL, "/readyz");
    harness_assert_status(r, 503); /* and says it cannot serve */
    harness_response_free(r);
    harness_sleep_ms(400);

    assert_int_equal(harness_redis_start(&h->redis), 0);
    back = harness_now_ms();
    atomic_store(&ld.redis_back, back);
    snprintf(path, sizeof(path), "/v1/stock/%s", skus[0]);
    recovery = wait_ok(h, ADMIN, path, RECOVERY_MS);
    harness_sleep_ms(300); /* the clients too see 2xx again */
    load_stop(&ld, clients, threads, CLIENTS, &sum);

    fprintf(stderr,
            "redis sigkill: %d requests: %d 2xx, %d 503, %d lost (reset/timeout), %d other; "
            "slowest answer %.3f s\n",
            sum.requests, sum.ok, sum.unavailable, sum.lost, sum.other, sum.slowest);
    fprintf(stderr,
            "redis sigkill: down %lld ms; Redis answering -> first 2xx: %lld ms (a probe), "
            "%lld ms (the clients)\n",
            back - killed, recovery,
            sum.first_ok_after_back ? sum.first_ok_after_back - back : -1LL);
    assert_int_equal(sum.lost, 0);
    assert_int_equal(sum.other, 0);
    assert_int_equal(sum.bad_503, 0);
    assert_true(sum.unavailable > 0); /* the clients did see the outage */
    assert_true(recovery >= 0 && recovery < RECOVERY_MS);
    assert_true(sum.first_ok_after_back != 0);

    /* baskets the crash cut between their holds and their record leak nothing past the TTL */
    harness_sleep_ms(FAST_TTL * 1000 + 1500);
    assert_consistent(h, "after the Redis crash and the holds' TTL");
    for (int s = 0; s < NSKUS; s++) {
        long long on_hand, reserved;

        levels(h, skus[s], &on_hand, &reserved);
        assert_int_equal(on_hand, BIG_STOCK);
        assert_int_equal(reserved, 0);
    }
    assert_int_equal(harness_stop(h), 0);
}

/* ---- 2. durable profile: acknowledged writes survive SIGKILL ---- */

static const char *const durable_profile[] = {
    "--include", OMNISTOCK_DEPLOY_DIR "/redis/durable.conf", "--enable-debug-command", "yes", NULL};

#define DURABLE_ACKED 200 /* writes acknowledged before the kill */

/* history_has - the SKU's ledger holds an event with @id. */
static int history_has(json_t *history, const char *id)
{
    json_t *e;
    size_t i;

    json_array_foreach(json_object_get(history, "events"), i, e)
    {
        const char *eid = harness_jstr(e, "id");

        if (eid != NULL && strcmp(eid, id) == 0) {
            return 1;
        }
    }
    return 0;
}

static void test_faults__durable_profile_keeps_acknowledged_writes(void **state)
{
    static struct loader clients[CLIENTS];
    static struct load ld;
    struct harness *h = harness_start_redis_args(NULL, durable_profile);
    struct harness_response *hist[NSKUS];
    struct loader sum;
    pthread_t threads[CLIENTS];
    long long start, moved[NSKUS] = {0};
    int resv_present = 0, moves_present = 0;

    (void)state;
    assert_non_null(h);
    assert_fsync(h, "always");
    h->timeout_ms = HTTP_TIMEOUT;
    seed(h, BIG_STOCK);
    memset(&ld, 0, sizeof(ld));
    memset(clients, 0, sizeof(clients));
    ld.view = *h;
    ld.with_movements = 1;
    load_start(&ld, clients, threads, CLIENTS);
    start = harness_now_ms();
    while (atomic_load(&ld.acked) < DURABLE_ACKED && harness_now_ms() - start < 20000) {
        harness_sleep_ms(1);
    }
    assert_int_equal(harness_redis_kill(&h->redis), 0);
    harness_sleep_ms(100); /* the clients see the outage */
    load_stop(&ld, clients, threads, CLIENTS, &sum);
    assert_int_equal(sum.lost, 0);
    assert_int_equal(sum.other, 0);

    assert_int_equal(harness_redis_start(&h->redis), 0); /* the same dir: its AOF */
    assert_true(wait_ok(h, NULL, "/readyz", RECOVERY_MS) >= 0);

    for (int i = 0; i < CLIENTS; i++) {
        for (int k = 0; k < clients[i].nresv; k++) {
            char path[128];
            struct harness_response *r;

            snprintf(path, sizeof(path), "/v1/reservations/%s", clients[i].resv[k]);
            r = harness_get(h, STOREFRONT, path);
            resv_present += r->status == 200 && harness_jstr(r->json, "status") != NULL &&
                            strcmp(harness_jstr(r->json, "status"), "held") == 0;
            harness_response_free(r);
        }
    }
    for (int s = 0; s < NSKUS; s++) {
        char path[128];

        snprintf(path, sizeof(path), "/v1/stock/%s/history?limit=1000", skus[s]);
        hist[s] = harness_get(h, ADMIN, path);
        harness_assert_status(hist[s], 200);
    }
    for (int i = 0; i < CLIENTS; i++) {
        for (int k = 0; k < clients[i].nmoves; k++) {
            moves_present += history_has(hist[clients[i].move_sku[k]]->json, clients[i].moves[k]);
        }
        for (int s = 0; s < NSKUS; s++) {
            moved[s] += clients[i].moved[s];
        }
    }
    for (int s = 0; s < NSKUS; s++) {
        long long on_hand, reserved;

        harness_response_free(hist[s]);
        levels(h, skus[s], &on_hand, &reserved);
        /* at least what was acknowledged; any more came from requests the kill cut short */
        assert_true(on_hand >= BIG_STOCK + moved[s]);
    }
    fprintf(stderr,
            "durable: %d requests (%d 503 after the kill); reservations acknowledged %d, "
            "present %d; movements acknowledged %d, present %d\n",
            sum.requests, sum.unavailable, sum.nresv, resv_present, sum.nmoves, moves_present);
    assert_true(sum.nresv > 0 && sum.nmoves > 0);
    assert_int_equal(resv_present, sum.nresv);
    assert_int_equal(moves_present, sum.nmoves);
    assert_int_equal(harness_stop(h), 0);
}

/* ---- 3. the daemon SIGKILLed: retries with the same Idempotency-Key take effect once ---- */

#define OPS           24 /* per client, half movements, half reservations */
#define KILL_AT_ACKED 48
#define RETRY_MS      20000

struct retry_run {
    atomic_int port;
    atomic_int acked;
    char tag[16]; /* makes the Idempotency-Keys unique to this run */
};

struct retrier {
    struct retry_run *run;
    struct harness view; /* a copy made at start: the main thread restarts the daemon */
    int index;
    int attempts, retried_ops, replayed, other, gave_up, committed, pending;
    char ids[OPS][72]; /* the reservation id of each reservation op */
    long long moved[NSKUS], reserved[NSKUS];
    char other_body[320];
};

static void op_body(int client, int k, char *body, size_t size, int *sku_a, int *sku_b, int *qty)
{
    *sku_a = (client + k) % NSKUS;
    *sku_b = (client + k + 1) % NSKUS;
    *qty = 1 + k % 3;
    if (k % 2 == 0) {
        snprintf(body, size,
                 "{\"sku\": \"%s\", \"location\": \"wh-1\", \"type\": \"receipt\", "
                 "\"quantity\": %d}",
                 skus[*sku_a], *qty);
    } else {
        snprintf(body, size,
                 "{\"channel\": \"web\", \"ttl_seconds\": 300, \"lines\": [{\"sku\": \"%s\", "
                 "\"quantity\": 1}, {\"sku\": \"%s\", \"quantity\": %d}]}",
                 skus[*sku_a], skus[*sku_b], *qty);
    }
}

/*
 * retry_post - POST @body to @path, retried with the same Idempotency-Key (@idem) and body
 * while the daemon is gone (no answer), says 503, or says 409 idempotency-pending (a request
 * with that key was cut short by the kill: retried once its pending record has run out, it
 * runs again). @return the 2xx, or NULL.
 */
static struct harness_response *retry_post(struct retrier *c, const char *path, const char *key,
                                           const char *idem, const char *body)
{
    struct harness *view = &c->view;
    char key_header[96];
    const char *headers[] = {"Content-Type: application/json", key_header, NULL};
    long long deadline = harness_now_ms() + RETRY_MS;

    snprintf(key_header, sizeof(key_header), "Idempotency-Key: %s", idem);
    for (int attempt = 0; harness_now_ms() < deadline; attempt++) {
        struct harness_response *r;

        view->port = atomic_load(&c->run->port);
        r = harness_http(view, "POST", path, key, headers, body, strlen(body));
        c->attempts++;
        c->retried_ops += attempt == 1;
        if (r->status == 200 || r->status == 201) {
            const char *replayed = harness_header(r, "Idempotent-Replayed");

            c->replayed += replayed != NULL && strcmp(replayed, "true") == 0;
            return r;
        }
        if (r->status == 409 && harness_jstr(r->json, "type") != NULL &&
            strcmp(harness_jstr(r->json, "type"), "/problems/idempotency-pending") == 0) {
            c->pending++;
            harness_response_free(r);
            harness_sleep_ms(100);
            continue;
        }
        if (r->status != 0 && r->status != 503) {
            c->other++;
            snprintf(c->other_body, sizeof(c->other_body), "%s: %d %.300s", path, r->status,
                     r->body);
            harness_response_free(r);
            return NULL;
        }
        harness_response_free(r);
        harness_sleep_ms(20);
    }
    c->gave_up++;
    return NULL;
}

/* Op k: an even k is a receipt; an odd k holds a basket, then commits it (the order). */
static void retrier_op(struct retrier *c, int k)
{
    const char *admin = c->view.keys[HARNESS_ADMIN];
    const char *storefront = c->view.keys[HARNESS_STOREFRONT];
    char body[320], idem[64], path[128];
    int a, b, qty;
    struct harness_response *r;

    op_body(c->index, k, body, sizeof(body), &a, &b, &qty);
    snprintf(idem, sizeof(idem), "%s-%d-%d", c->run->tag, c->index, k);
    if (k % 2 == 0) {
        r = retry_post(c, "/v1/movements", admin, idem, body);
        c->moved[a] += r != NULL ? qty : 0;
        harness_response_free(r);
        return;
    }
    r = retry_post(c, "/v1/reservations", storefront, idem, body);
    if (r == NULL || harness_jstr(r->json, "id") == NULL) {
        harness_response_free(r);
        return;
    }
    c->reserved[a] += 1;
    c->reserved[b] += qty;
    snprintf(c->ids[k], sizeof(c->ids[k]), "%s", harness_jstr(r->json, "id"));
    harness_response_free(r);
    snprintf(path, sizeof(path), "/v1/reservations/%s/commit", c->ids[k]);
    snprintf(idem, sizeof(idem), "%s-%d-%d-commit", c->run->tag, c->index, k);
    r = retry_post(c, path, storefront, idem, "");
    c->committed += r != NULL;
    harness_response_free(r);
}

static void *retrier_main(void *arg)
{
    struct retrier *c = arg;

    for (int k = 0; k < OPS; k++) {
        retrier_op(c, k);
        atomic_fetch_add(&c->run->acked, 1);
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Every reservation of @ids (sorted) has exactly one order.placed event in the log. */
static void assert_orders_placed_once(struct harness *h, char (*ids)[72], int nids)
{
    int *placed = calloc((size_t)nids, sizeof(*placed));
    char path[256] = "/v1/events?limit=1000";
    int pages = 0, more = 1;

    assert_non_null(placed);
    while (more && pages++ < 100) {
        struct harness_response *r = harness_get(h, ADMIN, path);
        json_t *e;
        size_t i;

        harness_context("GET %s", path);
        harness_assert_status(r, 200);
        harness_context(NULL);
        json_array_foreach(json_object_get(r->json, "events"), i, e)
        {
            const char *type = harness_jstr(e, "type"), *id = harness_jstr(e, "reservation");
            char(*hit)[72] = NULL;

            if (type != NULL && strcmp(type, "order.placed") == 0 && id != NULL) {
                hit = bsearch(id, ids, (size_t)nids, sizeof(ids[0]), cmp_str);
            }
            if (hit != NULL) {
                placed[hit - ids]++;
            }
        }
        more = json_array_size(json_object_get(r->json, "events")) > 0 &&
               harness_jstr(r->json, "next") != NULL;
        if (more) {
            snprintf(path, sizeof(path), "/v1/events?limit=1000&after=%s",
                     harness_jstr(r->json, "next"));
        }
        harness_response_free(r);
    }
    for (int i = 0; i < nids; i++) {
        if (placed[i] != 1) {
            fail_msg("reservation %s: %d order.placed events, expected 1", ids[i], placed[i]);
        }
    }
    free(placed);
}

static void release_all(struct harness *h, struct retrier *c, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 1; k < OPS; k += 2) {
            char path[128];
            struct harness_response *r;

            snprintf(path, sizeof(path), "/v1/reservations/%s/release", c[i].ids[k]);
            r = harness_http(h, "POST", path, STOREFRONT, NULL, "", 0);
            harness_context("POST %s", path);
            harness_assert_status(r, 200);
            harness_response_free(r);
        }
    }
    harness_context(NULL);
}

static void test_faults__daemon_sigkill_retries_take_effect_once(void **state)
{
    static struct retrier clients[CLIENTS];
    static char ids[CLIENTS * OPS][72];
    static struct retry_run run;
    /* A request the kill cut short leaves its Idempotency-Key pending: 2 s, not the default 10. */
    struct harness *h = harness_start_config("{\"limits\": {\"idempotency_pending_seconds\": 2}}");
    pthread_t threads[CLIENTS];
    long long start, killed, ready, moved[NSKUS] = {0}, reserved[NSKUS] = {0};
    int nids = 0, attempts = 0, retried = 0, replayed = 0, other = 0, gave_up = 0, committed = 0;
    int pending = 0;

    (void)state;
    assert_non_null(h);
    seed(h, BIG_STOCK);
    memset(&run, 0, sizeof(run));
    memset(clients, 0, sizeof(clients));
    atomic_store(&run.port, h->port);
    snprintf(run.tag, sizeof(run.tag), "k%lld", harness_now_ms() % 100000000);
    for (int i = 0; i < CLIENTS; i++) {
        clients[i].run = &run;
        clients[i].view = *h;
        clients[i].view.timeout_ms = HTTP_TIMEOUT;
        clients[i].index = i;
        assert_int_equal(pthread_create(&threads[i], NULL, retrier_main, &clients[i]), 0);
    }
    start = harness_now_ms();
    while (atomic_load(&run.acked) < KILL_AT_ACKED && harness_now_ms() - start < 20000) {
        harness_sleep_ms(1);
    }
    assert_int_equal(harness_daemon_kill(h), 0);
    killed = harness_now_ms();
    assert_int_equal(harness_daemon_restart(h), 0); /* no client thread reads h->port */
    ready = harness_now_ms();
    atomic_store(&run.port, h->port);
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        attempts += clients[i].attempts;
        retried += clients[i].retried_ops;
        replayed += clients[i].replayed;
        other += clients[i].other;
        gave_up += clients[i].gave_up;
        committed += clients[i].committed;
        pending += clients[i].pending;
        for (int s = 0; s < NSKUS; s++) {
            moved[s] += clients[i].moved[s];
            reserved[s] += clients[i].reserved[s];
        }
        for (int k = 1; k < OPS; k += 2) {
            memcpy(ids[nids++], clients[i].ids[k], sizeof(ids[0]));
        }
        if (clients[i].other > 0) {
            fprintf(stderr, "client %d: unexpected answer %s\n", i, clients[i].other_body);
        }
    }
    fprintf(stderr,
            "daemon sigkill: %d ops (%d baskets held and committed), %d requests, %d retried, "
            "%d answers replayed, %d answered 409 idempotency-pending; killed after %d ops; "
            "kill -> ready %lld ms\n",
            CLIENTS * OPS, committed, attempts, retried, replayed, pending, KILL_AT_ACKED,
            ready - killed);
    assert_int_equal(other, 0);
    assert_int_equal(gave_up, 0);
    assert_true(retried > 0); /* the kill did cut some short */

    /* one reservation per reservation op: no retry made a second one */
    qsort(ids, (size_t)nids, sizeof(ids[0]), cmp_str);
    for (int i = 0; i < nids; i++) {
        assert_true(ids[i][0] != '\0');
        assert_true(i == 0 || strcmp(ids[i - 1], ids[i]) != 0);
    }
    /* every movement and every hold counted exactly once */
    for (int s = 0; s < NSKUS; s++) {
        long long on_hand, held;

        levels(h, skus[s], &on_hand, &held);
        fprintf(stderr, "%s: on_hand %lld (expected %lld), reserved %lld (expected %lld)\n",
                skus[s], on_hand, BIG_STOCK + moved[s], held, reserved[s]);
        assert_int_equal(on_hand, BIG_STOCK + moved[s]);
        assert_int_equal(held, reserved[s]);
    }
    assert_consistent(h, "after the crash and the retries");
    /* each basket was committed, and its order placed, exactly once */
    assert_int_equal(committed, nids);
    assert_orders_placed_once(h, ids, nids);

    release_all(h, clients, CLIENTS);
    for (int s = 0; s < NSKUS; s++) {
        long long on_hand, held;

        levels(h, skus[s], &on_hand, &held);
        assert_int_equal(on_hand, BIG_STOCK + moved[s]);
        assert_int_equal(held, 0);
    }
    assert_consistent(h, "after releasing everything");
    assert_int_equal(harness_stop(h), 0);
}

/* ---- 4. SIGTERM with requests in flight ---- */

#define TERM_CLIENTS 16
#define PAUSE_MS     1500

struct term_run {
    int port;
    char admin[HARNESS_KEY_SIZE], storefront[HARNESS_KEY_SIZE];
    atomic_int stop;
};

struct termer {
    struct term_run *run;
    int index;
    int answered, refused, reset, not_2xx;
    int last_status;
    long long last_answer_ms;
};

static void *termer_main(void *arg)
{
    struct termer *c = arg;
    struct term_run *run = c->run;

    for (int n = 0; !atomic_load(&run->stop); n++) {
        char req[768], body[256];
        enum raw_outcome o;
        int status;

        if ((c->index + n) % 2 == 0) {
            snprintf(req, sizeof(req),
                     "GET /v1/stock/%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Authorization: Bearer %s\r\n\r\n",
                     skus[(c->index + n) % NSKUS], run->admin);
        } else {
            snprintf(body, sizeof(body),
                     "{\"channel\": \"web\", \"ttl_seconds\": 60, \"lines\": [{\"sku\": \"%s\", "
                     "\"quantity\": 1}]}",
                     skus[(c->index + n) % NSKUS]);
            snprintf(req, sizeof(req),
                     "POST /v1/reservations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     run->storefront, strlen(body), body);
        }
        o = raw_request(run->port, req, &status);
        if (o == RAW_REFUSED) {
            c->refused++;
            break; /* the daemon is gone: done */
        }
        if (o == RAW_RESET) {
            c->reset++;
            continue;
        }
        c->answered++;
        c->last_status = status;
        c->last_answer_ms = harness_now_ms();
        c->not_2xx += status < 200 || status >= 300;
    }
    return NULL;
}

static void test_faults__sigterm_finishes_in_flight_and_exits_0(void **state)
{
    static struct termer clients[TERM_CLIENTS];
    static struct term_run run;
    struct harness *h = harness_start();
    pthread_t threads[TERM_CLIENTS];
    redisReply *rep;
    long long termed, refused_at;
    int answered = 0, refused = 0, reset = 0, not_2xx = 0, fd;

    (void)state;
    assert_non_null(h);
    seed(h, BIG_STOCK);
    memset(&run, 0, sizeof(run));
    memset(clients, 0, sizeof(clients));
    run.port = h->port;
    memcpy(run.admin, ADMIN, sizeof(run.admin));
    memcpy(run.storefront, STOREFRONT, sizeof(run.storefront));
    for (int i = 0; i < TERM_CLIENTS; i++) {
        clients[i].run = &run;
        clients[i].index = i;
        assert_int_equal(pthread_create(&threads[i], NULL, termer_main, &clients[i]), 0);
    }
    harness_sleep_ms(300);
    /* Redis holds every command for a while: each client has a request in flight */
    rep = harness_redis_command(&h->redis, "CLIENT PAUSE %d ALL", PAUSE_MS);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    harness_sleep_ms(300);
    assert_int_equal(kill(h->daemon_pid, SIGTERM), 0);
    termed = harness_now_ms();
    /*
     * New connections are refused once the daemon has seen the signal. (One that races the
     * listener's close gets a reset from connect() instead: try once more after that.)
     */
    while ((fd = raw_connect(h->port)) >= 0 && harness_now_ms() - termed < 10000) {
        close(fd);
        harness_sleep_ms(5);
    }
    if (fd < 0 && errno == ECONNRESET) {
        harness_sleep_ms(5);
        fd = raw_connect(h->port);
    }
    refused_at = harness_now_ms();
    if (fd >= 0 || errno != ECONNREFUSED) {
        fail_msg("a new connection after SIGTERM: %s", fd >= 0 ? "accepted" : strerror(errno));
    }
    for (int i = 0; i < TERM_CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        answered += clients[i].answered;
        refused += clients[i].refused;
        reset += clients[i].reset;
        not_2xx += clients[i].not_2xx;
    }
    fprintf(stderr,
            "sigterm: %d answered (%d not 2xx), %d reset, %d clients refused after; "
            "drained in %lld ms\n",
            answered, not_2xx, reset, refused, harness_now_ms() - termed);
    assert_int_equal(reset, 0);
    assert_int_equal(not_2xx, 0);
    assert_int_equal(refused, TERM_CLIENTS); /* each one's next request found nobody */
    for (int i = 0; i < TERM_CLIENTS; i++) {
        /* the one in flight was answered, after new connections were refused */
        assert_int_equal(clients[i].last_status / 100, 2);
        assert_true(clients[i].last_answer_ms >= refused_at);
    }
    assert_int_equal(harness_stop(h), 0);
}

/* ---- 5. clients that hang up before Redis answers ---- */

#define HANGUPS       60
#define HANGUP_ROUNDS 4

/* A client that stays while Redis stalls: what it got. */
struct waiting {
    struct harness *h;
    int status, good_503;
    char body[256];
};

static void *waiting_main(void *arg)
{
    struct waiting *w = arg;
    struct harness view = *w->h;
    struct harness_response *r;

    view.timeout_ms = HTTP_TIMEOUT;
    r = harness_get(&view, view.keys[HARNESS_ADMIN], "/v1/stock/FAULT-0");
    w->status = r->status;
    w->good_503 = is_good_503(r);
    snprintf(w->body, sizeof(w->body), "%s", r->body);
    harness_response_free(r);
    return NULL;
}

static void *debug_sleep(void *arg)
{
    struct harness *h = arg;

    freeReplyObject(harness_redis_command(&h->redis, "DEBUG SLEEP 0.7"));
    return NULL;
}

/* hang_up - send request @n of a mix, then close at once (every third with a reset). */
static void hang_up(struct harness *h, int n)
{
    char req[1024], body[256];
    int fd = raw_connect(h->port);

    assert_true(fd >= 0);
    switch (n % 5) {
    case 0:
        snprintf(req, sizeof(req),
                 "GET /v1/stock/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
                 skus[n % NSKUS], ADMIN);
        break;
    case 1:
    case 2:
        snprintf(body, sizeof(body),
                 "{\"channel\": \"web\", \"ttl_seconds\": 60, \"lines\": [{\"sku\": \"%s\", "
                 "\"quantity\": 1}, {\"sku\": \"%s\", \"quantity\": 1}]}",
                 skus[n % NSKUS], skus[(n + 1) % NSKUS]);
        snprintf(req, sizeof(req),
                 "POST /v1/reservations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n%s",
                 STOREFRONT, n % 5 == 2 ? "Idempotency-Key: hang-up-resv\r\n" : "", strlen(body),
                 body);
        break;
    case 3:
        snprintf(body, sizeof(body),
                 "{\"sku\": \"%s\", \"location\": \"wh-1\", \"type\": \"receipt\", "
                 "\"quantity\": 1}",
                 skus[n % NSKUS]);
        snprintf(req, sizeof(req),
                 "POST /v1/movements HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                 "Content-Type: application/json\r\nIdempotency-Key: hang-up-%d\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 ADMIN, n, strlen(body), body);
        break;
    default:
        snprintf(req, sizeof(req),
                 "GET /v1/recommendations?sku=%s&channel=web HTTP/1.1\r\nHost: x\r\n"
                 "Authorization: Bearer %s\r\n\r\n",
                 skus[n % NSKUS], STOREFRONT);
        break;
    }
    assert_true(send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
    if (n % 3 == 0) {
        struct linger l = {1, 0};

        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    close(fd);
}

/* handled - requests the daemon finished on the routes the hang-ups use (from /metrics). */
static long long handled(struct harness *h)
{
    static const char *const routes[] = {"stock_get", "reservation_create", "movements",
                                         "recommendations"};
    struct harness_response *r = harness_get(h, NULL, "/metrics");
    long long n = 0;

    harness_assert_status(r, 200);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        char prefix[96];
        const char *p = r->body;

        snprintf(prefix, sizeof(prefix), "omnistock_http_requests_total{route=\"%s\",", routes[i]);
        while ((p = strstr(p, prefix)) != NULL) {
            const char *v = strchr(p, ' ');

            n += v != NULL ? atoll(v + 1) : 0;
            p += strlen(prefix);
        }
    }
    harness_response_free(r);
    return n;
}

static void test_faults__hang_ups_before_redis_answers_leak_nothing(void **state)
{
    struct harness *h = harness_start();
    struct harness_response *r;
    long long before;

    (void)state;
    assert_non_null(h);
    seed(h, BIG_STOCK);
    before = handled(h);
    for (int round = 0; round < HANGUP_ROUNDS; round++) {
        pthread_t sleeper, waiter[2];
        struct waiting w[2];
        int slow_ms = round == 3 ? 2600 : 700;
        long long slow_until = harness_now_ms() + slow_ms;
        int sent_while_slow = 0;

        /*
         * Rounds 0 and 2 pause the daemon's commands; round 1 blocks the whole server;
         * round 3 pauses them for longer than the daemon's Redis timeout (2 s): it gives
         * up, drops the connection and connects again, while clients that stayed get 503.
         */
        if (round == 1) {
            assert_int_equal(pthread_create(&sleeper, NULL, debug_sleep, h), 0);
            harness_sleep_ms(50);
        } else {
            freeReplyObject(harness_redis_command(&h->redis, "CLIENT PAUSE %d ALL", slow_ms));
        }
        for (int i = 0; round == 3 && i < 2; i++) {
            w[i].h = h;
            assert_int_equal(pthread_create(&waiter[i], NULL, waiting_main, &w[i]), 0);
        }
        for (int n = 0; n < HANGUPS; n++) {
            hang_up(h, round * HANGUPS + n);
            sent_while_slow += harness_now_ms() < slow_until;
        }
        assert_true(sent_while_slow > 0);
        if (round == 1) {
            pthread_join(sleeper, NULL);
        }
        for (int i = 0; round == 3 && i < 2; i++) {
            pthread_join(waiter[i], NULL);
            harness_context("a client that waited through a Redis stall: %d %s", w[i].status,
                            w[i].body);
            assert_true(w[i].status == 200 || w[i].good_503);
            harness_context(NULL);
        }
        harness_sleep_ms(
            (int)(slow_until - harness_now_ms() > 0 ? slow_until - harness_now_ms() : 0) + 300);
        r = harness_get(h, NULL, "/healthz");
        harness_assert_status(r, 200);
        harness_response_free(r);
        assert_true(wait_ok(h, NULL, "/readyz", RECOVERY_MS) >= 0);
    }
    /* the daemon did take those requests to Redis and answered into the void */
    fprintf(stderr, "hang-ups: %d sent, %lld finished by the daemon after the client left\n",
            HANGUP_ROUNDS * HANGUPS, handled(h) - before);
    assert_true(handled(h) - before > HANGUPS);
    assert_consistent(h, "after the hang-ups");
    /* exit status 0: under the Asan build, LeakSanitizer found nothing */
    assert_int_equal(harness_stop(h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults__redis_sigkill_under_load),
        cmocka_unit_test(test_faults__durable_profile_keeps_acknowledged_writes),
        cmocka_unit_test(test_faults__daemon_sigkill_retries_take_effect_once),
        cmocka_unit_test(test_faults__sigterm_finishes_in_flight_and_exits_0),
        cmocka_unit_test(test_faults__hang_ups_before_redis_answers_leak_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
