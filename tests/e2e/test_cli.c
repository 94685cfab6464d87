/*
 * test_cli.c - `omnistock`, the command-line client, used as a support agent
 * or an operator would: the real binary (fork/exec, output through pipes)
 * against a real redis-server and omnistockd started by the harness. Each
 * test checks what a person reads (table rows and figures, messages), the
 * exit status, that --json is JSON, and, through the API, that what the
 * command claims happened did happen.
 *
 *   wh-1         warehouse, fulfils web
 *   store-leeds  store, fulfils web, store, click_collect, store_buffer 2
 *   store-york   store, fulfils store, click_collect, store_buffer 1
 *
 *   MUG-01    kitchen, 12.00, safety stock 1: 100 at wh-1, 10 at store-leeds, 5 at store-york
 *   COASTER-4 table, 6.00: 50 at wh-1, 20 at store-leeds
 *   PLATE-02  kitchen, 5.99: 3 at store-leeds only
 *   BULK-000..099 come from the import test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/sha256.h"
#include "tests/harness/harness.h"

#ifndef OMNISTOCK_CLI_PATH
#define OMNISTOCK_CLI_PATH "omnistock"
#endif

#define ADMIN      (h->keys[HARNESS_ADMIN])
#define AGENT      (h->keys[HARNESS_AGENT])
#define STOREFRONT (h->keys[HARNESS_STOREFRONT])

#define IMPORT_ROWS 10000
#define BULK_SKUS   100
#define RECOVERY_MS 10000 /* how long the daemon may take to find Redis again */

/* ---- running the binary ---- */

struct run {
    int status; /* exit status, or -1 if it did not exit normally */
    char *out;
    char *err;
};

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

struct buf {
    char *data;
    size_t len;
};

static void buf_add(struct buf *b, const char *data, size_t n)
{
    b->data = realloc(b->data, b->len + n + 1);
    assert_non_null(b->data);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/*
 * run_cli - omnistock @argv (NULL-terminated, without the program name) with
 * OMNISTOCK_URL pointing at the harness's daemon (unless @url is given) and
 * OMNISTOCK_KEY = @key (unset when NULL). @stdin_path: NULL for /dev/null.
 */
static struct run run_cli_in(const struct harness *h, const char *url, const char *key,
                             const char *stdin_path, const char *const *argv)
{
    int out[2], err[2];
    struct run r = {-1, NULL, NULL};
    struct buf o = {0}, e = {0};
    char url_env[128];
    pid_t pid;
    int status;

    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    snprintf(url_env, sizeof(url_env), "http://127.0.0.1:%d", h != NULL ? h->port : 1);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *args[64];
        size_t n = 0;
        int in = open(stdin_path != NULL ? stdin_path : "/dev/null", O_RDONLY);

        args[n++] = OMNISTOCK_CLI_PATH;
        for (size_t i = 0; argv[i] != NULL && n < 63; i++)
            args[n++] = argv[i];
        args[n] = NULL;
        dup2(in, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        setenv("OMNISTOCK_URL", url != NULL ? url : url_env, 1);
        if (key != NULL)
            setenv("OMNISTOCK_KEY", key, 1);
        else
            unsetenv("OMNISTOCK_KEY");
        execv(OMNISTOCK_CLI_PATH, (char *const *)args);
        fprintf(stderr, "exec %s: %s\n", OMNISTOCK_CLI_PATH, strerror(errno));
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    for (int open_fds = 2; open_fds > 0;) {
        struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
        char chunk[8192];

        if (poll(p, 2, -1) < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = read(p[i].fd, chunk, sizeof(chunk));
                if (n > 0) {
                    buf_add(i == 0 ? &o : &e, chunk, (size_t)n);
                } else {
                    close(i == 0 ? out[0] : err[0]);
                    if (i == 0)
                        out[0] = -1;
                    else
                        err[0] = -1;
                    open_fds--;
                }
            }
        }
    }
    waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    buf_add(&o, "", 0);
    buf_add(&e, "", 0);
    r.out = o.data;
    r.err = e.data;
    return r;
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* run - omnistock with @key against the harness's daemon. */
#define run(h, key, ...) run_cli_in((h), NULL, (key), NULL, ARGS(__VA_ARGS__))

static void show(const struct run *r)
{
    fprintf(stderr, "---- exit %d; stdout ----\n%s---- stderr ----\n%s---- end ----\n", r->status,
            r->out, r->err);
}

/* The run exited with @want; otherwise show what it printed and fail. */
#define assert_exit(r, want)                                                                       \
    do {                                                                                           \
        if ((r)->status != (want)) {                                                               \
            show(r);                                                                               \
            fail_msg("exit status %d, expected %d", (r)->status, (want));                          \
        }                                                                                          \
    } while (0)

/* A line of @text with runs of spaces squeezed to one and trimmed, into @out. */
static const char *squeeze_line(const char *p, char *out, size_t size)
{
    const char *eol = strchr(p, '\n');
    size_t n = eol != NULL ? (size_t)(eol - p) : strlen(p), k = 0;
    int space = 0;

    for (size_t i = 0; i < n && k + 2 < size; i++) {
        if (p[i] == ' ') {
            space = k > 0;
            continue;
        }
        if (space)
            out[k++] = ' ';
        space = 0;
        out[k++] = p[i];
    }
    out[k] = '\0';
    return eol != NULL ? eol + 1 : NULL;
}

/* The index of the first line of @text equal to @want once squeezed, or -1. */
static int row_at(const char *text, const char *want)
{
    char line[1024];
    int i = 0;

    for (const char *p = text; p != NULL && *p != '\0'; i++) {
        p = squeeze_line(p, line, sizeof(line));
        if (strcmp(line, want) == 0)
            return i;
    }
    return -1;
}

static int has_row(const char *text, const char *want)
{
    return row_at(text, want) >= 0;
}

/* A squeezed line of @text starts with "@row " and contains @reason. */
static int has_rejection(const char *text, long row, const char *reason)
{
    char line[1024], start[32];

    snprintf(start, sizeof(start), "%ld ", row);
    for (const char *p = text; p != NULL && *p != '\0';) {
        p = squeeze_line(p, line, sizeof(line));
        if (strncmp(line, start, strlen(start)) == 0 && strstr(line, reason) != NULL)
            return 1;
    }
    return 0;
}

#define assert_row(r, text, want)                                                                  \
    do {                                                                                           \
        if (!has_row((text), (want))) {                                                            \
            show(r);                                                                               \
            fail_msg("no row \"%s\"", (want));                                                     \
        }                                                                                          \
    } while (0)

#define assert_says(r, text, want)                                                                 \
    do {                                                                                           \
        if (strstr((text), (want)) == NULL) {                                                      \
            show(r);                                                                               \
            fail_msg("the output does not say \"%s\"", (want));                                    \
        }                                                                                          \
    } while (0)

/* The JSON the run printed on stdout; fails the test when it is not JSON. */
static json_t *run_json(const struct run *r)
{
    json_error_t jerr;
    json_t *j = json_loads(r->out, 0, &jerr);

    if (j == NULL) {
        show(r);
        fail_msg("stdout is not JSON: %s", jerr.text);
    }
    return j;
}

/* ---- the API, to check what the commands did ---- */

static long long level(struct harness *h, const char *sku, const char *location, const char *field)
{
    char path[128];
    struct harness_response *r;
    long long v = LLONG_MIN;
    json_t *l;
    size_t i;

    snprintf(path, sizeof(path), "/v1/stock/%s", sku);
    r = harness_get(h, ADMIN, path);
    harness_assert_status(r, 200);
    json_array_foreach(harness_jget(r->json, "locations"), i, l)
    {
        if (strcmp(harness_jstr(l, "location"), location) == 0)
            v = harness_jint(l, field);
    }
    harness_response_free(r);
    return v;
}

static char *temp_file(const struct harness *h, const char *name, const char *text)
{
    char *path = malloc(PATH_MAX);
    FILE *f;

    assert_non_null(path);
    snprintf(path, PATH_MAX, "%s/%s", h->dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* A loopback port nobody listens on: bound by the kernel, then closed. */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    struct harness *h = harness_start();

    *state = h;
    if (h == NULL)
        return -1;
    harness_admin_put(h, "/v1/locations/wh-1",
                      "{\"name\": \"Central warehouse\", \"type\": \"warehouse\", "
                      "\"fulfils\": [\"web\"]}");
    harness_admin_put(h, "/v1/locations/store-leeds",
                      "{\"name\": \"Leeds Briggate\", \"type\": \"store\", \"fulfils\": "
                      "[\"web\", \"store\", \"click_collect\"], \"store_buffer\": 2}");
    harness_admin_put(h, "/v1/locations/store-york",
                      "{\"name\": \"York Stonegate\", \"type\": \"store\", \"fulfils\": "
                      "[\"store\", \"click_collect\"], \"store_buffer\": 1}");
    harness_admin_put(h, "/v1/products/MUG-01",
                      "{\"name\": \"Stoneware mug\", \"category\": \"kitchen\", \"price\": "
                      "{\"amount\": 1200, \"currency\": \"GBP\"}, \"safety_stock\": 1}");
    harness_admin_put(h, "/v1/products/COASTER-4",
                      "{\"name\": \"Cork coasters, set of 4\", \"category\": \"table\", "
                      "\"price\": {\"amount\": 600, \"currency\": \"GBP\"}}");
    harness_admin_put(h, "/v1/products/PLATE-02",
                      "{\"name\": \"Plate\", \"category\": \"kitchen\", \"price\": "
                      "{\"amount\": 599, \"currency\": \"GBP\"}}");
    harness_receipt(h, "MUG-01", "wh-1", 100);
    harness_receipt(h, "MUG-01", "store-leeds", 10);
    harness_receipt(h, "MUG-01", "store-york", 5);
    harness_receipt(h, "COASTER-4", "wh-1", 50);
    harness_receipt(h, "COASTER-4", "store-leeds", 20);
    harness_receipt(h, "PLATE-02", "store-leeds", 3);
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* ---- usage ---- */

static void test_cli__help_lists_commands_and_exit_codes(void **state)
{
    static const char *const commands[] = {"stock",     "where",  "reserve", "release", "history",
                                           "recommend", "import", "keys",    "check"};
    struct harness *h = *state;
    struct run r = run(h, NULL, "--help");

    assert_exit(&r, 0);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char line[32];
        snprintf(line, sizeof(line), "\n  %s ", commands[i]);
        assert_says(&r, r.out, line);
    }
    assert_says(&r, r.out, "Exit status:");
    assert_says(&r, r.out, "4  the key is missing or unknown");
    run_free(&r);

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        r = run(h, NULL, commands[i], "--help");
        assert_exit(&r, 0);
        assert_says(&r, r.out, "usage: omnistock ");
        assert_says(&r, r.out, commands[i]);
        run_free(&r);
    }
}

static void test_cli__bad_usage_exits_2(void **state)
{
    struct harness *h = *state;
    struct run r = run(h, ADMIN, "frobnicate");

    assert_exit(&r, 2);
    assert_says(&r, r.err, "unknown command 'frobnicate'");
    run_free(&r);
    r = run(h, ADMIN, NULL);
    assert_exit(&r, 2);
    run_free(&r);
    r = run(h, ADMIN, "stock");
    assert_exit(&r, 2);
    run_free(&r);
    r = run(h, ADMIN, "stock", "MUG-01", "--locaton", "wh-1");
    assert_exit(&r, 2);
    assert_says(&r, r.err, "unknown option '--locaton'");
    run_free(&r);
    r = run(h, ADMIN, "stock", "MUG 01");
    assert_exit(&r, 2);
    assert_says(&r, r.err, "is not an identifier");
    run_free(&r);
    r = run(h, ADMIN, "reserve", "--channel", "drone", "MUG-01");
    assert_exit(&r, 2);
    run_free(&r);
    r = run(h, ADMIN, "reserve", "--channel", "web", "MUG-01:lots");
    assert_exit(&r, 2);
    run_free(&r);
}

/* ---- stock and where ---- */

static void test_cli__stock_shows_levels_and_channel_figures(void **state)
{
    struct harness *h = *state;
    struct run r = run(h, AGENT, "stock", "MUG-01");
    json_t *j;

    assert_exit(&r, 0);
    assert_row(&r, r.out, "LOCATION ON HAND RESERVED SAFETY AVAILABLE");
    assert_row(&r, r.out, "store-leeds 10 0 1 9");
    assert_row(&r, r.out, "store-york 5 0 1 4");
    assert_row(&r, r.out, "wh-1 100 0 1 99");
    /* web = 99 (wh-1) + 10 - 1 - 2 (leeds ships from store); york does not ship */
    assert_row(&r, r.out, "web (all) 106");
    assert_row(&r, r.out, "click_collect store-leeds 7");
    assert_row(&r, r.out, "click_collect store-york 3");
    assert_row(&r, r.out, "store store-leeds 10");
    assert_row(&r, r.out, "store store-york 5");
    run_free(&r);

    r = run(h, AGENT, "stock", "MUG-01", "--location", "store-york");
    assert_exit(&r, 0);
    assert_row(&r, r.out, "store-york 5 0 1 4");
    assert_row(&r, r.out, "click_collect store-york 3");
    assert_null(strstr(r.out, "wh-1"));
    run_free(&r);

    r = run(h, AGENT, "--json", "stock", "MUG-01");
    assert_exit(&r, 0);
    j = run_json(&r);
    assert_int_equal(harness_jint(j, "channels/web/available"), 106);
    json_decref(j);
    run_free(&r);

    r = run(h, AGENT, "stock", "NOPE-99");
    assert_exit(&r, 1);
    assert_says(&r, r.err, "Not found (HTTP 404)");
    run_free(&r);
}

static void test_cli__where_answers_the_caller(void **state)
{
    struct harness *h = *state;
    struct run r = run(h, AGENT, "where", "MUG-01");
    json_t *j;

    assert_exit(&r, 0);
    assert_row(&r, r.out, "MUG-01 Stoneware mug");
    assert_row(&r, r.out, "CHANNEL LOCATION NAME AVAILABLE HOW");
    assert_row(&r, r.out, "web - delivery 106 wh-1 99 + store-leeds 7");
    assert_row(&r, r.out,
               "click_collect store-leeds Leeds Briggate 7 on hand 10 - reserved 0 - "
               "safety 1 - buffer 2");
    assert_row(&r, r.out,
               "click_collect store-york York Stonegate 3 on hand 5 - reserved 0 - "
               "safety 1 - buffer 1");
    assert_row(&r, r.out, "store store-leeds Leeds Briggate 10 on hand 10 - reserved 0");
    assert_row(&r, r.out, "store store-york York Stonegate 5 on hand 5 - reserved 0");
    /* sorted: web, then click & collect, then walk-in; most available first */
    assert_int_equal(row_at(r.out, "web - delivery 106 wh-1 99 + store-leeds 7"), 3);
    assert_int_equal(row_at(r.out, "click_collect store-leeds Leeds Briggate 7 on hand 10 - "
                                   "reserved 0 - safety 1 - buffer 2"),
                     4);
    assert_int_equal(row_at(r.out, "store store-leeds Leeds Briggate 10 on hand 10 - reserved 0"),
                     6);
    assert_int_equal(row_at(r.out, "store store-york York Stonegate 5 on hand 5 - reserved 0"), 7);
    run_free(&r);

    /* PLATE-02: 3 at Leeds, kept back from web and click & collect by the buffer of 2 */
    r = run(h, AGENT, "where", "PLATE-02", "--channel", "store");
    assert_exit(&r, 0);
    assert_row(&r, r.out, "store store-leeds Leeds Briggate 3 on hand 3 - reserved 0");
    assert_row(&r, r.out, "store store-york York Stonegate 0 on hand 0 - reserved 0");
    assert_null(strstr(r.out, "click_collect"));
    assert_null(strstr(r.out, "delivery"));
    run_free(&r);

    r = run(h, AGENT, "--json", "where", "PLATE-02");
    assert_exit(&r, 0);
    j = run_json(&r);
    assert_int_equal(json_array_size(harness_jget(j, "where")), 5);
    assert_string_equal(harness_jstr(j, "where/0/channel"), "web");
    assert_int_equal(harness_jint(j, "where/0/available"), 1);
    assert_string_equal(harness_jstr(j, "product/name"), "Plate");
    assert_int_equal(harness_jint(j, "stock/channels/store/store-leeds/available"), 3);
    json_decref(j);
    run_free(&r);
}

/* ---- reservations ---- */

/* The reservation id in a reservation view ("reservation  r-..."). */
static void reservation_id(const struct run *r, char id[65])
{
    const char *p = strstr(r->out, "reservation ");

    if (p == NULL || sscanf(p, "reservation %64s", id) != 1) {
        show(r);
        fail_msg("no reservation id in the output");
    }
}

static void test_cli__reserve_shows_the_hold_and_release_gives_it_back(void **state)
{
    struct harness *h = *state;
    struct run r = run(h, STOREFRONT, "reserve", "--channel", "click_collect", "--location",
                       "store-leeds", "--customer", "c-1001", "MUG-01:2", "COASTER-4");
    char id[65];

    assert_exit(&r, 0);
    reservation_id(&r, id);
    assert_memory_equal(id, "r-", 2);
    assert_row(&r, r.out, "status held");
    assert_row(&r, r.out, "channel click_collect");
    assert_row(&r, r.out, "customer c-1001");
    assert_says(&r, r.out, "expires_at ");
    assert_row(&r, r.out, "MUG-01 2 store-leeds 2");
    assert_row(&r, r.out, "COASTER-4 1 store-leeds 1");
    run_free(&r);
    assert_int_equal(level(h, "MUG-01", "store-leeds", "reserved"), 2);

    r = run(h, AGENT, "reservation", id);
    assert_exit(&r, 0);
    assert_row(&r, r.out, "status held");
    run_free(&r);

    r = run(h, AGENT, "release", id);
    assert_exit(&r, 0);
    assert_row(&r, r.out, "status released");
    assert_says(&r, r.out, "released_at ");
    run_free(&r);
    assert_int_equal(level(h, "MUG-01", "store-leeds", "reserved"), 0);
    assert_int_equal(level(h, "COASTER-4", "store-leeds", "reserved"), 0);
}

static void test_cli__web_reservation_splits_and_prints_json(void **state)
{
    struct harness *h = *state;
    struct run r =
        run(h, STOREFRONT, "--json", "reserve", "--channel", "web", "--ttl", "60", "MUG-01:101");
    char path[128];
    json_t *j;

    assert_exit(&r, 0);
    j = run_json(&r);
    /* warehouse first (99 after safety stock), the rest shipped from Leeds */
    assert_string_equal(harness_jstr(j, "status"), "held");
    assert_string_equal(harness_jstr(j, "lines/0/allocations/0/location"), "wh-1");
    assert_int_equal(harness_jint(j, "lines/0/allocations/0/quantity"), 99);
    assert_string_equal(harness_jstr(j, "lines/0/allocations/1/location"), "store-leeds");
    assert_int_equal(harness_jint(j, "lines/0/allocations/1/quantity"), 2);
    snprintf(path, sizeof(path), "%s", harness_jstr(j, "id"));
    run_free(&r);

    r = run(h, AGENT, "--json", "release", path);
    assert_exit(&r, 0);
    json_decref(j);
    j = run_json(&r);
    assert_string_equal(harness_jstr(j, "status"), "released");
    json_decref(j);
    run_free(&r);
    assert_int_equal(level(h, "MUG-01", "wh-1", "reserved"), 0);
}

static void test_cli__reserve_more_than_available_exits_1_and_holds_nothing(void **state)
{
    struct harness *h = *state;
    struct run r = run(h, STOREFRONT, "reserve", "--channel", "click_collect", "--location",
                       "store-york", "MUG-01:50");

    assert_exit(&r, 1);
    assert_says(&r, r.err, "Insufficient stock (HTTP 409)");
    assert_row(&r, r.err, "SKU REQUESTED AVAILABLE");
    assert_row(&r, r.err, "MUG-01 50 3");
    assert_string_equal(r.out, "");
    run_free(&r);
    assert_int_equal(level(h, "MUG-01", "store-york", "reserved"), 0);
}

static void test_cli__same_idempotency_key_holds_once(void **state)
{
    struct harness *h = *state;
    struct run a = run(h, STOREFRONT, "reserve", "--channel", "store", "--location", "store-york",
                       "--idempotency-key", "agent-call-77", "MUG-01");
    struct run b = run(h, STOREFRONT, "reserve", "--channel", "store", "--location", "store-york",
                       "--idempotency-key", "agent-call-77", "MUG-01");
    char id_a[65], id_b[65];

    assert_exit(&a, 0);
    assert_exit(&b, 0);
    reservation_id(&a, id_a);
    reservation_id(&b, id_b);
    assert_string_equal(id_a, id_b);
    assert_int_equal(level(h, "MUG-01", "store-york", "reserved"), 1);
    run_free(&a);
    run_free(&b);
    a = run(h, AGENT, "release", id_a);
    assert_exit(&a, 0);
    run_free(&a);
    /* releasing again answers as before: the transition just made */
    a = run(h, AGENT, "release", id_a);
    assert_exit(&a, 0);
    run_free(&a);
    assert_int_equal(level(h, "MUG-01", "store-york", "reserved"), 0);
}

/* ---- history ---- */

static void test_cli__history_lists_the_ledger_newest_first(void **state)
{
    struct harness *h = *state;
    struct run r;
    json_t *j;

    harness_receipt(h, "PLATE-02", "store-york", 4);
    r = run(h, AGENT, "history", "PLATE-02", "--location", "store-york", "--limit", "5");
    assert_exit(&r, 0);
    assert_row(&r, r.out, "AT EVENT LOCATION CHANGE ON HAND RESERVED AVAILABLE NOTE");
    assert_says(&r, r.out, "stock.changed");
    assert_says(&r, r.out, "receipt +4");
    assert_null(strstr(r.out, "store-leeds"));
    run_free(&r);

    r = run(h, AGENT, "--json", "history", "PLATE-02", "--limit", "1");
    assert_exit(&r, 0);
    j = run_json(&r);
    assert_int_equal(json_array_size(harness_jget(j, "events")), 1);
    json_decref(j);
    run_free(&r);

    r = run(h, AGENT, "history", "PLATE-02", "--limit", "0");
    assert_exit(&r, 2);
    run_free(&r);
}

/* ---- recommend (with order history imported by the CLI) ---- */

static void test_cli__recommend_shows_the_gate_and_reasons(void **state)
{
    struct harness *h = *state;
    char *csv = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&csv, &len);
    struct run r;
    char *path;
    json_t *j;

    /* 30 orders of a mug with coasters, 30 of plates alone */
    fputs("order_id,sku,quantity,customer,channel\n", f);
    for (int i = 0; i < 30; i++) {
        fprintf(f, "e2e-o-%03d,MUG-01,1,c-%d,web\n", i, i);
        fprintf(f, "e2e-o-%03d,COASTER-4,1,,\n", i);
    }
    for (int i = 30; i < 60; i++)
        fprintf(f, "e2e-o-%03d,PLATE-02,2,,\n", i);
    fclose(f);
    path = temp_file(h, "orders.csv", csv);
    r = run(h, ADMIN, "import", "orders", path);
    assert_exit(&r, 0);
    assert_says(&r, r.out,
                "import orders: 90 rows, 60 orders: 60 accepted, 0 duplicates, 0 "
                "rejected");
    run_free(&r);
    /* again: every order id is known, nothing counts twice */
    r = run(h, ADMIN, "import", "orders", path);
    assert_exit(&r, 0);
    assert_says(&r, r.out, "60 orders: 0 accepted, 60 duplicates, 0 rejected");
    run_free(&r);

    r = run(h, STOREFRONT, "recommend", "MUG-01");
    assert_exit(&r, 0);
    assert_row(&r, r.out, "primary need MUG-01: resolved (available in web)");
    assert_row(&r, r.out, "SKU NAME PRICE AVAILABLE REASON");
    assert_row(
        &r, r.out,
        "COASTER-4 Cork coasters, set of 4 GBP 6.00 68 Bought with MUG-01 in 30 of 30 orders");
    assert_null(strstr(r.out, "PLATE-02")); /* never bought with a mug */
    run_free(&r);

    /* not at York for walk-in customers: no suggestions, only where else */
    r = run(h, STOREFRONT, "recommend", "COASTER-4", "--channel", "store", "--location",
            "store-york");
    assert_exit(&r, 0);
    assert_row(&r, r.out,
               "primary need COASTER-4: NOT resolved: not available in store at "
               "store-york");
    assert_says(&r, r.out, "no suggestions until the primary need is met");
    assert_row(&r, r.out, "store store-leeds 20");
    assert_null(strstr(r.out, "REASON"));
    run_free(&r);

    r = run(h, STOREFRONT, "--json", "recommend", "MUG-01", "--basket", "COASTER-4");
    assert_exit(&r, 0);
    j = run_json(&r);
    assert_true(json_is_true(harness_jget(j, "primary/resolved")));
    assert_int_equal(json_array_size(harness_jget(j, "items")), 0); /* in the basket already */
    json_decref(j);
    run_free(&r);
    free(csv);
    free(path);
}

/* ---- keys ---- */

static void test_cli__keys_new_prints_a_key_and_its_config_line(void **state)
{
    struct harness *h = *state;
    char url[64], hex[65], key[128];
    struct run r;
    json_t *line, *j;
    const char *p;

    (void)h;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port()); /* needs no daemon */
    r = run_cli_in(NULL, url, NULL, NULL,
                   ARGS("keys", "new", "--role", "store", "--location", "store-leeds", "--name",
                        "leeds-till-2"));
    assert_exit(&r, 0);
    p = strstr(r.out, "key:");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "key: %127s", key), 1);
    assert_true(strlen(key) >= 43); /* 32 random bytes */
    assert_int_equal(
        strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        strlen(key));
    p = strstr(r.out, "config: ");
    assert_non_null(p);
    line = json_loads(p + 8, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(line);
    sha256_hex(key, strlen(key), hex);
    assert_string_equal(harness_jstr(line, "sha256"), hex);
    assert_string_equal(harness_jstr(line, "role"), "store");
    assert_string_equal(harness_jstr(line, "location"), "store-leeds");
    assert_string_equal(harness_jstr(line, "name"), "leeds-till-2");
    assert_int_equal(json_object_size(line), 4);
    json_decref(line);
    run_free(&r);

    r = run_cli_in(NULL, url, NULL, NULL, ARGS("--json", "keys", "new", "--role", "agent"));
    assert_exit(&r, 0);
    j = run_json(&r);
    sha256_hex(harness_jstr(j, "key"), strlen(harness_jstr(j, "key")), hex);
    assert_string_equal(harness_jstr(j, "config/sha256"), hex);
    assert_null(harness_jget(j, "config/location"));
    json_decref(j);
    run_free(&r);

    r = run_cli_in(NULL, url, NULL, NULL, ARGS("keys", "new", "--role", "store"));
    assert_exit(&r, 2);
    assert_says(&r, r.err, "--location");
    run_free(&r);
}

/* ---- check ---- */

static void test_cli__check_is_clean_and_needs_admin(void **state)
{
    struct harness *h = *state;
    struct run r = run(h, ADMIN, "check");
    json_t *j;

    assert_exit(&r, 0);
    assert_says(&r, r.out, "clean: ");
    run_free(&r);
    r = run(h, ADMIN, "--json", "check");
    assert_exit(&r, 0);
    j = run_json(&r);
    assert_true(json_is_true(harness_jget(j, "ok")));
    json_decref(j);
    run_free(&r);
    r = run(h, AGENT, "check");
    assert_exit(&r, 4);
    assert_says(&r, r.err, "Forbidden (HTTP 403)");
    run_free(&r);
}

/* ---- auth and connection ---- */

static void test_cli__bad_or_missing_key_exits_4(void **state)
{
    struct harness *h = *state;
    struct run r = run(h, "not-a-key", "stock", "MUG-01");
    json_t *j;

    assert_exit(&r, 4);
    assert_says(&r, r.err, "Unauthorized (HTTP 401)");
    assert_string_equal(r.out, "");
    run_free(&r);
    r = run(h, NULL, "where", "MUG-01");
    assert_exit(&r, 4);
    assert_says(&r, r.err, "OMNISTOCK_KEY");
    run_free(&r);
    /* --key wins over the environment; --json puts the problem on stdout */
    r = run(h, ADMIN, "--json", "--key", "wrong", "stock", "MUG-01");
    assert_exit(&r, 4);
    j = run_json(&r);
    assert_string_equal(harness_jstr(j, "type"), "/problems/unauthorized");
    json_decref(j);
    run_free(&r);
}

static void test_cli__unreachable_daemon_exits_3(void **state)
{
    struct harness *h = *state;
    char url[64], *path;
    struct run r;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
    r = run_cli_in(NULL, url, "any", NULL, ARGS("stock", "MUG-01"));
    assert_exit(&r, 3);
    assert_says(&r, r.err, "cannot reach the daemon at http://127.0.0.1:");
    run_free(&r);
    r = run_cli_in(NULL, url, "any", NULL,
                   ARGS("reserve", "--channel", "web", "--idempotency-key", "k-1", "MUG-01"));
    assert_exit(&r, 3);
    assert_says(&r, r.err, "--idempotency-key k-1");
    run_free(&r);
    r = run_cli_in(NULL, "https://127.0.0.1:1", "any", NULL, ARGS("stock", "MUG-01"));
    assert_exit(&r, 2);
    run_free(&r);

    /* an import stops, and says how far it got */
    path = temp_file(h, "unreachable.csv", "location,sku,quantity\nwh-1,MUG-01,1\n");
    r = run_cli_in(NULL, url, "any", NULL, ARGS("import", "stock", path));
    assert_exit(&r, 3);
    assert_says(&r, r.out, "1 rows, 1 movements: 0 accepted, 0 duplicates, 0 rejected, 1 not sent");
    assert_says(&r, r.err, "import stopped after row 2: cannot reach the daemon");
    run_free(&r);
    free(path);
}

/* ---- import ---- */

struct bad_row {
    long row;           /* the line in the file */
    const char *text;   /* the row as written */
    const char *reason; /* what the summary must say about it */
};

static const struct bad_row bad_rows[] = {
    {57, "wh-1,BULK-001,receipt,abc", "quantity 'abc' is not a whole number"},
    {1001, "wh-1,NOPE-1,receipt,3", "no product NOPE-1 (unknown-reference)"},
    {2500, "wh-1,BULK-002,teleport,1", "type must be one of"},
    {4242, "store-leeds,BULK-003,receipt,-5", "(invalid-field)"},
    {6001, "wh-1,BULK-004", "expected 4 fields as in the header, found 2"},
    {7777, "store-nowhere,BULK-005,receipt,1", "(unknown-reference)"},
    {9999, "wh-1,BULK-006,sale,100000", "(insufficient-stock)"},
    {10001, "wh-1,,receipt,1", "sku is empty"},
};
#define NBAD (sizeof(bad_rows) / sizeof(bad_rows[0]))

static const struct bad_row *bad_at(long row)
{
    for (size_t i = 0; i < NBAD; i++) {
        if (bad_rows[i].row == row)
            return &bad_rows[i];
    }
    return NULL;
}

static void import_products(struct harness *h)
{
    FILE *f;
    char *text = NULL, *path;
    size_t len = 0;
    struct run r;

    f = open_memstream(&text, &len);
    fputs("sku,name,category,price,currency,safety_stock\n", f);
    for (int i = 0; i < BULK_SKUS; i++)
        fprintf(f, "BULK-%03d,\"Bulk item %d, boxed\",bulk,%d,GBP,%d\n", i, i, 100 + i, i % 3);
    fclose(f);
    path = temp_file(h, "products.csv", text);
    r = run(h, ADMIN, "import", "products", path);
    assert_exit(&r, 0);
    assert_says(&r, r.out, "100 products: 100 accepted, 0 duplicates, 0 rejected");
    run_free(&r);
    free(text);
    free(path);
}

static void test_cli__import_10000_rows_reports_bad_rows_and_lands_the_rest(void **state)
{
    struct harness *h = *state;
    static long long want[BULK_SKUS][2]; /* on hand expected at wh-1 and store-leeds */
    char *text = NULL, *path, line[128];
    size_t len = 0;
    FILE *f;
    struct run r;
    json_t *j;

    import_products(h);
    memset(want, 0, sizeof(want));
    f = open_memstream(&text, &len);
    fputs("location,sku,type,quantity\n", f);
    /* rows 2..10001: good receipts, but where the bad rows go */
    for (long row = 2; row <= IMPORT_ROWS + 1; row++) {
        const struct bad_row *bad = bad_at(row);
        int sku = (int)(row % BULK_SKUS), at = (int)(row % 2), q = (int)(row % 7) + 1;

        if (bad != NULL) {
            fprintf(f, "%s\n", bad->text);
            continue;
        }
        fprintf(f, "%s,BULK-%03d,%s,%d\n", at ? "store-leeds" : "wh-1", sku,
                row % 3 ? "receipt" : "", q);
        want[sku][at] += q;
    }
    fclose(f);
    path = temp_file(h, "stock.csv", text);

    r = run(h, ADMIN, "import", "stock", path, "--idempotency-key", "e2e-stock-1");
    assert_exit(&r, 1); /* some rows rejected */
    snprintf(line, sizeof(line),
             "import stock: %d rows, %d movements: %d accepted, 0 duplicates, %zu rejected",
             IMPORT_ROWS, IMPORT_ROWS, IMPORT_ROWS - (int)NBAD, NBAD);
    assert_says(&r, r.out, line);
    assert_row(&r, r.out, "ROW REASON");
    for (size_t i = 0; i < NBAD; i++) {
        if (!has_rejection(strstr(r.out, "rejected:\n"), bad_rows[i].row, bad_rows[i].reason)) {
            show(&r);
            fail_msg("row %ld is not reported with \"%s\"", bad_rows[i].row, bad_rows[i].reason);
        }
    }
    run_free(&r);

    /* every good row landed, once */
    for (int s = 0; s < BULK_SKUS; s++) {
        char sku[32];
        snprintf(sku, sizeof(sku), "BULK-%03d", s);
        assert_int_equal(level(h, sku, "wh-1", "on_hand"), want[s][0]);
        assert_int_equal(level(h, sku, "store-leeds", "on_hand"), want[s][1]);
    }

    /* the same run again (say, after a crash): replayed, nothing applied twice */
    r = run(h, ADMIN, "--json", "import", "stock", path, "--idempotency-key", "e2e-stock-1");
    assert_exit(&r, 1);
    j = run_json(&r);
    assert_int_equal(harness_jint(j, "rows"), IMPORT_ROWS);
    assert_int_equal(harness_jint(j, "accepted"), 0);
    assert_int_equal(harness_jint(j, "duplicates"), IMPORT_ROWS - (long long)NBAD);
    assert_int_equal(harness_jint(j, "rejected"), (long long)NBAD);
    assert_int_equal(json_array_size(harness_jget(j, "rejections")), NBAD);
    assert_int_equal(harness_jint(j, "rejections/0/row"), bad_rows[0].row);
    assert_non_null(strstr(harness_jstr(j, "rejections/0/reason"), bad_rows[0].reason));
    json_decref(j);
    run_free(&r);
    assert_int_equal(level(h, "BULK-000", "wh-1", "on_hand"), want[0][0]);
    free(text);
    free(path);
}

static void test_cli__import_from_stdin_as_ndjson(void **state)
{
    struct harness *h = *state;
    char *path = temp_file(h, "moves.txt",
                           "{\"sku\": \"PLATE-02\", \"location\": \"wh-1\", \"quantity\": 6}\n"
                           "\n"
                           "{\"sku\": \"PLATE-02\", \"location\": \"wh-1\", \"type\": \"sale\", "
                           "\"quantity\": 2, \"reference\": \"till-1\"}\n"
                           "not json\n");
    long long before = level(h, "PLATE-02", "wh-1", "on_hand");
    struct run r =
        run_cli_in(h, NULL, ADMIN, path, ARGS("import", "stock", "-", "--format", "ndjson"));

    assert_exit(&r, 1);
    assert_says(&r, r.out, "3 rows, 3 movements: 2 accepted, 0 duplicates, 1 rejected");
    assert_says(&r, r.out, "4  not JSON");
    run_free(&r);
    assert_int_equal(level(h, "PLATE-02", "wh-1", "on_hand"), before + 4);

    /* no extension and no --format: the command cannot guess */
    r = run(h, ADMIN, "import", "stock", path);
    assert_exit(&r, 2);
    run_free(&r);
    free(path);
}

static void test_cli__import_refuses_an_unusable_file_with_2(void **state)
{
    struct harness *h = *state;
    char *path = temp_file(h, "bad-header.csv", "location,sku,qty\nwh-1,MUG-01,1\n");
    struct run r = run(h, ADMIN, "import", "stock", path);

    assert_exit(&r, 2);
    assert_says(&r, r.err, "unknown column 'qty'");
    run_free(&r);
    r = run(h, ADMIN, "import", "stock", "/nonexistent/stock.csv");
    assert_exit(&r, 2);
    assert_says(&r, r.err, "cannot open");
    run_free(&r);
    r = run(h, AGENT, "import", "products", "/dev/null", "--format", "csv");
    assert_exit(&r, 2); /* empty: no header row */
    run_free(&r);
    free(path);
}

static void test_cli__import_products_reports_server_and_local_rejections(void **state)
{
    struct harness *h = *state;
    char *path = temp_file(h, "products.ndjson",
                           "{\"sku\": \"NEW-1\", \"name\": \"New one\", \"category\": \"misc\", "
                           "\"price\": {\"amount\": 250, \"currency\": \"GBP\"}}\n"
                           "{\"sku\": \"NEW-2\", \"name\": \"New two\", \"category\": \"misc\", "
                           "\"price\": {\"amount\": 250, \"currency\": \"gbp\"}}\n"
                           "{\"name\": \"No SKU\"}\n");
    struct run r = run(h, ADMIN, "import", "products", path);
    struct harness_response *resp;

    assert_exit(&r, 1);
    assert_says(&r, r.out, "3 rows, 3 products: 1 accepted, 0 duplicates, 2 rejected");
    assert_true(has_rejection(r.out, 2, "currency must be three upper-case letters"));
    assert_true(has_rejection(r.out, 2, "(invalid-field)"));
    assert_true(has_rejection(r.out, 3, "the product has no \"sku\" string"));
    run_free(&r);
    resp = harness_get(h, ADMIN, "/v1/products/NEW-1");
    harness_assert_status(resp, 200);
    harness_assert_jstr(resp, "name", "New one");
    harness_response_free(resp);
    resp = harness_get(h, ADMIN, "/v1/products/NEW-2");
    harness_assert_status(resp, 404);
    harness_response_free(resp);
    free(path);
}

static void test_cli__import_with_a_key_that_may_not_exits_4(void **state)
{
    struct harness *h = *state;
    char *path = temp_file(h, "p.csv", "sku,name,category,price,currency\nX-1,X,misc,1,GBP\n");
    struct run r = run(h, AGENT, "import", "products", path);

    assert_exit(&r, 4);
    assert_says(&r, r.err, "the key was refused (HTTP 403)");
    run_free(&r);
    free(path);
}

/* ---- Redis away: the daemon answers 503, the client says so with 3 ---- */

static void test_cli__redis_down_exits_3(void **state)
{
    struct harness *h = *state;
    struct run r;
    int ready = 0;

    char *path = temp_file(h, "while-down.csv", "location,sku,quantity\nwh-1,MUG-01,1\n");

    assert_int_equal(harness_redis_stop(&h->redis), 0);
    r = run(h, AGENT, "stock", "MUG-01");
    assert_exit(&r, 3);
    assert_says(&r, r.err, "(HTTP 503)");
    run_free(&r);
    /* an import retries after Retry-After a few times, then stops with 3 */
    r = run(h, ADMIN, "import", "stock", path);
    assert_exit(&r, 3);
    assert_says(&r, r.out, "0 accepted, 0 duplicates, 0 rejected, 1 not sent");
    assert_says(&r, r.err, "answered 503 5 times");
    run_free(&r);
    free(path);
    assert_int_equal(harness_redis_start(&h->redis), 0);
    for (int i = 0; i < RECOVERY_MS / 50 && !ready; i++) {
        struct harness_response *resp = harness_get(h, NULL, "/readyz");
        ready = resp->status == 200;
        harness_response_free(resp);
        if (!ready)
            usleep(50 * 1000);
    }
    assert_true(ready);
    /* served again (the harness's Redis keeps nothing across a restart) */
    r = run(h, ADMIN, "check");
    assert_exit(&r, 0);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli__help_lists_commands_and_exit_codes),
        cmocka_unit_test(test_cli__bad_usage_exits_2),
        cmocka_unit_test(test_cli__stock_shows_levels_and_channel_figures),
        cmocka_unit_test(test_cli__where_answers_the_caller),
        cmocka_unit_test(test_cli__reserve_shows_the_hold_and_release_gives_it_back),
        cmocka_unit_test(test_cli__web_reservation_splits_and_prints_json),
        cmocka_unit_test(test_cli__reserve_more_than_available_exits_1_and_holds_nothing),
        cmocka_unit_test(test_cli__same_idempotency_key_holds_once),
        cmocka_unit_test(test_cli__history_lists_the_ledger_newest_first),
        cmocka_unit_test(test_cli__recommend_shows_the_gate_and_reasons),
        cmocka_unit_test(test_cli__keys_new_prints_a_key_and_its_config_line),
        cmocka_unit_test(test_cli__check_is_clean_and_needs_admin),
        cmocka_unit_test(test_cli__bad_or_missing_key_exits_4),
        cmocka_unit_test(test_cli__unreachable_daemon_exits_3),
        cmocka_unit_test(test_cli__import_10000_rows_reports_bad_rows_and_lands_the_rest),
        cmocka_unit_test(test_cli__import_from_stdin_as_ndjson),
        cmocka_unit_test(test_cli__import_refuses_an_unusable_file_with_2),
        cmocka_unit_test(test_cli__import_products_reports_server_and_local_rejections),
        cmocka_unit_test(test_cli__import_with_a_key_that_may_not_exits_4),
        cmocka_unit_test(test_cli__redis_down_exits_3),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
