/*
 * cli_rows.c - rows of an import file turned into API bodies, checked
 * locally where the answer is certain, and counted into a summary. Pure: the
 * HTTP side (cli_import.c) only sends what this file built.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/recommend.h"
#include "services/cli/cli_logic.h"
#include "services/cli/cli_rows.h"

/* ---- kinds and formats ---- */

static const char *const kind_names[] = {"products", "stock", "orders"};

int cli_import_kind_parse(const char *s, enum cli_import_kind *out)
{
    for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
        if (s != NULL && strcmp(s, kind_names[i]) == 0) {
            *out = (enum cli_import_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *cli_import_kind_name(enum cli_import_kind k)
{
    return kind_names[k];
}

enum cli_format cli_format_parse(const char *s)
{
    if (s == NULL)
        return CLI_FORMAT_UNKNOWN;
    if (strcmp(s, "csv") == 0)
        return CLI_FORMAT_CSV;
    if (strcmp(s, "ndjson") == 0 || strcmp(s, "jsonl") == 0)
        return CLI_FORMAT_NDJSON;
    return CLI_FORMAT_UNKNOWN;
}

enum cli_format cli_format_of_path(const char *path)
{
    const char *dot = strrchr(path, '.');

    if (dot == NULL || strchr(dot, '/') != NULL)
        return CLI_FORMAT_UNKNOWN;
    if (strcasecmp(dot, ".csv") == 0)
        return CLI_FORMAT_CSV;
    if (strcasecmp(dot, ".ndjson") == 0 || strcasecmp(dot, ".jsonl") == 0)
        return CLI_FORMAT_NDJSON;
    return CLI_FORMAT_UNKNOWN;
}

/* ---- columns ---- */

struct column {
    const char *name;
    int required;
};

enum { P_SKU, P_NAME, P_CATEGORY, P_PRICE, P_CURRENCY, P_SAFETY };
enum { S_LOCATION, S_SKU, S_TYPE, S_QUANTITY, S_REASON, S_REFERENCE, S_TO, S_AS_OF };
enum { O_ID, O_SKU, O_QUANTITY, O_CUSTOMER, O_CHANNEL, O_AT };

static const struct column product_cols[] = {{"sku", 1},   {"name", 1},     {"category", 1},
                                             {"price", 1}, {"currency", 1}, {"safety_stock", 0},
                                             {NULL, 0}};
static const struct column stock_cols[] = {{"location", 1},    {"sku", 1},    {"type", 0},
                                           {"quantity", 1},    {"reason", 0}, {"reference", 0},
                                           {"to_location", 0}, {"as_of", 0},  {NULL, 0}};
static const struct column order_cols[] = {{"order_id", 1}, {"sku", 1},     {"quantity", 1},
                                           {"customer", 0}, {"channel", 0}, {"at", 0},
                                           {NULL, 0}};

static const struct column *columns_of(enum cli_import_kind kind)
{
    switch (kind) {
    case CLI_IMPORT_PRODUCTS:
        return product_cols;
    case CLI_IMPORT_STOCK:
        return stock_cols;
    case CLI_IMPORT_ORDERS:
        return order_cols;
    }
    return product_cols;
}

const char *cli_columns_usage(enum cli_import_kind kind)
{
    switch (kind) {
    case CLI_IMPORT_PRODUCTS:
        return "sku,name,category,price,currency[,safety_stock]";
    case CLI_IMPORT_STOCK:
        return "location,sku[,type],quantity[,reason,reference,to_location,as_of]";
    case CLI_IMPORT_ORDERS:
        return "order_id,sku,quantity[,customer,channel,at]";
    }
    return "";
}

static int column_find(const struct column *cols, const char *name)
{
    for (int i = 0; cols[i].name != NULL; i++) {
        if (strcasecmp(cols[i].name, name) == 0)
            return i;
    }
    return -1;
}

int cli_columns_parse(enum cli_import_kind kind, char *const *fields, size_t n,
                      struct cli_columns *out, char *err, size_t errlen)
{
    const struct column *cols = columns_of(kind);

    out->kind = kind;
    out->nfields = n;
    for (int i = 0; i < CLI_COLUMNS_MAX; i++)
        out->idx[i] = -1;
    for (size_t f = 0; f < n; f++) {
        int c = column_find(cols, fields[f]);
        if (c < 0) {
            snprintf(err, errlen, "unknown column '%s' in the header (the columns are %s)",
                     fields[f], cli_columns_usage(kind));
            return -1;
        }
        if (out->idx[c] >= 0) {
            snprintf(err, errlen, "column '%s' appears twice in the header", cols[c].name);
            return -1;
        }
        out->idx[c] = (int)f;
    }
    for (int c = 0; cols[c].name != NULL; c++) {
        if (cols[c].required && out->idx[c] < 0) {
            snprintf(err, errlen, "the header has no '%s' column (the columns are %s)",
                     cols[c].name, cli_columns_usage(kind));
            return -1;
        }
    }
    return 0;
}

/* The field of column @c, or NULL when the file has no such column or it is empty. */
static const char *field(const struct cli_columns *cols, char *const *fields, int c)
{
    int i = cols->idx[c];

    return i >= 0 && fields[i][0] != '\0' ? fields[i] : NULL;
}

static int check_record(const struct cli_columns *cols, size_t n, char *err, size_t errlen)
{
    if (n != cols->nfields) {
        snprintf(err, errlen, "expected %zu fields as in the header, found %zu", cols->nfields, n);
        return -1;
    }
    return 0;
}

/* Required column @c: present and non-empty. */
static const char *required(const struct cli_columns *cols, char *const *fields, int c, char *err,
                            size_t errlen)
{
    const char *v = field(cols, fields, c);

    if (v == NULL)
        snprintf(err, errlen, "%s is empty", columns_of(cols->kind)[c].name);
    return v;
}

static int whole_number(const char *name, const char *v, long long *out, char *err, size_t errlen)
{
    if (cli_parse_int(v, LLONG_MIN, LLONG_MAX, out) != 0) {
        snprintf(err, errlen, "%s '%s' is not a whole number", name, v);
        return -1;
    }
    return 0;
}

static int id_field(const char *name, const char *v, char *err, size_t errlen)
{
    if (!cli_id_valid(v)) {
        snprintf(err, errlen, "%s '%s' is not an identifier (1 to 64 of A-Z a-z 0-9 . _ -)", name,
                 v);
        return -1;
    }
    return 0;
}

json_t *cli_product_from_csv(const struct cli_columns *cols, char *const *fields, size_t n,
                             char sku[65], char *err, size_t errlen)
{
    const char *s, *name, *cat, *price, *cur, *safety;
    long long amount, ss;
    json_t *body;

    if (check_record(cols, n, err, errlen) != 0 ||
        (s = required(cols, fields, P_SKU, err, errlen)) == NULL ||
        id_field("sku", s, err, errlen) != 0 ||
        (name = required(cols, fields, P_NAME, err, errlen)) == NULL ||
        (cat = required(cols, fields, P_CATEGORY, err, errlen)) == NULL ||
        (price = required(cols, fields, P_PRICE, err, errlen)) == NULL ||
        (cur = required(cols, fields, P_CURRENCY, err, errlen)) == NULL)
        return NULL;
    if (cli_parse_int(price, 0, LLONG_MAX, &amount) != 0) {
        snprintf(err, errlen, "price '%s' is not a whole number of minor units (1250 for 12.50)",
                 price);
        return NULL;
    }
    safety = field(cols, fields, P_SAFETY);
    if (safety != NULL && whole_number("safety_stock", safety, &ss, err, errlen) != 0)
        return NULL;
    snprintf(sku, 65, "%s", s);
    body = json_pack("{s:s, s:s, s:{s:I, s:s}}", "name", name, "category", cat, "price", "amount",
                     (json_int_t)amount, "currency", cur);
    if (body == NULL) {
        snprintf(err, errlen, "name or category is not valid UTF-8");
        return NULL;
    }
    if (safety != NULL)
        json_object_set_new(body, "safety_stock", json_integer(ss));
    return body;
}

static void set_optional(json_t *obj, const char *key, const char *v)
{
    if (v != NULL)
        json_object_set_new(obj, key, json_string(v));
}

json_t *cli_movement_from_csv(const struct cli_columns *cols, char *const *fields, size_t n,
                              char *err, size_t errlen)
{
    const char *loc, *sku, *qty, *type;
    long long q;
    json_t *m;

    if (check_record(cols, n, err, errlen) != 0 ||
        (loc = required(cols, fields, S_LOCATION, err, errlen)) == NULL ||
        (sku = required(cols, fields, S_SKU, err, errlen)) == NULL ||
        (qty = required(cols, fields, S_QUANTITY, err, errlen)) == NULL ||
        whole_number("quantity", qty, &q, err, errlen) != 0)
        return NULL;
    type = field(cols, fields, S_TYPE);
    m = json_pack("{s:s, s:s, s:s, s:I}", "sku", sku, "location", loc, "type",
                  type != NULL ? type : "receipt", "quantity", (json_int_t)q);
    if (m == NULL) {
        snprintf(err, errlen, "a field is not valid UTF-8");
        return NULL;
    }
    set_optional(m, "to_location", field(cols, fields, S_TO));
    set_optional(m, "as_of", field(cols, fields, S_AS_OF));
    set_optional(m, "reason", field(cols, fields, S_REASON));
    set_optional(m, "reference", field(cols, fields, S_REFERENCE));
    return m;
}

json_t *cli_product_from_json(json_t *line, char sku[65], char *err, size_t errlen)
{
    const char *s = json_string_value(json_object_get(line, "sku"));
    json_t *body;

    if (!json_is_object(line)) {
        snprintf(err, errlen, "the line is not a JSON object");
        return NULL;
    }
    if (s == NULL) {
        snprintf(err, errlen, "the product has no \"sku\" string");
        return NULL;
    }
    if (id_field("sku", s, err, errlen) != 0)
        return NULL;
    snprintf(sku, 65, "%s", s);
    body = json_deep_copy(line);
    json_object_del(body, "sku");
    return body;
}

json_t *cli_movement_from_json(json_t *line, char *err, size_t errlen)
{
    json_t *m;

    if (!json_is_object(line)) {
        snprintf(err, errlen, "the line is not a JSON object");
        return NULL;
    }
    m = json_deep_copy(line);
    if (json_object_get(m, "type") == NULL)
        json_object_set_new(m, "type", json_string("receipt"));
    return m;
}

/* Drop a leading "orders[0]." or "movements[12]." from a message. */
static const char *skip_batch_prefix(const char *s)
{
    const char *p = s;

    while ((*p >= 'a' && *p <= 'z') || *p == '_')
        p++;
    if (p == s || *p != '[')
        return s;
    p++;
    if (*p < '0' || *p > '9')
        return s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p[0] != ']' || p[1] != '.')
        return s;
    return p + 2;
}

int cli_order_check(json_t *order, char id[65], char *err, size_t errlen)
{
    json_t *body = json_pack("{s:[O]}", "orders", order);
    struct order_batch batch = {0};
    struct proto_error perr;
    int rc;

    id[0] = '\0';
    rc = order_batch_parse(body, &batch, &perr);
    if (rc == 0) {
        snprintf(id, 65, "%s", batch.orders[0].id);
        order_batch_release(&batch);
    } else {
        snprintf(err, errlen, "%s", skip_batch_prefix(perr.detail));
    }
    json_decref(body);
    return rc;
}

/* ---- a set of strings ---- */

struct cli_idset {
    char **slots;
    size_t cap, n;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

struct cli_idset *cli_idset_new(void)
{
    struct cli_idset *s = calloc(1, sizeof(*s));

    if (s == NULL)
        abort();
    s->cap = 64;
    s->slots = calloc(s->cap, sizeof(*s->slots));
    if (s->slots == NULL)
        abort();
    return s;
}

static void idset_put(char **slots, size_t cap, char *key)
{
    size_t i = fnv1a(key) & (cap - 1);

    while (slots[i] != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = key;
}

static void idset_grow(struct cli_idset *s)
{
    size_t cap = s->cap * 2;
    char **slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        abort();
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i] != NULL)
            idset_put(slots, cap, s->slots[i]);
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
}

int cli_idset_add(struct cli_idset *s, const char *id)
{
    size_t i = fnv1a(id) & (s->cap - 1);
    char *copy;

    while (s->slots[i] != NULL) {
        if (strcmp(s->slots[i], id) == 0)
            return 0;
        i = (i + 1) & (s->cap - 1);
    }
    if ((s->n + 1) * 2 > s->cap)
        idset_grow(s);
    copy = strdup(id);
    if (copy == NULL)
        abort();
    idset_put(s->slots, s->cap, copy);
    s->n++;
    return 1;
}

void cli_idset_free(struct cli_idset *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i]);
    free(s->slots);
    free(s);
}

/* ---- orders from CSV ---- */

void cli_orders_init(struct cli_orders *o, const struct cli_columns *cols)
{
    memset(o, 0, sizeof(*o));
    o->cols = *cols;
    o->closed = cli_idset_new();
}

void cli_orders_release(struct cli_orders *o)
{
    if (o == NULL)
        return;
    cli_idset_free(o->closed);
    json_decref(o->cur.order);
    free(o->key);
    free(o->lines);
    memset(o, 0, sizeof(*o));
}

/* The open order fails because of the row on @line (the first failure wins). */
static void order_fail(struct cli_orders *o, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void order_fail(struct cli_orders *o, long line, const char *fmt, ...)
{
    va_list ap;

    if (o->cur.err[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(o->cur.err, sizeof(o->cur.err), fmt, ap);
    va_end(ap);
    o->cur.err_line = line;
}

static void order_open(struct cli_orders *o, const char *key, long line)
{
    memset(&o->cur, 0, sizeof(o->cur));
    o->open = 1;
    o->cur.line = line;
    o->key = strdup(key);
    if (o->key == NULL)
        abort();
    o->nlines = 0;
    o->cur.order = json_pack("{s:s, s:[]}", "id", key, "lines");
    if (o->cur.order == NULL)
        order_fail(o, line, "order_id is not valid UTF-8");
    if (!cli_idset_add(o->closed, key))
        order_fail(o, line,
                   "order %s continues here after other orders: keep the rows of an order "
                   "together",
                   key);
}

/* customer, channel or at: the same in every row of an order that gives it. */
static void order_attr(struct cli_orders *o, const char *name, const char *v, long line)
{
    json_t *have;

    if (v == NULL || o->cur.order == NULL)
        return;
    have = json_object_get(o->cur.order, name);
    if (have == NULL) {
        json_object_set_new(o->cur.order, name, json_string(v));
    } else if (strcmp(json_string_value(have), v) != 0) {
        order_fail(o, line, "%s '%s' differs from '%s' on an earlier row of order %s", name, v,
                   json_string_value(have), o->key);
    }
}

static void order_row(struct cli_orders *o, char *const *fields, size_t n, long line)
{
    char err[200];
    const char *sku, *qty;
    long long q;

    if (check_record(&o->cols, n, err, sizeof(err)) != 0 ||
        (sku = required(&o->cols, fields, O_SKU, err, sizeof(err))) == NULL ||
        (qty = required(&o->cols, fields, O_QUANTITY, err, sizeof(err))) == NULL ||
        whole_number("quantity", qty, &q, err, sizeof(err)) != 0) {
        order_fail(o, line, "order %s: %s", o->key, err);
        return;
    }
    order_attr(o, "customer", field(&o->cols, fields, O_CUSTOMER), line);
    order_attr(o, "channel", field(&o->cols, fields, O_CHANNEL), line);
    order_attr(o, "at", field(&o->cols, fields, O_AT), line);
    if (o->cur.order != NULL)
        json_array_append_new(json_object_get(o->cur.order, "lines"),
                              json_pack("{s:s, s:I}", "sku", sku, "quantity", (json_int_t)q));
    if (o->nlines == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->lines = realloc(o->lines, o->cap * sizeof(*o->lines));
        if (o->lines == NULL)
            abort();
    }
    o->lines[o->nlines++] = line;
}

/* Close the open order into @done, checked as the server would. */
static void order_close(struct cli_orders *o, struct cli_order_done *done)
{
    if (o->cur.err[0] == '\0') {
        char id[65], err[200];
        if (cli_order_check(o->cur.order, id, err, sizeof(err)) != 0) {
            long i = cli_field_index(strstr(err, "lines[") ? strstr(err, "lines[") : "", "lines");
            long line = i >= 0 && (size_t)i < o->nlines ? o->lines[i] : o->cur.line;
            order_fail(o, line, "order %s: %s", o->key, err);
        }
    }
    *done = o->cur;
    snprintf(done->id, sizeof(done->id), "%s", cli_id_valid(o->key) ? o->key : "");
    if (done->err[0] != '\0') {
        json_decref(done->order);
        done->order = NULL;
    }
    memset(&o->cur, 0, sizeof(o->cur));
    free(o->key);
    o->key = NULL;
    o->open = 0;
}

int cli_orders_add(struct cli_orders *o, char *const *fields, size_t n, long line,
                   struct cli_order_done *done)
{
    int id_col = o->cols.idx[O_ID];
    const char *key = id_col >= 0 && (size_t)id_col < n ? fields[id_col] : "";
    int finished = 0;

    if (o->open && strcmp(o->key, key) != 0) {
        order_close(o, done);
        finished = 1;
    }
    if (!o->open) {
        order_open(o, key, line);
        if (key[0] == '\0')
            order_fail(o, line, "order_id is empty");
    }
    order_row(o, fields, n, line);
    return finished;
}

int cli_orders_finish(struct cli_orders *o, struct cli_order_done *done)
{
    if (!o->open)
        return 0;
    order_close(o, done);
    return 1;
}

/* ---- the summary ---- */

void cli_summary_init(struct cli_summary *s, enum cli_import_kind kind)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
}

void cli_summary_reject(struct cli_summary *s, long line, const char *fmt, ...)
{
    va_list ap;
    char reason[512];

    s->rejected++;
    if (s->nrej >= CLI_REJECTIONS_KEPT)
        return;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (s->nrej == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->rej = realloc(s->rej, s->cap * sizeof(*s->rej));
        if (s->rej == NULL)
            abort();
    }
    s->rej[s->nrej].line = line;
    s->rej[s->nrej].reason = strdup(reason);
    if (s->rej[s->nrej].reason == NULL)
        abort();
    s->nrej++;
}

void cli_summary_release(struct cli_summary *s)
{
    for (size_t i = 0; i < s->nrej; i++)
        free(s->rej[i].reason);
    free(s->rej);
    s->rej = NULL;
    s->nrej = s->cap = 0;
}

static int by_line(const void *a, const void *b)
{
    const struct cli_rejection *x = a, *y = b;

    return (x->line > y->line) - (x->line < y->line);
}

static const char *unit_of(enum cli_import_kind kind)
{
    return kind == CLI_IMPORT_ORDERS     ? "orders"
           : kind == CLI_IMPORT_PRODUCTS ? "products"
                                         : "movements";
}

void cli_summary_print(struct cli_summary *s, FILE *out)
{
    if (s->nrej > 1)
        qsort(s->rej, s->nrej, sizeof(*s->rej), by_line);
    fprintf(out, "import %s: %lld rows, %lld %s: %lld accepted, %lld duplicates, %lld rejected",
            cli_import_kind_name(s->kind), s->rows, s->items, unit_of(s->kind), s->accepted,
            s->duplicates, s->rejected);
    if (s->not_sent > 0)
        fprintf(out, ", %lld not sent", s->not_sent);
    fputc('\n', out);
    if (s->stopped[0] != '\0')
        fprintf(out, "stopped early: %s\n", s->stopped);
    if (s->nrej > 0) {
        static const char *const headers[] = {">ROW", "REASON"};
        struct cli_table *t = cli_table_new(2, headers);
        char row[24];

        fprintf(out, "rejected:\n");
        for (size_t i = 0; i < s->nrej; i++) {
            const char *cells[2] = {row, s->rej[i].reason};
            snprintf(row, sizeof(row), "%ld", s->rej[i].line);
            cli_table_add(t, cells);
        }
        cli_table_print(t, out, 2);
        cli_table_free(t);
        if ((long long)s->nrej < s->rejected)
            fprintf(out, "  ... and %lld more\n", s->rejected - (long long)s->nrej);
    }
    if (s->stopped[0] != '\0' && s->run_id[0] != '\0' && s->kind == CLI_IMPORT_STOCK)
        fprintf(out,
                "to finish it without applying a batch twice, run the same import again with "
                "--idempotency-key %s\n",
                s->run_id);
}

json_t *cli_summary_json(struct cli_summary *s)
{
    json_t *rej = json_array();
    json_t *out;

    if (s->nrej > 1)
        qsort(s->rej, s->nrej, sizeof(*s->rej), by_line);
    for (size_t i = 0; i < s->nrej; i++)
        json_array_append_new(rej, json_pack("{s:I, s:s}", "row", (json_int_t)s->rej[i].line,
                                             "reason", s->rej[i].reason));
    out =
        json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "kind", cli_import_kind_name(s->kind),
                  "rows", (json_int_t)s->rows, "items", (json_int_t)s->items, "accepted",
                  (json_int_t)s->accepted, "duplicates", (json_int_t)s->duplicates, "rejected",
                  (json_int_t)s->rejected, "not_sent", (json_int_t)s->not_sent, "rejections", rej);
    if (s->stopped[0] != '\0')
        json_object_set_new(out, "stopped", json_string(s->stopped));
    if (s->run_id[0] != '\0')
        json_object_set_new(out, "idempotency_key", json_string(s->run_id));
    return out;
}

void cli_problem_reason(json_t *problem, int status, char *out, size_t size)
{
    const char *detail = json_string_value(json_object_get(problem, "detail"));
    const char *type = json_string_value(json_object_get(problem, "type"));
    const char *code = type != NULL && strncmp(type, "/problems/", 10) == 0 ? type + 10 : NULL;

    if (detail == NULL)
        detail = json_string_value(json_object_get(problem, "title"));
    if (detail == NULL) {
        snprintf(out, size, "the server answered HTTP %d", status);
        return;
    }
    if (code != NULL)
        snprintf(out, size, "%s (%s)", skip_batch_prefix(detail), code);
    else
        snprintf(out, size, "%s", skip_batch_prefix(detail));
}

long cli_field_index(const char *field, const char *prefix)
{
    size_t n = strlen(prefix);
    char *end;
    long v;

    if (field == NULL || strncmp(field, prefix, n) != 0 || field[n] != '[')
        return -1;
    if (field[n + 1] < '0' || field[n + 1] > '9')
        return -1;
    v = strtol(field + n + 1, &end, 10);
    return *end == ']' ? v : -1;
}
