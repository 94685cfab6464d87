/*
 * test_reservation_race.c - no overselling under load (API.md "Reservations":
 * "No two concurrent reservations can ever hold more than is available").
 *
 * CLIENTS threads, each with its own connection, ask at the same moment (a
 * barrier) over real HTTP for units of SKUs of which a warehouse holds exactly
 * UNITS. A reader thread polls GET /v1/stock/{sku} all along. Then, in the
 * main thread (no cmocka assertion runs in another thread):
 * - exactly UNITS baskets are held (201), every other one is 409
 *   insufficient-stock naming the line with available 0;
 * - the stock never showed a negative figure or more reserved than on hand;
 * - `reserved` at the end equals what the 201s hold, the web figure is 0;
 * - GET /v1/admin/consistency is clean.
 * Round one: one SKU, one unit per basket. Round two: baskets of three SKUs
 * in three different partitions, in rotating order.
 *
 * Both rounds run twice: on one daemon and one Redis, then scaled out, as
 * deploy/ describes it: two daemons sharing a Redis Cluster of 3 masters
 * and 3 replicas and nothing else, behind nginx with the project's own
 * deploy/nginx/omnistock.conf. There, every request (the clients' and the
 * reader's) goes through nginx, and both daemons must have held some.
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

#include "common/crc16.h"
#include "tests/harness/cluster.h"
#include "tests/harness/harness.h"
#include "tests/harness/nginx.h"

#define ADMIN      (h->keys[HARNESS_ADMIN])
#define STOREFRONT (h->keys[HARNESS_STOREFRONT])

#define CLIENTS  240
#define UNITS    100
#define MAX_SKUS 3

/* ---- shared state of one round ---- */

struct round {
    struct harness *h;
    int nskus;
    char skus[MAX_SKUS][32];
    pthread_barrier_t start;
    atomic_int done; /* set when every client has its answer: the reader stops */
};

/* What one client saw; filled by its thread, read by the main thread after join. */
struct client {
    struct round *round;
    int index;
    char body[512];
    int status;
    char type[64];                 /* the problem type of a 4xx/5xx */
    char id[72];                   /* the reservation id of a 201 */
    long long held[MAX_SKUS];      /* per SKU of the round, from the 201's lines */
    long long allocated[MAX_SKUS]; /* per SKU, the sum of the allocations */
    int malformed;                 /* 1 when the body did not have the expected shape */
    char detail[256];              /* what was wrong, for the report */
};

/* What the reader saw; read by the main thread after join. */
struct reader {
    struct round *round;
    int polls;
    int errors;    /* answers other than 200 */
    int negatives; /* a negative figure anywhere */
    int oversold;  /* reserved above on_hand at a location */
    char first_bad[1024];
};

static int sku_index(const struct round *rd, const char *sku)
{
    for (int i = 0; sku != NULL && i < rd->nskus; i++) {
        if (strcmp(rd->skus[i], sku) == 0) {
            return i;
        }
    }
    return -1;
}

static void note(struct client *c, const char *what)
{
    if (!c->malformed) {
        snprintf(c->detail, sizeof(c->detail), "%s", what);
    }
    c->malformed = 1;
}

/* check_held - a 201 body: status held, one line per SKU asked, allocations adding up. */
static void check_held(struct client *c, json_t *body)
{
    json_t *line, *a;
    size_t i, k;

    if (harness_jstr(body, "id") == NULL || harness_jstr(body, "status") == NULL ||
        strcmp(harness_jstr(body, "status"), "held") != 0) {
        note(c, "201 without id or status held");
        return;
    }
    snprintf(c->id, sizeof(c->id), "%s", harness_jstr(body, "id"));
    json_array_foreach(json_object_get(body, "lines"), i, line)
    {
        int s = sku_index(c->round, harness_jstr(line, "sku"));

        if (s < 0 || harness_jint(line, "quantity") <= 0) {
            note(c, "201 with a line of another SKU or no quantity");
            return;
        }
        c->held[s] += harness_jint(line, "quantity");
        json_array_foreach(json_object_get(line, "allocations"), k, a)
        {
            if (harness_jstr(a, "location") == NULL ||
                strcmp(harness_jstr(a, "location"), "wh-1") != 0) {
                note(c, "201 with an allocation not at wh-1");
            }
            c->allocated[s] += harness_jint(a, "quantity");
        }
    }
    for (int s = 0; s < c->round->nskus; s++) {
        if (c->held[s] != 1 || c->allocated[s] != 1) {
            note(c, "201 not holding exactly 1 of each SKU asked");
        }
    }
}

/* check_refused - a 409 insufficient-stock: each line named asks 1 of a SKU and says 0. */
static void check_refused(struct client *c, json_t *body)
{
    json_t *lines = json_object_get(body, "lines");
    json_t *l;
    size_t i;

    if (strcmp(c->type, "/problems/insufficient-stock") != 0) {
        note(c, "409 that is not insufficient-stock");
        return;
    }
    if (json_array_size(lines) == 0) {
        note(c, "insufficient-stock without lines");
    }
    json_array_foreach(lines, i, l)
    {
        if (sku_index(c->round, harness_jstr(l, "sku")) < 0 || harness_jint(l, "requested") != 1 ||
            harness_jint(l, "available") != 0) {
            note(c, "insufficient-stock line not {sku, requested 1, available 0}");
        }
    }
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    struct harness *h = c->round->h;
    struct harness_response *r;

    pthread_barrier_wait(&c->round->start);
    r = harness_post_json(h, STOREFRONT, "/v1/reservations", c->body);
    c->status = r->status;
    if (harness_jstr(r->json, "type") != NULL) {
        snprintf(c->type, sizeof(c->type), "%s", harness_jstr(r->json, "type"));
    }
    if (r->status == 201) {
        check_held(c, r->json);
    } else if (r->status == 409) {
        check_refused(c, r->json);
    }
    if (c->malformed || (r->status != 201 && r->status != 409)) {
        snprintf(c->detail + strlen(c->detail), sizeof(c->detail) - strlen(c->detail), ": %.200s",
                 r->body);
    }
    harness_response_free(r);
    return NULL;
}

/* reader_check - one GET /v1/stock/{sku} body: nothing negative, nothing oversold. */
static void reader_check(struct reader *rd, json_t *s, const char *text)
{
    json_t *v, *per;
    const char *name;
    size_t i;
    int bad = 0;

    json_array_foreach(json_object_get(s, "locations"), i, v)
    {
        long long oh = harness_jint(v, "on_hand"), rs = harness_jint(v, "reserved");
        long long av = harness_jint(v, "available");

        if (oh < 0 || rs < 0 || av < 0) {
            rd->negatives++;
            bad = 1;
        }
        if (rs > oh) {
            rd->oversold++;
            bad = 1;
        }
    }
    if (harness_jint(s, "channels/web/available") < 0) {
        rd->negatives++;
        bad = 1;
    }
    json_object_foreach(harness_jget(s, "channels/store"), name, per)
    {
        bad |= harness_jint(per, "available") < 0;
        rd->negatives += harness_jint(per, "available") < 0;
    }
    json_object_foreach(harness_jget(s, "channels/click_collect"), name, per)
    {
        bad |= harness_jint(per, "available") < 0;
        rd->negatives += harness_jint(per, "available") < 0;
    }
    if (bad && rd->first_bad[0] == '\0') {
        snprintf(rd->first_bad, sizeof(rd->first_bad), "%s", text);
    }
}

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    struct harness *h = rd->round->h;

    pthread_barrier_wait(&rd->round->start);
    while (!atomic_load(&rd->round->done)) {
        for (int i = 0; i < rd->round->nskus; i++) {
            char path[160];
            struct harness_response *r;

            snprintf(path, sizeof(path), "/v1/stock/%s", rd->round->skus[i]);
            r = harness_get(h, ADMIN, path);
            rd->polls++;
            if (r->status != 200 || r->json == NULL) {
                rd->errors++;
                if (rd->first_bad[0] == '\0') {
                    snprintf(rd->first_bad, sizeof(rd->first_bad), "status %d: %.900s", r->status,
                             r->body);
                }
            } else {
                reader_check(rd, r->json, r->body);
            }
            harness_response_free(r);
        }
    }
    return NULL;
}

/* ---- helpers for the main thread ---- */

static void put_product(struct harness *h, const char *sku)
{
    char path[128];

    snprintf(path, sizeof(path), "/v1/products/%s", sku);
    harness_admin_put(h, path,
                      "{\"name\": \"Thing\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "500, \"currency\": \"GBP\"}}");
}

static void assert_consistent(struct harness *h)
{
    struct harness_response *r = harness_get(h, ADMIN, "/v1/admin/consistency");

    harness_context("GET /v1/admin/consistency");
    harness_assert_status(r, 200);
    if (!json_is_true(harness_jget(r->json, "ok")) ||
        json_array_size(harness_jget(r->json, "problems")) != 0 ||
        !json_is_array(harness_jget(r->json, "problems"))) {
        fprintf(stderr, "%s\n", r->body);
        fail_msg("consistency check not clean");
    }
    harness_context(NULL);
    harness_response_free(r);
}

/*
 * race - run one round: @bodies[i % nbodies] is client i's basket. Checks
 * everything the file's comment lists.
 */
static void race(struct harness *h, struct round *rd, const char *const *bodies, int nbodies)
{
    static struct client clients[CLIENTS];
    pthread_t threads[CLIENTS], reader_thread;
    struct reader reader = {.round = rd};
    long long held[MAX_SKUS] = {0};
    int created = 0, refused = 0, other = 0, malformed = 0;

    memset(clients, 0, sizeof(clients));
    rd->h = h;
    atomic_store(&rd->done, 0);
    assert_int_equal(pthread_barrier_init(&rd->start, NULL, CLIENTS + 1), 0);
    for (int i = 0; i < CLIENTS; i++) {
        clients[i].round = rd;
        clients[i].index = i;
        snprintf(clients[i].body, sizeof(clients[i].body), "%s", bodies[i % nbodies]);
    }
    /* the barrier holds the reader and every client until all are ready */
    assert_int_equal(pthread_create(&reader_thread, NULL, reader_main, &reader), 0);
    for (int i = 0; i < CLIENTS; i++) {
        if (pthread_create(&threads[i], NULL, client_main, &clients[i]) != 0) {
            /* the others would wait at the barrier for ever: give up the process */
            fprintf(stderr, "could start only %d client threads\n", i);
            abort();
        }
    }
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
    }
    atomic_store(&rd->done, 1);
    pthread_join(reader_thread, NULL);
    pthread_barrier_destroy(&rd->start);

    for (int i = 0; i < CLIENTS; i++) {
        struct client *c = &clients[i];

        if (c->status == 201) {
            created++;
            for (int s = 0; s < rd->nskus; s++) {
                held[s] += c->held[s];
            }
        } else if (c->status == 409) {
            refused++;
        } else {
            other++;
        }
        if (c->malformed || (c->status != 201 && c->status != 409)) {
            malformed++;
            if (malformed <= 5) {
                fprintf(stderr, "client %d: status %d: %s\n  asked %s\n", i, c->status, c->detail,
                        c->body);
            }
        }
    }
    fprintf(stderr, "race: %d clients: %d held, %d refused, %d other; reader: %d polls\n", CLIENTS,
            created, refused, other, reader.polls);
    if (reader.errors || reader.negatives || reader.oversold) {
        fprintf(stderr, "reader: %d errors, %d negative figures, %d oversold levels; first: %s\n",
                reader.errors, reader.negatives, reader.oversold, reader.first_bad);
    }
    assert_int_equal(reader.negatives, 0);
    assert_int_equal(reader.oversold, 0);
    assert_int_equal(reader.errors, 0);
    assert_true(reader.polls > 0);
    assert_int_equal(malformed, 0);
    assert_int_equal(other, 0);
    assert_int_equal(created, UNITS);
    assert_int_equal(refused, CLIENTS - UNITS);

    for (int s = 0; s < rd->nskus; s++) {
        char path[160];
        struct harness_response *r;

        assert_int_equal(held[s], UNITS);
        snprintf(path, sizeof(path), "/v1/stock/%s", rd->skus[s]);
        r = harness_get(h, ADMIN, path);
        harness_context("%s after the race", rd->skus[s]);
        harness_assert_status(r, 200);
        harness_assert_jint(r, "channels/web/available", 0);
        harness_assert_jstr(r, "locations/0/location", "wh-1");
        harness_assert_jint(r, "locations/0/on_hand", UNITS);
        harness_assert_jint(r, "locations/0/reserved", held[s]);
        harness_context(NULL);
        harness_response_free(r);
    }
    /* each held reservation reads back as held */
    for (int i = 0; i < CLIENTS; i += 7) {
        if (clients[i].status == 201) {
            char path[128];
            struct harness_response *r;

            snprintf(path, sizeof(path), "/v1/reservations/%s", clients[i].id);
            r = harness_get(h, STOREFRONT, path);
            harness_assert_status(r, 200);
            harness_assert_jstr(r, "status", "held");
            harness_response_free(r);
        }
    }
    assert_consistent(h);
}

/* ---- setup ---- */

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

/*
 * Scaled out: @front is what the tests see (first, so that a pointer to the
 * struct is a pointer to it): daemon a's keys and config, nginx's port.
 */
struct scaled {
    struct harness front;
    struct harness_cluster cluster;
    struct harness *a, *b;
    struct harness_nginx nginx;
};

static int scaled_teardown(void **state)
{
    struct scaled *s = *state;
    int rc = 0;

    if (s->nginx.pid > 0 && harness_nginx_stop(&s->nginx) != 0)
        rc = -1;
    if (harness_stop(s->b) != 0 || harness_stop(s->a) != 0)
        rc = -1;
    if (harness_cluster_stop(&s->cluster) != 0)
        rc = -1;
    free(s);
    return rc;
}

static int scaled_setup(void **state)
{
    struct scaled *s = calloc(1, sizeof(*s));
    char seed[256];

    if (s == NULL)
        return -1;
    *state = s;
    if (harness_cluster_start(&s->cluster) != 0 ||
        harness_cluster_seed(&s->cluster, seed, sizeof(seed)) != 0 ||
        (s->a = harness_start_url(seed, NULL)) == NULL ||
        (s->b = harness_start_peer(s->a)) == NULL ||
        harness_nginx_start(&s->nginx, s->a->port, s->b->port) != 0) {
        scaled_teardown(state);
        return -1;
    }
    s->front = *s->a;
    s->front.port = s->nginx.port;
    harness_admin_put(&s->front, "/v1/locations/wh-1",
                      "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    return 0;
}

/* Reservations daemon @h held, from its /metrics. */
static long long held_by(const struct harness *h)
{
    static const char series[] = "omnistock_reservations_total{outcome=\"held\"} ";
    struct harness_response *r = harness_get(h, NULL, "/metrics");
    const char *p = strstr(r->body, series);
    long long n = p != NULL ? atoll(p + strlen(series)) : -1;

    harness_response_free(r);
    return n;
}

/* ---- tests ---- */

static void test_reservation_race__last_units_of_one_sku(void **state)
{
    static const char *const bodies[] = {
        "{\"channel\": \"web\", \"lines\": [{\"sku\": \"RACE-1\", \"quantity\": 1}]}",
    };
    struct harness *h = *state;
    struct round rd = {.nskus = 1};

    snprintf(rd.skus[0], sizeof(rd.skus[0]), "RACE-1");
    put_product(h, "RACE-1");
    harness_receipt(h, "RACE-1", "wh-1", UNITS);
    race(h, &rd, bodies, 1);
}

static void test_reservation_race__baskets_across_partitions(void **state)
{
    struct harness *h = *state;
    struct round rd = {.nskus = MAX_SKUS};
    char bodies[MAX_SKUS][512];
    const char *body_ptrs[MAX_SKUS];
    unsigned parts[MAX_SKUS];

    /* three SKUs, three partitions */
    for (int s = 0, n = 0; s < MAX_SKUS; n++) {
        int clash = 0;

        snprintf(rd.skus[s], sizeof(rd.skus[s]), "BASKET-%d", n);
        parts[s] = partition_of(rd.skus[s], 16);
        for (int t = 0; t < s; t++) {
            clash |= parts[t] == parts[s];
        }
        s += !clash;
    }
    for (int s = 0; s < MAX_SKUS; s++) {
        put_product(h, rd.skus[s]);
        harness_receipt(h, rd.skus[s], "wh-1", UNITS);
    }
    /* the same basket, its lines in rotating order */
    for (int b = 0; b < MAX_SKUS; b++) {
        snprintf(bodies[b], sizeof(bodies[b]),
                 "{\"channel\": \"web\", \"lines\": [{\"sku\": \"%s\", \"quantity\": 1}, "
                 "{\"sku\": \"%s\", \"quantity\": 1}, {\"sku\": \"%s\", \"quantity\": 1}]}",
                 rd.skus[b], rd.skus[(b + 1) % MAX_SKUS], rd.skus[(b + 2) % MAX_SKUS]);
        body_ptrs[b] = bodies[b];
    }
    fprintf(stderr, "SKUs %s, %s, %s in partitions %u, %u, %u\n", rd.skus[0], rd.skus[1],
            rd.skus[2], parts[0], parts[1], parts[2]);
    race(h, &rd, body_ptrs, MAX_SKUS);
}

static void test_reservation_race__both_daemons_held_some(void **state)
{
    struct scaled *s = *state;
    long long a = held_by(s->a), b = held_by(s->b);

    fprintf(stderr, "held by daemon a: %lld, by daemon b: %lld\n", a, b);
    assert_true(a > 0);
    assert_true(b > 0);
    assert_int_equal(a + b, 2 * UNITS); /* the two rounds */
}

int main(void)
{
    const struct CMUnitTest one[] = {
        cmocka_unit_test(test_reservation_race__last_units_of_one_sku),
        cmocka_unit_test(test_reservation_race__baskets_across_partitions),
    };
    const struct CMUnitTest scaled[] = {
        cmocka_unit_test(test_reservation_race__last_units_of_one_sku),
        cmocka_unit_test(test_reservation_race__baskets_across_partitions),
        cmocka_unit_test(test_reservation_race__both_daemons_held_some),
    };
    int failed =
        cmocka_run_group_tests_name("one daemon, one Redis", one, group_setup, group_teardown);

    failed += cmocka_run_group_tests_name("two daemons behind nginx, a Redis Cluster", scaled,
                                          scaled_setup, scaled_teardown);
    return failed;
}
