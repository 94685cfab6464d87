/*
 * test_recommend.c - the recommend module through the real daemon, written
 * against the contract (API.md "Orders", "Recommendations", "Customers") and
 * DESIGN.md ("Recommendation scoring", "Ethical selling, in code"):
 *
 * - the primary need first: an unresolved primary gets no items and the
 *   places where it can be had instead; availability or a reservation that
 *   holds it turns suggestions on;
 * - every policy rule in a test of its own, each with a candidate that only
 *   that rule keeps out (so the test fails if the rule goes): category,
 *   channel and location, price cap, basket, the customer's purchases (only
 *   with consent), sensitive categories, max_items, no filler, negative
 *   association, min_co_orders, min_llr; ranking by the LLR score (computed
 *   here from DESIGN.md); the reason and the evidence are the counts loaded;
 *   no urgency wording;
 * - opt-out, preferences by role, feedback and stats, two dismissals mean
 *   "not today";
 * - erasure: the whole keyspace scanned, keys and values, for the customer's
 *   id, including orders placed but not yet counted;
 * - POST /v1/orders: idempotent by id, admin only, bad input changes nothing;
 * - committed reservations are counted exactly once, however often the
 *   order reaches the stream or is delivered to the consumer;
 * - Redis down: 503 with Retry-After, then service again.
 *
 * The daemon runs with the recommendation policy of API.md's example config
 * and "pharmacy" as a sensitive category. Every test uses its own SKUs and
 * customers; the model's total grows from test to test, which only
 * strengthens the positive associations the tests rely on (300 background
 * orders make every designed pair significant from the start).
 *
 *   wh-1         warehouse, fulfils web
 *   store-leeds  store, fulfils web, store, click_collect, store_buffer 1
 *   store-york   store, fulfils store, click_collect
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
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

#define PARTITIONS      16    /* the daemon's default */
#define MIN_LLR         10.83 /* the policy the daemon is configured with */
#define WAIT_MS         5000  /* how long the consumer may take to count an order */
#define RECOVERY_MS     10000 /* how long the daemon may take to find Redis again */
#define AUDIT_WINDOW_MS 1000  /* anonymous answers are tallied this long (rec_store.h) */
#define PRIMARY_PRICE   1000
#define BACKGROUND      300

/* When this file last asked for recommendations (harness_now_ms), or 0. */
static long long last_asked_ms;

static const char config_recommendations[] =
    "{\"max_items\": 3, \"max_price_ratio\": 0.5, \"min_co_orders\": 3, \"min_llr\": 10.83, "
    "\"sensitive_categories\": [\"pharmacy\"]}";

/* ---- helpers: checks ---- */

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

/* items_of - the SKUs of the response's items, comma-separated, into @buf. */
static const char *items_of(const struct harness_response *r, char *buf, size_t len)
{
    json_t *item;
    size_t i, used = 0;

    buf[0] = '\0';
    json_array_foreach(harness_jget(r->json, "items"), i, item)
    {
        const char *sku = harness_jstr(item, "sku");

        used += (size_t)snprintf(buf + used, len - used, "%s%s", i > 0 ? "," : "",
                                 sku != NULL ? sku : "?");
        if (used >= len) {
            break;
        }
    }
    return buf;
}

/* assert_items - the response's items are exactly @want ("A,B"; "" for none), in that order. */
#define assert_items(r, want) assert_items_((r), (want), __FILE__, __LINE__)

static void assert_items_(const struct harness_response *r, const char *want, const char *file,
                          int line)
{
    char got[1024];

    if (!json_is_array(harness_jget(r->json, "items"))) {
        dump(r, "recommendation");
        fail_msg("%s:%d: no items array", file, line);
    }
    if (strcmp(items_of(r, got, sizeof(got)), want) != 0) {
        dump(r, "recommendation");
        fail_msg("%s:%d: items: expected [%s], got [%s]", file, line, want, got);
    }
}

/* ---- helpers: data through the API ---- */

static void put_location(struct harness *h, const char *id, const char *type, const char *fulfils,
                         int buffer)
{
    char path[128], body[256];

    snprintf(path, sizeof(path), "/v1/locations/%s", id);
    snprintf(body, sizeof(body),
             "{\"name\": \"%s\", \"type\": \"%s\", \"fulfils\": [%s], \"store_buffer\": %d}", id,
             type, fulfils, buffer);
    harness_admin_put(h, path, body);
}

static void put_product_in(struct harness *h, const char *sku, const char *category,
                           long long price, const char *currency)
{
    char path[128], body[384];

    snprintf(path, sizeof(path), "/v1/products/%s", sku);
    snprintf(body, sizeof(body),
             "{\"name\": \"Item %s\", \"category\": \"%s\", \"price\": {\"amount\": %lld, "
             "\"currency\": \"%s\"}}",
             sku, category, price, currency);
    harness_admin_put(h, path, body);
}

static void put_product(struct harness *h, const char *sku, const char *category, long long price)
{
    put_product_in(h, sku, category, price, "GBP");
}

/* An order id nobody else uses. */
static void next_order_id(char id[32])
{
    static int next;

    snprintf(id, 32, "ord-%06d", ++next);
}

/* order_new - {"id": fresh, "customer"?, "lines": one line of each SKU in @skus ("A,B")}. */
static json_t *order_new(const char *skus, const char *customer)
{
    char id[32], copy[512], *save = NULL;
    json_t *lines = json_array(), *o;

    next_order_id(id);
    snprintf(copy, sizeof(copy), "%s", skus);
    for (char *s = strtok_r(copy, ",", &save); s != NULL; s = strtok_r(NULL, ",", &save)) {
        json_array_append_new(lines, json_pack("{s:s, s:i}", "sku", s, "quantity", 1));
    }
    o = json_pack("{s:s, s:o}", "id", id, "lines", lines);
    if (customer != NULL) {
        json_object_set_new(o, "customer", json_string(customer));
    }
    return o;
}

/* post_orders - POST /v1/orders {"orders": @orders (stolen)} as admin: 200, all accepted. */
static void post_orders(struct harness *h, json_t *orders)
{
    size_t n = json_array_size(orders);
    json_t *body = json_pack("{s:o}", "orders", orders);
    char *text = json_dumps(body, JSON_COMPACT);
    struct harness_response *r = harness_post_json(h, ADMIN, "/v1/orders", text);

    harness_context("POST /v1/orders with %zu orders", n);
    harness_assert_status(r, 200);
    harness_assert_jint(r, "accepted", (long long)n);
    harness_assert_jint(r, "duplicates", 0);
    harness_context(NULL);
    harness_response_free(r);
    free(text);
    json_decref(body);
}

/* orders_of - @n orders of the SKUs @skus ("A,B"), each with a fresh id (1,000 a call). */
static void orders_of(struct harness *h, const char *skus, int n)
{
    while (n > 0) {
        json_t *orders = json_array();

        for (int i = 0; i < n && i < 1000; i++) {
            json_array_append_new(orders, order_new(skus, NULL));
        }
        n -= (int)json_array_size(orders);
        post_orders(h, orders);
    }
}

/* One candidate of a scenario: its product, its stock, its orders with the primary. */
struct cand {
    const char *sku;
    const char *category;
    long long price;      /* GBP minor units */
    const char *location; /* its stock is there; NULL: none */
    int quantity;
    int together; /* orders of the primary with it */
};

/*
 * scenario - @primary (kitchen, 1000 GBP, 10 at wh-1), each candidate's
 * product and stock, @together orders of the primary with each candidate
 * (the candidate in no other order), and @alone orders of the primary alone.
 */
static void scenario(struct harness *h, const char *primary, const struct cand *c, size_t n,
                     int alone)
{
    char skus[160];

    put_product(h, primary, "kitchen", PRIMARY_PRICE);
    harness_receipt(h, primary, "wh-1", 10);
    for (size_t i = 0; i < n; i++) {
        put_product(h, c[i].sku, c[i].category, c[i].price);
        if (c[i].location != NULL) {
            harness_receipt(h, c[i].sku, c[i].location, c[i].quantity);
        }
        snprintf(skus, sizeof(skus), "%s,%s", primary, c[i].sku);
        orders_of(h, skus, c[i].together);
    }
    if (alone > 0) {
        orders_of(h, primary, alone);
    }
}

/* recommend - GET /v1/recommendations?<query> with @key. */
static struct harness_response *recommend(struct harness *h, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct harness_response *recommend(struct harness *h, const char *key, const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    int n;

    n = snprintf(path, sizeof(path), "/v1/recommendations?");
    va_start(ap, fmt);
    vsnprintf(path + n, sizeof(path) - (size_t)n, fmt, ap);
    va_end(ap);
    last_asked_ms = harness_now_ms();
    return harness_get(h, key, path);
}

/* recommend_ok - as the storefront; expect 200 with a resolved primary. */
static struct harness_response *recommend_ok(struct harness *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static struct harness_response *recommend_ok(struct harness *h, const char *fmt, ...)
{
    char query[900];
    struct harness_response *r;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(query, sizeof(query), fmt, ap);
    va_end(ap);
    r = recommend(h, STOREFRONT, "%s", query);
    harness_context("GET /v1/recommendations?%s", query);
    harness_assert_status(r, 200);
    expect(r, json_is_true(harness_jget(r->json, "primary/resolved")));
    expect(r, json_is_array(harness_jget(r->json, "items")));
    harness_context(NULL);
    return r;
}

/* expect_items - as the storefront, the resolved answer to @query has items @want. */
static void expect_items(struct harness *h, const char *query, const char *want)
{
    struct harness_response *r = recommend_ok(h, "%s", query);

    harness_context("GET /v1/recommendations?%s", query);
    assert_items(r, want);
    harness_context(NULL);
    harness_response_free(r);
}

static struct harness_response *put_prefs(struct harness *h, const char *key, const char *customer,
                                          const char *body)
{
    char path[160];

    snprintf(path, sizeof(path), "/v1/customers/%s/preferences", customer);
    return harness_put_json(h, key, path, body);
}

static void put_prefs_ok(struct harness *h, const char *key, const char *customer, const char *body)
{
    struct harness_response *r = put_prefs(h, key, customer, body);

    harness_context("PUT preferences of %s: %s", customer, body);
    harness_assert_status(r, 200);
    harness_context(NULL);
    harness_response_free(r);
}

static struct harness_response *feedback(struct harness *h, const char *key, const char *event,
                                         const char *primary, const char *sku, const char *customer,
                                         const char *session)
{
    json_t *body = json_pack("{s:s, s:s, s:s}", "event", event, "primary", primary, "sku", sku);
    struct harness_response *r;
    char *text;

    if (customer != NULL) {
        json_object_set_new(body, "customer", json_string(customer));
    }
    if (session != NULL) {
        json_object_set_new(body, "session", json_string(session));
    }
    text = json_dumps(body, JSON_COMPACT);
    r = harness_post_json(h, key, "/v1/recommendations/feedback", text);
    free(text);
    json_decref(body);
    return r;
}

static void feedback_ok(struct harness *h, const char *event, const char *primary, const char *sku,
                        const char *customer, const char *session)
{
    struct harness_response *r = feedback(h, STOREFRONT, event, primary, sku, customer, session);

    harness_context("feedback %s %s/%s", event, primary, sku);
    harness_assert_status(r, 202);
    harness_assert_jstr(r, "event", event);
    harness_assert_jstr(r, "primary", primary);
    harness_assert_jstr(r, "sku", sku);
    harness_context(NULL);
    harness_response_free(r);
}

/* reserve - POST /v1/reservations as the storefront, expect 201; the id into @id. */
static void reserve(struct harness *h, const char *body, char id[80])
{
    struct harness_response *r = harness_post_json(h, STOREFRONT, "/v1/reservations", body);

    harness_context("reserve %s", body);
    harness_assert_status(r, 201);
    expect(r, harness_jstr(r->json, "id") != NULL && strlen(harness_jstr(r->json, "id")) < 80);
    snprintf(id, 80, "%s", harness_jstr(r->json, "id"));
    harness_context(NULL);
    harness_response_free(r);
}

static struct harness_response *transition(struct harness *h, const char *id, const char *action)
{
    char path[160];

    snprintf(path, sizeof(path), "/v1/reservations/%s/%s", id, action);
    return harness_http(h, "POST", path, STOREFRONT, NULL, "", 0);
}

/* ---- helpers: Redis as it is ---- */

static long long reply_ll(redisReply *rep)
{
    long long v = 0;

    if (rep != NULL && rep->type == REDIS_REPLY_INTEGER) {
        v = rep->integer;
    } else if (rep != NULL && rep->type == REDIS_REPLY_STRING) {
        v = strtoll(rep->str, NULL, 10);
    }
    freeReplyObject(rep);
    return v;
}

/* The model's count of orders in all. */
static long long model_total(struct harness *h)
{
    return reply_ll(harness_redis_command(&h->redis, "HGET {rec}:n :total"));
}

static long long model_orders(struct harness *h, const char *sku)
{
    return reply_ll(harness_redis_command(&h->redis, "HGET {rec}:n %s", sku));
}

static long long model_together(struct harness *h, const char *a, const char *b)
{
    return reply_ll(harness_redis_command(&h->redis, "HGET {rec}:co:%s %s", a, b));
}

static void orders_key(unsigned part, char key[32])
{
    snprintf(key, 32, "{p%02u}:orders", part);
}

/* Entries in the orders streams: placed, not yet counted (the consumer deletes what it counts). */
static long long orders_waiting(struct harness *h)
{
    long long n = 0;
    char key[32];

    for (unsigned p = 0; p < PARTITIONS; p++) {
        orders_key(p, key);
        n += reply_ll(harness_redis_command(&h->redis, "XLEN %s", key));
    }
    return n;
}

/* wait_counted - every order placed so far has been counted (fails after WAIT_MS). */
static void wait_counted(struct harness *h)
{
    long long deadline = wall_ms() + WAIT_MS;

    while (orders_waiting(h) > 0) {
        if (wall_ms() > deadline) {
            harness_daemon_log(h, 3000);
            fail_msg("orders still waiting in the streams after %d ms", WAIT_MS);
        }
        harness_sleep_ms(20);
    }
}

/* Entries ever added to the orders streams (XINFO STREAM entries-added, Redis 7). */
static long long orders_ever_added(struct harness *h)
{
    long long n = 0;
    char key[32];

    for (unsigned p = 0; p < PARTITIONS; p++) {
        redisReply *rep;

        orders_key(p, key);
        rep = harness_redis_command(&h->redis, "XINFO STREAM %s", key);
        for (size_t i = 0; rep != NULL && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements;
             i += 2) {
            if (rep->element[i]->type == REDIS_REPLY_STRING &&
                strcmp(rep->element[i]->str, "entries-added") == 0) {
                n += rep->element[i + 1]->integer;
            }
        }
        freeReplyObject(rep);
    }
    return n;
}

/*
 * digest - Redis's digest, once the audit trail has the answers asked for so
 * far: the daemon tallies anonymous answers for a second before it writes
 * them, a change that a digest taken sooner would see come later.
 */
static void digest(struct harness *h, char out[41])
{
    long long settled = last_asked_ms + AUDIT_WINDOW_MS + 500, now = harness_now_ms();

    if (last_asked_ms > 0 && now < settled)
        harness_sleep_ms((int)(settled - now));
    assert_int_equal(harness_redis_digest(&h->redis, out), 0);
}

/* ---- the score, computed here from DESIGN.md, not from the daemon's code ---- */

static double xlogx(double x)
{
    return x > 0 ? x * log(x) : 0.0;
}

/* LLR of primary A and candidate B: @k11 together, @a orders with A, @b with B, @n in all. */
static double llr(double k11, double a, double b, double n)
{
    double k12 = b - k11, k21 = a - k11, k22 = n - k11 - k12 - k21;
    double rows = xlogx(k11 + k12 + k21 + k22) - xlogx(k11 + k12) - xlogx(k21 + k22);
    double cols = xlogx(k11 + k12 + k21 + k22) - xlogx(k11 + k21) - xlogx(k12 + k22);
    double cells = xlogx(k11 + k12 + k21 + k22) - xlogx(k11) - xlogx(k12) - xlogx(k21) - xlogx(k22);

    return 2.0 * (rows + cols - cells);
}

/* positive - B is more likely with A than without it. */
static int positive(double k11, double a, double b, double n)
{
    return k11 / a > (b - k11) / (n - a);
}

/* ---- set-up ---- */

/* with_recommendation_policy - rewrite the harness's config with the policy, restart the daemon. */
static int with_recommendation_policy(struct harness *h)
{
    json_error_t jerr;
    json_t *cfg = json_load_file(h->config_path, 0, &jerr);
    json_t *rec = json_loads(config_recommendations, 0, &jerr);
    int rc;

    if (cfg == NULL || rec == NULL) {
        json_decref(cfg);
        json_decref(rec);
        return -1;
    }
    json_object_set_new(cfg, "recommendations", rec);
    rc = json_dump_file(cfg, h->config_path, JSON_INDENT(2));
    json_decref(cfg);
    return rc == 0 ? harness_daemon_restart(h) : -1;
}

static int group_setup(void **state)
{
    struct harness *h = harness_start();

    *state = h;
    if (h == NULL) {
        return -1;
    }
    if (with_recommendation_policy(h) != 0) {
        fprintf(stderr, "could not restart the daemon with the recommendation policy\n");
        return -1;
    }
    put_location(h, "wh-1", "warehouse", "\"web\"", 0);
    put_location(h, "store-leeds", "store", "\"web\", \"store\", \"click_collect\"", 1);
    put_location(h, "store-york", "store", "\"store\", \"click_collect\"", 0);
    orders_of(h, "BACKGROUND-1", BACKGROUND);
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* ---- the primary need first ---- */

static void test_recommend__unresolved_primary_lists_alternatives(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    json_t *alts;

    /* ALT-P: 5 at wh-1, 3 at store-leeds (buffer 1), none at store-york */
    put_product(h, "ALT-P", "kitchen", PRIMARY_PRICE);
    harness_receipt(h, "ALT-P", "wh-1", 5);
    harness_receipt(h, "ALT-P", "store-leeds", 3);
    put_product(h, "ALT-C", "table", 300);
    harness_receipt(h, "ALT-C", "store-york", 4);
    orders_of(h, "ALT-P,ALT-C", 6);

    r = recommend(h, STOREFRONT, "sku=ALT-P&channel=click_collect&location=store-york");
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "primary/sku", "ALT-P");
    expect(r, json_is_false(harness_jget(r->json, "primary/resolved")));
    expect(r, harness_jget(r->json, "primary/how") == NULL);
    assert_items(r, "");
    expect(r, harness_jget(r->json, "suppressed") == NULL);
    alts = harness_jget(r->json, "primary/alternatives");
    expect(r, json_array_size(alts) == 3);
    /* web: wh-1 5 + store-leeds 3 - buffer 1 */
    harness_assert_jstr(r, "primary/alternatives/0/channel", "web");
    expect(r, harness_jget(r->json, "primary/alternatives/0/location") == NULL);
    harness_assert_jint(r, "primary/alternatives/0/available", 7);
    harness_assert_jstr(r, "primary/alternatives/1/channel", "click_collect");
    harness_assert_jstr(r, "primary/alternatives/1/location", "store-leeds");
    harness_assert_jint(r, "primary/alternatives/1/available", 2);
    /* walk-in keeps no buffer */
    harness_assert_jstr(r, "primary/alternatives/2/channel", "store");
    harness_assert_jstr(r, "primary/alternatives/2/location", "store-leeds");
    harness_assert_jint(r, "primary/alternatives/2/available", 3);
    harness_response_free(r);

    /* available at store-york now: resolved, and the suggestion is there */
    harness_receipt(h, "ALT-P", "store-york", 2);
    r = recommend_ok(h, "sku=ALT-P&channel=click_collect&location=store-york");
    harness_assert_jstr(r, "primary/how", "available");
    expect(r, json_array_size(harness_jget(r->json, "primary/alternatives")) == 0);
    assert_items(r, "ALT-C");
    harness_assert_jint(r, "items/0/available", 4);
    harness_response_free(r);

    /* web asked, only store-york (no web) has it: the other channels there */
    put_product(h, "ALT-Q", "kitchen", PRIMARY_PRICE);
    harness_receipt(h, "ALT-Q", "store-york", 4);
    r = recommend(h, STOREFRONT, "sku=ALT-Q");
    harness_assert_status(r, 200);
    expect(r, json_is_false(harness_jget(r->json, "primary/resolved")));
    assert_items(r, "");
    expect(r, json_array_size(harness_jget(r->json, "primary/alternatives")) == 2);
    harness_assert_jstr(r, "primary/alternatives/0/channel", "click_collect");
    harness_assert_jstr(r, "primary/alternatives/0/location", "store-york");
    harness_assert_jint(r, "primary/alternatives/0/available", 4);
    harness_assert_jstr(r, "primary/alternatives/1/channel", "store");
    harness_assert_jstr(r, "primary/alternatives/1/location", "store-york");
    harness_assert_jint(r, "primary/alternatives/1/available", 4);
    harness_response_free(r);
}

static void test_recommend__reservation_resolves_primary(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char held[80], other[80];

    put_product(h, "RSV-P", "kitchen", PRIMARY_PRICE);
    harness_receipt(h, "RSV-P", "wh-1", 2);
    put_product(h, "RSV-C", "table", 300);
    harness_receipt(h, "RSV-C", "wh-1", 10);
    orders_of(h, "RSV-P,RSV-C", 6);

    /* the cart holds the last two: nobody else can have them, and nowhere else has any */
    reserve(h, "{\"channel\": \"web\", \"lines\": [{\"sku\": \"RSV-P\", \"quantity\": 2}]}", held);
    r = recommend(h, STOREFRONT, "sku=RSV-P");
    harness_assert_status(r, 200);
    expect(r, json_is_false(harness_jget(r->json, "primary/resolved")));
    expect(r, json_array_size(harness_jget(r->json, "primary/alternatives")) == 0);
    assert_items(r, "");
    harness_response_free(r);

    /* the customer's own reservation holds it: resolved, suggestions on */
    r = recommend_ok(h, "sku=RSV-P&reservation=%s", held);
    harness_assert_jstr(r, "primary/how", "reserved");
    assert_items(r, "RSV-C");
    harness_response_free(r);

    /* a reservation of something else does not */
    reserve(h, "{\"channel\": \"web\", \"lines\": [{\"sku\": \"RSV-C\", \"quantity\": 1}]}", other);
    r = recommend(h, STOREFRONT, "sku=RSV-P&reservation=%s", other);
    harness_assert_status(r, 200);
    expect(r, json_is_false(harness_jget(r->json, "primary/resolved")));
    assert_items(r, "");
    harness_response_free(r);

    r = recommend(h, STOREFRONT, "sku=RSV-P&reservation=r-0000000000000000");
    harness_assert_problem(r, 422, "unknown-reference", "reservation");
    harness_response_free(r);

    /* released: the stock is back, so it is available, no longer reserved */
    r = transition(h, held, "release");
    harness_assert_status(r, 200);
    harness_response_free(r);
    r = recommend_ok(h, "sku=RSV-P&reservation=%s", held);
    harness_assert_jstr(r, "primary/how", "available");
    assert_items(r, "RSV-C");
    harness_response_free(r);
    r = transition(h, other, "release");
    harness_assert_status(r, 200);
    harness_response_free(r);
}

/* ---- the policy, one rule at a time ---- */

static void test_recommend__never_the_primarys_category(void **state)
{
    struct harness *h = *state;
    /* SUB-SAME is the strongest, but a substitute */
    static const struct cand c[] = {
        {"SUB-SAME", "kitchen", 300, "wh-1", 10, 8},
        {"SUB-OTHER", "table", 300, "wh-1", 10, 4},
    };

    scenario(h, "SUB-P", c, 2, 2);
    expect_items(h, "sku=SUB-P", "SUB-OTHER");
}

static void test_recommend__same_channel_and_location_only(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"AV-YORK", "table", 300, "store-york", 2, 7},
        {"AV-WH", "table", 300, "wh-1", 9, 6},
        {"AV-LEEDS", "table", 300, "store-leeds", 4, 5},
        {"AV-NONE", "table", 300, NULL, 0, 4},
    };
    struct harness_response *r;

    scenario(h, "AV-P", c, 4, 2);
    harness_receipt(h, "AV-P", "store-york", 5);
    harness_receipt(h, "AV-P", "store-leeds", 5);

    /* walk-in at store-york: only what store-york has */
    r = recommend_ok(h, "sku=AV-P&channel=store&location=store-york");
    assert_items(r, "AV-YORK");
    harness_assert_jint(r, "items/0/available", 2);
    harness_response_free(r);

    /* web: wh-1, and store-leeds less its buffer; store-york does not ship */
    r = recommend_ok(h, "sku=AV-P");
    assert_items(r, "AV-WH,AV-LEEDS");
    harness_assert_jint(r, "items/0/available", 9);
    harness_assert_jint(r, "items/1/available", 3);
    harness_response_free(r);

    /* click-and-collect at store-leeds */
    r = recommend_ok(h, "sku=AV-P&channel=click_collect&location=store-leeds");
    assert_items(r, "AV-LEEDS");
    harness_assert_jint(r, "items/0/available", 3);
    harness_response_free(r);
}

/* A sale of @quantity of @sku at wh-1, as the admin. */
static void sale(struct harness *h, const char *sku, int quantity)
{
    char body[256];
    struct harness_response *r;

    snprintf(body, sizeof(body),
             "{\"sku\": \"%s\", \"location\": \"wh-1\", \"type\": \"sale\", \"quantity\": %d}", sku,
             quantity);
    r = harness_post_json(h, ADMIN, "/v1/movements", body);
    harness_assert_status(r, 201);
    harness_response_free(r);
}

static double reused(struct harness *h)
{
    double v = harness_metric(h, "omnistock_recommendations_reused_total");

    return v < 0 ? 0 : v;
}

/*
 * Whether asking @query again soon gets the answer given again. Not always
 * the first time after a change: Redis's news of a change this daemon made
 * comes after its own answer, and drops what was made in between once more.
 */
static int given_again(struct harness *h, const char *query, const char *want)
{
    double before = reused(h);

    for (int i = 0; i < 40; i++) {
        expect_items(h, query, want);
        if (reused(h) > before)
            return 1;
        harness_sleep_ms(5);
    }
    return 0;
}

/*
 * An answer that names no customer, session, reservation or basket is given
 * again while nothing it read has changed, and never after: a candidate sold
 * out, an order learnt, a level changed in Redis by another writer. Answers
 * for a customer are always made afresh.
 */
static void test_recommend__anonymous_answers_reused_until_what_they_read_changes(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"AC-A", "table", 300, "wh-1", 4, 9},
        {"AC-B", "table", 300, "wh-1", 10, 6},
    };
    struct harness_response *first, *r;
    double before;
    char key[96];

    scenario(h, "AC-P", c, 2, 2);
    first = recommend_ok(h, "sku=AC-P");
    assert_items(first, "AC-A,AC-B");
    expect(first, given_again(h, "sku=AC-P", "AC-A,AC-B"));
    /* Nothing changing now: given again every time, as it was. */
    before = reused(h);
    for (int i = 0; i < 5; i++) {
        r = recommend_ok(h, "sku=AC-P");
        expect(r, json_equal(r->json, first->json));
        harness_response_free(r);
    }
    expect(first, reused(h) == before + 5);

    /* AC-A sells out: the very next answer knows it. */
    sale(h, "AC-A", 4);
    before = reused(h);
    expect_items(h, "sku=AC-P", "AC-B");
    expect(first, reused(h) == before);
    expect(first, given_again(h, "sku=AC-P", "AC-B"));

    /* An order learnt through this daemon: the evidence moves at once. */
    harness_receipt(h, "AC-A", "wh-1", 4);
    expect_items(h, "sku=AC-P", "AC-A,AC-B");
    orders_of(h, "AC-P,AC-A", 1);
    r = recommend_ok(h, "sku=AC-P");
    harness_assert_jint(r, "items/0/evidence/together", 10);
    harness_response_free(r);

    /* A level written straight in Redis, as another daemon would: seen within a moment. */
    expect(first, given_again(h, "sku=AC-P", "AC-A,AC-B"));
    snprintf(key, sizeof(key), "{p%02u}:sku:AC-B", partition_of("AC-B", PARTITIONS));
    freeReplyObject(harness_redis_command(&h->redis, "HSET %s wh-1 0:0:0", key));
    {
        long long start = harness_now_ms();
        int gone = 0;
        while (!gone && harness_now_ms() - start < 1000) {
            r = recommend_ok(h, "sku=AC-P");
            gone = json_array_size(harness_jget(r->json, "items")) == 1;
            harness_response_free(r);
            if (!gone)
                harness_sleep_ms(5);
        }
        expect(first, gone);
    }

    /* For a customer: made afresh every time. */
    before = reused(h);
    expect_items(h, "sku=AC-P&customer=cust-ac", "AC-A");
    expect_items(h, "sku=AC-P&customer=cust-ac", "AC-A");
    expect(first, reused(h) == before);
    harness_response_free(first);
}

/*
 * Ask for @query every 20 ms until @until_ms (harness_now_ms), each answer the
 * same as @first: @return how many of them were made afresh, not given again.
 */
static int made_while_asking(struct harness *h, const char *query,
                             const struct harness_response *first, long long until_ms)
{
    double before = reused(h);
    int asked = 0;

    while (harness_now_ms() < until_ms) {
        struct harness_response *r = recommend_ok(h, "%s", query);
        expect(r, json_equal(r->json, first->json));
        harness_response_free(r);
        asked++;
        harness_sleep_ms(20);
    }
    return asked - (int)(reused(h) - before);
}

/*
 * An anonymous answer asked for steadily is not made afresh each time its age
 * (answer_cache_ms, here 400) runs out: the daemon confirms it shortly before
 * by the model's count of orders. But not past read_cache.max_age_ms (here
 * 3000) from when it was made: then it is made afresh, once.
 */
static void test_recommend__an_answer_asked_steadily_is_confirmed_not_made_again(void **state)
{
    static const struct cand c[] = {
        {"CF-A", "table", 300, "wh-1", 4, 9},
        {"CF-B", "table", 300, "wh-1", 10, 6},
    };
    struct harness *h = harness_start_config(
        "{\"read_cache\": {\"max_age_ms\": 3000}, \"recommendations\": {\"max_items\": 3, "
        "\"max_price_ratio\": 0.5, \"min_co_orders\": 3, \"min_llr\": 10.83, "
        "\"answer_cache_ms\": 400}}");
    struct harness_response *first;
    long long made_ms;
    int made;

    (void)state;
    assert_non_null(h);
    put_location(h, "wh-1", "warehouse", "\"web\"", 0);
    orders_of(h, "BACKGROUND-1", BACKGROUND);
    scenario(h, "CF-P", c, 2, 2);
    first = recommend_ok(h, "sku=CF-P");
    made_ms = harness_now_ms();
    assert_items(first, "CF-A,CF-B");

    /* Two seconds, five ages or more: given again throughout (one more made at most, if a
     * confirmation came late on a busy machine). */
    made = made_while_asking(h, "sku=CF-P", first, made_ms + 2000);
    harness_context("answers made afresh in 2 s of asking: %d", made);
    expect(first, made <= 1);
    expect(first, harness_metric(h, "omnistock_recommendations_confirmed_total") >= 4);
    harness_context(NULL);

    /* Past max_age_ms from when it was made: made afresh. */
    made = made_while_asking(h, "sku=CF-P", first, made_ms + 4000);
    harness_context("answers made afresh from 2 s to 4 s: %d", made);
    expect(first, made >= 1 && made <= 2);
    harness_context(NULL);

    /* An order learnt: not confirmed, made afresh with the new evidence at once. */
    orders_of(h, "CF-P,CF-A", 1);
    {
        struct harness_response *r = recommend_ok(h, "sku=CF-P");
        harness_assert_jint(r, "items/0/evidence/together", 10);
        harness_response_free(r);
    }
    harness_response_free(first);
    assert_int_equal(harness_stop(h), 0);
}

/* An audit entry's "at" (2026-12-02T14:35:00.123Z) in ms since the epoch, or -1. */
static long long iso_ms(const char *at)
{
    struct tm tm;
    int ms = 0;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(at, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) < 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

/* The audit trail's entries for @primary and @customer ("" for anonymous ones). */
struct audit_seen {
    int entries;
    long long count;    /* summed over the entries */
    long long first_ms; /* the earliest "at" */
    char channel[16], location[80], items[512];
};

static const char *entry_field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1]->str;
    return NULL;
}

static struct audit_seen audit_of(struct harness *h, const char *primary, const char *customer)
{
    redisReply *rep = harness_redis_command(&h->redis, "XRANGE {rec}:audit - +");
    struct audit_seen seen = {0, 0, 0, "", "", ""};

    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *fields = rep->element[i]->element[1];
        const char *p = entry_field(fields, "primary"), *c = entry_field(fields, "customer");
        const char *n = entry_field(fields, "count"), *at = entry_field(fields, "at");
        long long at_ms;
        if (p == NULL || c == NULL || strcmp(p, primary) != 0 || strcmp(c, customer) != 0)
            continue;
        assert_non_null(n);
        assert_non_null(at);
        seen.entries++;
        seen.count += atoll(n);
        at_ms = iso_ms(at);
        if (seen.first_ms == 0 || at_ms < seen.first_ms)
            seen.first_ms = at_ms;
        snprintf(seen.channel, sizeof(seen.channel), "%s", entry_field(fields, "channel"));
        snprintf(seen.location, sizeof(seen.location), "%s", entry_field(fields, "location"));
        snprintf(seen.items, sizeof(seen.items), "%s", entry_field(fields, "items"));
    }
    freeReplyObject(rep);
    return seen;
}

/* Wait until the audit trail has given @primary to anonymous askers @count times. */
static struct audit_seen audit_tallied(struct harness *h, const char *primary, long long count)
{
    long long start = harness_now_ms();
    struct audit_seen seen = audit_of(h, primary, "");

    while (seen.count < count && harness_now_ms() - start < 3000) {
        harness_sleep_ms(50);
        seen = audit_of(h, primary, "");
    }
    return seen;
}

/*
 * The audit trail: an answer for a customer is an entry of its own; anonymous
 * answers alike given within a second are one entry, at the first of them,
 * with how many times it was given. A product page seen a thousand times a
 * second is a thousand answers, not a thousand entries a second for 30 days.
 */
static void test_recommend__audit_trail_tallies_anonymous_answers_alike(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {{"AU-C", "table", 300, "wh-1", 10, 6}};
    struct audit_seen anon, named;
    long long t0, t1;
    struct harness_response *r;

    scenario(h, "AU-P", c, 1, 2);
    t0 = wall_ms();
    for (int i = 0; i < 25; i++) {
        r = recommend_ok(h, "sku=AU-P");
        assert_items(r, "AU-C");
        harness_response_free(r);
    }
    t1 = wall_ms();
    expect_items(h, "sku=AU-P&customer=cust-au", "AU-C");

    anon = audit_tallied(h, "AU-P", 25);
    assert_int_equal(anon.count, 25);
    /* One entry for each window the 25 answers fell in: one, unless they straddled a second. */
    assert_true(anon.entries >= 1 && anon.entries <= 2 + (t1 - t0) / 1000);
    assert_true(anon.first_ms >= t0 - 1000 && anon.first_ms <= t1 + 1000);
    assert_string_equal(anon.channel, "web");
    assert_string_equal(anon.location, "");
    assert_non_null(strstr(anon.items, "\"AU-C\""));

    named = audit_of(h, "AU-P", "cust-au");
    assert_int_equal(named.entries, 1);
    assert_int_equal(named.count, 1);
    assert_non_null(strstr(named.items, "\"AU-C\""));
}

/* A daemon that stops writes the anonymous answers it was still counting. */
static void test_recommend__audit_tally_is_written_when_the_daemon_stops(void **state)
{
    struct harness *h = *state, *other;
    static const struct cand c[] = {{"AS-C", "table", 300, "wh-1", 10, 6}};
    struct harness_response *r;

    scenario(h, "AS-P", c, 1, 2);
    other = harness_start_peer(h);
    assert_non_null(other);
    for (int i = 0; i < 3; i++) {
        r = recommend_ok(other, "sku=AS-P");
        assert_items(r, "AS-C");
        harness_response_free(r);
    }
    assert_int_equal(harness_stop(other), 0);
    assert_int_equal(audit_of(h, "AS-P", "").count, 3);
}

static void test_recommend__price_cap(void **state)
{
    struct harness *h = *state;
    /* cap: 0.5 x 1000 = 500 GBP */
    static const struct cand c[] = {
        {"PR-OVER", "table", 501, "wh-1", 10, 9},
        {"PR-AT", "table", 500, "wh-1", 10, 8},
        {"PR-CHEAP", "table", 100, "wh-1", 10, 3},
    };
    struct harness_response *r;

    scenario(h, "PR-P", c, 3, 2);
    /* cheap, but in another currency: not comparable, so not offered */
    put_product_in(h, "PR-EUR", "table", 100, "EUR");
    harness_receipt(h, "PR-EUR", "wh-1", 10);
    orders_of(h, "PR-P,PR-EUR", 7);

    r = recommend_ok(h, "sku=PR-P");
    assert_items(r, "PR-AT,PR-CHEAP");
    harness_assert_jint(r, "items/0/price/amount", 500);
    harness_assert_jstr(r, "items/0/price/currency", "GBP");
    harness_assert_jint(r, "policy/max_items", 3);
    expect(r, json_real_value(harness_jget(r->json, "policy/max_price_ratio")) == 0.5);
    harness_response_free(r);
}

static void test_recommend__not_what_is_in_the_basket(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"BK-A", "table", 300, "wh-1", 10, 8},
        {"BK-B", "table", 300, "wh-1", 10, 6},
    };

    scenario(h, "BK-P", c, 2, 2);
    expect_items(h, "sku=BK-P", "BK-A,BK-B");
    expect_items(h, "sku=BK-P&basket=BK-A", "BK-B");
    expect_items(h, "sku=BK-P&basket=OTHER-1,BK-B,BK-P", "BK-A");
    expect_items(h, "sku=BK-P&basket=BK-B,BK-A", "");
}

static void test_recommend__bought_excluded_only_with_consent(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"HB-A", "table", 300, "wh-1", 10, 8},
        {"HB-B", "table", 300, "wh-1", 10, 6},
    };
    json_t *orders = json_array();

    scenario(h, "HB-P", c, 2, 2);
    /* cust-hb-1 bought HB-A last month */
    json_array_append_new(orders, order_new("HB-A", "cust-hb-1"));
    json_object_set_new(json_array_get(orders, 0), "at", json_string("2026-01-05T10:00:00Z"));
    post_orders(h, orders);

    /* no preferences, or no consent: the history is not used */
    expect_items(h, "sku=HB-P&customer=cust-hb-1", "HB-A,HB-B");
    put_prefs_ok(h, STOREFRONT, "cust-hb-1", "{\"personalisation_consent\": false}");
    expect_items(h, "sku=HB-P&customer=cust-hb-1", "HB-A,HB-B");

    /* with consent: not what they have already */
    put_prefs_ok(h, STOREFRONT, "cust-hb-1", "{\"personalisation_consent\": true}");
    expect_items(h, "sku=HB-P&customer=cust-hb-1", "HB-B");

    /* someone else who consented bought nothing */
    put_prefs_ok(h, STOREFRONT, "cust-hb-2", "{\"personalisation_consent\": true}");
    expect_items(h, "sku=HB-P&customer=cust-hb-2", "HB-A,HB-B");
    expect_items(h, "sku=HB-P", "HB-A,HB-B");

    /* consent withdrawn (cleared): the history is left alone again */
    put_prefs_ok(h, AGENT, "cust-hb-1", "{\"personalisation_consent\": null}");
    expect_items(h, "sku=HB-P&customer=cust-hb-1", "HB-A,HB-B");
}

static void test_recommend__sensitive_categories_never_suggested(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"SN-MED", "pharmacy", 300, "wh-1", 10, 9},
        {"SN-OK", "table", 300, "wh-1", 10, 4},
    };

    scenario(h, "SN-P", c, 2, 2);
    expect_items(h, "sku=SN-P", "SN-OK");
}

static void test_recommend__at_most_max_items_ranked_by_score(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"MX-4", "table", 300, "wh-1", 10, 4}, {"MX-1", "table", 300, "wh-1", 10, 10},
        {"MX-5", "table", 300, "wh-1", 10, 3}, {"MX-3", "table", 300, "wh-1", 10, 6},
        {"MX-2", "table", 300, "wh-1", 10, 8},
    };
    struct harness_response *r;
    double prev = INFINITY;
    json_t *it;
    size_t i;
    long long n;

    scenario(h, "MX-P", c, 5, 2);
    wait_counted(h);
    n = model_total(h);
    r = recommend_ok(h, "sku=MX-P");
    assert_items(r, "MX-1,MX-2,MX-3");
    json_array_foreach(harness_jget(r->json, "items"), i, it)
    {
        double score = json_number_value(json_object_get(it, "score"));
        long long k11 = harness_jint(it, "evidence/together");
        double want = llr((double)k11, 33, (double)k11, (double)n);

        expect(r, score <= prev);
        if (fabs(score - want) > 0.006) {
            dump(r, "recommendation");
            fail_msg("%s: score %f, expected the LLR %f (k11 %lld of 33, N %lld)",
                     harness_jstr(it, "sku"), score, want, k11, n);
        }
        prev = score;
    }
    harness_response_free(r);
}

/* Ranked by the score, not by how often bought together: a popular item is weaker evidence. */
static void test_recommend__ranked_by_score_not_count(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"RK-POP", "table", 300, "wh-1", 10, 8},
        {"RK-RARE", "table", 300, "wh-1", 10, 6},
    };
    struct harness_response *r;
    double pop, rare;
    long long n;

    scenario(h, "RK-P", c, 2, 2);
    orders_of(h, "RK-POP", 20); /* RK-POP sells on its own too */
    wait_counted(h);
    n = model_total(h);
    pop = llr(8, 16, 28, (double)n);
    rare = llr(6, 16, 6, (double)n);
    assert_true(pop >= MIN_LLR && positive(8, 16, 28, (double)n));
    assert_true(rare > pop);

    r = recommend_ok(h, "sku=RK-P");
    assert_items(r, "RK-RARE,RK-POP");
    harness_assert_jint(r, "items/0/evidence/together", 6);
    harness_assert_jint(r, "items/1/evidence/together", 8);
    harness_response_free(r);
}

static void test_recommend__empty_rather_than_filler(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"NF-SAME", "kitchen", 300, "wh-1", 10, 9},
        {"NF-DEAR", "table", 900, "wh-1", 10, 8},
        {"NF-GONE", "table", 300, NULL, 0, 7},
        {"NF-MED", "pharmacy", 300, "wh-1", 10, 6},
    };
    struct harness_response *r;

    scenario(h, "NF-P", c, 4, 2);
    r = recommend_ok(h, "sku=NF-P");
    assert_items(r, "");
    harness_assert_jstr(r, "primary/how", "available");
    expect(r, harness_jget(r->json, "suppressed") == NULL);
    harness_response_free(r);

    /* a primary nobody bought with anything: nothing, rather than best sellers */
    put_product(h, "NF-LONE", "kitchen", PRIMARY_PRICE);
    harness_receipt(h, "NF-LONE", "wh-1", 3);
    expect_items(h, "sku=NF-LONE", "");
}

static void test_recommend__negative_association_excluded(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"NG-NEG", "table", 300, "wh-1", 10, 3},
        {"NG-OK", "table", 300, "wh-1", 10, 4},
    };
    long long n, extra, b;

    /* NG-P in 40 orders, 3 of them with NG-NEG; NG-NEG then sells in more than half the rest */
    scenario(h, "NG-P", c, 2, 33);
    wait_counted(h);
    extra = model_total(h) + 50;
    orders_of(h, "NG-NEG", (int)extra);
    wait_counted(h);
    n = model_total(h);
    b = model_orders(h, "NG-NEG");
    assert_int_equal(b, 3 + extra);
    assert_int_equal(model_orders(h, "NG-P"), 40);
    /* only the direction keeps it out: the evidence is strong and k11 >= min_co_orders */
    assert_false(positive(3, 40, (double)b, (double)n));
    assert_true(llr(3, 40, (double)b, (double)n) >= MIN_LLR);

    expect_items(h, "sku=NG-P", "NG-OK");
}

static void test_recommend__below_min_co_orders_excluded(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"MC-TWO", "table", 300, "wh-1", 10, 2},
        {"MC-THREE", "table", 300, "wh-1", 10, 3},
    };
    long long n;

    scenario(h, "MC-P", c, 2, 5);
    wait_counted(h);
    n = model_total(h);
    /* only min_co_orders keeps MC-TWO out: positive, and significant by LLR */
    assert_true(positive(2, 10, 2, (double)n) && llr(2, 10, 2, (double)n) >= MIN_LLR);
    expect_items(h, "sku=MC-P", "MC-THREE");
}

/* Bought together a little more often than chance: positive, but not significant. */
static void test_recommend__below_min_llr_excluded(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {{"ML-OK", "table", 300, "wh-1", 10, 4}};
    long long n, t, a, b;

    put_product(h, "ML-WEAK", "table", 300);
    harness_receipt(h, "ML-WEAK", "wh-1", 10);
    scenario(h, "ML-P", c, 1, 0);
    wait_counted(h);
    /* ML-P and ML-WEAK in 60 orders each, together in 2 more than chance would have them */
    n = model_total(h) + 120;
    t = 60 * 60 / n + 2;
    t = t < 3 ? 3 : t;
    orders_of(h, "ML-P,ML-WEAK", (int)t);
    orders_of(h, "ML-P", (int)(56 - t));
    orders_of(h, "ML-WEAK", (int)(60 - t));
    wait_counted(h);
    n = model_total(h);
    a = model_orders(h, "ML-P");
    b = model_orders(h, "ML-WEAK");
    assert_int_equal(a, 60);
    assert_int_equal(b, 60);
    /* only min_llr keeps it out: positive, with at least min_co_orders together */
    assert_true(positive((double)t, 60, 60, (double)n) && t >= 3);
    assert_true(llr((double)t, 60, 60, (double)n) < MIN_LLR);
    expect_items(h, "sku=ML-P", "ML-OK");
}

/* Words that press a customer to buy; none may appear in an answer. */
static const char *const pressure[] = {
    "hurry",     "only",      "left",     "last",   "limited",     "ends",
    "soon",      "countdown", "fast",     "miss",   "running out", "in demand",
    "remaining", "expire",    "deadline", "before", "!",
};

static void assert_no_pressure(const struct harness_response *r)
{
    char *lower = strdup(r->body);

    for (char *p = lower; *p != '\0'; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    for (size_t i = 0; i < sizeof(pressure) / sizeof(pressure[0]); i++) {
        if (strstr(lower, pressure[i]) != NULL) {
            dump(r, "recommendation");
            free(lower);
            fail_msg("the answer says \"%s\"", pressure[i]);
        }
    }
    free(lower);
}

static void test_recommend__reason_is_the_evidence(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {
        {"RE-C", "table", 250, "wh-1", 6, 7},
        {"RE-D", "garden", 400, "wh-1", 2, 4},
    };
    static const char *const keys[] = {"sku",   "name",   "price",    "available",
                                       "score", "reason", "evidence", NULL};
    struct harness_response *r;
    json_t *it;

    scenario(h, "RE-P", c, 2, 5);
    r = recommend_ok(h, "sku=RE-P");
    assert_items(r, "RE-C,RE-D");
    harness_assert_jstr(r, "items/0/reason", "Bought with RE-P in 7 of 16 orders");
    harness_assert_jint(r, "items/0/evidence/together", 7);
    harness_assert_jint(r, "items/0/evidence/primary_orders", 16);
    harness_assert_jstr(r, "items/0/name", "Item RE-C");
    harness_assert_jint(r, "items/0/price/amount", 250);
    harness_assert_jint(r, "items/0/available", 6);
    harness_assert_jstr(r, "items/1/reason", "Bought with RE-P in 4 of 16 orders");
    harness_assert_jint(r, "items/1/evidence/together", 4);
    harness_assert_jint(r, "items/1/evidence/primary_orders", 16);
    harness_assert_jint(r, "items/1/available", 2);
    /* nothing but the documented fields: no badge, no timer, nothing pre-selected */
    expect(r, json_object_size(r->json) == 3); /* primary, items, policy */
    for (size_t i = 0; i < 2; i++) {
        it = json_array_get(harness_jget(r->json, "items"), i);
        expect(r, json_object_size(it) == 7);
        for (size_t k = 0; keys[k] != NULL; k++) {
            expect(r, json_object_get(it, keys[k]) != NULL);
        }
    }
    assert_no_pressure(r);
    harness_response_free(r);
}

/* ---- the customer's choices ---- */

static void test_recommend__opt_out_suppresses(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {{"OO-C", "table", 300, "wh-1", 10, 6}};
    struct harness_response *r;

    scenario(h, "OO-P", c, 1, 2);
    expect_items(h, "sku=OO-P&customer=cust-oo", "OO-C");

    put_prefs_ok(h, STOREFRONT, "cust-oo", "{\"recommendations\": \"off\"}");
    r = recommend_ok(h, "sku=OO-P&customer=cust-oo");
    assert_items(r, "");
    harness_assert_jstr(r, "suppressed", "customer_opt_out");
    harness_assert_jstr(r, "primary/how", "available");
    harness_response_free(r);
    /* whoever asks, and whatever the basket */
    r = recommend(h, AGENT, "sku=OO-P&customer=cust-oo&basket=X-1");
    harness_assert_status(r, 200);
    assert_items(r, "");
    harness_assert_jstr(r, "suppressed", "customer_opt_out");
    harness_response_free(r);
    /* others are not affected */
    expect_items(h, "sku=OO-P&customer=cust-oo-2", "OO-C");

    put_prefs_ok(h, AGENT, "cust-oo", "{\"recommendations\": \"on\"}");
    r = recommend_ok(h, "sku=OO-P&customer=cust-oo");
    assert_items(r, "OO-C");
    expect(r, harness_jget(r->json, "suppressed") == NULL);
    harness_response_free(r);
}

/* put_refused - PUT preferences of @customer answers @status @code and changes nothing. */
static void put_refused(struct harness *h, const char *key, const char *customer, const char *body,
                        int status, const char *code, const char *field)
{
    struct harness_response *r;
    char before[41];

    digest(h, before);
    r = put_prefs(h, key, customer, body);
    harness_context("PUT preferences of %s: %s", customer, body);
    harness_assert_problem(r, status, code, field);
    harness_assert_unchanged(h, before);
    harness_context(NULL);
    harness_response_free(r);
}

static void test_recommend__preferences_by_role(void **state)
{
    struct harness *h = *state;
    static const char full[] =
        "{\"recommendations\": \"off\", \"personalisation_consent\": true, "
        "\"preferred_store\": \"store-leeds\", \"preferred_channel\": \"click_collect\", "
        "\"notes\": \"Prefers collection on Saturdays\"}";
    char notes[600];
    struct harness_response *r;

    /* nothing stored yet: the defaults */
    r = harness_get(h, AGENT, "/v1/customers/cust-pref/preferences");
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "customer", "cust-pref");
    harness_assert_jstr(r, "recommendations", "on");
    expect(r, json_is_false(harness_jget(r->json, "personalisation_consent")));
    expect(r, json_is_null(harness_jget(r->json, "preferred_store")));
    harness_response_free(r);

    /* the storefront sets the consent flags, and sees nothing else */
    r = put_prefs(h, STOREFRONT, "cust-pref",
                  "{\"recommendations\": \"on\", \"personalisation_consent\": true}");
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "recommendations", "on");
    expect(r, json_is_true(harness_jget(r->json, "personalisation_consent")));
    expect(r, harness_jget(r->json, "notes") == NULL);
    expect(r, harness_jget(r->json, "preferred_store") == NULL);
    harness_response_free(r);
    put_refused(h, STOREFRONT, "cust-pref", "{\"notes\": \"x\"}", 403, "forbidden", NULL);
    put_refused(h, STOREFRONT, "cust-pref", "{\"preferred_store\": \"store-leeds\"}", 403,
                "forbidden", NULL);
    put_refused(h, STOREFRONT, "cust-pref",
                "{\"personalisation_consent\": false, \"preferred_channel\": \"web\"}", 403,
                "forbidden", NULL);
    put_refused(h, STOREFRONT, "cust-pref", "{\"notes\": null}", 403, "forbidden", NULL);
    put_refused(h, LEEDS, "cust-pref", "{\"personalisation_consent\": false}", 403, "forbidden",
                NULL);
    put_refused(h, NULL, "cust-pref", "{\"personalisation_consent\": false}", 401, "unauthorized",
                NULL);
    r = harness_get(h, STOREFRONT, "/v1/customers/cust-pref/preferences");
    harness_assert_problem(r, 403, "forbidden", NULL);
    harness_response_free(r);
    r = harness_get(h, LEEDS, "/v1/customers/cust-pref/preferences");
    harness_assert_problem(r, 403, "forbidden", NULL);
    harness_response_free(r);

    /* an agent sets everything; agent and admin read everything */
    r = put_prefs(h, AGENT, "cust-pref", full);
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "preferred_store", "store-leeds");
    harness_response_free(r);
    for (int i = 0; i < 2; i++) {
        r = harness_get(h, i == 0 ? AGENT : ADMIN, "/v1/customers/cust-pref/preferences");
        harness_assert_status(r, 200);
        harness_assert_jstr(r, "customer", "cust-pref");
        harness_assert_jstr(r, "recommendations", "off");
        expect(r, json_is_true(harness_jget(r->json, "personalisation_consent")));
        harness_assert_jstr(r, "preferred_store", "store-leeds");
        harness_assert_jstr(r, "preferred_channel", "click_collect");
        harness_assert_jstr(r, "notes", "Prefers collection on Saturdays");
        harness_response_free(r);
    }

    /* the admin clears some: null is back to the default */
    put_prefs_ok(h, ADMIN, "cust-pref", "{\"notes\": null, \"recommendations\": null}");
    r = harness_get(h, AGENT, "/v1/customers/cust-pref/preferences");
    harness_assert_status(r, 200);
    expect(r, json_is_null(harness_jget(r->json, "notes")));
    harness_assert_jstr(r, "recommendations", "on");
    harness_assert_jstr(r, "preferred_store", "store-leeds");
    harness_response_free(r);

    /* a store that does not exist, and bad values: refused, nothing changed */
    put_refused(h, AGENT, "cust-pref", "{\"preferred_store\": \"store-nowhere\"}", 422,
                "unknown-reference", "preferred_store");
    put_refused(h, ADMIN, "cust-new",
                "{\"notes\": \"new\", \"preferred_store\": \"store-nowhere\"}", 422,
                "unknown-reference", "preferred_store");
    /* a warehouse is a location, not a store a customer can go to */
    put_refused(h, AGENT, "cust-pref", "{\"preferred_store\": \"wh-1\"}", 422, "unknown-reference",
                "preferred_store");
    put_refused(h, AGENT, "cust-pref", "{}", 400, "invalid-field", NULL);
    put_refused(h, AGENT, "cust-pref", "{\"recommendations\": \"maybe\"}", 400, "invalid-field",
                "recommendations");
    put_refused(h, AGENT, "cust-pref", "{\"personalisation_consent\": \"yes\"}", 400,
                "invalid-field", "personalisation_consent");
    put_refused(h, AGENT, "cust-pref", "{\"preferred_store\": \"no such store\"}", 400,
                "invalid-identifier", "preferred_store");
    put_refused(h, AGENT, "cust-pref", "{\"preferred_channel\": \"fax\"}", 400, "invalid-field",
                "preferred_channel");
    put_refused(h, AGENT, "cust-pref", "{\"notes\": \"ok\", \"colour\": \"red\"}", 400,
                "invalid-field", "colour");
    put_refused(h, AGENT, "cust-pref", "[1]", 400, "invalid-json", NULL);
    put_refused(h, AGENT, "cust-pref", "{\"notes\": ", 400, "invalid-json", NULL);
    memset(notes, 'n', sizeof(notes));
    memcpy(notes, "{\"notes\": \"", 11);
    memcpy(notes + 11 + 501, "\"}", 3);
    put_refused(h, AGENT, "cust-pref", notes, 400, "invalid-field", "notes");
    put_refused(h, AGENT, "cust.pref.with.an.id.far.too.long.to.be.one.0123456789012345678901",
                "{\"notes\": \"x\"}", 400, "invalid-identifier", "id");

    /* the refusals left it as it was */
    r = harness_get(h, ADMIN, "/v1/customers/cust-pref/preferences");
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "preferred_store", "store-leeds");
    harness_assert_jstr(r, "preferred_channel", "click_collect");
    harness_response_free(r);
}

/* ---- erasure ---- */

static int holds(const redisReply *v, const char *needle)
{
    return v->type == REDIS_REPLY_STRING && strstr(v->str, needle) != NULL;
}

/* hits_in - @needle in any string of a (nested) reply; @return how many. */
static int hits_in(const redisReply *rep, const char *needle)
{
    int n = 0;

    if (rep == NULL) {
        return 0;
    }
    if (rep->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < rep->elements; i++) {
            n += hits_in(rep->element[i], needle);
        }
        return n;
    }
    return holds(rep, needle);
}

/* trace_key - how often @needle appears in the name and the value of @key, whatever its type. */
static int trace_key(struct harness *h, const char *key, const char *needle)
{
    redisReply *type = harness_redis_command(&h->redis, "TYPE %s", key);
    redisReply *v = NULL;
    int n = strstr(key, needle) != NULL;

    if (type == NULL || type->type != REDIS_REPLY_STATUS) {
        freeReplyObject(type);
        fail_msg("TYPE %s failed", key);
    }
    if (strcmp(type->str, "string") == 0) {
        v = harness_redis_command(&h->redis, "GET %s", key);
    } else if (strcmp(type->str, "hash") == 0) {
        v = harness_redis_command(&h->redis, "HGETALL %s", key);
    } else if (strcmp(type->str, "set") == 0) {
        v = harness_redis_command(&h->redis, "SMEMBERS %s", key);
    } else if (strcmp(type->str, "zset") == 0) {
        v = harness_redis_command(&h->redis, "ZRANGE %s 0 -1", key);
    } else if (strcmp(type->str, "list") == 0) {
        v = harness_redis_command(&h->redis, "LRANGE %s 0 -1", key);
    } else if (strcmp(type->str, "stream") == 0) {
        v = harness_redis_command(&h->redis, "XRANGE %s - +", key);
    }
    n += hits_in(v, needle);
    if (n > 0) {
        fprintf(stderr, "  %s (%s) names %s\n", key, type->str, needle);
    }
    freeReplyObject(v);
    freeReplyObject(type);
    return n;
}

/* traces - how often @needle appears in key names and values across the whole keyspace. */
static int traces(struct harness *h, const char *needle)
{
    char cursor[32] = "0";
    int n = 0;

    do {
        redisReply *rep = harness_redis_command(&h->redis, "SCAN %s COUNT 1000", cursor);
        const redisReply *keys;

        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            freeReplyObject(rep);
            fail_msg("SCAN failed");
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        keys = rep->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            n += trace_key(h, keys->element[i]->str, needle);
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

/* erase - DELETE /v1/customers/@who: 403 to the storefront and a store, 401 without a key, 204. */
static void erase(struct harness *h, const char *key, const char *who)
{
    char path[160];
    struct harness_response *r;

    snprintf(path, sizeof(path), "/v1/customers/%s", who);
    r = harness_delete(h, STOREFRONT, path);
    harness_assert_problem(r, 403, "forbidden", NULL);
    harness_response_free(r);
    r = harness_delete(h, LEEDS, path);
    harness_assert_problem(r, 403, "forbidden", NULL);
    harness_response_free(r);
    r = harness_delete(h, NULL, path);
    harness_assert_problem(r, 401, "unauthorized", NULL);
    harness_response_free(r);
    r = harness_delete(h, key, path);
    harness_assert_status(r, 204);
    expect(r, r->body_len == 0);
    harness_response_free(r);
}

static void test_recommend__erasure_forgets_the_customer(void **state)
{
    struct harness *h = *state;
    static const char who[] = "cust-erase-7q";
    static const struct cand c[] = {{"ER-C", "table", 300, "wh-1", 10, 5}};
    json_t *orders = json_array();
    struct harness_response *r;
    long long together, primary_orders, total;
    redisReply *rep;
    char key[32], at[32];

    scenario(h, "ER-P", c, 1, 2);

    /* everything the module keeps about a customer */
    put_prefs_ok(h, AGENT, who,
                 "{\"personalisation_consent\": false, \"preferred_store\": \"store-york\", "
                 "\"notes\": \"Call after 5pm\"}");
    json_array_append_new(orders, order_new("ER-P,ER-C", who));
    json_array_append_new(orders, order_new("ER-X", who));
    post_orders(h, orders);
    /* an order placed, as the inventory records it for the module */
    orders_key(5, key);
    snprintf(at, sizeof(at), "%lld", wall_ms());
    rep = harness_redis_command(&h->redis,
                                "XADD %s * id er-placed-1 customer %s channel web at %s skus %s",
                                key, who, at, "ER-P,ER-C,ER-Y");
    assert_non_null(rep);
    freeReplyObject(rep);
    wait_counted(h);
    r = recommend_ok(h, "sku=ER-P&customer=%s", who); /* audited with the customer */
    assert_items(r, "ER-C");
    harness_response_free(r);
    feedback_ok(h, "shown", "ER-P", "ER-C", who, NULL);
    feedback_ok(h, "dismissed", "ER-P", "ER-C", who, "sess-er");

    /* the scan sees each of them */
    fprintf(stderr, "before erasure:\n");
    assert_true(trace_key(h, "{rec}:cust:cust-erase-7q", who) > 0);
    assert_true(trace_key(h, "{rec}:cust:cust-erase-7q:dismiss", who) > 0);
    assert_true(trace_key(h, "{rec}:audit", who) > 0);
    rep = harness_redis_command(&h->redis, "ZRANGE {rec}:cust:%s:bought 0 -1", who);
    assert_non_null(rep);
    assert_int_equal(rep->elements, 4); /* ER-P, ER-C, ER-X, ER-Y */
    freeReplyObject(rep);
    assert_true(traces(h, who) >= 4);
    together = model_together(h, "ER-P", "ER-C");
    primary_orders = model_orders(h, "ER-P");
    total = model_total(h);
    assert_int_equal(together, 7);

    erase(h, AGENT, who);

    fprintf(stderr, "after erasure:\n");
    assert_int_equal(traces(h, who), 0);
    /* the shared, anonymous counts stay */
    assert_int_equal(model_together(h, "ER-P", "ER-C"), together);
    assert_int_equal(model_together(h, "ER-C", "ER-P"), together);
    assert_int_equal(model_orders(h, "ER-P"), primary_orders);
    assert_int_equal(model_total(h), total);

    /* the id again: a customer with the defaults, offered what anyone is */
    r = harness_get(h, ADMIN, "/v1/customers/cust-erase-7q/preferences");
    harness_assert_status(r, 200);
    expect(r, json_is_null(harness_jget(r->json, "notes")));
    expect(r, json_is_null(harness_jget(r->json, "preferred_store")));
    harness_response_free(r);
    r = recommend_ok(h, "sku=ER-P&customer=%s", who);
    assert_items(r, "ER-C");
    harness_assert_jint(r, "items/0/evidence/together", together);
    harness_response_free(r);

    /* someone never seen: 204 as well; a bad id: 400 */
    r = harness_delete(h, ADMIN, "/v1/customers/cust-never-seen");
    harness_assert_status(r, 204);
    harness_response_free(r);
    r = harness_delete(h, ADMIN, "/v1/customers/bad%20id");
    harness_assert_problem(r, 400, "invalid-identifier", "id");
    harness_response_free(r);
}

/*
 * Orders placed through reservations are order history too (API.md,
 * Customers): after erasure, nothing in Redis names the customer, the
 * reservation records, the event streams and the idempotency records of the
 * answers included. The recommend module forgets its part; the inventory keeps
 * the customer's id on the reservation record ({pNN}:resv:<id>), on the
 * reservation.committed and order.placed events ({pNN}:events) and in the
 * answers kept for retries ({pNN}:idem:<scope>), which this test reports until
 * they are erased too. A retry after the erasure runs again and answers with
 * the reservation as it now is, holding nothing more.
 */
static void test_recommend__erasure_covers_orders_placed_by_reservation(void **state)
{
    struct harness *h = *state;
    static const char who[] = "cust-erase-r5";
    static const struct cand c[] = {{"EZ-C", "table", 300, "wh-1", 10, 5}};
    static const char *const create_key[] = {"Idempotency-Key: erase-r5-create",
                                             "Content-Type: application/json", NULL};
    static const char *const commit_key[] = {"Idempotency-Key: erase-r5-commit", NULL};
    struct harness_response *r;
    char id[80], body[256], path[160];
    long long before_retry;

    scenario(h, "EZ-P", c, 1, 2);
    snprintf(body, sizeof(body),
             "{\"channel\": \"web\", \"customer\": \"%s\", \"lines\": [{\"sku\": \"EZ-P\", "
             "\"quantity\": 1}, {\"sku\": \"EZ-C\", \"quantity\": 1}]}",
             who);
    r = harness_http(h, "POST", "/v1/reservations", STOREFRONT, create_key, body, strlen(body));
    harness_assert_status(r, 201);
    harness_assert_jstr(r, "customer", who);
    snprintf(id, sizeof(id), "%s", harness_jstr(r->json, "id"));
    harness_response_free(r);
    snprintf(path, sizeof(path), "/v1/reservations/%s/commit", id);
    r = harness_http(h, "POST", path, STOREFRONT, commit_key, "", 0);
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "customer", who);
    harness_response_free(r);
    wait_counted(h);
    fprintf(stderr, "before erasure:\n");
    assert_true(trace_key(h, "{rec}:cust:cust-erase-r5:bought", who) > 0);
    /* the record, its two events and the two answers kept for retries, at least */
    assert_true(traces(h, who) >= 5);
    assert_int_equal(model_together(h, "EZ-P", "EZ-C"), 6);

    erase(h, ADMIN, who);

    fprintf(stderr, "after erasure:\n");
    assert_int_equal(traces(h, who), 0);
    assert_int_equal(model_together(h, "EZ-P", "EZ-C"), 6);

    /* A retry runs again: the same reservation (201, as first answered), committed, no longer
     * naming anyone, and holding nothing more. */
    r = harness_get(h, ADMIN, "/v1/stock/EZ-P");
    harness_assert_status(r, 200);
    before_retry = harness_jint(r->json, "channels/web/available");
    harness_response_free(r);
    r = harness_http(h, "POST", "/v1/reservations", STOREFRONT, create_key, body, strlen(body));
    harness_assert_status(r, 201);
    harness_assert_jstr(r, "id", id);
    harness_assert_jstr(r, "status", "committed");
    expect(r, harness_jget(r->json, "customer") == NULL);
    harness_response_free(r);
    r = harness_http(h, "POST", path, STOREFRONT, commit_key, "", 0);
    harness_assert_status(r, 200);
    harness_assert_jstr(r, "status", "committed");
    expect(r, harness_jget(r->json, "customer") == NULL);
    harness_response_free(r);
    r = harness_get(h, ADMIN, "/v1/stock/EZ-P");
    harness_assert_jint(r, "channels/web/available", before_retry);
    harness_response_free(r);
}

/* ---- feedback ---- */

struct stats {
    long long shown, accepted, dismissed;
    double attach_rate;
};

static struct stats stats_get(struct harness *h, const char *key)
{
    struct harness_response *r = harness_get(h, key, "/v1/recommendations/stats");
    struct stats s;

    harness_assert_status(r, 200);
    s.shown = harness_jint(r->json, "shown");
    s.accepted = harness_jint(r->json, "accepted");
    s.dismissed = harness_jint(r->json, "dismissed");
    expect(r, json_is_number(harness_jget(r->json, "attach_rate")));
    s.attach_rate = json_number_value(harness_jget(r->json, "attach_rate"));
    harness_response_free(r);
    return s;
}

static void test_recommend__feedback_and_stats(void **state)
{
    struct harness *h = *state;
    struct stats before = stats_get(h, STOREFRONT), after;
    struct harness_response *r;
    char digest_before[41];

    for (int i = 0; i < 4; i++) {
        feedback_ok(h, "shown", "FB-P", "FB-C", NULL, "sess-fb");
    }
    feedback_ok(h, "accepted", "FB-P", "FB-C", NULL, "sess-fb");
    feedback_ok(h, "dismissed", "FB-P", "FB-D", "cust-fb", NULL);

    after = stats_get(h, AGENT);
    assert_int_equal(after.shown - before.shown, 4);
    assert_int_equal(after.accepted - before.accepted, 1);
    assert_int_equal(after.dismissed - before.dismissed, 1);
    assert_true(after.shown > 0);
    assert_true(fabs(after.attach_rate - (double)after.accepted / (double)after.shown) < 1e-9);
    after = stats_get(h, ADMIN);
    assert_int_equal(after.shown - before.shown, 4);

    /* bad feedback and the wrong roles count nothing */
    digest(h, digest_before);
    r = feedback(h, STOREFRONT, "clicked", "FB-P", "FB-C", NULL, NULL);
    harness_assert_problem(r, 400, "invalid-field", "event");
    harness_response_free(r);
    r = harness_post_json(h, STOREFRONT, "/v1/recommendations/feedback",
                          "{\"event\": \"shown\", \"sku\": \"FB-C\"}");
    harness_assert_problem(r, 400, "invalid-field", "primary");
    harness_response_free(r);
    r = feedback(h, STOREFRONT, "shown", "FB P", "FB-C", NULL, NULL);
    harness_assert_problem(r, 400, "invalid-identifier", "primary");
    harness_response_free(r);
    r = harness_post_json(h, STOREFRONT, "/v1/recommendations/feedback",
                          "{\"event\": \"shown\", \"primary\": \"FB-P\", \"sku\": \"FB-C\", "
                          "\"rating\": 5}");
    harness_assert_problem(r, 400, "invalid-field", "rating");
    harness_response_free(r);
    r = feedback(h, LEEDS, "shown", "FB-P", "FB-C", NULL, NULL);
    harness_assert_problem(r, 403, "forbidden", NULL);
    harness_response_free(r);
    r = feedback(h, NULL, "shown", "FB-P", "FB-C", NULL, NULL);
    harness_assert_problem(r, 401, "unauthorized", NULL);
    harness_response_free(r);
    harness_assert_unchanged(h, digest_before);
    r = harness_get(h, LEEDS, "/v1/recommendations/stats");
    harness_assert_problem(r, 403, "forbidden", NULL);
    harness_response_free(r);
}

static void test_recommend__two_dismissals_mean_not_today(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {{"DM-C", "table", 300, "wh-1", 10, 6}};
    static const struct cand d[] = {{"DM-D", "table", 300, "wh-1", 10, 6}};
    struct harness_response *r;

    scenario(h, "DM-P", c, 1, 2);
    scenario(h, "DM-Q", d, 1, 2);

    feedback_ok(h, "dismissed", "DM-P", "DM-C", "cust-dm", NULL);
    expect_items(h, "sku=DM-P&customer=cust-dm", "DM-C"); /* once is not twice */
    feedback_ok(h, "dismissed", "DM-P", "DM-C", "cust-dm", NULL);
    r = recommend_ok(h, "sku=DM-P&customer=cust-dm");
    assert_items(r, "");
    harness_assert_jstr(r, "suppressed", "dismissed_today");
    harness_assert_jstr(r, "primary/how", "available");
    harness_response_free(r);

    /* for that primary and that customer only */
    expect_items(h, "sku=DM-Q&customer=cust-dm", "DM-D");
    expect_items(h, "sku=DM-P&customer=cust-dm-2", "DM-C");
    expect_items(h, "sku=DM-P", "DM-C");

    /* an anonymous session the same */
    feedback_ok(h, "dismissed", "DM-Q", "DM-D", NULL, "sess-dm");
    feedback_ok(h, "dismissed", "DM-Q", "DM-D", NULL, "sess-dm");
    r = recommend_ok(h, "sku=DM-Q&session=sess-dm");
    assert_items(r, "");
    harness_assert_jstr(r, "suppressed", "dismissed_today");
    harness_response_free(r);
    expect_items(h, "sku=DM-Q&session=sess-dm-2", "DM-D");
}

/* ---- POST /v1/orders ---- */

static struct harness_response *post_orders_text(struct harness *h, const char *key,
                                                 const char *idem, const char *body)
{
    char line[160];
    const char *headers[] = {"Content-Type: application/json", line, NULL};

    snprintf(line, sizeof(line), "Idempotency-Key: %s", idem != NULL ? idem : "");
    if (idem == NULL) {
        headers[1] = NULL;
    }
    return harness_http(h, "POST", "/v1/orders", key, headers, body, strlen(body));
}

static void expect_import(struct harness *h, const char *body, long long accepted,
                          long long duplicates)
{
    struct harness_response *r = post_orders_text(h, ADMIN, NULL, body);

    harness_context("POST /v1/orders %s", body);
    harness_assert_status(r, 200);
    harness_assert_jint(r, "accepted", accepted);
    harness_assert_jint(r, "duplicates", duplicates);
    harness_context(NULL);
    harness_response_free(r);
}

static void expect_evidence(struct harness *h, const char *query, long long together,
                            long long primary_orders)
{
    struct harness_response *r = recommend_ok(h, "%s", query);

    harness_context("GET /v1/recommendations?%s", query);
    expect(r, json_array_size(harness_jget(r->json, "items")) == 1);
    harness_assert_jint(r, "items/0/evidence/together", together);
    harness_assert_jint(r, "items/0/evidence/primary_orders", primary_orders);
    harness_context(NULL);
    harness_response_free(r);
}

static void test_recommend__orders_idempotent_by_id(void **state)
{
    struct harness *h = *state;
    static const char three[] =
        "{\"orders\": [{\"id\": \"oi-1\", \"customer\": \"cust-oi\", \"channel\": \"web\", "
        "\"at\": \"2026-02-01T09:30:00Z\", \"lines\": [{\"sku\": \"OI-P\", \"quantity\": 2}, "
        "{\"sku\": \"OI-C\", \"quantity\": 1}, {\"sku\": \"OI-P\", \"quantity\": 1}]}, "
        "{\"id\": \"oi-2\", \"lines\": [{\"sku\": \"OI-P\", \"quantity\": 1}, "
        "{\"sku\": \"OI-C\", \"quantity\": 1}]}, "
        "{\"id\": \"oi-3\", \"lines\": [{\"sku\": \"OI-C\", \"quantity\": 1}, "
        "{\"sku\": \"OI-P\", \"quantity\": 3}]}]}";
    static const char mixed[] =
        "{\"orders\": [{\"id\": \"oi-3\", \"lines\": [{\"sku\": \"OI-C\", \"quantity\": 1}, "
        "{\"sku\": \"OI-P\", \"quantity\": 3}]}, "
        "{\"id\": \"oi-4\", \"lines\": [{\"sku\": \"OI-P\", \"quantity\": 1}, "
        "{\"sku\": \"OI-C\", \"quantity\": 1}]}]}";
    static const char fifth[] = "{\"orders\": [{\"id\": \"oi-5\", \"lines\": [{\"sku\": \"OI-P\", "
                                "\"quantity\": 1}, {\"sku\": \"OI-C\", \"quantity\": 1}]}]}";
    struct harness_response *r, *again;
    char before[41];

    put_product(h, "OI-P", "kitchen", PRIMARY_PRICE);
    harness_receipt(h, "OI-P", "wh-1", 5);
    put_product(h, "OI-C", "table", 300);
    harness_receipt(h, "OI-C", "wh-1", 5);

    expect_import(h, three, 3, 0);
    expect_evidence(h, "sku=OI-P", 3, 3); /* repeated lines of a SKU count once */
    digest(h, before);
    expect_import(h, three, 0, 3);
    harness_assert_unchanged(h, before);
    expect_import(h, mixed, 1, 1);
    expect_evidence(h, "sku=OI-P", 4, 4);

    /* an Idempotency-Key replays the first answer, and counts nothing more */
    r = post_orders_text(h, ADMIN, "import-oi-5", fifth);
    harness_assert_status(r, 200);
    harness_assert_jint(r, "accepted", 1);
    digest(h, before);
    again = post_orders_text(h, ADMIN, "import-oi-5", fifth);
    harness_assert_status(again, 200);
    harness_assert_jint(again, "accepted", 1);
    harness_assert_jint(again, "duplicates", 0);
    expect(again, streq(harness_header(again, "Idempotent-Replayed"), "true"));
    harness_response_free(again);
    again = post_orders_text(h, ADMIN, "import-oi-5", three);
    harness_assert_problem(again, 422, "idempotency-key-reused", NULL);
    harness_response_free(again);
    harness_assert_unchanged(h, before);
    harness_response_free(r);
    expect_evidence(h, "sku=OI-P", 5, 5);
}

static void test_recommend__orders_admin_only(void **state)
{
    struct harness *h = *state;
    static const char body[] = "{\"orders\": [{\"id\": \"ao-1\", \"lines\": [{\"sku\": \"AO-P\", "
                               "\"quantity\": 1}, {\"sku\": \"AO-C\", \"quantity\": 1}]}]}";
    const char *const keys[] = {STOREFRONT, AGENT, LEEDS, h->keys[HARNESS_STORE_YORK]};
    struct harness_response *r;
    char before[41];

    digest(h, before);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        r = post_orders_text(h, keys[i], NULL, body);
        harness_context("POST /v1/orders with key %zu", i);
        harness_assert_problem(r, 403, "forbidden", NULL);
        harness_response_free(r);
    }
    r = post_orders_text(h, NULL, NULL, body);
    harness_assert_problem(r, 401, "unauthorized", NULL);
    expect(r, harness_header(r, "WWW-Authenticate") != NULL);
    harness_response_free(r);
    harness_context(NULL);
    harness_assert_unchanged(h, before);
    expect_import(h, body, 1, 0); /* the same body as admin: counted */
}

static void test_recommend__orders_bad_input_changes_nothing(void **state)
{
    struct harness *h = *state;
    static const struct {
        const char *body;
        int status;
        const char *code, *field;
    } cases[] = {
        {"{\"orders\": [", 400, "invalid-json", NULL},
        {"[{\"id\": \"bi-1\"}]", 400, "invalid-json", NULL},
        {"{}", 400, "invalid-field", "orders"},
        {"{\"orders\": []}", 400, "invalid-field", "orders"},
        {"{\"orders\": {}}", 400, "invalid-field", "orders"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"lines\": [{\"sku\": \"BI-A\", \"quantity\": 1}]}], "
         "\"source\": \"x\"}",
         400, "invalid-field", "source"},
        {"{\"orders\": [{\"lines\": [{\"sku\": \"BI-A\", \"quantity\": 1}]}]}", 400,
         "invalid-field", "orders[0].id"},
        {"{\"orders\": [{\"id\": \"bi 1\", \"lines\": [{\"sku\": \"BI-A\", \"quantity\": 1}]}]}",
         400, "invalid-identifier", "orders[0].id"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"customer\": \"\", \"lines\": [{\"sku\": \"BI-A\", "
         "\"quantity\": 1}]}]}",
         400, "invalid-identifier", "orders[0].customer"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"channel\": \"fax\", \"lines\": [{\"sku\": \"BI-A\", "
         "\"quantity\": 1}]}]}",
         400, "invalid-field", "orders[0].channel"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"at\": \"yesterday\", \"lines\": [{\"sku\": "
         "\"BI-A\", \"quantity\": 1}]}]}",
         400, "invalid-field", "orders[0].at"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"lines\": []}]}", 400, "invalid-field",
         "orders[0].lines"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"lines\": [{\"sku\": \"BI-A\", \"quantity\": 0}]}]}",
         400, "invalid-field", "orders[0].lines[0].quantity"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"lines\": [{\"sku\": \"BI-A\", \"quantity\": 1.5}]}]}",
         400, "invalid-field", "orders[0].lines[0].quantity"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"lines\": [{\"sku\": \"BI-A\", \"quantity\": "
         "\"1\"}]}]}",
         400, "invalid-field", "orders[0].lines[0].quantity"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"lines\": [{\"sku\": \"BI/A\", \"quantity\": 1}]}]}",
         400, "invalid-identifier", "orders[0].lines[0].sku"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"lines\": [{\"sku\": \"BI-A\", \"quantity\": 1, "
         "\"price\": 3}]}]}",
         400, "invalid-field", "orders[0].lines[0].price"},
        /* all or nothing: a good order before a bad one is not counted either */
        {"{\"orders\": [{\"id\": \"bi-1\", \"lines\": [{\"sku\": \"BI-A\", \"quantity\": 1}, "
         "{\"sku\": \"BI-B\", \"quantity\": 1}]}, {\"id\": \"bi-2\", \"lines\": [{\"sku\": "
         "\"BI-A\", \"quantity\": -1}]}]}",
         400, "invalid-field", "orders[1].lines[0].quantity"},
        {"{\"orders\": [{\"id\": \"bi-1\", \"lines\": [{\"sku\": \"BI-A\", \"quantity\": 1}]}, "
         "{\"id\": \"bi-1\", \"lines\": [{\"sku\": \"BI-B\", \"quantity\": 1}]}]}",
         400, "invalid-field", "orders[1].id"},
    };
    struct harness_response *r;
    char before[41];
    json_t *many = json_array(), *body;
    char *text;

    digest(h, before);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        harness_context("case %zu: %s", i, cases[i].body);
        r = post_orders_text(h, ADMIN, NULL, cases[i].body);
        harness_assert_problem(r, cases[i].status, cases[i].code, cases[i].field);
        harness_response_free(r);
        harness_assert_unchanged(h, before);
    }
    harness_context(NULL);

    /* one order more than a call may carry */
    for (int i = 0; i < 1001; i++) {
        json_array_append_new(many, order_new("BI-A", NULL));
    }
    body = json_pack("{s:o}", "orders", many);
    text = json_dumps(body, JSON_COMPACT);
    r = post_orders_text(h, ADMIN, NULL, text);
    harness_assert_problem(r, 400, "invalid-field", "orders");
    harness_response_free(r);
    free(text);
    json_decref(body);
    harness_assert_unchanged(h, before);
    assert_int_equal(model_orders(h, "BI-A"), 0);
}

/* ---- orders placed through reservations ---- */

/*
 * wait_evidence - poll (as the storefront) until the first item's evidence is
 * @together of @primary_orders, for up to @ms; answers other than 200 (503
 * while the daemon reconnects) are polled through.
 */
static void wait_evidence(struct harness *h, const char *query, long long together,
                          long long primary_orders, int ms)
{
    long long deadline = wall_ms() + ms;

    for (;;) {
        struct harness_response *r = recommend(h, STOREFRONT, "%s", query);
        int there = r->status == 200 &&
                    harness_jint(r->json, "items/0/evidence/together") == together &&
                    harness_jint(r->json, "items/0/evidence/primary_orders") == primary_orders;

        if (there) {
            harness_response_free(r);
            return;
        }
        if (wall_ms() > deadline) {
            dump(r, "recommendation");
            harness_response_free(r);
            fail_msg("evidence not %lld of %lld within %d ms", together, primary_orders, ms);
        }
        harness_response_free(r);
        harness_sleep_ms(50);
    }
}

/* xadd_order - an orders-stream entry as record.lua writes it, in partition @part. */
static void xadd_order(struct harness *h, unsigned part, const char *id, const char *skus)
{
    char key[32], at[32];
    redisReply *rep;

    orders_key(part, key);
    snprintf(at, sizeof(at), "%lld", wall_ms());
    rep = harness_redis_command(&h->redis, "XADD %s * id %s customer %s channel web at %s skus %s",
                                key, id, "", at, skus);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    freeReplyObject(rep);
}

static void test_recommend__commit_counts_exactly_once(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {{"CM-C", "table", 300, "wh-1", 10, 4}};
    struct harness_response *r, *again;
    long long added;
    char id[80], before[41];
    unsigned part;

    scenario(h, "CM-P", c, 1, 1);
    expect_evidence(h, "sku=CM-P", 4, 5);

    reserve(h,
            "{\"channel\": \"web\", \"lines\": [{\"sku\": \"CM-P\", \"quantity\": 1}, "
            "{\"sku\": \"CM-C\", \"quantity\": 2}]}",
            id);
    /* held is not an order */
    expect_evidence(h, "sku=CM-P", 4, 5);
    r = transition(h, id, "commit");
    harness_assert_status(r, 200);
    wait_evidence(h, "sku=CM-P", 5, 6, WAIT_MS);
    wait_counted(h);
    assert_int_equal(model_together(h, "CM-P", "CM-C"), 5);

    /* committing again answers the same and places no second order */
    added = orders_ever_added(h);
    digest(h, before);
    again = transition(h, id, "commit");
    harness_assert_status(again, 200);
    expect(again, json_equal(r->json, again->json));
    harness_response_free(again);
    harness_response_free(r);
    assert_int_equal(orders_ever_added(h), added);
    harness_assert_unchanged(h, before);
    expect_evidence(h, "sku=CM-P", 5, 6);

    /* the same order delivered again to its stream (a producer retry): counted once */
    part = partition_of(id, PARTITIONS);
    xadd_order(h, part, id, "CM-P,CM-C");
    wait_counted(h);
    expect_evidence(h, "sku=CM-P", 5, 6);
    /* ... and in another partition's stream too */
    xadd_order(h, (part + 1) % PARTITIONS, id, "CM-P,CM-C");
    wait_counted(h);
    expect_evidence(h, "sku=CM-P", 5, 6);

    /* the hand-written entry is one the consumer counts when the order is new */
    xadd_order(h, part, "hand-order-1", "CM-P,CM-C");
    wait_evidence(h, "sku=CM-P", 6, 7, WAIT_MS);
    assert_int_equal(model_together(h, "CM-C", "CM-P"), 6);
}

/*
 * daemon_consumer - the name of the running daemon's consumer in the group
 * "recommend" of @key: the one that read last (a daemon restarted on another
 * port left its old name behind).
 */
static void daemon_consumer(struct harness *h, const char *key, char *name, size_t len)
{
    redisReply *rep = harness_redis_command(&h->redis, "XINFO CONSUMERS %s recommend", key);
    long long best = -1;

    name[0] = '\0';
    for (size_t i = 0; rep != NULL && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *c = rep->element[i];
        const char *n = NULL;
        long long idle = -1;

        for (size_t k = 0; c->type == REDIS_REPLY_ARRAY && k + 1 < c->elements; k += 2) {
            if (holds(c->element[k], "name")) {
                n = c->element[k + 1]->str;
            } else if (holds(c->element[k], "idle")) {
                idle = c->element[k + 1]->integer;
            }
        }
        if (n != NULL && idle >= 0 && (best < 0 || idle < best)) {
            best = idle;
            snprintf(name, len, "%s", n);
        }
    }
    freeReplyObject(rep);
    assert_true(name[0] != '\0');
}

/*
 * deliver_unseen - add an orders-stream entry (@customer, @skus; id @id) to
 * partition @part's stream and deliver it to the daemon's consumer in the
 * same script, so that the daemon never sees it arrive: it is pending for
 * the daemon, as if the daemon had read it and lost its connection before
 * counting it.
 */
static void deliver_unseen(struct harness *h, unsigned part, const char *id, const char *customer,
                           const char *skus)
{
    static const char script[] =
        "redis.call('XADD', KEYS[1], '*', 'id', ARGV[2], 'customer', ARGV[3], 'channel', 'web', "
        "'at', ARGV[4], 'skus', ARGV[5]) "
        "return redis.call('XREADGROUP', 'GROUP', 'recommend', ARGV[1], 'STREAMS', KEYS[1], '>')";
    char consumer[256], key[32], at[32];
    redisReply *rep;

    orders_key(part, key);
    daemon_consumer(h, key, consumer, sizeof(consumer));
    snprintf(at, sizeof(at), "%lld", wall_ms());
    rep = harness_redis_command(&h->redis, "EVAL %s 1 %s %s %s %s %s %s", script, key, consumer, id,
                                customer, at, skus);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    freeReplyObject(rep);
}

/* pending - entries of partition @part's stream delivered and not acknowledged. */
static long long pending(struct harness *h, unsigned part)
{
    redisReply *rep;
    char key[32];
    long long n;

    orders_key(part, key);
    rep = harness_redis_command(&h->redis, "XPENDING %s recommend", key);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    n = rep->element[0]->integer;
    freeReplyObject(rep);
    return n;
}

/* reconnect - close the daemon's Redis connections: it reconnects and reads its pending entries. */
static void reconnect(struct harness *h)
{
    redisReply *rep = harness_redis_command(&h->redis, "CLIENT KILL TYPE normal SKIPME yes");

    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_true(rep->integer >= 1);
    freeReplyObject(rep);
}

/*
 * An entry delivered to the daemon's consumer but never acknowledged (the
 * daemon lost its connection after reading it) is read again when the
 * daemon reconnects: counted if it was not, not counted twice if it was.
 */
static void test_recommend__redelivered_entries_count_once(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {{"RD-C", "table", 300, "wh-1", 10, 4}};
    unsigned part = 3;
    char key[32];

    scenario(h, "RD-P", c, 1, 1);
    expect_import(h,
                  "{\"orders\": [{\"id\": \"rd-counted\", \"lines\": [{\"sku\": \"RD-P\", "
                  "\"quantity\": 1}, {\"sku\": \"RD-C\", \"quantity\": 1}]}]}",
                  1, 0);
    expect_evidence(h, "sku=RD-P", 5, 6);

    deliver_unseen(h, part, "rd-counted", "", "RD-P,RD-C");
    deliver_unseen(h, part, "rd-new", "", "RD-P,RD-C");
    orders_key(part, key);
    assert_int_equal(reply_ll(harness_redis_command(&h->redis, "XLEN %s", key)), 2);
    assert_int_equal(pending(h, part), 2);
    expect_evidence(h, "sku=RD-P", 5, 6); /* delivered, not yet counted */

    reconnect(h);
    wait_evidence(h, "sku=RD-P", 6, 7, RECOVERY_MS);
    wait_counted(h);
    assert_int_equal(pending(h, part), 0);
    assert_int_equal(model_together(h, "RD-P", "RD-C"), 6);
    assert_int_equal(model_orders(h, "RD-P"), 7);
}

/*
 * An order that names the customer and is still waiting to be counted when
 * the customer is erased: once counted, it must not bring the customer's
 * purchases back; the order itself still counts, anonymously, once.
 */
static void test_recommend__erasure_reaches_orders_not_yet_counted(void **state)
{
    struct harness *h = *state;
    static const char who[] = "cust-erase-late";
    static const struct cand c[] = {{"EL-C", "table", 300, "wh-1", 10, 4}};
    unsigned part = 7;

    scenario(h, "EL-P", c, 1, 1);
    put_prefs_ok(h, STOREFRONT, who, "{\"personalisation_consent\": true}");
    expect_evidence(h, "sku=EL-P", 4, 5);
    deliver_unseen(h, part, "el-late-1", who, "EL-P,EL-C");
    assert_int_equal(pending(h, part), 1);

    erase(h, AGENT, who);
    fprintf(stderr, "after erasure:\n");
    assert_int_equal(traces(h, who), 0);

    reconnect(h);
    wait_evidence(h, "sku=EL-P", 5, 6, RECOVERY_MS);
    wait_counted(h);
    assert_int_equal(pending(h, part), 0);
    fprintf(stderr, "after the order was counted:\n");
    assert_int_equal(traces(h, who), 0);
    assert_int_equal(model_together(h, "EL-P", "EL-C"), 5);
    assert_int_equal(model_orders(h, "EL-P"), 6);
}

/* ---- bad queries and roles ---- */

static void test_recommend__bad_queries_and_roles(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;

    put_product(h, "BQ-P", "kitchen", PRIMARY_PRICE);
    harness_receipt(h, "BQ-P", "wh-1", 1);

    r = recommend(h, STOREFRONT, "sku=BQ-NONE");
    harness_assert_problem(r, 404, "not-found", NULL);
    harness_response_free(r);
    r = recommend(h, STOREFRONT, "sku=BQ-P&channel=store&location=store-nowhere");
    harness_assert_problem(r, 422, "unknown-reference", "location");
    harness_response_free(r);
    r = recommend(h, STOREFRONT, "sku=BQ-P&location=store-leeds");
    harness_assert_problem(r, 400, "invalid-query", "location");
    harness_response_free(r);
    r = recommend(h, STOREFRONT, "sku=BQ-P&channel=click_collect");
    harness_assert_problem(r, 400, "invalid-query", "location");
    harness_response_free(r);
    r = recommend(h, STOREFRONT, "channel=web");
    harness_assert_problem(r, 400, "invalid-query", "sku");
    harness_response_free(r);
    r = recommend(h, STOREFRONT, "sku=BQ-P&basket=A,,B");
    harness_assert_problem(r, 400, "invalid-identifier", "basket");
    harness_response_free(r);
    r = recommend(h, STOREFRONT, "sku=BQ-P&urgent=1");
    harness_assert_problem(r, 400, "invalid-query", "urgent");
    harness_response_free(r);

    r = recommend(h, LEEDS, "sku=BQ-P");
    harness_assert_problem(r, 403, "forbidden", NULL);
    harness_response_free(r);
    r = recommend(h, NULL, "sku=BQ-P");
    harness_assert_problem(r, 401, "unauthorized", NULL);
    harness_response_free(r);
    for (int i = 0; i < 2; i++) {
        r = recommend(h, i == 0 ? AGENT : ADMIN, "sku=BQ-P");
        harness_assert_status(r, 200);
        harness_response_free(r);
    }
}

/* ---- Redis down (last: Redis comes back empty) ---- */

static void assert_unavailable(struct harness_response *r, const char *what)
{
    const char *retry = harness_header(r, "Retry-After");
    char *end;

    harness_context("%s with Redis down", what);
    harness_assert_problem(r, 503, "unavailable", NULL);
    expect(r, retry != NULL && strtol(retry, &end, 10) > 0 && *end == '\0');
    harness_context(NULL);
    harness_response_free(r);
}

static void test_recommend__redis_down_503_then_recovers(void **state)
{
    struct harness *h = *state;
    static const struct cand c[] = {{"UP-C", "table", 300, "wh-1", 10, 4}};
    struct harness_response *r;
    int ready = 0;
    char id[80];

    h->timeout_ms = 15000; /* long enough to tell a slow answer from a hang */
    assert_int_equal(harness_redis_stop(&h->redis), 0);
    for (int round = 0; round < 2; round++) {
        assert_unavailable(recommend(h, STOREFRONT, "sku=OO-P"), "recommendations");
        assert_unavailable(recommend(h, STOREFRONT, "sku=RSV-P&reservation=r-00"),
                           "recommendations with a reservation");
        assert_unavailable(feedback(h, STOREFRONT, "shown", "OO-P", "OO-C", NULL, NULL),
                           "feedback");
        assert_unavailable(harness_get(h, STOREFRONT, "/v1/recommendations/stats"), "stats");
        assert_unavailable(harness_get(h, AGENT, "/v1/customers/cust-oo/preferences"),
                           "preferences");
        assert_unavailable(put_prefs(h, AGENT, "cust-oo", "{\"notes\": \"x\"}"), "preferences put");
        assert_unavailable(put_prefs(h, AGENT, "cust-oo", "{\"preferred_store\": \"wh-1\"}"),
                           "preferences put with a store");
        assert_unavailable(harness_delete(h, AGENT, "/v1/customers/cust-oo"), "erasure");
        assert_unavailable(post_orders_text(h, ADMIN, NULL,
                                            "{\"orders\": [{\"id\": \"down-1\", \"lines\": "
                                            "[{\"sku\": \"UP-P\", \"quantity\": 1}]}]}"),
                           "orders");
        harness_sleep_ms(300);
    }

    assert_int_equal(harness_redis_start(&h->redis), 0);
    for (int waited = 0; waited < RECOVERY_MS && !ready; waited += 100) {
        r = harness_get(h, NULL, "/readyz");
        ready = r->status == 200;
        harness_response_free(r);
        if (!ready) {
            harness_sleep_ms(100);
        }
    }
    assert_true(ready);

    /* the new Redis is empty: the module works on it from scratch */
    put_location(h, "wh-1", "warehouse", "\"web\"", 0);
    orders_of(h, "BACKGROUND-2", 60);
    scenario(h, "UP-P", c, 1, 1);
    expect_evidence(h, "sku=UP-P", 4, 5);
    /* and the consumer counts committed orders again */
    reserve(h,
            "{\"channel\": \"web\", \"lines\": [{\"sku\": \"UP-P\", \"quantity\": 1}, "
            "{\"sku\": \"UP-C\", \"quantity\": 1}]}",
            id);
    r = transition(h, id, "commit");
    harness_assert_status(r, 200);
    harness_response_free(r);
    wait_evidence(h, "sku=UP-P", 5, 6, WAIT_MS);
    put_prefs_ok(h, AGENT, "cust-up", "{\"recommendations\": \"off\"}");
    r = recommend_ok(h, "sku=UP-P&customer=cust-up");
    harness_assert_jstr(r, "suppressed", "customer_opt_out");
    harness_response_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recommend__unresolved_primary_lists_alternatives),
        cmocka_unit_test(test_recommend__reservation_resolves_primary),
        cmocka_unit_test(test_recommend__never_the_primarys_category),
        cmocka_unit_test(test_recommend__same_channel_and_location_only),
        cmocka_unit_test(test_recommend__anonymous_answers_reused_until_what_they_read_changes),
        cmocka_unit_test(test_recommend__an_answer_asked_steadily_is_confirmed_not_made_again),
        cmocka_unit_test(test_recommend__audit_trail_tallies_anonymous_answers_alike),
        cmocka_unit_test(test_recommend__price_cap),
        cmocka_unit_test(test_recommend__not_what_is_in_the_basket),
        cmocka_unit_test(test_recommend__bought_excluded_only_with_consent),
        cmocka_unit_test(test_recommend__sensitive_categories_never_suggested),
        cmocka_unit_test(test_recommend__at_most_max_items_ranked_by_score),
        cmocka_unit_test(test_recommend__ranked_by_score_not_count),
        cmocka_unit_test(test_recommend__empty_rather_than_filler),
        cmocka_unit_test(test_recommend__negative_association_excluded),
        cmocka_unit_test(test_recommend__below_min_co_orders_excluded),
        cmocka_unit_test(test_recommend__below_min_llr_excluded),
        cmocka_unit_test(test_recommend__reason_is_the_evidence),
        cmocka_unit_test(test_recommend__opt_out_suppresses),
        cmocka_unit_test(test_recommend__preferences_by_role),
        cmocka_unit_test(test_recommend__erasure_forgets_the_customer),
        cmocka_unit_test(test_recommend__erasure_covers_orders_placed_by_reservation),
        cmocka_unit_test(test_recommend__feedback_and_stats),
        cmocka_unit_test(test_recommend__two_dismissals_mean_not_today),
        cmocka_unit_test(test_recommend__orders_idempotent_by_id),
        cmocka_unit_test(test_recommend__orders_admin_only),
        cmocka_unit_test(test_recommend__orders_bad_input_changes_nothing),
        cmocka_unit_test(test_recommend__commit_counts_exactly_once),
        cmocka_unit_test(test_recommend__redelivered_entries_count_once),
        cmocka_unit_test(test_recommend__erasure_reaches_orders_not_yet_counted),
        cmocka_unit_test(test_recommend__bad_queries_and_roles),
        cmocka_unit_test(test_recommend__redis_down_503_then_recovers),
        /* Last: a second daemon joins the order consumers' group for a while. */
        cmocka_unit_test(test_recommend__audit_tally_is_written_when_the_daemon_stops),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
