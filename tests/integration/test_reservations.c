/*
 * test_reservations.c - the reservation lifecycle through the real daemon,
 * written against the contract (API.md "Reservations") and the decisions of
 * docs/api-extensions.md ("Reservations", "Reservation events"):
 *
 * - web allocation: warehouses first, then ship-from-store stores with the
 *   most available, ties by id; a line split across locations; store buffers
 *   and safety stock respected; a store that does not fulfil web never used;
 * - click_collect and store at a named store; location rules;
 * - commit, release (from held and committed), fulfil, extend; every
 *   transition that is not allowed is 409 invalid-transition, repeating the
 *   one just made answers 200 with the same body;
 * - all or nothing: a basket with a short line holds nothing (Redis unchanged);
 * - expiry without reads of the reservation; idempotent create; roles; events;
 * - GET /v1/admin/consistency is clean after every scenario.
 *
 * Every test uses its own SKUs, so the tests share one daemon.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crc16.h"
#include "tests/harness/harness.h"

#define ADMIN      (h->keys[HARNESS_ADMIN])
#define STOREFRONT (h->keys[HARNESS_STOREFRONT])
#define AGENT      (h->keys[HARNESS_AGENT])
#define LEEDS      (h->keys[HARNESS_STORE_LEEDS])
#define YORK       (h->keys[HARNESS_STORE_YORK])

/* ---- helpers ---- */

static void dump(const struct harness_response *r, const char *what)
{
    fprintf(stderr, "---- %s: status %d ----\n%s\n---- end ----\n", what, r->status, r->body);
}

/* expect - fail the test, showing the response, unless @cond holds. */
#define expect(r, cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            dump((r), #cond);                                                                      \
            fail_msg("%s:%d: %s", __FILE__, __LINE__, #cond);                                      \
        }                                                                                          \
    } while (0)

/* streq - both strings present and equal. */
static int streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

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

static void put_product(struct harness *h, const char *sku, int safety_stock)
{
    char path[128], body[256];

    snprintf(path, sizeof(path), "/v1/products/%s", sku);
    snprintf(body, sizeof(body),
             "{\"name\": \"Thing\", \"category\": \"kitchen\", \"price\": {\"amount\": 500, "
             "\"currency\": \"GBP\"}, \"safety_stock\": %d}",
             safety_stock);
    harness_admin_put(h, path, body);
}

/* create - POST /v1/reservations with @key. */
static struct harness_response *create(struct harness *h, const char *key, const char *body)
{
    return harness_post_json(h, key, "/v1/reservations", body);
}

/*
 * create_ok - POST /v1/reservations, expect 201 held in @channel; @return the
 * response (the caller frees it).
 */
static struct harness_response *create_ok(struct harness *h, const char *key, const char *channel,
                                          const char *body)
{
    struct harness_response *r = create(h, key, body);
    const char *id;

    harness_context("create %s", body);
    harness_assert_status(r, 201);
    id = harness_jstr(r->json, "id");
    expect(r, id != NULL && strncmp(id, "r-", 2) == 0 && strlen(id) <= 64);
    harness_assert_jstr(r, "status", "held");
    harness_assert_jstr(r, "channel", channel);
    expect(r, rfc3339_ms(harness_jstr(r->json, "expires_at")) > 0);
    expect(r, rfc3339_ms(harness_jstr(r->json, "created_at")) > 0);
    expect(r, json_is_array(harness_jget(r->json, "lines")));
    harness_context(NULL);
    return r;
}

/* act - POST /v1/reservations/{id}/{action} with no body (commit, release, fulfil). */
static struct harness_response *act(struct harness *h, const char *key, const char *id,
                                    const char *action)
{
    char path[160];

    snprintf(path, sizeof(path), "/v1/reservations/%s/%s", id, action);
    return harness_http(h, "POST", path, key, NULL, "", 0);
}

static struct harness_response *extend(struct harness *h, const char *key, const char *id, int ttl)
{
    char path[160], body[64];

    snprintf(path, sizeof(path), "/v1/reservations/%s/extend", id);
    snprintf(body, sizeof(body), "{\"ttl_seconds\": %d}", ttl);
    return harness_post_json(h, key, path, body);
}

static struct harness_response *read_resv(struct harness *h, const char *key, const char *id)
{
    char path[160];

    snprintf(path, sizeof(path), "/v1/reservations/%s", id);
    return harness_get(h, key, path);
}

/* act_ok - a transition that must answer 200 with @status; @return the response. */
static struct harness_response *act_ok(struct harness *h, const char *key, const char *id,
                                       const char *action, const char *status)
{
    struct harness_response *r = act(h, key, id, action);

    harness_context("%s %s", action, id);
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "id", id);
    harness_assert_jstr(r, "status", status);
    harness_context(NULL);
    return r;
}

/*
 * refused - @action on @id answers 409 invalid-transition and changes
 * nothing: the problem names the reservation's @status as "current_status"
 * ("status" is the HTTP status, as in every problem details body), and the
 * reservation still reads with it.
 */
static void refused(struct harness *h, const char *id, const char *action, const char *status)
{
    struct harness_response *r =
        strcmp(action, "extend") == 0 ? extend(h, STOREFRONT, id, 60) : act(h, ADMIN, id, action);

    harness_context("%s of a %s reservation %s", action, status, id);
    harness_assert_problem(r, 409, "invalid-transition", NULL);
    harness_assert_jstr(r, "current_status", status);
    harness_response_free(r);
    r = read_resv(h, ADMIN, id);
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "status", status);
    harness_context(NULL);
    harness_response_free(r);
}

/* forbidden - the response is 403 forbidden. */
static void forbidden(struct harness_response *r, const char *what)
{
    harness_context("%s", what);
    harness_assert_problem(r, 403, "forbidden", NULL);
    harness_context(NULL);
    harness_response_free(r);
}

/* same_body - @b's JSON body equals @a's. */
static void same_body(const struct harness_response *a, const struct harness_response *b)
{
    if (!json_equal(a->json, b->json)) {
        dump(a, "first");
        dump(b, "repeated");
        fail_msg("repeating the transition did not answer the same body");
    }
}

/*
 * assert_line - reservation @r has one line of @sku, @qty in all, allocated
 * exactly as @spec says: "loc:n,loc:n" (in any order, each location once).
 */
static void assert_line(const struct harness_response *r, const char *sku, long long qty,
                        const char *spec)
{
    json_t *line = NULL, *allocs, *l;
    char copy[256], *save = NULL;
    size_t n = 0, total = 0;
    int lines_of_sku = 0;
    json_t *a;
    size_t k;

    json_array_foreach(harness_jget(r->json, "lines"), k, l)
    {
        if (harness_jstr(l, "sku") != NULL && strcmp(harness_jstr(l, "sku"), sku) == 0) {
            line = l;
            lines_of_sku++;
        }
    }
    expect(r, lines_of_sku == 1);
    allocs = json_object_get(line, "allocations");
    expect(r, harness_jint(line, "quantity") == qty);
    expect(r, json_is_array(allocs));
    snprintf(copy, sizeof(copy), "%s", spec);
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        long long want = atoll(colon + 1);
        int found = 0;

        *colon = '\0';
        json_array_foreach(allocs, k, a)
        {
            if (harness_jstr(a, "location") != NULL &&
                strcmp(harness_jstr(a, "location"), tok) == 0) {
                found++;
                if (harness_jint(a, "quantity") != want) {
                    dump(r, "reservation");
                    fail_msg("%s: allocation at %s: expected %lld", sku, tok, want);
                }
            }
        }
        if (found != 1) {
            dump(r, "reservation");
            fail_msg("%s: expected one allocation at %s, found %d", sku, tok, found);
        }
        n++;
    }
    json_array_foreach(allocs, k, a)
    {
        total += (size_t)harness_jint(a, "quantity");
    }
    if (json_array_size(allocs) != n || (long long)total != qty) {
        dump(r, "reservation");
        fail_msg("%s: expected allocations %s", sku, spec);
    }
}

/* stock - GET /v1/stock/{sku} as admin, expect 200; @return the body (new). */
static json_t *stock(struct harness *h, const char *sku)
{
    char path[128];
    struct harness_response *r;
    json_t *j;

    snprintf(path, sizeof(path), "/v1/stock/%s", sku);
    r = harness_get(h, ADMIN, path);
    harness_context("GET %s", path);
    harness_assert_status(r, 200);
    harness_context(NULL);
    j = json_incref(r->json);
    harness_response_free(r);
    return j;
}

static long long level(json_t *s, const char *loc, const char *field)
{
    json_t *v;
    size_t i;

    json_array_foreach(json_object_get(s, "locations"), i, v)
    {
        if (streq(harness_jstr(v, "location"), loc)) {
            return harness_jint(v, field);
        }
    }
    return LLONG_MIN;
}

/*
 * expect_stock - GET /v1/stock/{sku}: the web figure is @web and each location
 * of @spec ("loc=on_hand/reserved,...") has those levels.
 */
static void expect_stock(struct harness *h, const char *sku, long long web, const char *spec)
{
    json_t *s = stock(h, sku);
    char copy[256], *save = NULL;
    char *text;

    snprintf(copy, sizeof(copy), "%s", spec);
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        long long oh = atoll(eq + 1), rs = atoll(strchr(eq, '/') + 1);

        *eq = '\0';
        if (level(s, tok, "on_hand") != oh || level(s, tok, "reserved") != rs) {
            text = json_dumps(s, JSON_COMPACT);
            fprintf(stderr, "stock: %s\n", text);
            free(text);
            fail_msg("%s at %s: expected on_hand %lld, reserved %lld", sku, tok, oh, rs);
        }
    }
    if (harness_jint(s, "channels/web/available") != web) {
        text = json_dumps(s, JSON_COMPACT);
        fprintf(stderr, "stock: %s\n", text);
        free(text);
        fail_msg("%s: expected web available %lld", sku, web);
    }
    json_decref(s);
}

/* channel - a channel figure of GET /v1/stock/{sku}, e.g. "store/store-leeds". */
static long long channel(struct harness *h, const char *sku, const char *path)
{
    json_t *s = stock(h, sku);
    char full[128];
    long long n;

    snprintf(full, sizeof(full), "channels/%s/available", path);
    n = harness_jint(s, full);
    json_decref(s);
    return n;
}

/* assert_consistent - GET /v1/admin/consistency answers {"ok": true, "problems": []}. */
static void assert_consistent(struct harness *h)
{
    struct harness_response *r = harness_get(h, ADMIN, "/v1/admin/consistency");

    harness_context("GET /v1/admin/consistency");
    harness_assert_status(r, 200);
    expect(r, json_is_true(harness_jget(r->json, "ok")));
    expect(r, json_is_array(harness_jget(r->json, "problems")));
    expect(r, json_array_size(harness_jget(r->json, "problems")) == 0);
    harness_context(NULL);
    harness_response_free(r);
}

/* insufficient - @r is 409 insufficient-stock whose lines are exactly @spec "sku:req:avail,...". */
static void insufficient(const struct harness_response *r, const char *spec)
{
    json_t *lines = harness_jget(r->json, "lines");
    char copy[256], *save = NULL;
    size_t n = 0;

    harness_assert_problem(r, 409, "insufficient-stock", NULL);
    expect(r, json_is_array(lines));
    snprintf(copy, sizeof(copy), "%s", spec);
    for (char *tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *c1 = strchr(tok, ':');
        char *c2 = strchr(c1 + 1, ':');
        long long req = atoll(c1 + 1), avail = atoll(c2 + 1);
        int found = 0;
        json_t *l;
        size_t i;

        *c1 = '\0';
        json_array_foreach(lines, i, l)
        {
            if (harness_jstr(l, "sku") != NULL && strcmp(harness_jstr(l, "sku"), tok) == 0) {
                found++;
                expect(r, harness_jint(l, "requested") == req);
                expect(r, harness_jint(l, "available") == avail);
            }
        }
        expect(r, found == 1);
        n++;
    }
    expect(r, json_array_size(lines) == n);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    struct harness *h = harness_start();

    *state = h;
    if (h == NULL) {
        return -1;
    }
    harness_admin_put(
        h, "/v1/locations/wh-1",
        "{\"name\": \"Warehouse 1\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    harness_admin_put(
        h, "/v1/locations/wh-2",
        "{\"name\": \"Warehouse 2\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}");
    /* ships web orders, walk-in and click-and-collect; keeps 2 back for walk-in */
    harness_admin_put(h, "/v1/locations/store-leeds",
                      "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"web\", "
                      "\"store\", \"click_collect\"], \"store_buffer\": 2}");
    /* ships web orders and sells walk-in; no click-and-collect */
    harness_admin_put(h, "/v1/locations/store-hull",
                      "{\"name\": \"Hull\", \"type\": \"store\", \"fulfils\": [\"web\", "
                      "\"store\"], \"store_buffer\": 0}");
    /* never ships web orders */
    harness_admin_put(h, "/v1/locations/store-york",
                      "{\"name\": \"York\", \"type\": \"store\", \"fulfils\": [\"store\", "
                      "\"click_collect\"], \"store_buffer\": 1}");
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* each_setup - a failed assertion leaves its context line behind: forget it. */
static int each_setup(void **state)
{
    (void)state;
    harness_context(NULL);
    return 0;
}

/* ---- web ---- */

static void test_reservations__web_allocates_warehouses_then_stores(void **state)
{
    struct harness *h = *state;
    struct harness_response *r1, *r2, *r;
    char id1[72], id2[72];

    /* safety stock 1: web from wh-1 4, wh-2 7, leeds 10-1-2 = 7, hull 11; York never */
    put_product(h, "WEB-1", 1);
    harness_receipt(h, "WEB-1", "wh-1", 5);
    harness_receipt(h, "WEB-1", "wh-2", 8);
    harness_receipt(h, "WEB-1", "store-leeds", 10);
    harness_receipt(h, "WEB-1", "store-hull", 12);
    harness_receipt(h, "WEB-1", "store-york", 50);
    expect_stock(h, "WEB-1", 29, "wh-1=5/0,wh-2=8/0,store-leeds=10/0,store-hull=12/0");

    /* 20: both warehouses (the one with more first), then the store with the most */
    r1 = create_ok(h, STOREFRONT, "web",
                   "{\"channel\": \"web\", \"customer\": \"cust-1\", \"reference\": \"cart-1\", "
                   "\"lines\": [{\"sku\": \"WEB-1\", \"quantity\": 20}]}");
    expect(r1, harness_jget(r1->json, "location") == NULL);
    harness_assert_jstr(r1, "customer", "cust-1");
    harness_assert_jstr(r1, "reference", "cart-1");
    expect(r1, json_array_size(harness_jget(r1->json, "lines")) == 1);
    assert_line(r1, "WEB-1", 20, "wh-2:7,wh-1:4,store-hull:9");
    snprintf(id1, sizeof(id1), "%s", harness_jstr(r1->json, "id"));
    /* the channel figures drop at once, the reserved units show on the locations */
    expect_stock(h, "WEB-1", 9,
                 "wh-1=5/4,wh-2=8/7,store-leeds=10/0,store-hull=12/9,store-york=50/0");
    assert_int_equal(channel(h, "WEB-1", "store/store-hull"), 3);
    assert_int_equal(channel(h, "WEB-1", "click_collect/store-leeds"), 7);

    /* more than web can promise: refused, nothing held */
    r = create(h, STOREFRONT,
               "{\"channel\": \"web\", \"lines\": [{\"sku\": \"WEB-1\", "
               "\"quantity\": 10}]}");
    insufficient(r, "WEB-1:10:9");
    harness_response_free(r);

    /* the rest: Leeds (7 to web after buffer and safety stock) before Hull (2) */
    r2 = create_ok(h, STOREFRONT, "web",
                   "{\"channel\": \"web\", \"lines\": [{\"sku\": \"WEB-1\", \"quantity\": 9}]}");
    assert_line(r2, "WEB-1", 9, "store-leeds:7,store-hull:2");
    snprintf(id2, sizeof(id2), "%s", harness_jstr(r2->json, "id"));
    expect_stock(h, "WEB-1", 0,
                 "wh-1=5/4,wh-2=8/7,store-leeds=10/7,store-hull=12/11,store-york=50/0");
    /* Leeds keeps its buffer and the safety stock for walk-in; York is untouched */
    assert_int_equal(channel(h, "WEB-1", "store/store-leeds"), 3);
    assert_int_equal(channel(h, "WEB-1", "click_collect/store-leeds"), 0);
    assert_int_equal(channel(h, "WEB-1", "store/store-york"), 50);
    assert_int_equal(channel(h, "WEB-1", "click_collect/store-york"), 48);

    r = create(h, STOREFRONT,
               "{\"channel\": \"web\", \"lines\": [{\"sku\": \"WEB-1\", \"quantity\": 1}]}");
    insufficient(r, "WEB-1:1:0");
    harness_response_free(r);
    assert_consistent(h);

    /* released: the stock returns */
    harness_response_free(act_ok(h, STOREFRONT, id2, "release", "released"));
    expect_stock(h, "WEB-1", 9, "wh-1=5/4,wh-2=8/7,store-leeds=10/0,store-hull=12/9");
    harness_response_free(act_ok(h, STOREFRONT, id1, "release", "released"));
    expect_stock(h, "WEB-1", 29,
                 "wh-1=5/0,wh-2=8/0,store-leeds=10/0,store-hull=12/0,store-york=50/0");
    harness_response_free(r1);
    harness_response_free(r2);
    assert_consistent(h);
}

static void test_reservations__web_ties_by_location_id(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;

    put_product(h, "WEB-3", 0);
    harness_receipt(h, "WEB-3", "wh-2", 3);
    harness_receipt(h, "WEB-3", "wh-1", 3);
    harness_receipt(h, "WEB-3", "store-hull", 4);
    harness_receipt(h, "WEB-3", "store-leeds", 6); /* 4 to web after the buffer */
    /* two warehouses with 3 each: wh-1 first */
    r = create_ok(h, STOREFRONT, "web",
                  "{\"channel\": \"web\", \"lines\": [{\"sku\": \"WEB-3\", \"quantity\": 2}]}");
    assert_line(r, "WEB-3", 2, "wh-1:2");
    harness_response_free(
        act_ok(h, STOREFRONT, harness_jstr(r->json, "id"), "release", "released"));
    harness_response_free(r);
    /* then two stores with 4 each to web: Hull before Leeds */
    r = create_ok(h, STOREFRONT, "web",
                  "{\"channel\": \"web\", \"lines\": [{\"sku\": \"WEB-3\", \"quantity\": 8}]}");
    assert_line(r, "WEB-3", 8, "wh-1:3,wh-2:3,store-hull:2");
    harness_response_free(
        act_ok(h, STOREFRONT, harness_jstr(r->json, "id"), "release", "released"));
    harness_response_free(r);
    expect_stock(h, "WEB-3", 14, "wh-1=3/0,wh-2=3/0,store-hull=4/0,store-leeds=6/0");
    assert_consistent(h);
}

static void test_reservations__same_sku_lines_are_summed(void **state)
{
    struct harness *h = *state;
    struct harness_response *r, *held;

    put_product(h, "WEB-2", 0);
    put_product(h, "WEB-2B", 0);
    harness_receipt(h, "WEB-2", "wh-1", 4);
    harness_receipt(h, "WEB-2", "store-leeds", 5); /* 3 to web */
    harness_receipt(h, "WEB-2B", "wh-2", 2);

    /* 2 + 4 of WEB-2: one line of 6, split over wh-1 and Leeds */
    held = create_ok(h, STOREFRONT, "web",
                     "{\"channel\": \"web\", \"lines\": [{\"sku\": \"WEB-2\", \"quantity\": 2}, "
                     "{\"sku\": \"WEB-2B\", \"quantity\": 1}, {\"sku\": \"WEB-2\", \"quantity\": "
                     "4}]}");
    expect(held, json_array_size(harness_jget(held->json, "lines")) == 2);
    assert_line(held, "WEB-2", 6, "wh-1:4,store-leeds:2");
    assert_line(held, "WEB-2B", 1, "wh-2:1");
    expect_stock(h, "WEB-2", 1, "wh-1=4/4,store-leeds=5/2");
    expect_stock(h, "WEB-2B", 1, "wh-2=2/1");

    /* 1 + 1 where 1 is left: each line alone would fit, the sum does not */
    r = create(h, STOREFRONT,
               "{\"channel\": \"web\", \"lines\": [{\"sku\": \"WEB-2\", \"quantity\": 1}, "
               "{\"sku\": \"WEB-2\", \"quantity\": 1}]}");
    insufficient(r, "WEB-2:2:1");
    harness_response_free(r);
    expect_stock(h, "WEB-2", 1, "wh-1=4/4,store-leeds=5/2");

    harness_response_free(
        act_ok(h, STOREFRONT, harness_jstr(held->json, "id"), "release", "released"));
    harness_response_free(held);
    expect_stock(h, "WEB-2", 7, "wh-1=4/0,store-leeds=5/0");
    expect_stock(h, "WEB-2B", 2, "wh-2=2/0");
    assert_consistent(h);
}

/* ---- click_collect and store ---- */

static void test_reservations__click_collect_and_store_at_a_named_store(void **state)
{
    static const struct {
        const char *body, *code, *field;
        int status;
    } bad[] = {
        {"{\"channel\": \"web\", \"location\": \"store-leeds\", \"lines\": [{\"sku\": \"CC-1\", "
         "\"quantity\": 1}]}",
         "invalid-field", "location", 400},
        {"{\"channel\": \"click_collect\", \"lines\": [{\"sku\": \"CC-1\", \"quantity\": 1}]}",
         "invalid-field", "location", 400},
        {"{\"channel\": \"store\", \"lines\": [{\"sku\": \"CC-1\", \"quantity\": 1}]}",
         "invalid-field", "location", 400},
        {"{\"channel\": \"click_collect\", \"location\": \"store-nowhere\", \"lines\": [{\"sku\": "
         "\"CC-1\", \"quantity\": 1}]}",
         "unknown-reference", "location", 422},
        {"{\"channel\": \"click_collect\", \"location\": \"store-leeds\", \"lines\": [{\"sku\": "
         "\"CC-1\", \"quantity\": 1}, {\"sku\": \"CC-NOPE\", \"quantity\": 1}]}",
         "unknown-reference", "lines[1].sku", 422},
    };
    struct harness *h = *state;
    struct harness_response *cc, *walk, *r;
    char before[41];

    /* safety stock 1: click-and-collect Leeds 6-1-2 = 3, York 4-1-1 = 2; walk-in 6 and 4 */
    put_product(h, "CC-1", 1);
    harness_receipt(h, "CC-1", "store-leeds", 6);
    harness_receipt(h, "CC-1", "store-york", 4);
    harness_receipt(h, "CC-1", "store-hull", 5);
    assert_int_equal(channel(h, "CC-1", "click_collect/store-leeds"), 3);
    assert_int_equal(channel(h, "CC-1", "click_collect/store-york"), 2);

    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = create(h, STOREFRONT, bad[i].body);
        harness_context("create %s", bad[i].body);
        harness_assert_problem(r, bad[i].status, bad[i].code, bad[i].field);
        harness_response_free(r);
    }
    harness_context(NULL);
    r = create(h, STOREFRONT,
               "{\"channel\": \"click_collect\", \"location\": \"store-leeds\", \"lines\": "
               "[{\"sku\": \"CC-1\", \"quantity\": 4}]}");
    insufficient(r, "CC-1:4:3");
    harness_response_free(r);
    /* Hull does not offer click-and-collect: it can promise 0 */
    r = create(h, STOREFRONT,
               "{\"channel\": \"click_collect\", \"location\": \"store-hull\", \"lines\": "
               "[{\"sku\": \"CC-1\", \"quantity\": 1}]}");
    insufficient(r, "CC-1:1:0");
    harness_response_free(r);
    harness_assert_unchanged(h, before);

    cc = create_ok(h, STOREFRONT, "click_collect",
                   "{\"channel\": \"click_collect\", \"location\": \"store-leeds\", \"customer\": "
                   "\"cust-2\", \"lines\": [{\"sku\": \"CC-1\", \"quantity\": 3}]}");
    harness_assert_jstr(cc, "location", "store-leeds");
    assert_line(cc, "CC-1", 3, "store-leeds:3");
    expect_stock(h, "CC-1", 4, "store-leeds=6/3,store-york=4/0,store-hull=5/0");
    assert_int_equal(channel(h, "CC-1", "click_collect/store-leeds"), 0);
    assert_int_equal(channel(h, "CC-1", "store/store-leeds"), 3);

    /* walk-in at York: everything on hand, the safety stock and buffer included */
    walk = create_ok(h, STOREFRONT, "store",
                     "{\"channel\": \"store\", \"location\": \"store-york\", \"lines\": "
                     "[{\"sku\": \"CC-1\", \"quantity\": 4}]}");
    harness_assert_jstr(walk, "location", "store-york");
    assert_line(walk, "CC-1", 4, "store-york:4");
    assert_int_equal(channel(h, "CC-1", "store/store-york"), 0);
    assert_int_equal(channel(h, "CC-1", "click_collect/store-york"), 0);
    r = create(h, STOREFRONT,
               "{\"channel\": \"store\", \"location\": \"store-york\", \"lines\": [{\"sku\": "
               "\"CC-1\", \"quantity\": 1}]}");
    insufficient(r, "CC-1:1:0");
    harness_response_free(r);
    assert_consistent(h);

    harness_response_free(
        act_ok(h, STOREFRONT, harness_jstr(cc->json, "id"), "release", "released"));
    harness_response_free(act_ok(h, ADMIN, harness_jstr(walk->json, "id"), "release", "released"));
    harness_response_free(cc);
    harness_response_free(walk);
    assert_int_equal(channel(h, "CC-1", "click_collect/store-leeds"), 3);
    assert_int_equal(channel(h, "CC-1", "store/store-york"), 4);
    expect_stock(h, "CC-1", 7, "store-leeds=6/0,store-york=4/0,store-hull=5/0");
    assert_consistent(h);
}

/* ---- transitions ---- */

static void test_reservations__lifecycle_transitions(void **state)
{
    struct harness *h = *state;
    struct harness_response *a, *c1, *c2, *f1, *f2, *r, *x1, *x2;
    char id[72];
    long long before, after, asked;

    put_product(h, "LIFE-1", 0);
    harness_receipt(h, "LIFE-1", "wh-1", 20);

    /* held -> committed -> fulfilled */
    a = create_ok(h, STOREFRONT, "web",
                  "{\"channel\": \"web\", \"ttl_seconds\": 60, \"lines\": [{\"sku\": \"LIFE-1\", "
                  "\"quantity\": 5}]}");
    snprintf(id, sizeof(id), "%s", harness_jstr(a->json, "id"));
    refused(h, id, "fulfil", "held");
    r = read_resv(h, STOREFRONT, id);
    harness_assert_status(r, 200);
    same_body(a, r);
    harness_response_free(r);

    c1 = act_ok(h, STOREFRONT, id, "commit", "committed");
    expect(c1, harness_jget(c1->json, "expires_at") == NULL);
    expect(c1, rfc3339_ms(harness_jstr(c1->json, "committed_at")) > 0);
    assert_line(c1, "LIFE-1", 5, "wh-1:5");
    expect_stock(h, "LIFE-1", 15, "wh-1=20/5");
    c2 = act_ok(h, STOREFRONT, id, "commit", "committed");
    same_body(c1, c2);
    refused(h, id, "extend", "committed");
    expect_stock(h, "LIFE-1", 15, "wh-1=20/5");

    f1 = act_ok(h, ADMIN, id, "fulfil", "fulfilled");
    expect(f1, rfc3339_ms(harness_jstr(f1->json, "fulfilled_at")) > 0);
    expect_stock(h, "LIFE-1", 15, "wh-1=15/0");
    f2 = act_ok(h, ADMIN, id, "fulfil", "fulfilled");
    same_body(f1, f2);
    refused(h, id, "commit", "fulfilled");
    refused(h, id, "release", "fulfilled");
    refused(h, id, "extend", "fulfilled");
    expect_stock(h, "LIFE-1", 15, "wh-1=15/0");
    harness_response_free(a);
    harness_response_free(c1);
    harness_response_free(c2);
    harness_response_free(f1);
    harness_response_free(f2);
    assert_consistent(h);

    /* held -> extended -> released */
    a = create_ok(h, STOREFRONT, "web",
                  "{\"channel\": \"web\", \"ttl_seconds\": 60, \"lines\": [{\"sku\": \"LIFE-1\", "
                  "\"quantity\": 3}]}");
    snprintf(id, sizeof(id), "%s", harness_jstr(a->json, "id"));
    before = rfc3339_ms(harness_jstr(a->json, "expires_at"));
    x1 = extend(h, STOREFRONT, id, 0);
    harness_assert_problem(x1, 400, "invalid-field", "ttl_seconds");
    harness_response_free(x1);
    x1 = harness_post_json(h, STOREFRONT, "/v1/reservations/r-0000000000000000/extend",
                           "{\"ttl_seconds\": 60}");
    harness_assert_problem(x1, 404, "not-found", NULL);
    harness_response_free(x1);
    asked = wall_ms();
    x1 = extend(h, STOREFRONT, id, 600);
    harness_assert_status(x1, 200);
    harness_assert_jstr(x1, "status", "held");
    after = rfc3339_ms(harness_jstr(x1->json, "expires_at"));
    expect(x1, after > before);
    expect(x1, after >= asked + 600 * 1000 - 1000);
    /* the new expiry is what a read shows */
    x2 = read_resv(h, AGENT, id);
    harness_assert_status(x2, 200);
    expect(x2, rfc3339_ms(harness_jstr(x2->json, "expires_at")) == after);
    harness_response_free(x2);
    expect_stock(h, "LIFE-1", 12, "wh-1=15/3");

    r = act_ok(h, STOREFRONT, id, "release", "released");
    expect(r, rfc3339_ms(harness_jstr(r->json, "released_at")) > 0);
    expect_stock(h, "LIFE-1", 15, "wh-1=15/0");
    x2 = act_ok(h, STOREFRONT, id, "release", "released");
    same_body(r, x2);
    harness_response_free(x2);
    refused(h, id, "commit", "released");
    refused(h, id, "extend", "released");
    refused(h, id, "fulfil", "released");
    expect_stock(h, "LIFE-1", 15, "wh-1=15/0");
    harness_response_free(r);
    harness_response_free(x1);
    harness_response_free(a);

    /* held -> committed -> released: the stock returns */
    a = create_ok(h, STOREFRONT, "web",
                  "{\"channel\": \"web\", \"lines\": [{\"sku\": \"LIFE-1\", \"quantity\": 4}]}");
    snprintf(id, sizeof(id), "%s", harness_jstr(a->json, "id"));
    harness_response_free(act_ok(h, STOREFRONT, id, "commit", "committed"));
    expect_stock(h, "LIFE-1", 11, "wh-1=15/4");
    r = act_ok(h, STOREFRONT, id, "release", "released");
    expect_stock(h, "LIFE-1", 15, "wh-1=15/0");
    refused(h, id, "fulfil", "released");
    refused(h, id, "commit", "released");
    harness_response_free(r);
    harness_response_free(a);

    /* no such reservation */
    r = read_resv(h, ADMIN, "r-0000000000000000");
    harness_assert_problem(r, 404, "not-found", NULL);
    harness_response_free(r);
    r = act(h, ADMIN, "r-0000000000000000", "commit");
    harness_assert_problem(r, 404, "not-found", NULL);
    harness_response_free(r);
    assert_consistent(h);
}

/* ---- all or nothing ---- */

static void test_reservations__all_or_nothing(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char before[41], sku_b[32], body[512];

    /* two SKUs in different partitions: the basket spans two of them */
    put_product(h, "AON-A", 0);
    for (int i = 0;; i++) {
        snprintf(sku_b, sizeof(sku_b), "AON-B%d", i);
        if (partition_of(sku_b, 16) != partition_of("AON-A", 16)) {
            break;
        }
    }
    put_product(h, sku_b, 0);
    harness_receipt(h, "AON-A", "wh-1", 5);
    harness_receipt(h, sku_b, "wh-1", 2);

    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    /* the first line fits, the second does not: only the second is named */
    snprintf(body, sizeof(body),
             "{\"channel\": \"web\", \"lines\": [{\"sku\": \"AON-A\", \"quantity\": 3}, "
             "{\"sku\": \"%s\", \"quantity\": 3}]}",
             sku_b);
    r = create(h, STOREFRONT, body);
    {
        char spec[64];

        snprintf(spec, sizeof(spec), "%s:3:2", sku_b);
        insufficient(r, spec);
    }
    harness_response_free(r);
    harness_assert_unchanged(h, before);

    /* the second fits, the first does not (the other order of partitions) */
    snprintf(body, sizeof(body),
             "{\"channel\": \"web\", \"lines\": [{\"sku\": \"AON-A\", \"quantity\": 6}, "
             "{\"sku\": \"%s\", \"quantity\": 2}]}",
             sku_b);
    r = create(h, STOREFRONT, body);
    insufficient(r, "AON-A:6:5");
    harness_response_free(r);
    harness_assert_unchanged(h, before);

    /* both short */
    snprintf(body, sizeof(body),
             "{\"channel\": \"web\", \"lines\": [{\"sku\": \"%s\", \"quantity\": 9}, "
             "{\"sku\": \"AON-A\", \"quantity\": 9}]}",
             sku_b);
    r = create(h, STOREFRONT, body);
    {
        char spec[64];

        snprintf(spec, sizeof(spec), "%s:9:2,AON-A:9:5", sku_b);
        insufficient(r, spec);
    }
    harness_response_free(r);
    harness_assert_unchanged(h, before);

    expect_stock(h, "AON-A", 5, "wh-1=5/0");
    expect_stock(h, sku_b, 2, "wh-1=2/0");
    assert_consistent(h);
}

/* ---- bad requests: a data-driven list; each changes nothing ---- */

static void test_reservations__bad_requests_change_nothing(void **state)
{
    struct harness *h = *state;
    json_t *cases = harness_load_data("reservations_invalid.json");
    json_t *c;
    size_t i;

    put_product(h, "BAD-1", 0);
    harness_receipt(h, "BAD-1", "wh-1", 5);
    json_array_foreach(cases, i, c)
    {
        char before[41];
        struct harness_response *r;

        harness_context("case %zu: %s", i, harness_jstr(c, "name"));
        assert_int_equal(harness_redis_digest(&h->redis, before), 0);
        r = harness_send_case(h, c, STOREFRONT);
        harness_assert_problem(r, (int)harness_jint(c, "status"), harness_jstr(c, "code"),
                               harness_jstr(c, "field"));
        harness_assert_unchanged(h, before);
        harness_response_free(r);
    }
    harness_context(NULL);
    assert_true(i >= 10);
    json_decref(cases);
    expect_stock(h, "BAD-1", 5, "wh-1=5/0");
    assert_consistent(h);
}

/* ---- idempotency ---- */

static void test_reservations__idempotent_create(void **state)
{
    static const char *const key1[] = {"Content-Type: application/json",
                                       "Idempotency-Key: cart-77-attempt", NULL};
    static const char body[] =
        "{\"channel\": \"web\", \"lines\": [{\"sku\": \"IDEM-1\", \"quantity\": 2}]}";
    static const char other[] =
        "{\"channel\": \"web\", \"lines\": [{\"sku\": \"IDEM-1\", \"quantity\": 3}]}";
    struct harness *h = *state;
    struct harness_response *first, *again, *r;
    char before[41];

    put_product(h, "IDEM-1", 0);
    harness_receipt(h, "IDEM-1", "wh-1", 10);

    first = harness_http(h, "POST", "/v1/reservations", STOREFRONT, key1, body, strlen(body));
    harness_assert_status(first, 201);
    expect_stock(h, "IDEM-1", 8, "wh-1=10/2");

    again = harness_http(h, "POST", "/v1/reservations", STOREFRONT, key1, body, strlen(body));
    harness_assert_status(again, 201);
    harness_assert_jstr(again, "id", harness_jstr(first->json, "id"));
    same_body(first, again);
    expect(again, harness_header(again, "Idempotent-Replayed") != NULL &&
                      strcmp(harness_header(again, "Idempotent-Replayed"), "true") == 0);
    expect_stock(h, "IDEM-1", 8, "wh-1=10/2");

    /* the same key with another body */
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    r = harness_http(h, "POST", "/v1/reservations", STOREFRONT, key1, other, strlen(other));
    harness_assert_problem(r, 422, "idempotency-key-reused", NULL);
    harness_response_free(r);
    harness_assert_unchanged(h, before);
    expect_stock(h, "IDEM-1", 8, "wh-1=10/2");

    harness_response_free(
        act_ok(h, STOREFRONT, harness_jstr(first->json, "id"), "release", "released"));
    expect_stock(h, "IDEM-1", 10, "wh-1=10/0");
    /* a replay after the release answers the first response again and holds nothing */
    r = harness_http(h, "POST", "/v1/reservations", STOREFRONT, key1, body, strlen(body));
    harness_assert_status(r, 201);
    same_body(first, r);
    harness_response_free(r);
    expect_stock(h, "IDEM-1", 10, "wh-1=10/0");
    harness_response_free(first);
    harness_response_free(again);
    assert_consistent(h);
}

/*
 * The idempotency record of a create is gone (its 24 hours passed) and the
 * same key comes again after the reservation was released: the reservation
 * with that id is answered as it is, and nothing stays held.
 */
static void test_reservations__key_reused_after_its_record_expired(void **state)
{
    static const char *const key1[] = {"Content-Type: application/json",
                                       "Idempotency-Key: cart-88-attempt", NULL};
    static const char body[] =
        "{\"channel\": \"web\", \"lines\": [{\"sku\": \"IDEM-2\", \"quantity\": 4}]}";
    struct harness *h = *state;
    struct harness_response *first, *r;
    redisReply *keys;

    put_product(h, "IDEM-2", 0);
    harness_receipt(h, "IDEM-2", "wh-1", 10);
    first = harness_http(h, "POST", "/v1/reservations", STOREFRONT, key1, body, strlen(body));
    harness_assert_status(first, 201);
    harness_response_free(
        act_ok(h, STOREFRONT, harness_jstr(first->json, "id"), "release", "released"));
    expect_stock(h, "IDEM-2", 10, "wh-1=10/0");

    /* what 24 hours would do: every idempotency record expires */
    keys = harness_redis_command(&h->redis, "KEYS *:idem:*");
    assert_non_null(keys);
    assert_true(keys->elements > 0);
    for (size_t i = 0; i < keys->elements; i++) {
        freeReplyObject(harness_redis_command(&h->redis, "DEL %s", keys->element[i]->str));
    }
    freeReplyObject(keys);

    r = harness_http(h, "POST", "/v1/reservations", STOREFRONT, key1, body, strlen(body));
    harness_assert_status(r, 201);
    harness_assert_jstr(r, "id", harness_jstr(first->json, "id"));
    harness_assert_jstr(r, "status", "released");
    harness_response_free(r);
    expect_stock(h, "IDEM-2", 10, "wh-1=10/0");
    assert_consistent(h);
    harness_response_free(first);
}

/*
 * Four products with 5 each at wh-1; @return one of them in another partition
 * than the first (four SKUs of 16 partitions: checked, not assumed).
 */
static const char *stock_two_partitions(struct harness *h, const char *const skus[4])
{
    const char *other = NULL;

    for (size_t i = 0; i < 4; i++) {
        put_product(h, skus[i], 0);
        harness_receipt(h, skus[i], "wh-1", 5);
        if (other == NULL && partition_of(skus[i], 16) != partition_of(skus[0], 16))
            other = skus[i];
    }
    assert_non_null(other);
    return other;
}

/*
 * A basket of one partition is made by one script: its record sits in the
 * partition of its holds, and reads back as it was answered. One of two
 * partitions is held then recorded as before, its record wherever its id
 * falls.
 */
static void test_reservations__one_partition_basket_is_recorded_with_its_holds(void **state)
{
    static const char *const skus[] = {"PART-1", "PART-2", "PART-3", "PART-4"};
    struct harness *h = *state;
    struct harness_response *r, *again;
    char body[512], key[128];
    const char *a = skus[0], *b;
    redisReply *rep;

    b = stock_two_partitions(h, skus);
    for (int i = 0; i < 3; i++) {
        unsigned part = partition_of(a, 16);
        snprintf(body, sizeof(body),
                 "{\"channel\": \"web\", \"lines\": [{\"sku\": \"%s\", \"quantity\": 1}]}", a);
        r = create_ok(h, STOREFRONT, "web", body);
        assert_int_equal(partition_of(harness_jstr(r->json, "id"), 16), part);
        snprintf(key, sizeof(key), "{p%02u}:resv:%s", part, harness_jstr(r->json, "id"));
        rep = harness_redis_command(&h->redis, "HGET %s parts", key);
        assert_non_null(rep);
        assert_int_equal(rep->type, REDIS_REPLY_STRING);
        assert_int_equal(strtoul(rep->str, NULL, 10), part);
        freeReplyObject(rep);
        assert_line(r, a, 1, "wh-1:1");
        again = read_resv(h, STOREFRONT, harness_jstr(r->json, "id"));
        harness_assert_status(again, 200);
        same_body(r, again);
        harness_response_free(again);
        harness_response_free(
            act_ok(h, STOREFRONT, harness_jstr(r->json, "id"), "release", "released"));
        harness_response_free(r);
    }
    snprintf(body, sizeof(body),
             "{\"channel\": \"web\", \"lines\": [{\"sku\": \"%s\", \"quantity\": 2}, "
             "{\"sku\": \"%s\", \"quantity\": 3}]}",
             a, b);
    r = create_ok(h, STOREFRONT, "web", body);
    assert_line(r, a, 2, "wh-1:2");
    assert_line(r, b, 3, "wh-1:3");
    again = read_resv(h, STOREFRONT, harness_jstr(r->json, "id"));
    same_body(r, again);
    harness_response_free(again);
    expect_stock(h, a, 3, "wh-1=5/2");
    harness_response_free(
        act_ok(h, STOREFRONT, harness_jstr(r->json, "id"), "release", "released"));
    harness_response_free(r);
    expect_stock(h, a, 5, "wh-1=5/0");
    expect_stock(h, b, 5, "wh-1=5/0");
    assert_consistent(h);
}

/* ---- roles ---- */

/*
 * contract_order - the members of a reservation answer come in the contract's order
 * (API.md, "Reservations": id, status, channel, location, customer, reference, created_at,
 * expires_at, the times of what happened, lines; a line's sku, quantity, allocations; an
 * allocation's location, quantity). The daemon answers the record as Redis keeps it, so
 * every script that writes one must keep that order.
 */
static void contract_order(const struct harness_response *r)
{
    static const char *const top[] = {"id",           "status",      "channel",    "location",
                                      "customer",     "reference",   "created_at", "expires_at",
                                      "committed_at", "released_at", "expired_at", "fulfilled_at"};
    static const char *const line[] = {"sku", "quantity", "allocations", "location", "quantity"};
    const char *lines = strstr(r->body, "\"lines\":"), *prev = r->body, *p;
    char key[32];

    expect(r, lines != NULL);
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
        snprintf(key, sizeof(key), "\"%s\":", top[i]);
        p = strstr(r->body, key);
        if (p == NULL || p > lines)
            continue; /* absent (an allocation's location is after the lines) */
        if (p < prev)
            fail_msg("\"%s\" out of the contract's order in %s", top[i], r->body);
        prev = p;
    }
    for (size_t i = 0; i < sizeof(line) / sizeof(line[0]); i++) {
        snprintf(key, sizeof(key), "\"%s\":", line[i]);
        p = strstr(prev, key);
        if (p == NULL)
            fail_msg("a line's \"%s\" out of the contract's order in %s", line[i], r->body);
        prev = p + 1;
    }
}

/*
 * Every answer about a reservation lists its members in the contract's order, through
 * every change: one of one partition (one script), one over two (partition by partition),
 * one that expires.
 */
static void test_reservations__answers_keep_the_contract_order(void **state)
{
    static const char *const skus[4] = {"ORD-1", "ORD-2", "ORD-3", "ORD-4"};
    struct harness *h = *state;
    struct harness_response *r;
    const char *other = stock_two_partitions(h, skus);
    char body[512], id[72], ref[32];
    const char *steps[][2] = {
        {"extend", "held"}, {"commit", "committed"}, {"release", "released"}, {"", "released"}};

    for (int two = 0; two <= 1; two++) {
        snprintf(body, sizeof(body),
                 "{\"channel\": \"web\", \"customer\": \"cust-ord\", \"reference\": "
                 "\"cart \\\"%d\\\" \\\\ caf\\u00e9/\xc3\xbc\", \"lines\": [{\"sku\": \"ORD-1\", "
                 "\"quantity\": 1}%s%s%s]}",
                 two, two ? ", {\"sku\": \"" : "", two ? other : "",
                 two ? "\", \"quantity\": 1}" : "");
        r = create_ok(h, STOREFRONT, "web", body);
        contract_order(r);
        /* A reference that needs escaping comes back as it was sent. */
        snprintf(ref, sizeof(ref), "cart \"%d\" \\ caf\xc3\xa9/\xc3\xbc", two);
        harness_assert_jstr(r, "reference", ref);
        snprintf(id, sizeof(id), "%s", harness_jstr(r->json, "id"));
        harness_response_free(r);
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
            if (strcmp(steps[i][0], "extend") == 0)
                r = extend(h, STOREFRONT, id, 120);
            else if (steps[i][0][0] != '\0')
                r = act(h, STOREFRONT, id, steps[i][0]);
            else
                r = read_resv(h, STOREFRONT, id);
            harness_context("%s %s", steps[i][0][0] ? steps[i][0] : "read", id);
            harness_assert_status(r, 200);
            harness_assert_jstr(r, "status", steps[i][1]);
            harness_assert_jstr(r, "customer", "cust-ord");
            contract_order(r);
            harness_context(NULL);
            harness_response_free(r);
        }
    }
    /* held, then past its expiry: read, it is expired, in order */
    r = create_ok(h, STOREFRONT, "web",
                  "{\"channel\": \"web\", \"ttl_seconds\": 1, \"customer\": \"cust-ord\", "
                  "\"lines\": [{\"sku\": \"ORD-3\", \"quantity\": 1}]}");
    snprintf(id, sizeof(id), "%s", harness_jstr(r->json, "id"));
    harness_response_free(r);
    nanosleep(&(struct timespec){1, 300 * 1000 * 1000}, NULL);
    r = read_resv(h, STOREFRONT, id);
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "status", "expired");
    expect(r, rfc3339_ms(harness_jstr(r->json, "expired_at")) > 0);
    expect(r, harness_jget(r->json, "expires_at") == NULL);
    contract_order(r);
    harness_response_free(r);
    assert_consistent(h);
}

static void test_reservations__roles(void **state)
{
    static const char cc_york[] = "{\"channel\": \"click_collect\", \"location\": \"store-york\", "
                                  "\"lines\": [{\"sku\": \"ROLE-1\", \"quantity\": 2}]}";
    struct harness *h = *state;
    struct harness_response *ry, *rl, *rw, *rx, *rz, *r;
    char york_id[72], leeds_id[72], web_id[72], x_id[72], z_id[72];

    put_product(h, "ROLE-1", 0);
    harness_receipt(h, "ROLE-1", "wh-1", 10);
    harness_receipt(h, "ROLE-1", "store-leeds", 10);
    harness_receipt(h, "ROLE-1", "store-york", 10);

    /* create: storefront and admin; not agent, not a store */
    forbidden(create(h, AGENT, cc_york), "agent creates");
    forbidden(create(h, LEEDS, cc_york), "store creates");
    forbidden(create(h, YORK, cc_york), "store creates at its own store");
    r = create(h, NULL, cc_york);
    harness_assert_problem(r, 401, "unauthorized", NULL);
    expect(r, harness_header(r, "WWW-Authenticate") != NULL);
    harness_response_free(r);
    expect_stock(h, "ROLE-1", 18, "wh-1=10/0,store-leeds=10/0,store-york=10/0");

    ry = create_ok(h, STOREFRONT, "click_collect", cc_york);
    snprintf(york_id, sizeof(york_id), "%s", harness_jstr(ry->json, "id"));
    rl = create_ok(h, ADMIN, "click_collect",
                   "{\"channel\": \"click_collect\", \"location\": \"store-leeds\", \"lines\": "
                   "[{\"sku\": \"ROLE-1\", \"quantity\": 1}]}");
    snprintf(leeds_id, sizeof(leeds_id), "%s", harness_jstr(rl->json, "id"));
    /* web 12: wh-1's 10, then 2 from Leeds */
    rw = create_ok(h, STOREFRONT, "web",
                   "{\"channel\": \"web\", \"lines\": [{\"sku\": \"ROLE-1\", \"quantity\": 12}]}");
    assert_line(rw, "ROLE-1", 12, "wh-1:10,store-leeds:2");
    snprintf(web_id, sizeof(web_id), "%s", harness_jstr(rw->json, "id"));

    /* read: everyone but a store not concerned */
    {
        const char *const readers[] = {STOREFRONT, AGENT, ADMIN};

        for (size_t i = 0; i < 3; i++) {
            r = read_resv(h, readers[i], york_id);
            harness_context("read as role %zu", i);
            harness_assert_status(r, 200);
            same_body(ry, r);
            harness_response_free(r);
        }
        harness_context(NULL);
    }
    r = read_resv(h, YORK, york_id);
    harness_assert_status(r, 200);
    harness_response_free(r);
    r = read_resv(h, LEEDS, leeds_id);
    harness_assert_status(r, 200);
    harness_response_free(r);
    r = read_resv(h, LEEDS, web_id); /* part of it is allocated at Leeds */
    harness_assert_status(r, 200);
    harness_response_free(r);
    forbidden(read_resv(h, LEEDS, york_id), "Leeds reads a York reservation");
    forbidden(read_resv(h, YORK, web_id), "York reads a web reservation with none at York");

    /* commit: storefront and admin */
    forbidden(act(h, AGENT, york_id, "commit"), "agent commits");
    forbidden(act(h, YORK, york_id, "commit"), "store commits");
    harness_response_free(act_ok(h, STOREFRONT, york_id, "commit", "committed"));
    harness_response_free(act_ok(h, ADMIN, leeds_id, "commit", "committed"));
    harness_response_free(act_ok(h, STOREFRONT, web_id, "commit", "committed"));

    /* fulfil: the store where it all is, and admin */
    forbidden(act(h, STOREFRONT, york_id, "fulfil"), "storefront fulfils");
    forbidden(act(h, AGENT, york_id, "fulfil"), "agent fulfils");
    forbidden(act(h, LEEDS, york_id, "fulfil"), "Leeds fulfils a York collection");
    forbidden(act(h, LEEDS, web_id, "fulfil"), "Leeds fulfils a web order partly elsewhere");
    expect_stock(h, "ROLE-1", 5, "wh-1=10/10,store-leeds=10/3,store-york=10/2");
    harness_response_free(act_ok(h, YORK, york_id, "fulfil", "fulfilled"));
    harness_response_free(act_ok(h, LEEDS, leeds_id, "fulfil", "fulfilled"));
    expect_stock(h, "ROLE-1", 5, "wh-1=10/10,store-leeds=9/2,store-york=8/0");

    /* release: storefront, agent, admin; not a store */
    forbidden(act(h, LEEDS, web_id, "release"), "store releases");
    harness_response_free(act_ok(h, AGENT, web_id, "release", "released"));
    expect_stock(h, "ROLE-1", 17, "wh-1=10/0,store-leeds=9/0,store-york=8/0");

    /* extend: storefront, agent, admin; not a store */
    rx = create_ok(h, STOREFRONT, "web",
                   "{\"channel\": \"web\", \"lines\": [{\"sku\": \"ROLE-1\", \"quantity\": 1}]}");
    snprintf(x_id, sizeof(x_id), "%s", harness_jstr(rx->json, "id"));
    forbidden(extend(h, LEEDS, x_id, 120), "store extends");
    r = extend(h, AGENT, x_id, 120);
    harness_assert_status(r, 200);
    harness_response_free(r);
    r = extend(h, STOREFRONT, x_id, 180);
    harness_assert_status(r, 200);
    harness_response_free(r);
    forbidden(act(h, YORK, x_id, "release"), "store releases");
    harness_response_free(act_ok(h, STOREFRONT, x_id, "release", "released"));

    /* admin: everything */
    rz = create_ok(h, ADMIN, "store",
                   "{\"channel\": \"store\", \"location\": \"store-leeds\", \"lines\": "
                   "[{\"sku\": \"ROLE-1\", \"quantity\": 9}]}");
    snprintf(z_id, sizeof(z_id), "%s", harness_jstr(rz->json, "id"));
    r = extend(h, ADMIN, z_id, 300);
    harness_assert_status(r, 200);
    harness_response_free(r);
    harness_response_free(act_ok(h, ADMIN, z_id, "release", "released"));

    /* the consistency check is an admin's */
    forbidden(harness_get(h, STOREFRONT, "/v1/admin/consistency"), "storefront checks");
    forbidden(harness_get(h, LEEDS, "/v1/admin/consistency"), "store checks");
    r = harness_get(h, NULL, "/v1/admin/consistency");
    harness_assert_problem(r, 401, "unauthorized", NULL);
    harness_response_free(r);

    expect_stock(h, "ROLE-1", 17, "wh-1=10/0,store-leeds=9/0,store-york=8/0");
    harness_response_free(ry);
    harness_response_free(rl);
    harness_response_free(rw);
    harness_response_free(rx);
    harness_response_free(rz);
    assert_consistent(h);
}

/* ---- events ---- */

/*
 * resv_events - the events of @type for reservation @id in the history of
 * @sku: checks each names the SKU and carries a quantity; @return the sum of
 * the quantities and, in @where, "loc:n,..." in the order found.
 */
static long long resv_events(struct harness *h, const char *sku, const char *id, const char *type,
                             char *where, size_t size)
{
    char path[128];
    struct harness_response *r;
    long long sum = 0;
    json_t *e;
    size_t i;

    where[0] = '\0';
    snprintf(path, sizeof(path), "/v1/stock/%s/history?limit=100", sku);
    r = harness_get(h, AGENT, path);
    harness_assert_status(r, 200);
    json_array_foreach(harness_jget(r->json, "events"), i, e)
    {
        const char *t = harness_jstr(e, "type");
        const char *rid = harness_jstr(e, "reservation");

        if (t == NULL || strcmp(t, type) != 0 || rid == NULL || strcmp(rid, id) != 0) {
            continue;
        }
        expect(r, harness_jstr(e, "sku") != NULL && strcmp(harness_jstr(e, "sku"), sku) == 0);
        expect(r, harness_jstr(e, "location") != NULL);
        expect(r, harness_jint(e, "quantity") > 0);
        expect(r, harness_jint(e, "levels/reserved") != LLONG_MIN);
        sum += harness_jint(e, "quantity");
        snprintf(where + strlen(where), size - strlen(where), "%s%s:%lld", where[0] ? "," : "",
                 harness_jstr(e, "location"), harness_jint(e, "quantity"));
    }
    harness_response_free(r);
    return sum;
}

static void test_reservations__events_in_the_sku_history(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char id[72], where[256];

    put_product(h, "EV-1", 0);
    harness_receipt(h, "EV-1", "wh-1", 2);
    harness_receipt(h, "EV-1", "store-hull", 3);
    r = create_ok(h, STOREFRONT, "web",
                  "{\"channel\": \"web\", \"reference\": \"order-9\", \"lines\": [{\"sku\": "
                  "\"EV-1\", \"quantity\": 4}]}");
    assert_line(r, "EV-1", 4, "wh-1:2,store-hull:2");
    snprintf(id, sizeof(id), "%s", harness_jstr(r->json, "id"));
    harness_response_free(r);
    harness_response_free(act_ok(h, STOREFRONT, id, "commit", "committed"));

    /* one reservation.held per SKU and location, summing to the line */
    assert_int_equal(resv_events(h, "EV-1", id, "reservation.held", where, sizeof(where)), 4);
    if (strcmp(where, "wh-1:2,store-hull:2") != 0 && strcmp(where, "store-hull:2,wh-1:2") != 0) {
        fail_msg("reservation.held events: expected wh-1:2 and store-hull:2, got %s", where);
    }
    /* the levels after the hold */
    {
        struct harness_response *hist =
            harness_get(h, ADMIN, "/v1/stock/EV-1/history?location=wh-1&limit=100");
        json_t *e;
        size_t i;
        int seen = 0;

        harness_assert_status(hist, 200);
        json_array_foreach(harness_jget(hist->json, "events"), i, e)
        {
            if (streq(harness_jstr(e, "type"), "reservation.held")) {
                expect(hist, harness_jint(e, "levels/on_hand") == 2);
                expect(hist, harness_jint(e, "levels/reserved") == 2);
                expect(hist, harness_jint(e, "levels/available") == 0);
                seen++;
            }
        }
        expect(hist, seen == 1);
        harness_response_free(hist);
    }

    harness_response_free(act_ok(h, AGENT, id, "release", "released"));
    assert_int_equal(resv_events(h, "EV-1", id, "reservation.released", where, sizeof(where)), 4);
    expect_stock(h, "EV-1", 5, "wh-1=2/0,store-hull=3/0");
    assert_consistent(h);
}

/* ---- shortfall ---- */

static void test_reservations__sale_below_reserved_names_the_reservation(void **state)
{
    struct harness *h = *state;
    struct harness_response *held, *r;
    const char *id;
    json_t *e;
    size_t i;
    int seen = 0;

    put_product(h, "SHORT-1", 0);
    harness_receipt(h, "SHORT-1", "store-york", 4);
    held = create_ok(h, STOREFRONT, "store",
                     "{\"channel\": \"store\", \"location\": \"store-york\", \"lines\": "
                     "[{\"sku\": \"SHORT-1\", \"quantity\": 4}]}");
    id = harness_jstr(held->json, "id");

    /* the till sells 2 that were held: applied, and the reservation is named at risk */
    r = harness_post_json(h, YORK, "/v1/movements",
                          "{\"sku\": \"SHORT-1\", \"location\": \"store-york\", \"type\": "
                          "\"sale\", \"quantity\": 2}");
    harness_assert_status(r, 201);
    harness_assert_jint(r, "on_hand", 2);
    harness_assert_jint(r, "reserved", 4);
    harness_assert_jint(r, "available", 0);
    harness_response_free(r);
    r = harness_get(h, AGENT, "/v1/stock/SHORT-1/history?location=store-york");
    harness_assert_status(r, 200);
    json_array_foreach(harness_jget(r->json, "events"), i, e)
    {
        json_t *list = json_object_get(e, "reservations");
        json_t *v;
        size_t k;

        if (!streq(harness_jstr(e, "type"), "stock.shortfall")) {
            continue;
        }
        seen++;
        expect(r, json_is_array(list));
        json_array_foreach(list, k, v)
        {
            seen += json_is_string(v) && strcmp(json_string_value(v), id) == 0 ? 10 : 0;
        }
    }
    expect(r, seen == 11);
    harness_response_free(r);
    assert_int_equal(channel(h, "SHORT-1", "store/store-york"), 0);
    assert_consistent(h);

    harness_response_free(act_ok(h, STOREFRONT, id, "release", "released"));
    harness_response_free(held);
    expect_stock(h, "SHORT-1", 0, "store-york=2/0");
    assert_int_equal(channel(h, "SHORT-1", "store/store-york"), 2);
    assert_consistent(h);
}

/* ---- expiry ---- */

/* Put the holds of reservation @id in partition @part past their expiry, as if the sweep lagged. */
static void holds_run_out(struct harness *h, unsigned part, const char *id)
{
    redisReply *rep = harness_redis_command(&h->redis, "HSET {p%02u}:hold:%s :exp %lld", part, id,
                                            wall_ms() - 1000);

    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
}

/*
 * Holds that ran out under a record still held are never committed or
 * extended: the stock goes back, the reservation is expired, and says so.
 * The same whether the basket moves in one script (one partition) or
 * partition by partition (two).
 */
static void test_reservations__lapsed_holds_are_not_committed(void **state)
{
    static const char *const skus[] = {"LAPSE-1", "LAPSE-2", "LAPSE-3", "LAPSE-4"};
    struct harness *h = *state;
    struct harness_response *r;
    const char *a = skus[0], *b;
    char body[512], id[72], where[256];

    b = stock_two_partitions(h, skus);
    for (int two = 0; two <= 1; two++) {
        for (int commit = 0; commit <= 1; commit++) {
            if (two)
                snprintf(body, sizeof(body),
                         "{\"channel\": \"web\", \"lines\": [{\"sku\": \"%s\", \"quantity\": 2}, "
                         "{\"sku\": \"%s\", \"quantity\": 1}]}",
                         a, b);
            else
                snprintf(body, sizeof(body),
                         "{\"channel\": \"web\", \"lines\": [{\"sku\": \"%s\", \"quantity\": 2}]}",
                         a);
            r = create_ok(h, STOREFRONT, "web", body);
            snprintf(id, sizeof(id), "%s", harness_jstr(r->json, "id"));
            harness_response_free(r);
            expect_stock(h, a, 3, "wh-1=5/2");
            holds_run_out(h, partition_of(a, 16), id);
            if (two)
                holds_run_out(h, partition_of(b, 16), id);
            harness_context("%s of a %s-partition basket whose holds ran out",
                            commit ? "commit" : "extend", two ? "two" : "one");
            r = commit ? act(h, STOREFRONT, id, "commit") : extend(h, STOREFRONT, id, 60);
            harness_assert_problem(r, 409, "invalid-transition", NULL);
            harness_assert_jstr(r, "current_status", "expired");
            harness_response_free(r);
            harness_context(NULL);
            refused(h, id, "commit", "expired");
            expect_stock(h, a, 5, "wh-1=5/0");
            expect_stock(h, b, 5, "wh-1=5/0");
            assert_int_equal(resv_events(h, a, id, "reservation.expired", where, sizeof(where)), 2);
            assert_int_equal(resv_events(h, b, id, "reservation.expired", where, sizeof(where)),
                             two ? 1 : 0);
            assert_int_equal(resv_events(h, a, id, "reservation.released", where, sizeof(where)),
                             0);
        }
    }
    assert_consistent(h);
}

static void test_reservations__expiry_returns_stock_without_reads(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char id[72], where[256];
    long long expires, back = -1, deadline;
    int polls = 0;

    put_product(h, "EXP-1", 0);
    harness_receipt(h, "EXP-1", "wh-1", 5);
    r = create_ok(h, STOREFRONT, "web",
                  "{\"channel\": \"web\", \"ttl_seconds\": 1, \"lines\": [{\"sku\": \"EXP-1\", "
                  "\"quantity\": 5}]}");
    snprintf(id, sizeof(id), "%s", harness_jstr(r->json, "id"));
    expires = rfc3339_ms(harness_jstr(r->json, "expires_at"));
    expect(r, expires > rfc3339_ms(harness_jstr(r->json, "created_at")));
    expect(r, expires <= wall_ms() + 1500);
    harness_response_free(r);

    /* only stock reads: the reservation itself is not looked at until the stock is back */
    deadline = expires + 1500;
    while (wall_ms() <= deadline + 1000) {
        json_t *s = stock(h, "EXP-1");
        long long web = harness_jint(s, "channels/web/available");
        long long reserved = level(s, "wh-1", "reserved");
        long long t = wall_ms();

        json_decref(s);
        polls++;
        if (web == 5 && reserved == 0) {
            back = t;
            break;
        }
        if (web != 0 || reserved != 5) {
            fail_msg("EXP-1 half returned: web %lld, reserved %lld", web, reserved);
        }
        harness_sleep_ms(50);
    }
    if (back < 0 || back > deadline) {
        fail_msg("stock of a reservation expiring at %lld ms not back by %lld ms (back at %lld)",
                 expires, deadline, back);
    }
    /* not early either (200 ms for clocks and rounding) */
    if (back < expires - 200) {
        fail_msg("stock back at %lld ms, before expires_at %lld ms", back, expires);
    }
    assert_true(polls > 1);

    r = read_resv(h, STOREFRONT, id);
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "status", "expired");
    expect(r, rfc3339_ms(harness_jstr(r->json, "expired_at")) >= expires);
    harness_response_free(r);
    fprintf(stderr, "expiry: stock back %lld ms after expires_at, %d stock reads\n", back - expires,
            polls);
    refused(h, id, "commit", "expired");
    refused(h, id, "release", "expired");
    refused(h, id, "extend", "expired");
    refused(h, id, "fulfil", "expired");
    expect_stock(h, "EXP-1", 5, "wh-1=5/0");
    assert_int_equal(resv_events(h, "EXP-1", id, "reservation.expired", where, sizeof(where)), 5);
    assert_consistent(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reservations__web_allocates_warehouses_then_stores, each_setup),
        cmocka_unit_test_setup(test_reservations__web_ties_by_location_id, each_setup),
        cmocka_unit_test_setup(test_reservations__same_sku_lines_are_summed, each_setup),
        cmocka_unit_test_setup(test_reservations__click_collect_and_store_at_a_named_store,
                               each_setup),
        cmocka_unit_test_setup(test_reservations__lifecycle_transitions, each_setup),
        cmocka_unit_test_setup(test_reservations__all_or_nothing, each_setup),
        cmocka_unit_test_setup(test_reservations__bad_requests_change_nothing, each_setup),
        cmocka_unit_test_setup(test_reservations__idempotent_create, each_setup),
        cmocka_unit_test_setup(test_reservations__key_reused_after_its_record_expired, each_setup),
        cmocka_unit_test_setup(test_reservations__one_partition_basket_is_recorded_with_its_holds,
                               each_setup),
        cmocka_unit_test_setup(test_reservations__lapsed_holds_are_not_committed, each_setup),
        cmocka_unit_test_setup(test_reservations__answers_keep_the_contract_order, each_setup),
        cmocka_unit_test_setup(test_reservations__roles, each_setup),
        cmocka_unit_test_setup(test_reservations__events_in_the_sku_history, each_setup),
        cmocka_unit_test_setup(test_reservations__sale_below_reserved_names_the_reservation,
                               each_setup),
        cmocka_unit_test_setup(test_reservations__expiry_returns_stock_without_reads, each_setup),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
