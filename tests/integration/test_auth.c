/*
 * test_auth.c - every route (the route tables of services/<module>/<area>_http.c,
 * services/omnistockd/main.c and services/console) against every role, and a
 * store key at its own and at another store, per the role table of API.md
 * (tests/data/integration/auth.json); missing, unknown and malformed keys;
 * the public operational endpoints; and no key ever written to the log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/sha256.h"
#include "tests/harness/harness.h"

#define ADMIN (h->keys[HARNESS_ADMIN])

/*
 * Reservations at store-leeds made by group_setup, named in auth.json paths
 * as "{held}" and so on: held, held, committed and held.
 */
static const char *const resv_names[] = {"{held}", "{to_commit}", "{to_fulfil}", "{to_release}"};
#define NRESV (sizeof(resv_names) / sizeof(resv_names[0]))
static char resv_ids[NRESV][80];

/* Hold one MUG-01 for collection at store-leeds, committed if @commit; its id into @id. */
static void hold_at_leeds(struct harness *h, int commit, char *id, size_t size)
{
    struct harness_response *r = harness_post_json(
        h, ADMIN, "/v1/reservations",
        "{\"channel\": \"click_collect\", \"location\": \"store-leeds\", \"lines\": "
        "[{\"sku\": \"MUG-01\", \"quantity\": 1}]}");
    char path[160];

    harness_assert_status(r, 201);
    snprintf(id, size, "%s", harness_jstr(r->json, "id"));
    harness_response_free(r);
    if (commit) {
        snprintf(path, sizeof(path), "/v1/reservations/%s/commit", id);
        r = harness_http(h, "POST", path, ADMIN, NULL, NULL, 0);
        harness_assert_status(r, 200);
        harness_response_free(r);
    }
}

/* @c with the reservation names of its path replaced by their ids. @return new. */
static json_t *case_with_ids(json_t *c)
{
    json_t *copy = json_deep_copy(c);
    char path[512];

    snprintf(path, sizeof(path), "%s", harness_jstr(c, "path"));
    for (size_t i = 0; i < NRESV; i++) {
        char *at = strstr(path, resv_names[i]);
        char rest[512];

        if (at == NULL) {
            continue;
        }
        snprintf(rest, sizeof(rest), "%s", at + strlen(resv_names[i]));
        snprintf(at, sizeof(path) - (size_t)(at - path), "%s%s", resv_ids[i], rest);
    }
    json_object_set_new(copy, "path", json_string(path));
    return copy;
}

static int group_setup(void **state)
{
    struct harness *h = harness_start();
    struct harness_response *r;

    *state = h;
    if (h == NULL) {
        return -1;
    }
    harness_admin_put(h, "/v1/locations/store-leeds",
                      "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"store\", "
                      "\"click_collect\"]}");
    harness_admin_put(h, "/v1/locations/store-york",
                      "{\"name\": \"York\", \"type\": \"store\", \"fulfils\": [\"store\"]}");
    harness_admin_put(h, "/v1/products/MUG-01",
                      "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": {\"amount\": "
                      "899, \"currency\": \"GBP\"}}");
    r = harness_post_json(h, ADMIN, "/v1/movements",
                          "{\"sku\": \"MUG-01\", \"location\": \"store-york\", \"type\": "
                          "\"receipt\", \"quantity\": 10}");
    harness_assert_status(r, 201);
    harness_response_free(r);
    r = harness_post_json(h, ADMIN, "/v1/movements",
                          "{\"sku\": \"MUG-01\", \"location\": \"store-leeds\", \"type\": "
                          "\"receipt\", \"quantity\": 20}");
    harness_assert_status(r, 201);
    harness_response_free(r);
    for (size_t i = 0; i < NRESV; i++) {
        hold_at_leeds(h, strcmp(resv_names[i], "{to_fulfil}") == 0, resv_ids[i],
                      sizeof(resv_ids[i]));
    }
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

static const struct {
    const char *name;
    enum harness_role role;
} roles[] = {
    {"storefront", HARNESS_STOREFRONT},
    {"store_own", HARNESS_STORE_LEEDS},
    {"store_other", HARNESS_STORE_YORK},
    {"agent", HARNESS_AGENT},
    {"admin", HARNESS_ADMIN},
};

/*
 * The status of a GET of @path as @key whose response never ends (a stream):
 * read from its head, then the connection is closed. 0 if no head came.
 */
static int stream_status(const struct harness *h, const char *path, const char *key)
{
    char req[512], head[4096] = "";
    size_t got = 0;
    int status = 0, fd;

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
             path, key);
    if ((fd = harness_connect(h, req)) < 0) {
        goto out;
    }
    while (got + 1 < sizeof(head) && strstr(head, "\r\n\r\n") == NULL) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;

        if (poll(&pfd, 1, h->timeout_ms) != 1) {
            break;
        }
        n = recv(fd, head + got, sizeof(head) - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        head[got] = '\0';
    }
    if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
        status = 0;
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    return status;
}

static void test_auth__each_route_by_role(void **state)
{
    struct harness *h = *state;
    json_t *cases = harness_load_data("auth.json");
    json_t *c;
    size_t i;

    json_array_foreach(cases, i, c)
    {
        json_t *sent = case_with_ids(c);

        for (size_t k = 0; k < sizeof(roles) / sizeof(roles[0]); k++) {
            json_t *want = harness_jget(c, "expect");
            struct harness_response *r;
            char before[41];

            want = json_object_get(want, roles[k].name);
            if (json_is_null(want)) {
                continue;
            }
            harness_context("%s as %s", harness_jstr(c, "name"), roles[k].name);
            assert_int_equal(harness_redis_digest(&h->redis, before), 0);
            if (json_is_true(json_object_get(c, "stream"))) {
                assert_int_equal(
                    stream_status(h, harness_jstr(sent, "path"), h->keys[roles[k].role]),
                    json_integer_value(want));
                continue;
            }
            r = harness_send_case(h, sent, h->keys[roles[k].role]);
            if (json_integer_value(want) == 403) {
                harness_assert_problem(r, 403, "forbidden", NULL);
                harness_assert_unchanged(h, before);
            } else {
                harness_assert_status(r, (int)json_integer_value(want));
            }
            harness_response_free(r);
        }
        json_decref(sent);
    }
    harness_context(NULL);
    json_decref(cases);
}

static void assert_unauthorized(struct harness *h, json_t *c, const char *const *headers)
{
    struct harness_response *r;
    const char *www;
    char before[41];
    const char *body = NULL;
    char *text = NULL;
    const char *hdrs[4] = {NULL};
    size_t n = 0;

    for (; headers != NULL && headers[n] != NULL && n < 2; n++) {
        hdrs[n] = headers[n];
    }
    if (json_object_get(c, "body") != NULL) {
        text = json_dumps(json_object_get(c, "body"), JSON_COMPACT);
        body = text;
        hdrs[n++] = "Content-Type: application/json";
    }
    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    r = harness_http(h, harness_jstr(c, "method"), harness_jstr(c, "path"), NULL, hdrs, body,
                     body != NULL ? strlen(body) : 0);
    harness_assert_problem(r, 401, "unauthorized", NULL);
    www = harness_header(r, "WWW-Authenticate");
    assert_non_null(www);
    assert_true(strncmp(www, "Bearer", 6) == 0);
    harness_assert_unchanged(h, before);
    harness_response_free(r);
    free(text);
}

static void test_auth__missing_unknown_or_malformed_key_is_401(void **state)
{
    static const char *const no_key[] = {NULL};
    static const char *const unknown[] = {"Authorization: Bearer not-a-key-we-know", NULL};
    static const char *const basic[] = {"Authorization: Basic b3BzOm9wcw==", NULL};
    static const char *const empty[] = {"Authorization: Bearer ", NULL};
    static const char *const *const variants[] = {no_key, unknown, basic, empty};
    static const char *const names[] = {"no key", "unknown key", "Basic", "empty Bearer"};
    struct harness *h = *state;
    json_t *cases = harness_load_data("auth.json");
    json_t *c;
    size_t i;

    json_array_foreach(cases, i, c)
    {
        json_t *sent = case_with_ids(c);

        for (size_t v = 0; !json_is_true(json_object_get(c, "public")) &&
                           v < sizeof(variants) / sizeof(variants[0]);
             v++) {
            harness_context("%s with %s", harness_jstr(c, "name"), names[v]);
            assert_unauthorized(h, sent, variants[v]);
        }
        json_decref(sent);
    }
    harness_context(NULL);
    json_decref(cases);
}

static void test_auth__store_cannot_move_stock_elsewhere_in_a_batch(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char before[41];

    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    r = harness_post_json(h, h->keys[HARNESS_STORE_YORK], "/v1/movements",
                          "{\"movements\": [{\"sku\": \"MUG-01\", \"location\": \"store-leeds\", "
                          "\"type\": \"receipt\", \"quantity\": 1}]}");
    if (r->status == 200) {
        harness_assert_jint(r, "results/0/status", 403);
        harness_assert_jstr(r, "results/0/type", "/problems/forbidden");
    } else {
        harness_assert_problem(r, 403, "forbidden", NULL);
    }
    harness_assert_unchanged(h, before);
    harness_response_free(r);

    /* nor take it from another store by transfer */
    r = harness_post_json(h, h->keys[HARNESS_STORE_LEEDS], "/v1/movements",
                          "{\"sku\": \"MUG-01\", \"location\": \"store-york\", \"type\": "
                          "\"transfer\", \"quantity\": 1, \"to_location\": \"store-leeds\"}");
    harness_assert_problem(r, 403, "forbidden", NULL);
    harness_assert_unchanged(h, before);
    harness_response_free(r);
}

static void test_auth__a_key_can_ask_who_it_is(void **state)
{
    static const struct {
        enum harness_role role;
        const char *name, *role_name, *location;
    } keys[] = {
        {HARNESS_STOREFRONT, "web-backend", "storefront", NULL},
        {HARNESS_STORE_LEEDS, "leeds-till", "store", "store-leeds"},
        {HARNESS_STORE_YORK, "york-till", "store", "store-york"},
        {HARNESS_AGENT, "support", "agent", NULL},
        {HARNESS_ADMIN, "ops", "admin", NULL},
    };
    struct harness *h = *state;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct harness_response *r = harness_get(h, h->keys[keys[i].role], "/v1/me");

        harness_context("GET /v1/me as %s", keys[i].name);
        harness_assert_status(r, 200);
        harness_assert_jstr(r, "name", keys[i].name);
        harness_assert_jstr(r, "role", keys[i].role_name);
        if (keys[i].location != NULL)
            harness_assert_jstr(r, "location", keys[i].location);
        else
            assert_null(harness_jget(r->json, "location"));
        /* The answer never carries the key or its hash. */
        assert_null(strstr(r->body, h->keys[keys[i].role]));
        assert_int_equal(json_object_size(r->json), keys[i].location ? 3 : 2);
        harness_response_free(r);
    }
    harness_context(NULL);
}

/*
 * A key accepted once is compared as presented the next time, not hashed
 * again: every role's key still names its own holder on the second round,
 * and near misses of a key just accepted (shorter, longer, one byte off at
 * either end) are refused.
 */
static void test_auth__a_key_seen_before_matches_only_whole(void **state)
{
    static const struct {
        enum harness_role role;
        const char *name;
    } keys[] = {
        {HARNESS_STOREFRONT, "web-backend"},
        {HARNESS_STORE_LEEDS, "leeds-till"},
        {HARNESS_STORE_YORK, "york-till"},
        {HARNESS_AGENT, "support"},
        {HARNESS_ADMIN, "ops"},
    };
    struct harness *h = *state;
    const char *agent = h->keys[HARNESS_AGENT];
    size_t len = strlen(agent);
    char near[4][HARNESS_KEY_SIZE + 2];
    struct harness_response *r;

    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            harness_context("round %d, GET /v1/me as %s", round, keys[i].name);
            r = harness_get(h, h->keys[keys[i].role], "/v1/me");
            harness_assert_status(r, 200);
            harness_assert_jstr(r, "name", keys[i].name);
            harness_response_free(r);
        }
    }
    snprintf(near[0], sizeof(near[0]), "%.*s", (int)(len - 1), agent);
    snprintf(near[1], sizeof(near[1]), "%sx", agent);
    snprintf(near[2], sizeof(near[2]), "%s", agent);
    near[2][len - 1] = near[2][len - 1] == 'a' ? 'b' : 'a';
    snprintf(near[3], sizeof(near[3]), "%s", agent);
    near[3][0] = near[3][0] == 'a' ? 'b' : 'a';
    for (size_t i = 0; i < 4; i++) {
        harness_context("near miss %zu of the agent's key", i);
        r = harness_get(h, near[i], "/v1/me");
        harness_assert_problem(r, 401, "unauthorized", NULL);
        harness_response_free(r);
    }
    harness_context(NULL);
}

static void test_auth__operational_endpoints_need_no_key(void **state)
{
    static const char *const paths[] = {"/healthz", "/readyz", "/metrics"};
    struct harness *h = *state;

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct harness_response *r = harness_get(h, NULL, paths[i]);

        harness_context("GET %s", paths[i]);
        harness_assert_status(r, 200);
        harness_response_free(r);
    }
    harness_context(NULL);
}

/* Whether the file at @path holds @needle. */
static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long len;
    int found;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    assert_true(len >= 0);
    rewind(f);
    text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

/*
 * After every route was called with every key (the tests above), and with
 * keys that are wrong in every way here, no key appears in the daemon's log:
 * neither a configured key, nor its SHA-256, nor a key the daemon refused.
 */
static void test_auth__keys_never_appear_in_the_log(void **state)
{
    static const char *const refused[] = {
        "Authorization: Bearer refused-key-7c1e9a55d0b2",
        "Authorization: Basic cmVmdXNlZC1iYXNpYy03YzFl",
        "Authorization: bearer refused-lower-case-7c1e",
    };
    struct harness *h = *state;

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        const char *hdrs[] = {refused[i], NULL};
        struct harness_response *r =
            harness_http(h, "GET", "/v1/stock/MUG-01", NULL, hdrs, NULL, 0);

        harness_assert_status(r, 401);
        harness_response_free(r);
    }
    /* Every line of the traffic above is in the log by now: a request is logged as answered. */
    for (int k = 0; k < HARNESS_NROLES; k++) {
        char hex[65];

        sha256_hex(h->keys[k], strlen(h->keys[k]), hex);
        harness_context("key %d in %s", k, h->log_path);
        assert_true(file_contains(h->log_path, "event=request"));
        assert_false(file_contains(h->log_path, h->keys[k]));
        assert_false(file_contains(h->log_path, hex));
    }
    assert_false(file_contains(h->log_path, "refused-key-7c1e9a55d0b2"));
    assert_false(file_contains(h->log_path, "cmVmdXNlZC1iYXNpYy03YzFl"));
    assert_false(file_contains(h->log_path, "refused-lower-case-7c1e"));
    harness_context(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth__each_route_by_role),
        cmocka_unit_test(test_auth__missing_unknown_or_malformed_key_is_401),
        cmocka_unit_test(test_auth__store_cannot_move_stock_elsewhere_in_a_batch),
        cmocka_unit_test(test_auth__a_key_can_ask_who_it_is),
        cmocka_unit_test(test_auth__a_key_seen_before_matches_only_whole),
        cmocka_unit_test(test_auth__operational_endpoints_need_no_key),
        cmocka_unit_test(test_auth__keys_never_appear_in_the_log),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
