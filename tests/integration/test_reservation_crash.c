/*
 * test_reservation_crash.c - the daemon killed half-way through baskets
 * leaks nothing for longer than the holds' TTL (DESIGN.md "Redis data model":
 * "every hold carries an expiry, so a crash half-way leaks nothing for longer
 * than the hold's TTL"; API.md: expired stock is available again within one
 * second, whether or not anyone reads it).
 *
 * WORKERS threads create baskets of NSKUS SKUs in NSKUS different partitions
 * (ttl_seconds TTL) as fast as they can; once some have been held, the daemon
 * gets SIGKILL in the middle of the others. It is restarted on the same Redis
 * with the same config and keys, and, past the TTL plus 1.5 s:
 * - GET /v1/admin/consistency is clean (reserved equals the holds, every hold
 *   belongs to a held or committed reservation);
 * - every SKU has reserved 0 everywhere and its on_hand untouched;
 * - every reservation that was answered 201 reads as expired;
 * - the restarted daemon holds and releases a new basket normally.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crc16.h"
#include "tests/harness/harness.h"

#define ADMIN      (h->keys[HARNESS_ADMIN])
#define STOREFRONT (h->keys[HARNESS_STOREFRONT])

#define WORKERS      32
#define NSKUS        4
#define UNITS        400 /* of each SKU at each of wh-1 and store-leeds */
#define TTL          2
#define HELD_TO_KILL 40 /* baskets held before the kill */
#define MAX_IDS      512

static char skus[NSKUS][32];

struct shared {
    struct harness *h;
    atomic_int held; /* 201s so far, all workers */
    atomic_int stop; /* set by the main thread: no new requests */
};

/* What one worker saw; read by the main thread after join. */
struct worker {
    struct shared *sh;
    int index;
    int requests, created, refused, lost, other;
    int nids;
    char ids[MAX_IDS][72];
    long long min_expires_ms, max_expires_ms;
    long long held[NSKUS]; /* units of each SKU held by the 201s */
    char other_body[512];
};

/* The wall clock in ms, as the daemon stamps times (expiry, events). */
static long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* rfc3339_ms - "2024-05-01T10:00:00.123Z" as milliseconds since the epoch, or -1. */
static long long rfc3339_ms(const char *s)
{
    struct tm tm = {0};
    const char *p = s != NULL ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    long long ms = 0;
    int digits = 0;

    if (p == NULL) {
        return -1;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3) {
                ms = ms * 10 + (*p - '0');
            }
        }
        for (; digits < 3; digits++) {
            ms *= 10;
        }
    }
    if (strcmp(p, "Z") != 0) {
        return -1;
    }
    return (long long)timegm(&tm) * 1000 + ms;
}

/* add_held - count what a 201 holds, per SKU. */
static void add_held(struct worker *w, json_t *body)
{
    json_t *line;
    size_t i;

    json_array_foreach(json_object_get(body, "lines"), i, line)
    {
        for (int s = 0; s < NSKUS; s++) {
            const char *sku = harness_jstr(line, "sku");

            if (sku != NULL && strcmp(sku, skus[s]) == 0) {
                w->held[s] += harness_jint(line, "quantity");
            }
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct harness *h = w->sh->h;

    for (int n = 0; !atomic_load(&w->sh->stop); n++) {
        char body[512];
        int first = (w->index + n) % NSKUS;
        struct harness_response *r;

        /* every SKU of the basket, starting at a different one each time */
        snprintf(body, sizeof(body),
                 "{\"channel\": \"web\", \"ttl_seconds\": %d, \"lines\": [{\"sku\": \"%s\", "
                 "\"quantity\": %d}, {\"sku\": \"%s\", \"quantity\": 1}, {\"sku\": \"%s\", "
                 "\"quantity\": 2}, {\"sku\": \"%s\", \"quantity\": 1}]}",
                 TTL, skus[first], 1 + n % 3, skus[(first + 1) % NSKUS], skus[(first + 2) % NSKUS],
                 skus[(first + 3) % NSKUS]);
        r = harness_post_json(h, STOREFRONT, "/v1/reservations", body);
        w->requests++;
        if (r->status == 201) {
            long long e = rfc3339_ms(harness_jstr(r->json, "expires_at"));

            w->created++;
            atomic_fetch_add(&w->sh->held, 1);
            if (w->nids < MAX_IDS && harness_jstr(r->json, "id") != NULL) {
                snprintf(w->ids[w->nids++], sizeof(w->ids[0]), "%s", harness_jstr(r->json, "id"));
            }
            if (e > w->max_expires_ms) {
                w->max_expires_ms = e;
            }
            if (w->min_expires_ms == 0 || e < w->min_expires_ms) {
                w->min_expires_ms = e;
            }
            add_held(w, r->json);
        } else if (r->status == 409) {
            w->refused++;
        } else if (r->status == 0) {
            /* the daemon is gone (killed mid-request, or refusing connections) */
            w->lost++;
            harness_response_free(r);
            break;
        } else {
            w->other++;
            snprintf(w->other_body, sizeof(w->other_body), "%d %.500s", r->status, r->body);
        }
        harness_response_free(r);
    }
    return NULL;
}

static void assert_consistent(struct harness *h)
{
    struct harness_response *r = harness_get(h, ADMIN, "/v1/admin/consistency");

    harness_context("GET /v1/admin/consistency");
    harness_assert_status(r, 200);
    if (!json_is_true(harness_jget(r->json, "ok")) ||
        !json_is_array(harness_jget(r->json, "problems")) ||
        json_array_size(harness_jget(r->json, "problems")) != 0) {
        fprintf(stderr, "%s\n", r->body);
        fail_msg("consistency check not clean");
    }
    harness_context(NULL);
    harness_response_free(r);
}

/* assert_all_back - every SKU: on_hand UNITS and reserved 0 at both locations, web 2 x UNITS. */
static void assert_all_back(struct harness *h)
{
    for (int s = 0; s < NSKUS; s++) {
        char path[160];
        struct harness_response *r;
        json_t *v;
        size_t i;

        snprintf(path, sizeof(path), "/v1/stock/%s", skus[s]);
        r = harness_get(h, ADMIN, path);
        harness_context("GET %s after the crash and the TTL", path);
        harness_assert_status(r, 200);
        harness_assert_jint(r, "channels/web/available", 2 * UNITS);
        json_array_foreach(harness_jget(r->json, "locations"), i, v)
        {
            if (harness_jint(v, "reserved") != 0 || harness_jint(v, "on_hand") != UNITS) {
                fprintf(stderr, "%s\n", r->body);
                fail_msg("%s at %s: expected on_hand %d, reserved 0", skus[s],
                         harness_jstr(v, "location"), UNITS);
            }
        }
        harness_context(NULL);
        harness_response_free(r);
    }
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    struct harness *h = harness_start();
    unsigned parts[NSKUS];

    *state = h;
    if (h == NULL) {
        return -1;
    }
    harness_admin_put(h, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    harness_admin_put(h, "/v1/locations/store-leeds",
                      "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"web\", "
                      "\"store\", \"click_collect\"]}");
    /* NSKUS SKUs in NSKUS different partitions */
    for (int s = 0, n = 0; s < NSKUS; n++) {
        int clash = 0;

        snprintf(skus[s], sizeof(skus[s]), "CRASH-%d", n);
        parts[s] = partition_of(skus[s], 16);
        for (int t = 0; t < s; t++) {
            clash |= parts[t] == parts[s];
        }
        s += !clash;
    }
    for (int s = 0; s < NSKUS; s++) {
        char path[160], body[256];
        const char *const locs[] = {"wh-1", "store-leeds"};

        snprintf(path, sizeof(path), "/v1/products/%s", skus[s]);
        harness_admin_put(h, path,
                          "{\"name\": \"Thing\", \"category\": \"kitchen\", \"price\": "
                          "{\"amount\": 500, \"currency\": \"GBP\"}}");
        for (int l = 0; l < 2; l++) {
            struct harness_response *r;

            snprintf(body, sizeof(body),
                     "{\"sku\": \"%s\", \"location\": \"%s\", \"type\": \"receipt\", "
                     "\"quantity\": %d}",
                     skus[s], locs[l], UNITS);
            r = harness_post_json(h, ADMIN, "/v1/movements", body);
            if (r->status != 201) {
                harness_response_free(r);
                return -1;
            }
            harness_response_free(r);
        }
    }
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* ---- the test ---- */

static void test_reservation_crash__kill_mid_basket_leaks_nothing_past_ttl(void **state)
{
    static struct worker workers[WORKERS];
    struct harness *h = *state;
    struct shared sh = {.h = h};
    pthread_t threads[WORKERS];
    long long killed_at, wait_until, max_expires = 0, start = wall_ms();
    long long min_expires = 0, held[NSKUS] = {0};
    int created = 0, refused = 0, lost = 0, other = 0, requests = 0, kill_rc;

    assert_consistent(h);
    memset(workers, 0, sizeof(workers));
    for (int i = 0; i < WORKERS; i++) {
        workers[i].sh = &sh;
        workers[i].index = i;
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
    }
    /* some baskets held, the others in flight: kill */
    while (atomic_load(&sh.held) < HELD_TO_KILL && wall_ms() - start < 10000) {
        harness_sleep_ms(1);
    }
    kill_rc = harness_daemon_kill(h);
    killed_at = wall_ms();
    atomic_store(&sh.stop, 1);
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(threads[i], NULL);
    }
    assert_int_equal(kill_rc, 0);
    for (int i = 0; i < WORKERS; i++) {
        created += workers[i].created;
        refused += workers[i].refused;
        lost += workers[i].lost;
        other += workers[i].other;
        requests += workers[i].requests;
        if (workers[i].max_expires_ms > max_expires) {
            max_expires = workers[i].max_expires_ms;
        }
        if (workers[i].min_expires_ms > 0 &&
            (min_expires == 0 || workers[i].min_expires_ms < min_expires)) {
            min_expires = workers[i].min_expires_ms;
        }
        for (int s = 0; s < NSKUS; s++) {
            held[s] += workers[i].held[s];
        }
        if (workers[i].other > 0) {
            fprintf(stderr, "worker %d: unexpected answer %s\n", i, workers[i].other_body);
        }
    }
    fprintf(stderr, "crash: %d requests: %d held, %d refused, %d lost in the crash, %d other\n",
            requests, created, refused, lost, other);
    assert_int_equal(other, 0);
    assert_true(created >= HELD_TO_KILL);
    assert_int_equal(refused, 0); /* there was plenty of stock */
    assert_true(lost > 0);        /* some were in flight when it died */

    assert_int_equal(harness_daemon_restart(h), 0);

    /*
     * Before the TTL: what was answered 201 survived the crash (reserved is at
     * least what the 201s hold); anything more was held by baskets the crash
     * cut short. Skipped if the restart took so long that holds may be expiring.
     */
    for (int s = 0; s < NSKUS; s++) {
        char path[160];
        struct harness_response *r;
        long long reserved = 0;
        json_t *v;
        size_t i;

        snprintf(path, sizeof(path), "/v1/stock/%s", skus[s]);
        r = harness_get(h, ADMIN, path);
        harness_assert_status(r, 200);
        json_array_foreach(harness_jget(r->json, "locations"), i, v)
        {
            reserved += harness_jint(v, "reserved");
        }
        harness_response_free(r);
        if (wall_ms() < min_expires - 200) {
            fprintf(stderr, "%s after the restart: reserved %lld, held by 201s %lld\n", skus[s],
                    reserved, held[s]);
            assert_true(reserved >= held[s]);
        }
    }

    /* every hold made before the kill expires by killed_at + TTL; then 1.5 s more */
    wait_until = killed_at + TTL * 1000 + 1500;
    if (max_expires + 1500 > wait_until) {
        wait_until = max_expires + 1500;
    }
    while (wall_ms() < wait_until) {
        harness_sleep_ms(50);
    }
    assert_consistent(h);
    assert_all_back(h);

    /* what was answered 201 reads as expired (reads come after the stock check) */
    for (int i = 0; i < WORKERS; i++) {
        for (int k = 0; k < workers[i].nids; k++) {
            char path[128];
            struct harness_response *r;

            snprintf(path, sizeof(path), "/v1/reservations/%s", workers[i].ids[k]);
            r = harness_get(h, STOREFRONT, path);
            harness_context("GET %s", path);
            harness_assert_status(r, 200);
            harness_assert_jstr(r, "status", "expired");
            harness_response_free(r);
        }
    }
    harness_context(NULL);
    assert_consistent(h);

    /* the restarted daemon works normally */
    {
        char body[512], path[128];
        struct harness_response *r;

        snprintf(body, sizeof(body),
                 "{\"channel\": \"web\", \"lines\": [{\"sku\": \"%s\", \"quantity\": 3}, "
                 "{\"sku\": \"%s\", \"quantity\": 2}]}",
                 skus[0], skus[1]);
        r = harness_post_json(h, STOREFRONT, "/v1/reservations", body);
        harness_assert_status(r, 201);
        snprintf(path, sizeof(path), "/v1/reservations/%s/release", harness_jstr(r->json, "id"));
        harness_response_free(r);
        r = harness_http(h, "POST", path, STOREFRONT, NULL, "", 0);
        harness_assert_status(r, 200);
        harness_assert_jstr(r, "status", "released");
        harness_response_free(r);
    }
    assert_all_back(h);
    assert_consistent(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reservation_crash__kill_mid_basket_leaks_nothing_past_ttl),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
