/*
 * cli_main.c - `omnistock`, the command-line client for support agents and
 * operators: flags and environment, one function per command, and the exit
 * codes. It talks to omnistockd over the HTTP API only (cli_http.c) and
 * shows the answers as tables (cli_view.c), or as the server's JSON with
 * --json.
 */
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/sha256.h"
#include "services/cli/cli.h"
#include "services/cli/cli_view.h"

#ifndef OMNISTOCK_VERSION
#define OMNISTOCK_VERSION "0"
#endif

#define DEFAULT_URL     "http://127.0.0.1:8080"
#define DEFAULT_TIMEOUT 30

static const char usage[] =
    "usage: omnistock [--url URL] [--key KEY] [--json] [--timeout SECONDS] COMMAND [ARGS]\n"
    "\n"
    "The command-line client of omnistockd, for support agents and operators.\n"
    "\n"
    "Commands:\n"
    "  stock SKU [--location L]        on hand, reserved, safety stock and available per\n"
    "                                  location, then what each channel can promise\n"
    "  where SKU [--channel C]         where a caller can get it: every channel and store\n"
    "                                  with what it can promise, and why\n"
    "  reserve --channel C [--location L] [--customer C] [--ttl S] SKU[:QTY]...\n"
    "                                  hold stock for a customer\n"
    "  reservation ID                  show a reservation\n"
    "  release ID                      release a reservation: its stock returns\n"
    "  history SKU [--location L] [--limit N]\n"
    "                                  the ledger of a SKU, newest first\n"
    "  recommend SKU [--channel C] [--location L] [--customer C] [--reservation R]\n"
    "            [--basket A,B]        the primary-need check, then suggestions with reasons\n"
    "  import products|stock|orders FILE\n"
    "                                  load CSV or NDJSON (see omnistock import --help)\n"
    "  keys new --role ROLE [--location L] [--name N]\n"
    "                                  make an API key and its config line (offline)\n"
    "  check                           the consistency check (admin)\n"
    "\n"
    "Every command takes --help. Options:\n"
    "  --url URL          the daemon (default $OMNISTOCK_URL, else " DEFAULT_URL ")\n"
    "  --key KEY          the API key (default $OMNISTOCK_KEY, which is better: other users\n"
    "                     can see a command line)\n"
    "  --json             print the server's JSON (a JSON summary for import and keys)\n"
    "  --timeout SECONDS  per request (default 30)\n"
    "\n"
    "Exit status:\n"
    "  0  done (import: every row accepted; check: clean)\n"
    "  1  the server said no (not found, insufficient stock, invalid), some import rows were\n"
    "     rejected, or check found problems\n"
    "  2  usage: a bad command line or an unusable input file\n"
    "  3  the daemon is unreachable, timed out or unavailable (5xx)\n"
    "  4  the key is missing or unknown (401) or not allowed to do this (403)\n";

struct command {
    const char *name;
    int (*run)(struct cli_ctx *ctx, int argc, char **argv);
    const char *usage;
};

/* ---- shared helpers (cli.h) ---- */

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;

    fputs("omnistock: ", stderr);
    if (command != NULL)
        fprintf(stderr, "%s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see omnistock %s%s--help)\n", command != NULL ? command : "",
            command != NULL ? " " : "");
    return CLI_EXIT_USAGE;
}

struct cli_http *cli_connect(const struct cli_ctx *ctx, int nconn)
{
    char err[512];
    struct cli_http *h = cli_http_new(ctx->url, ctx->key, ctx->timeout_s, nconn, err, sizeof(err));

    if (h == NULL)
        fprintf(stderr, "omnistock: --url: %s\n", err);
    return h;
}

int cli_fail(const struct cli_ctx *ctx, const struct cli_http *h, const struct cli_response *res)
{
    if (res->status == 0) {
        fprintf(stderr, "omnistock: cannot reach the daemon at %s: %s\n", cli_http_url(h),
                res->error);
        return CLI_EXIT_UNAVAILABLE;
    }
    if (ctx->json && res->json != NULL) {
        json_dumpf(res->json, stdout, JSON_COMPACT);
        fputc('\n', stdout);
    }
    fputs("omnistock: ", stderr);
    if (res->json != NULL)
        cli_view_problem(stderr, res->status, res->json);
    else
        fprintf(stderr, "HTTP %d from %s\n", res->status, cli_http_url(h));
    if (res->status == 401)
        fprintf(stderr, "omnistock: give a key with --key or OMNISTOCK_KEY\n");
    return cli_exit_for_status(res->status);
}

/* ---- one-request commands ---- */

/*
 * request - send one request; on success return the response for the
 * caller to show (new), on failure report it, set *@rc and return NULL.
 */
static struct cli_response *request(struct cli_ctx *ctx, struct cli_http *h, const char *method,
                                    const char *path, const char *body, const char *idem, int *rc)
{
    struct cli_response *res = cli_http_call(h, method, path, body, idem);

    if (res->status >= 200 && res->status < 300 && (res->json != NULL || res->body_len == 0))
        return res;
    if (res->status >= 200 && res->status < 300) {
        fprintf(stderr, "omnistock: the daemon's answer to %s %s is not JSON\n", method, path);
        *rc = CLI_EXIT_UNAVAILABLE;
    } else {
        *rc = cli_fail(ctx, h, res);
    }
    cli_response_free(res);
    return NULL;
}

static void print_json(const struct cli_response *res)
{
    fwrite(res->body, 1, res->body_len, stdout);
    if (res->body_len == 0 || res->body[res->body_len - 1] != '\n')
        fputc('\n', stdout);
}

/*
 * parse - the command's options and positionals; --help prints @usage_text.
 * @return 0 to go on, -1 when help was printed, or an exit code (2).
 */
static int parse(const char *command, const char *usage_text, int argc, char **argv,
                 struct cli_opt *opts, struct cli_args *args, size_t min_pos, size_t max_pos)
{
    char err[256];

    if (cli_args_parse(argc, argv, opts, args, err, sizeof(err)) != 0)
        return cli_usage_error(command, "%s", err);
    if (cli_opt_get(opts, "help") != NULL) {
        fputs(usage_text, stdout);
        return -1;
    }
    if (args->npos < min_pos || args->npos > max_pos)
        return cli_usage_error(command, "%s",
                               min_pos == max_pos && min_pos == 1 ? "expected exactly one argument"
                                                                  : "wrong number of arguments");
    return 0;
}

static int check_id(const char *command, const char *what, const char *v)
{
    if (v != NULL && !cli_id_valid(v))
        return cli_usage_error(
            command, "%s '%s' is not an identifier (1 to 64 of A-Z a-z 0-9 . _ -)", what, v);
    return 0;
}

static int check_channel(const char *command, const char *v)
{
    if (v != NULL && !cli_channel_valid(v))
        return cli_usage_error(command, "--channel must be web, click_collect or store, not '%s'",
                               v);
    return 0;
}

static int finish(struct cli_http *h, int rc)
{
    cli_http_free(h);
    return rc < 0 ? CLI_EXIT_OK : rc;
}

/* ---- stock ---- */

static const char stock_usage[] =
    "usage: omnistock stock SKU [--location L]\n"
    "\n"
    "Per location: on hand, reserved, safety stock and available (on hand - reserved -\n"
    "safety); then per channel what can be promised: web (delivery, from every location\n"
    "that ships), click_collect and store (walk-in) per store. --location shows one\n"
    "location and its store figures. GET /v1/stock/{sku}.\n";

static int cmd_stock(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_opt opts[] = {{"location", 1, NULL, 0}, CLI_GLOBAL_OPTS, {NULL, 0, NULL, 0}};
    struct cli_args args;
    struct cli_response *res;
    struct cli_http *h;
    const char *loc;
    char path[128];
    int rc = parse("stock", stock_usage, argc, argv, opts, &args, 1, 1);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    loc = cli_opt_get(opts, "location");
    if ((rc = check_id("stock", "SKU", args.pos[0])) || (rc = check_id("stock", "--location", loc)))
        return rc;
    if ((h = cli_connect(ctx, 1)) == NULL)
        return CLI_EXIT_USAGE;
    snprintf(path, sizeof(path), "/v1/stock/%s", args.pos[0]);
    if ((res = request(ctx, h, "GET", path, NULL, NULL, &rc)) == NULL)
        return finish(h, rc);
    if (ctx->json)
        print_json(res);
    else if (cli_view_stock(stdout, res->json, loc) != 0) {
        fprintf(stderr, "omnistock: stock: no location '%s' (see GET /v1/locations)\n", loc);
        rc = CLI_EXIT_REJECTED;
    }
    cli_response_free(res);
    return finish(h, rc);
}

/* ---- where ---- */

static const char where_usage[] =
    "usage: omnistock where SKU [--channel web|click_collect|store]\n"
    "\n"
    "Where can the caller get it? Every channel and every store with what it can promise\n"
    "now, sorted by channel (web delivery, click & collect, walk-in) and then by the most\n"
    "available, with how each figure is made (on hand - reserved - safety - store buffer).\n"
    "Reads GET /v1/stock/{sku}?explain=true, GET /v1/locations and GET /v1/products/{sku}.\n"
    "With --json: {\"sku\", \"product\", \"where\": [rows], \"stock\": <the server's answer>}.\n";

static int cmd_where(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_opt opts[] = {{"channel", 1, NULL, 0}, CLI_GLOBAL_OPTS, {NULL, 0, NULL, 0}};
    struct cli_response *stock = NULL, *locs = NULL, *product = NULL;
    struct cli_args args;
    struct cli_http *h;
    const char *channel;
    char path[128];
    json_t *rows;
    int rc = parse("where", where_usage, argc, argv, opts, &args, 1, 1);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    channel = cli_opt_get(opts, "channel");
    if ((rc = check_id("where", "SKU", args.pos[0])) || (rc = check_channel("where", channel)))
        return rc;
    if ((h = cli_connect(ctx, 1)) == NULL)
        return CLI_EXIT_USAGE;
    snprintf(path, sizeof(path), "/v1/stock/%s?explain=true", args.pos[0]);
    if ((stock = request(ctx, h, "GET", path, NULL, NULL, &rc)) == NULL ||
        (locs = request(ctx, h, "GET", "/v1/locations", NULL, NULL, &rc)) == NULL)
        goto out;
    snprintf(path, sizeof(path), "/v1/products/%s", args.pos[0]);
    product = cli_http_call(h, "GET", path, NULL, NULL); /* the name is a courtesy */
    rows = cli_where_rows(stock->json, locs->json, channel);
    if (ctx->json) {
        json_t *out = json_pack("{s:s, s:O?, s:O, s:O}", "sku", args.pos[0], "product",
                                product->status == 200 ? product->json : NULL, "where", rows,
                                "stock", stock->json);
        json_dumpf(out, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(out);
    } else {
        cli_view_where(stdout, args.pos[0], product->status == 200 ? product->json : NULL, rows);
    }
    json_decref(rows);
out:
    cli_response_free(stock);
    cli_response_free(locs);
    cli_response_free(product);
    return finish(h, rc);
}

/* ---- reservations ---- */

static const char reserve_usage[] =
    "usage: omnistock reserve --channel web|click_collect|store [--location L]\n"
    "                         [--customer C] [--reference R] [--ttl SECONDS]\n"
    "                         [--idempotency-key K] SKU[:QTY]...\n"
    "\n"
    "Holds stock: all lines or none. --location is the store for click_collect and store,\n"
    "and not given for web (the service allocates: warehouses first, then stores that\n"
    "ship). QTY defaults to 1. Prints the reservation id, its status, each line's\n"
    "allocations and when the hold expires. The request carries an Idempotency-Key (a new\n"
    "one per run, or --idempotency-key): if the answer is lost, run the same command with\n"
    "the key it printed and nothing is held twice. POST /v1/reservations.\n";

static void make_idem_key(char out[64])
{
    unsigned char raw[12] = {0};

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        unsigned long t = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
        memcpy(raw, &t, sizeof(t) < sizeof(raw) ? sizeof(t) : sizeof(raw));
    }
    memcpy(out, "cli-", 4);
    cli_base64url(raw, sizeof(raw), out + 4);
}

/* The reservation body from the command line. @return new, or NULL after a usage error. */
static json_t *reserve_body(struct cli_opt *opts, const struct cli_args *args, int *rc)
{
    const char *channel = cli_opt_get(opts, "channel"), *ttl = cli_opt_get(opts, "ttl");
    static const char *const ids[] = {"location", "customer"};
    json_t *body, *lines = json_array();
    long long n;
    char err[256];

    if ((*rc = check_channel("reserve", channel)) != 0 ||
        (channel == NULL && (*rc = cli_usage_error("reserve", "--channel is required")) != 0) ||
        (args->npos == 0 && (*rc = cli_usage_error("reserve", "name at least one SKU[:QTY]"))))
        goto fail;
    body = json_pack("{s:s}", "channel", channel);
    for (size_t i = 0; i < 2; i++) {
        const char *v = cli_opt_get(opts, ids[i]);
        char what[32];
        snprintf(what, sizeof(what), "--%s", ids[i]);
        if ((*rc = check_id("reserve", what, v)) != 0) {
            json_decref(body);
            goto fail;
        }
        if (v != NULL)
            json_object_set_new(body, ids[i], json_string(v));
    }
    if (cli_opt_get(opts, "reference") != NULL)
        json_object_set_new(body, "reference", json_string(cli_opt_get(opts, "reference")));
    if (ttl != NULL) {
        if (cli_parse_int(ttl, 1, 604800, &n) != 0) {
            json_decref(body);
            *rc = cli_usage_error("reserve", "--ttl must be a whole number of seconds");
            goto fail;
        }
        json_object_set_new(body, "ttl_seconds", json_integer(n));
    }
    for (size_t i = 0; i < args->npos; i++) {
        char sku[65];
        if (cli_parse_line_spec(args->pos[i], sku, &n, err, sizeof(err)) != 0) {
            json_decref(body);
            *rc = cli_usage_error("reserve", "%s", err);
            goto fail;
        }
        json_array_append_new(lines,
                              json_pack("{s:s, s:I}", "sku", sku, "quantity", (json_int_t)n));
    }
    json_object_set_new(body, "lines", lines);
    return body;
fail:
    json_decref(lines);
    return NULL;
}

static int cmd_reserve(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_opt opts[] = {{"channel", 1, NULL, 0},  {"location", 1, NULL, 0},
                             {"customer", 1, NULL, 0}, {"reference", 1, NULL, 0},
                             {"ttl", 1, NULL, 0},      {"idempotency-key", 1, NULL, 0},
                             CLI_GLOBAL_OPTS,          {NULL, 0, NULL, 0}};
    struct cli_args args;
    struct cli_response *res;
    struct cli_http *h;
    char key[64], *text;
    const char *idem;
    json_t *body;
    int rc = parse("reserve", reserve_usage, argc, argv, opts, &args, 0, CLI_POS_MAX);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if ((body = reserve_body(opts, &args, &rc)) == NULL)
        return rc;
    idem = cli_opt_get(opts, "idempotency-key");
    if (idem == NULL) {
        make_idem_key(key);
        idem = key;
    }
    if ((h = cli_connect(ctx, 1)) == NULL) {
        json_decref(body);
        return CLI_EXIT_USAGE;
    }
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    res = request(ctx, h, "POST", "/v1/reservations", text, idem, &rc);
    free(text);
    if (res == NULL) {
        if (rc == CLI_EXIT_UNAVAILABLE)
            fprintf(stderr, "omnistock: to retry without holding twice: --idempotency-key %s\n",
                    idem);
        return finish(h, rc);
    }
    if (ctx->json)
        print_json(res);
    else
        cli_view_reservation(stdout, res->json);
    cli_response_free(res);
    return finish(h, rc);
}

static const char release_usage[] =
    "usage: omnistock release ID\n"
    "\n"
    "Releases a held or committed reservation: its stock is available again. Releasing\n"
    "one already released answers as before. POST /v1/reservations/{id}/release.\n";

static const char reservation_usage[] =
    "usage: omnistock reservation ID\n"
    "\n"
    "Shows a reservation: status, channel, customer, lines and allocations, and its times.\n"
    "GET /v1/reservations/{id}.\n";

static int reservation_command(struct cli_ctx *ctx, int argc, char **argv, const char *name,
                               const char *usage_text, const char *method, const char *suffix)
{
    struct cli_opt opts[] = {CLI_GLOBAL_OPTS, {NULL, 0, NULL, 0}};
    struct cli_args args;
    struct cli_response *res;
    struct cli_http *h;
    char path[160];
    int rc = parse(name, usage_text, argc, argv, opts, &args, 1, 1);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if ((rc = check_id(name, "ID", args.pos[0])) != 0)
        return rc;
    if ((h = cli_connect(ctx, 1)) == NULL)
        return CLI_EXIT_USAGE;
    snprintf(path, sizeof(path), "/v1/reservations/%s%s", args.pos[0], suffix);
    if ((res = request(ctx, h, method, path, NULL, NULL, &rc)) == NULL)
        return finish(h, rc);
    if (ctx->json)
        print_json(res);
    else
        cli_view_reservation(stdout, res->json);
    cli_response_free(res);
    return finish(h, rc);
}

static int cmd_release(struct cli_ctx *ctx, int argc, char **argv)
{
    return reservation_command(ctx, argc, argv, "release", release_usage, "POST", "/release");
}

static int cmd_reservation(struct cli_ctx *ctx, int argc, char **argv)
{
    return reservation_command(ctx, argc, argv, "reservation", reservation_usage, "GET", "");
}

/* ---- history ---- */

static const char history_usage[] =
    "usage: omnistock history SKU [--location L] [--limit N]\n"
    "\n"
    "The ledger of a SKU, newest first: every movement, hold and alert with the levels\n"
    "after it. --limit is 1 to 1000 (default 50). GET /v1/stock/{sku}/history.\n";

static int cmd_history(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_opt opts[] = {
        {"location", 1, NULL, 0}, {"limit", 1, NULL, 0}, CLI_GLOBAL_OPTS, {NULL, 0, NULL, 0}};
    struct cli_args args;
    struct cli_response *res;
    struct cli_http *h;
    struct cli_buf path = {0};
    const char *loc, *limit;
    long long n;
    int rc = parse("history", history_usage, argc, argv, opts, &args, 1, 1);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    loc = cli_opt_get(opts, "location");
    limit = cli_opt_get(opts, "limit");
    if ((rc = check_id("history", "SKU", args.pos[0])) ||
        (rc = check_id("history", "--location", loc)))
        return rc;
    if (limit != NULL && cli_parse_int(limit, 1, 1000, &n) != 0)
        return cli_usage_error("history", "--limit must be 1 to 1000");
    if ((h = cli_connect(ctx, 1)) == NULL)
        return CLI_EXIT_USAGE;
    cli_buf_printf(&path, "/v1/stock/%s/history", args.pos[0]);
    if (loc != NULL || limit != NULL)
        cli_buf_printf(&path, "?%s%s%s%s%s", loc ? "location=" : "", loc ? loc : "",
                       loc && limit ? "&" : "", limit ? "limit=" : "", limit ? limit : "");
    res = request(ctx, h, "GET", path.data, NULL, NULL, &rc);
    cli_buf_release(&path);
    if (res == NULL)
        return finish(h, rc);
    if (ctx->json)
        print_json(res);
    else
        cli_view_history(stdout, res->json);
    cli_response_free(res);
    return finish(h, rc);
}

/* ---- recommend ---- */

static const char recommend_usage[] =
    "usage: omnistock recommend SKU [--channel C] [--location L] [--customer C]\n"
    "                           [--reservation R] [--basket A,B]\n"
    "\n"
    "What omnistock would suggest with SKU, and why. First the primary need: resolved when\n"
    "the reservation holds SKU or SKU is available in the channel (and store); if not,\n"
    "there are no suggestions, only where else SKU can be had. Then each suggestion with\n"
    "its price, availability and the evidence behind it. GET /v1/recommendations.\n";

static int cmd_recommend(struct cli_ctx *ctx, int argc, char **argv)
{
    static const char *const params[] = {"channel", "location", "customer", "reservation",
                                         "basket"};
    struct cli_opt opts[] = {{"channel", 1, NULL, 0},  {"location", 1, NULL, 0},
                             {"customer", 1, NULL, 0}, {"reservation", 1, NULL, 0},
                             {"basket", 1, NULL, 0},   CLI_GLOBAL_OPTS,
                             {NULL, 0, NULL, 0}};
    struct cli_args args;
    struct cli_response *res;
    struct cli_http *h;
    struct cli_buf path = {0};
    int rc = parse("recommend", recommend_usage, argc, argv, opts, &args, 1, 1);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if ((rc = check_id("recommend", "SKU", args.pos[0])) ||
        (rc = check_channel("recommend", cli_opt_get(opts, "channel"))) ||
        (rc = check_id("recommend", "--location", cli_opt_get(opts, "location"))) ||
        (rc = check_id("recommend", "--customer", cli_opt_get(opts, "customer"))) ||
        (rc = check_id("recommend", "--reservation", cli_opt_get(opts, "reservation"))))
        return rc;
    if (cli_opt_get(opts, "basket") != NULL &&
        strspn(cli_opt_get(opts, "basket"),
               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-,") !=
            strlen(cli_opt_get(opts, "basket")))
        return cli_usage_error("recommend", "--basket is SKUs separated by commas");
    if ((h = cli_connect(ctx, 1)) == NULL)
        return CLI_EXIT_USAGE;
    cli_buf_printf(&path, "/v1/recommendations?sku=%s", args.pos[0]);
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        if (cli_opt_get(opts, params[i]) != NULL)
            cli_buf_printf(&path, "&%s=%s", params[i], cli_opt_get(opts, params[i]));
    }
    res = request(ctx, h, "GET", path.data, NULL, NULL, &rc);
    cli_buf_release(&path);
    if (res == NULL)
        return finish(h, rc);
    if (ctx->json)
        print_json(res);
    else
        cli_view_recommendations(stdout, res->json, cli_opt_get(opts, "channel"),
                                 cli_opt_get(opts, "location"));
    cli_response_free(res);
    return finish(h, rc);
}

/* ---- check ---- */

static const char check_usage[] =
    "usage: omnistock check\n"
    "\n"
    "The consistency check (admin key): for every SKU and location, reserved equals what\n"
    "the active holds add up to, nothing is negative, and every hold belongs to a held or\n"
    "committed reservation. Exit status 0 when clean, 1 when there are problems.\n"
    "GET /v1/admin/consistency.\n";

static int cmd_check(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_opt opts[] = {CLI_GLOBAL_OPTS, {NULL, 0, NULL, 0}};
    struct cli_args args;
    struct cli_response *res;
    struct cli_http *h;
    int clean, rc = parse("check", check_usage, argc, argv, opts, &args, 0, 0);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if ((h = cli_connect(ctx, 1)) == NULL)
        return CLI_EXIT_USAGE;
    if ((res = request(ctx, h, "GET", "/v1/admin/consistency", NULL, NULL, &rc)) == NULL)
        return finish(h, rc);
    clean = json_is_true(json_object_get(res->json, "ok")) &&
            json_array_size(json_object_get(res->json, "problems")) == 0;
    if (ctx->json)
        print_json(res);
    else
        cli_view_consistency(stdout, res->json);
    cli_response_free(res);
    return finish(h, clean ? CLI_EXIT_OK : CLI_EXIT_REJECTED);
}

/* ---- keys ---- */

static const char keys_usage[] =
    "usage: omnistock keys new --role storefront|store|agent|admin [--location L] [--name N]\n"
    "\n"
    "Makes a new API key from the system's random source (32 bytes, base64url) and prints\n"
    "it once, with the line to add to \"api_keys\" in the daemon's config file: the key's\n"
    "SHA-256, never the key. A store key needs --location (its store). The name defaults to\n"
    "<role>-<first 8 hex digits of the hash>. Needs no daemon.\n";

static int cmd_keys(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_opt opts[] = {{"role", 1, NULL, 0},
                             {"location", 1, NULL, 0},
                             {"name", 1, NULL, 0},
                             CLI_GLOBAL_OPTS,
                             {NULL, 0, NULL, 0}};
    unsigned char raw[CLI_KEY_BYTES];
    char key[CLI_KEY_SIZE], err[256], *line;
    struct cli_args args;
    int rc = parse("keys", keys_usage, argc, argv, opts, &args, 1, 1);

    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (strcmp(args.pos[0], "new") != 0)
        return cli_usage_error("keys", "the only keys command is 'new'");
    if (cli_opt_get(opts, "role") == NULL)
        return cli_usage_error("keys", "--role is required");
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        fprintf(stderr, "omnistock: keys: the system's random source failed\n");
        return CLI_EXIT_UNAVAILABLE;
    }
    cli_base64url(raw, sizeof(raw), key);
    line = cli_key_config(key, cli_opt_get(opts, "role"), cli_opt_get(opts, "location"),
                          cli_opt_get(opts, "name"), err, sizeof(err));
    if (line == NULL)
        return cli_usage_error("keys", "%s", err);
    if (ctx->json) {
        json_t *entry = json_loads(line, 0, NULL);
        json_t *out = json_pack("{s:s, s:o}", "key", key, "config", entry);
        json_dumpf(out, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(out);
    } else {
        printf("key:    %s\n", key);
        printf("config: %s\n", line);
        fprintf(stderr, "Give the key to its holder now: it is shown only this once. Add the "
                        "config line to \"api_keys\" in the daemon's config file and restart "
                        "it.\n");
    }
    free(line);
    return CLI_EXIT_OK;
}

/* ---- import (cli_import.c) ---- */

static int cmd_import(struct cli_ctx *ctx, int argc, char **argv)
{
    return cli_import_main(ctx, argc, argv);
}

/* ---- main ---- */

static const struct command commands[] = {
    {"stock", cmd_stock, stock_usage},
    {"where", cmd_where, where_usage},
    {"reserve", cmd_reserve, reserve_usage},
    {"reservation", cmd_reservation, reservation_usage},
    {"release", cmd_release, release_usage},
    {"history", cmd_history, history_usage},
    {"recommend", cmd_recommend, recommend_usage},
    {"import", cmd_import, NULL},
    {"keys", cmd_keys, keys_usage},
    {"check", cmd_check, check_usage},
};

/*
 * The global options, wherever they are on the line: read once from the
 * whole line (the command's own parse accepts and ignores them).
 * @return the index of the command word in argv, 0 when there is none, or -1
 * after a usage error.
 */
static int globals(struct cli_ctx *ctx, int argc, char **argv, int *help)
{
    int cmd = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        int takes =
            strcmp(a, "--url") == 0 || strcmp(a, "--key") == 0 || strcmp(a, "--timeout") == 0;
        const char *v = takes ? (i + 1 < argc ? argv[i + 1] : NULL) : eq ? eq + 1 : NULL;

        if (strcmp(a, "--") == 0)
            break;
        if (takes && v == NULL)
            return cli_usage_error(NULL, "option '%s' needs a value", a), -1;
        if (strncmp(a, "--url", 5) == 0 && (a[5] == '\0' || a[5] == '='))
            ctx->url = v;
        else if (strncmp(a, "--key", 5) == 0 && (a[5] == '\0' || a[5] == '='))
            ctx->key = v;
        else if (strncmp(a, "--timeout", 9) == 0 && (a[9] == '\0' || a[9] == '=')) {
            long long t;
            if (cli_parse_int(v, 1, 3600, &t) != 0)
                return cli_usage_error(NULL, "--timeout must be 1 to 3600 seconds"), -1;
            ctx->timeout_s = (int)t;
        } else if (strcmp(a, "--json") == 0)
            ctx->json = 1;
        else if ((strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) && cmd == 0)
            *help = 1;
        else if (strcmp(a, "--version") == 0 && cmd == 0)
            *help = 2;
        else if (a[0] == '-' && cmd == 0 && strcmp(a, "-") != 0)
            return cli_usage_error(NULL, "unknown option '%s'", a), -1;
        else if (cmd == 0 && a[0] != '-')
            cmd = i;
        i += takes;
    }
    return cmd;
}

int main(int argc, char **argv)
{
    struct cli_ctx ctx = {getenv("OMNISTOCK_URL"), getenv("OMNISTOCK_KEY"), 0, DEFAULT_TIMEOUT};
    int help = 0, cmd;

    signal(SIGPIPE, SIG_IGN);
    if (ctx.url == NULL || ctx.url[0] == '\0')
        ctx.url = DEFAULT_URL;
    cmd = globals(&ctx, argc, argv, &help);
    if (cmd < 0)
        return CLI_EXIT_USAGE;
    if (help == 2) {
        printf("omnistock %s\n", OMNISTOCK_VERSION);
        return CLI_EXIT_OK;
    }
    if (cmd == 0) {
        fputs(usage, help ? stdout : stderr);
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[cmd], commands[i].name) == 0) {
            /* The command sees every argument but its own name (globals included). */
            char **rest = calloc((size_t)argc, sizeof(*rest));
            int n = 0, rc;
            if (rest == NULL)
                return CLI_EXIT_UNAVAILABLE;
            for (int k = 1; k < argc; k++) {
                if (k != cmd)
                    rest[n++] = argv[k];
            }
            rc = commands[i].run(&ctx, n, rest);
            free(rest);
            fflush(stdout);
            return rc;
        }
    }
    return cli_usage_error(NULL, "unknown command '%s'", argv[cmd]);
}
