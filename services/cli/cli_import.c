/*
 * cli_import.c - `omnistock import products|stock|orders FILE`: read CSV or
 * NDJSON as a stream, refuse locally what cannot be right, send the rest with
 * several requests in flight (products one PUT each; movements and orders in
 * batches of up to 1,000), and account for every row: accepted, duplicate or
 * rejected with its row number and reason.
 *
 * Movement batches carry an Idempotency-Key made of the run's key and the
 * batch's first row, so that a retry (after a 503) never applies a batch
 * twice, and re-running an interrupted import with the same
 * --idempotency-key replays the batches already applied.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "services/cli/cli.h"
#include "services/cli/cli_rows.h"

#define BATCH_MAX       1000         /* movements or orders in one request (the API's limit) */
#define BATCH_BYTES_MAX (768 * 1024) /* well under the API's 1 MiB body limit */
#define RETRIES_MAX     5
#define CONCURRENCY     6

static const char import_usage[] =
    "usage: omnistock import products|stock|orders FILE [--format csv|ndjson]\n"
    "                        [--concurrency N] [--idempotency-key KEY] [--quiet]\n"
    "\n"
    "Loads FILE (or - for stdin) into the daemon: products with PUT /v1/products/{sku},\n"
    "stock movements with POST /v1/movements and order history with POST /v1/orders,\n"
    "in batches of up to 1000, several requests at a time. The format comes from the\n"
    "extension (.csv, .ndjson, .jsonl) or --format. CSV has a header row naming columns:\n"
    "\n"
    "  products  sku,name,category,price,currency[,safety_stock]   (price in minor units)\n"
    "  stock     location,sku[,type],quantity[,reason,reference,to_location,as_of]\n"
    "            (type defaults to receipt)\n"
    "  orders    order_id,sku,quantity[,customer,channel,at]   (one row per line; the rows\n"
    "            of an order together)\n"
    "\n"
    "NDJSON has one object per line as the API takes it (a product with its \"sku\", a\n"
    "movement, an order).\n"
    "\n"
    "  --format           csv or ndjson, when the extension does not say (stdin)\n"
    "  --concurrency      requests in flight, 1 to 16 (default 6)\n"
    "  --idempotency-key  names this import run: running the same stock import again with\n"
    "                     the same key replays the batches already applied instead of\n"
    "                     applying them twice (default: a new key, printed if the import\n"
    "                     stops early)\n"
    "  --quiet            no progress bar (it is shown only when stderr is a terminal)\n"
    "\n"
    "Every row is accounted for: accepted, duplicate (an order id known already, a batch\n"
    "replayed) or rejected, with its row number (the line in the file; the CSV header is\n"
    "row 1) and the reason. Exit status: 0 all rows accepted or duplicates, 1 some rows\n"
    "rejected, 2 usage or unreadable file, 3 daemon unreachable (the import stops),\n"
    "4 key refused.\n";

struct item {
    long line;
    char key[65]; /* the product's SKU or the order's id */
    json_t *body; /* owned */
};

struct import;

struct batch {
    struct import *im;
    struct item *items;
    size_t n;
    int attempts;
    char idem[200];
    char path[128];
    char *text;         /* the request body */
    struct batch *next; /* in the import's queue of batches due for a retry */
};

struct import {
    struct cli_ctx *ctx;
    enum cli_import_kind kind;
    enum cli_format format;
    FILE *in;
    unsigned long total_bytes; /* 0 when unknown (a pipe) */
    struct cli_http *h;
    struct cli_summary sum;

    /* reading */
    struct cli_csv csv;
    struct cli_columns cols;
    struct cli_orders orders;
    int header_done;
    char *line;
    size_t linecap;
    long lineno;
    unsigned long nd_bytes;
    int eof;
    struct item next; /* read but not yet in a batch (it did not fit); key[0] or body set */
    int has_next;
    long last_line;

    /* sending */
    int stop;          /* stop sending: a fatal answer came */
    int fatal;         /* its exit code */
    int pumping;       /* pump() is on the stack (libevent may answer synchronously) */
    int again;         /* pump() was asked again meanwhile */
    int waiting;       /* batches waiting to be retried: no new ones meanwhile */
    struct batch *due; /* batches whose retry time has come */
    int concurrency;

    /* progress */
    int tty;
    struct timespec shown;
};

/* ---- reading rows ---- */

static void item_release(struct item *it)
{
    json_decref(it->body);
    it->body = NULL;
}

static void stop_import(struct import *im, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void stop_import(struct import *im, int code, const char *fmt, ...)
{
    va_list ap;

    if (im->stop)
        return;
    im->stop = 1;
    im->fatal = code;
    va_start(ap, fmt);
    vsnprintf(im->sum.stopped, sizeof(im->sum.stopped), fmt, ap);
    va_end(ap);
}

/* The header row: the file's columns. @return 0, or -1 (the import cannot start). */
static int read_header(struct import *im)
{
    char err[256];
    long line;
    enum cli_csv_result r = cli_csv_next(&im->csv, &line, err, sizeof(err));

    im->header_done = 1;
    if (r != CLI_CSV_RECORD) {
        fprintf(stderr, "omnistock: import: %s\n",
                r == CLI_CSV_EOF ? "the file is empty: a CSV file starts with a header row" : err);
        return -1;
    }
    if (cli_columns_parse(im->kind, im->csv.fields, im->csv.nfields, &im->cols, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "omnistock: import: line %ld: %s\n", line, err);
        return -1;
    }
    if (im->kind == CLI_IMPORT_ORDERS)
        cli_orders_init(&im->orders, &im->cols);
    return 0;
}

/* A finished CSV order into @it. @return 1 for an item, 0 when it was rejected. */
static int order_done(struct import *im, struct cli_order_done *d, struct item *it)
{
    im->sum.items++;
    if (d->order == NULL) {
        cli_summary_reject(&im->sum, d->err_line, "%s", d->err);
        return 0;
    }
    it->line = d->line;
    snprintf(it->key, sizeof(it->key), "%s", d->id);
    it->body = d->order;
    return 1;
}

/* The next CSV item. @return 1, 0 at the end, -1 when the file cannot be read on. */
static int next_csv(struct import *im, struct item *it)
{
    char err[256];

    for (;;) {
        struct cli_order_done d;
        long line;
        enum cli_csv_result r = cli_csv_next(&im->csv, &line, err, sizeof(err));

        if (r == CLI_CSV_ERROR) {
            im->sum.rows++;
            im->sum.items++;
            cli_summary_reject(&im->sum, line, "%s", err);
        }
        if (r != CLI_CSV_RECORD) {
            if (im->kind == CLI_IMPORT_ORDERS && cli_orders_finish(&im->orders, &d) &&
                order_done(im, &d, it))
                return 1;
            return 0;
        }
        im->sum.rows++;
        im->last_line = line;
        if (im->kind == CLI_IMPORT_ORDERS) {
            if (cli_orders_add(&im->orders, im->csv.fields, im->csv.nfields, line, &d) &&
                order_done(im, &d, it))
                return 1;
            continue;
        }
        im->sum.items++;
        it->line = line;
        if (im->kind == CLI_IMPORT_PRODUCTS)
            it->body = cli_product_from_csv(&im->cols, im->csv.fields, im->csv.nfields, it->key,
                                            err, sizeof(err));
        else
            it->body =
                cli_movement_from_csv(&im->cols, im->csv.fields, im->csv.nfields, err, sizeof(err));
        if (it->body != NULL)
            return 1;
        cli_summary_reject(&im->sum, line, "%s", err);
    }
}

/* One NDJSON line as an item. @return 1, or 0 when it was rejected. */
static int ndjson_item(struct import *im, json_t *obj, struct item *it)
{
    char err[256];

    it->line = im->lineno;
    switch (im->kind) {
    case CLI_IMPORT_PRODUCTS:
        it->body = cli_product_from_json(obj, it->key, err, sizeof(err));
        break;
    case CLI_IMPORT_STOCK:
        it->body = cli_movement_from_json(obj, err, sizeof(err));
        break;
    case CLI_IMPORT_ORDERS:
        if (cli_order_check(obj, it->key, err, sizeof(err)) == 0)
            it->body = json_incref(obj);
        break;
    }
    if (it->body != NULL)
        return 1;
    cli_summary_reject(&im->sum, im->lineno, "%s", err);
    return 0;
}

static int blank(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            return 0;
    }
    return 1;
}

static int next_ndjson(struct import *im, struct item *it)
{
    for (;;) {
        ssize_t n = getline(&im->line, &im->linecap, im->in);
        json_error_t jerr;
        json_t *obj;
        int ok;

        if (n < 0)
            return 0;
        im->nd_bytes += (unsigned long)n;
        im->lineno++;
        if (blank(im->line))
            continue;
        im->sum.rows++;
        im->sum.items++;
        im->last_line = im->lineno;
        obj = json_loadb(im->line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
        if (obj == NULL) {
            cli_summary_reject(&im->sum, im->lineno, "not JSON: %s (column %d)", jerr.text,
                               jerr.column);
            continue;
        }
        ok = ndjson_item(im, obj, it);
        json_decref(obj);
        if (ok)
            return 1;
    }
}

/* The next item to send. @return 1, or 0 at the end of the input. */
static int next_item(struct import *im, struct item *it)
{
    memset(it, 0, sizeof(*it));
    if (im->has_next) {
        *it = im->next;
        im->has_next = 0;
        return 1;
    }
    if (im->eof)
        return 0;
    if (im->format == CLI_FORMAT_CSV && !im->header_done && read_header(im) != 0) {
        stop_import(im, CLI_EXIT_USAGE, "the header row is not usable");
        im->eof = 1;
        return 0;
    }
    if ((im->format == CLI_FORMAT_CSV ? next_csv(im, it) : next_ndjson(im, it)) == 1)
        return 1;
    im->eof = 1;
    return 0;
}

/* ---- progress ---- */

static void progress(struct import *im, int force)
{
    struct timespec now;
    struct winsize ws;
    char line[256];
    int width = 80;

    if (!im->tty)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!force &&
        (now.tv_sec - im->shown.tv_sec) * 1000 + (now.tv_nsec - im->shown.tv_nsec) / 1000000 < 100)
        return;
    im->shown = now;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        width = ws.ws_col - 1;
    cli_progress_line(line, sizeof(line), width,
                      im->format == CLI_FORMAT_CSV ? im->csv.bytes : im->nd_bytes, im->total_bytes,
                      im->sum.rows, im->sum.rejected);
    fprintf(stderr, "\r%s\033[K", line);
}

/* ---- batches ---- */

static void batch_free(struct batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        item_release(&b->items[i]);
    free(b->items);
    free(b->text);
    free(b);
}

/* The request body of a batch of movements or orders, from its items. */
static void batch_render(struct batch *b)
{
    struct cli_buf text = {0};
    const char *wrap = b->im->kind == CLI_IMPORT_ORDERS ? "orders" : "movements";

    cli_buf_printf(&text, "{\"%s\":[", wrap);
    for (size_t i = 0; i < b->n; i++) {
        char *one = json_dumps(b->items[i].body, JSON_COMPACT);
        if (i > 0)
            cli_buf_add(&text, ",", 1);
        cli_buf_add(&text, one, strlen(one));
        free(one);
    }
    cli_buf_add(&text, "]}", 2);
    free(b->text);
    b->text = text.data;
}

static int batch_has(const struct batch *b, const char *key)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->items[i].key, key) == 0)
            return 1;
    }
    return 0;
}

/* Up to BATCH_MAX movements or orders, under BATCH_BYTES_MAX. @return new, or NULL at the end. */
static struct batch *collect_batch(struct import *im)
{
    struct batch *b = calloc(1, sizeof(*b));
    size_t bytes = 16;
    struct item it;

    if (b == NULL)
        abort();
    b->im = im;
    b->items = calloc(BATCH_MAX, sizeof(*b->items));
    if (b->items == NULL)
        abort();
    while (b->n < BATCH_MAX && next_item(im, &it)) {
        size_t size = json_dumpb(it.body, NULL, 0, JSON_COMPACT) + 1;

        if (im->kind == CLI_IMPORT_ORDERS && batch_has(b, it.key)) {
            im->sum.duplicates++; /* as the server counts an order id it knows */
            item_release(&it);
            continue;
        }
        if (b->n > 0 && bytes + size > BATCH_BYTES_MAX) {
            im->next = it;
            im->has_next = 1;
            break;
        }
        bytes += size;
        b->items[b->n++] = it;
    }
    if (b->n == 0) {
        batch_free(b);
        return NULL;
    }
    batch_render(b);
    snprintf(b->path, sizeof(b->path), "%s",
             im->kind == CLI_IMPORT_ORDERS ? "/v1/orders" : "/v1/movements");
    if (im->kind == CLI_IMPORT_STOCK)
        snprintf(b->idem, sizeof(b->idem), "%s-%ld", im->sum.run_id, b->items[0].line);
    return b;
}

/* One product: PUT /v1/products/{sku}. */
static struct batch *collect_product(struct import *im)
{
    struct batch *b;
    struct item it;

    if (!next_item(im, &it))
        return NULL;
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        abort();
    b->im = im;
    b->items = calloc(1, sizeof(*b->items));
    if (b->items == NULL)
        abort();
    b->items[0] = it;
    b->n = 1;
    b->text = json_dumps(it.body, JSON_COMPACT);
    snprintf(b->path, sizeof(b->path), "/v1/products/%s", it.key);
    return b;
}

static void pump(struct import *im);
static void on_answer(struct cli_response *res, void *arg);

static int batch_send(struct batch *b)
{
    struct import *im = b->im;
    const char *method = im->kind == CLI_IMPORT_PRODUCTS ? "PUT" : "POST";

    b->attempts++;
    return cli_http_send(im->h, method, b->path, b->text, b->idem[0] ? b->idem : NULL, on_answer,
                         b);
}

static void batch_not_sent(struct batch *b)
{
    b->im->sum.not_sent += (long long)b->n;
}

static void retry_timer(evutil_socket_t fd, short what, void *arg)
{
    struct batch *b = arg;
    struct import *im = b->im;

    (void)fd;
    (void)what;
    cli_http_unhold(im->h);
    b->next = im->due;
    im->due = b;
    pump(im);
}

/* The daemon is busy or its Redis is away: try again after Retry-After, a few times. */
static void batch_retry(struct batch *b, const struct cli_response *res)
{
    struct import *im = b->im;
    struct timeval tv = {res->retry_after < 1    ? 1
                         : res->retry_after > 10 ? 10
                                                 : res->retry_after,
                         0};

    if (b->attempts >= RETRIES_MAX) {
        stop_import(im, CLI_EXIT_UNAVAILABLE, "the daemon at %s answered %d %d times",
                    cli_http_url(im->h), res->status, b->attempts);
        batch_not_sent(b);
        batch_free(b);
        return;
    }
    cli_http_hold(im->h);
    im->waiting++;
    if (event_base_once(cli_http_base(im->h), -1, EV_TIMEOUT, retry_timer, b, &tv) != 0) {
        cli_http_unhold(im->h);
        im->waiting--;
        stop_import(im, CLI_EXIT_UNAVAILABLE, "cannot schedule a retry");
        batch_not_sent(b);
        batch_free(b);
    }
}

static void reject_all(struct batch *b, const char *reason)
{
    for (size_t i = 0; i < b->n; i++)
        cli_summary_reject(&b->im->sum, b->items[i].line, "%s", reason);
}

static void movements_answered(struct batch *b, const struct cli_response *res)
{
    json_t *results = json_object_get(res->json, "results");
    struct import *im = b->im;

    if (json_array_size(results) != b->n) {
        reject_all(b, "the daemon's answer did not list every movement");
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        json_t *r = json_array_get(results, i);
        int status = (int)json_integer_value(json_object_get(r, "status"));
        char reason[300];

        if (status >= 200 && status < 300) {
            if (res->replayed)
                im->sum.duplicates++;
            else
                im->sum.accepted++;
            continue;
        }
        cli_problem_reason(r, status, reason, sizeof(reason));
        cli_summary_reject(&im->sum, b->items[i].line, "%s", reason);
    }
}

/*
 * A batch of orders fails whole on its first bad order (naming it
 * "orders[i]..."): drop that one, rejected, and send the rest again.
 * @return 1 when the batch went out again.
 */
static int orders_resend(struct batch *b, const struct cli_response *res)
{
    const char *field = json_string_value(json_object_get(res->json, "field"));
    long i = cli_field_index(field, "orders");
    char reason[300];

    if (res->status != 400 || i < 0 || (size_t)i >= b->n)
        return 0;
    cli_problem_reason(res->json, res->status, reason, sizeof(reason));
    cli_summary_reject(&b->im->sum, b->items[i].line, "order %s: %s", b->items[i].key, reason);
    item_release(&b->items[i]);
    memmove(&b->items[i], &b->items[i + 1], (b->n - (size_t)i - 1) * sizeof(*b->items));
    b->n--;
    if (b->n == 0)
        return 0;
    batch_render(b);
    b->attempts = 0;
    /* Queued as due at once: its connection is busy until this callback returns. */
    b->next = b->im->due;
    b->im->due = b;
    b->im->waiting++;
    return 1;
}

static void batch_answered(struct batch *b, const struct cli_response *res)
{
    struct import *im = b->im;
    char reason[300];

    if (res->status >= 200 && res->status < 300) {
        if (im->kind == CLI_IMPORT_STOCK) {
            movements_answered(b, res);
        } else if (im->kind == CLI_IMPORT_ORDERS) {
            im->sum.accepted += json_integer_value(json_object_get(res->json, "accepted"));
            im->sum.duplicates += json_integer_value(json_object_get(res->json, "duplicates"));
        } else {
            im->sum.accepted++;
        }
        return;
    }
    cli_problem_reason(res->json, res->status, reason, sizeof(reason));
    if (res->status == 422 && strstr(res->body, "idempotency-key-reused") != NULL)
        snprintf(reason, sizeof(reason),
                 "this batch was sent before under --idempotency-key %s with other rows; none "
                 "of its rows were applied",
                 im->sum.run_id);
    reject_all(b, reason);
}

static void on_answer(struct cli_response *res, void *arg)
{
    struct batch *b = arg;
    struct import *im = b->im;
    const char *code = json_string_value(json_object_get(res->json, "type"));
    int pending = code != NULL && strcmp(code, "/problems/idempotency-pending") == 0;

    if (res->status == 0) {
        stop_import(im, CLI_EXIT_UNAVAILABLE, "cannot reach the daemon at %s: %s",
                    cli_http_url(im->h), res->error);
        batch_not_sent(b);
        batch_free(b);
    } else if (res->status == 401 || res->status == 403) {
        char reason[300];
        cli_problem_reason(res->json, res->status, reason, sizeof(reason));
        stop_import(im, CLI_EXIT_AUTH, "the key was refused (HTTP %d): %s", res->status, reason);
        batch_not_sent(b);
        batch_free(b);
    } else if (res->status == 503 || res->status == 502 || res->status == 504 || pending) {
        batch_retry(b, res);
    } else if (im->kind == CLI_IMPORT_ORDERS && orders_resend(b, res)) {
        /* the rest of the batch is on its way again */
    } else {
        batch_answered(b, res);
        batch_free(b);
    }
    cli_response_free(res);
    progress(im, 0);
    pump(im);
}

static void send_or_stop(struct batch *b)
{
    struct import *im = b->im;

    if (batch_send(b) != 0) {
        stop_import(im, CLI_EXIT_UNAVAILABLE, "could not send a request to %s",
                    cli_http_url(im->h));
        batch_not_sent(b);
        batch_free(b);
    }
}

/* Batches due for a retry go first; new ones only when none is waiting. */
static void pump_once(struct import *im)
{
    while (im->due != NULL && cli_http_idle(im->h) > 0) {
        struct batch *b = im->due;
        im->due = b->next;
        im->waiting--;
        if (im->stop) {
            batch_not_sent(b);
            batch_free(b);
            continue;
        }
        send_or_stop(b);
    }
    while (im->due != NULL && im->stop) {
        struct batch *b = im->due;
        im->due = b->next;
        im->waiting--;
        batch_not_sent(b);
        batch_free(b);
    }
    while (!im->stop && im->waiting == 0 && !(im->eof && !im->has_next) &&
           cli_http_idle(im->h) > 0) {
        struct batch *b = im->kind == CLI_IMPORT_PRODUCTS ? collect_product(im) : collect_batch(im);
        if (b == NULL)
            break;
        send_or_stop(b);
    }
}

/* Fill every idle connection with a request. Safe to call from a callback. */
static void pump(struct import *im)
{
    if (im->pumping) {
        im->again = 1;
        return;
    }
    im->pumping = 1;
    do {
        im->again = 0;
        pump_once(im);
    } while (im->again);
    im->pumping = 0;
}

/* ---- the command ---- */

static void make_run_id(char *out, size_t size)
{
    unsigned char raw[8] = {0};
    char hex[17];

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        unsigned long t = (unsigned long)time(NULL) ^ (unsigned long)getpid();
        memcpy(raw, &t, sizeof(t) < sizeof(raw) ? sizeof(t) : sizeof(raw));
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    snprintf(out, size, "import-%s", hex);
}

static int idem_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 100)
        return 0;
    for (; *s != '\0'; s++) {
        if (*s < 0x21 || *s > 0x7e)
            return 0;
    }
    return 1;
}

/* Open FILE (or stdin) and settle its format. @return 0 or an exit code. */
static int open_input(struct import *im, const char *path, const char *format)
{
    struct stat st;

    im->format = format != NULL ? cli_format_parse(format) : CLI_FORMAT_UNKNOWN;
    if (format != NULL && im->format == CLI_FORMAT_UNKNOWN)
        return cli_usage_error("import", "--format must be csv or ndjson, not '%s'", format);
    if (format == NULL && strcmp(path, "-") != 0)
        im->format = cli_format_of_path(path);
    if (im->format == CLI_FORMAT_UNKNOWN)
        return cli_usage_error("import",
                               "cannot tell the format of '%s' from its name: use --format csv "
                               "or --format ndjson",
                               path);
    im->in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (im->in == NULL) {
        fprintf(stderr, "omnistock: import: cannot open '%s': %s\n", path, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    if (fstat(fileno(im->in), &st) == 0 && S_ISREG(st.st_mode))
        im->total_bytes = (unsigned long)st.st_size;
    cli_csv_init(&im->csv, im->in);
    return 0;
}

static void import_release(struct import *im)
{
    if (im->has_next)
        item_release(&im->next);
    cli_csv_release(&im->csv);
    if (im->header_done && im->kind == CLI_IMPORT_ORDERS)
        cli_orders_release(&im->orders);
    free(im->line);
    if (im->in != NULL && im->in != stdin)
        fclose(im->in);
    cli_http_free(im->h);
    cli_summary_release(&im->sum);
}

static int report(struct import *im)
{
    if (im->has_next) {
        im->sum.not_sent++; /* read, but the import stopped before it went out */
        item_release(&im->next);
        im->has_next = 0;
    }
    if (im->tty) {
        progress(im, 1);
        fputc('\n', stderr);
    }
    if (im->stop && im->fatal != CLI_EXIT_USAGE)
        fprintf(stderr, "omnistock: import stopped after row %ld%s: %s\n", im->last_line,
                im->eof ? "" : " (the rows after it were not read)", im->sum.stopped);
    if (im->ctx->json) {
        json_t *j = cli_summary_json(&im->sum);
        json_dumpf(j, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(j);
    } else {
        cli_summary_print(&im->sum, stdout);
    }
    if (im->stop)
        return im->fatal;
    return im->sum.rejected > 0 ? CLI_EXIT_REJECTED : CLI_EXIT_OK;
}

static int parse_import_args(struct import *im, int argc, char **argv, struct cli_opt *opts,
                             struct cli_args *args)
{
    char err[256];
    long long n = CONCURRENCY;
    const char *idem;

    if (cli_args_parse(argc, argv, opts, args, err, sizeof(err)) != 0)
        return cli_usage_error("import", "%s", err);
    if (cli_opt_get(opts, "help") != NULL) {
        fputs(import_usage, stdout);
        return -1;
    }
    if (args->npos != 2)
        return cli_usage_error("import", "expected a kind (products, stock or orders) and a FILE");
    if (cli_import_kind_parse(args->pos[0], &im->kind) != 0)
        return cli_usage_error("import", "'%s' is not products, stock or orders", args->pos[0]);
    if (cli_opt_get(opts, "concurrency") != NULL &&
        cli_parse_int(cli_opt_get(opts, "concurrency"), 1, CLI_HTTP_MAX_CONN, &n) != 0)
        return cli_usage_error("import", "--concurrency must be 1 to %d", CLI_HTTP_MAX_CONN);
    im->concurrency = (int)n;
    idem = cli_opt_get(opts, "idempotency-key");
    if (idem != NULL && !idem_valid(idem))
        return cli_usage_error("import",
                               "--idempotency-key must be 1 to 100 printable characters, no "
                               "spaces");
    return 0;
}

int cli_import_main(struct cli_ctx *ctx, int argc, char **argv)
{
    struct cli_opt opts[] = {{"format", 1, NULL, 0},
                             {"concurrency", 1, NULL, 0},
                             {"idempotency-key", 1, NULL, 0},
                             {"quiet", 0, NULL, 0},
                             CLI_GLOBAL_OPTS,
                             {NULL, 0, NULL, 0}};
    struct import im;
    struct cli_args args;
    int rc;

    memset(&im, 0, sizeof(im));
    im.ctx = ctx;
    rc = parse_import_args(&im, argc, argv, opts, &args);
    if (rc != 0)
        return rc < 0 ? CLI_EXIT_OK : rc;
    cli_summary_init(&im.sum, im.kind);
    if (cli_opt_get(opts, "idempotency-key") != NULL)
        snprintf(im.sum.run_id, sizeof(im.sum.run_id), "%s", cli_opt_get(opts, "idempotency-key"));
    else if (im.kind == CLI_IMPORT_STOCK)
        make_run_id(im.sum.run_id, sizeof(im.sum.run_id));
    rc = open_input(&im, args.pos[1], cli_opt_get(opts, "format"));
    if (rc != 0) {
        import_release(&im);
        return rc;
    }
    im.h = cli_connect(ctx, im.concurrency);
    if (im.h == NULL) {
        import_release(&im);
        return CLI_EXIT_USAGE;
    }
    im.tty = isatty(STDERR_FILENO) && cli_opt_get(opts, "quiet") == NULL;
    pump(&im);
    cli_http_run(im.h);
    if (im.stop && im.fatal == CLI_EXIT_USAGE) {
        import_release(&im);
        return CLI_EXIT_USAGE;
    }
    rc = report(&im);
    import_release(&im);
    return rc;
}
