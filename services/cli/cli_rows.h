/*
 * cli_rows.h - `omnistock import`'s pure half: what a CSV or NDJSON row
 * becomes in the API (a product body, a movement, an order), the local checks
 * that spare the server rows that cannot be right, grouping CSV order lines
 * into orders, and the summary of accepted, rejected and duplicate rows.
 *
 * Row numbers are the line of the input file a row starts on (the CSV header
 * is line 1), as an editor or a spreadsheet shows them.
 */
#ifndef SERVICES_CLI_ROWS_H
#define SERVICES_CLI_ROWS_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

enum cli_import_kind {
    CLI_IMPORT_PRODUCTS = 0,
    CLI_IMPORT_STOCK,
    CLI_IMPORT_ORDERS,
};

enum cli_format {
    CLI_FORMAT_UNKNOWN = 0,
    CLI_FORMAT_CSV,
    CLI_FORMAT_NDJSON,
};

/* cli_import_kind_parse - "products", "stock" or "orders". @return 0 or -1. */
int cli_import_kind_parse(const char *s, enum cli_import_kind *out);
const char *cli_import_kind_name(enum cli_import_kind k);

/* cli_format_parse - "csv", "ndjson" or "jsonl". @return CLI_FORMAT_UNKNOWN otherwise. */
enum cli_format cli_format_parse(const char *s);
/* cli_format_of_path - by extension: .csv, .ndjson, .jsonl (any case); else unknown. */
enum cli_format cli_format_of_path(const char *path);

/* ---- CSV columns ---- */

#define CLI_COLUMNS_MAX 8

/* Where each column the kind knows is in the file: idx[c] is a field index or -1. */
struct cli_columns {
    enum cli_import_kind kind;
    int idx[CLI_COLUMNS_MAX];
    size_t nfields; /* fields in the header: every record must have as many */
};

/*
 * cli_columns_parse - read the header row of @kind (names are trimmed and
 * matched without case). Columns:
 *   products  sku, name, category, price (minor units), currency, safety_stock?
 *   stock     location, sku, type? (default receipt), quantity, reason?,
 *             reference?, to_location?, as_of?
 *   orders    order_id, sku, quantity, customer?, channel?, at?
 * A missing required column, an unknown or a repeated one fails the file.
 * @return 0, or -1 with @err.
 */
int cli_columns_parse(enum cli_import_kind kind, char *const *fields, size_t n,
                      struct cli_columns *out, char *err, size_t errlen);

/* cli_columns_usage - the column list of @kind for messages, e.g. "location,sku,type,...". */
const char *cli_columns_usage(enum cli_import_kind kind);

/*
 * cli_product_from_csv / cli_movement_from_csv - one CSV record as the API
 * body. A record with the wrong number of fields, an empty required field or
 * a number that is not a whole number is refused here. Empty optional fields
 * are left out.
 * @sku: receives the product's SKU (the PUT path), 65 bytes.
 * @return a new JSON object, or NULL with @err (the reason for the summary).
 */
json_t *cli_product_from_csv(const struct cli_columns *cols, char *const *fields, size_t n,
                             char sku[65], char *err, size_t errlen);
json_t *cli_movement_from_csv(const struct cli_columns *cols, char *const *fields, size_t n,
                              char *err, size_t errlen);

/*
 * cli_product_from_json - an NDJSON product line: the PUT body with its "sku".
 * @return the body without "sku" (new), or NULL with @err.
 */
json_t *cli_product_from_json(json_t *line, char sku[65], char *err, size_t errlen);

/* cli_movement_from_json - an NDJSON movement line; "type" defaults to receipt. @return new. */
json_t *cli_movement_from_json(json_t *line, char *err, size_t errlen);

/*
 * cli_order_check - validate one order object exactly as POST /v1/orders does
 * (proto/recommend.h), so that one bad order never fails a batch of a
 * thousand. @id: receives its id (65 bytes). @return 0, or -1 with @err.
 */
int cli_order_check(json_t *order, char id[65], char *err, size_t errlen);

/* ---- orders from CSV: one row per line, rows of an order together ---- */

struct cli_idset; /* a set of strings */

struct cli_idset *cli_idset_new(void);
/* cli_idset_add - @return 1 if added, 0 if it was there already. */
int cli_idset_add(struct cli_idset *s, const char *id);
void cli_idset_free(struct cli_idset *s);

/* An order assembled from its CSV rows, or the reason it cannot be. */
struct cli_order_done {
    long line;     /* the order's first row */
    char id[65];   /* "" when the row had no usable order_id */
    json_t *order; /* new, or NULL when rejected */
    char err[256]; /* why it was rejected, naming the row at fault */
    long err_line; /* the row at fault */
};

struct cli_orders {
    struct cli_columns cols;
    struct cli_idset *closed; /* order ids already finished */
    int open;
    char *key;   /* the open order's order_id as written (owned) */
    long *lines; /* the row of each of its lines (owned) */
    size_t nlines, cap;
    struct cli_order_done cur;
};

void cli_orders_init(struct cli_orders *o, const struct cli_columns *cols);
void cli_orders_release(struct cli_orders *o);

/*
 * cli_orders_add - feed the CSV record on @line. When it starts another order,
 * the previous one is finished into @done. A row whose order_id was finished
 * earlier (rows of one order apart) is rejected on its own.
 * @return 1 when @done was filled (its order or err to handle), else 0.
 */
int cli_orders_add(struct cli_orders *o, char *const *fields, size_t n, long line,
                   struct cli_order_done *done);

/* cli_orders_finish - the last open order into @done. @return 1 if there was one. */
int cli_orders_finish(struct cli_orders *o, struct cli_order_done *done);

/* ---- the summary ---- */

struct cli_rejection {
    long line;
    char *reason; /* owned */
};

#define CLI_REJECTIONS_KEPT 10000 /* kept in detail; the rest only counted */

struct cli_summary {
    enum cli_import_kind kind;
    long long rows;       /* records read (CSV rows or NDJSON lines, header excluded) */
    long long items;      /* products, movements or orders made of them */
    long long accepted;   /* applied by the server */
    long long duplicates; /* known already: orders with an id seen before, replayed batches */
    long long rejected;   /* refused here or by the server */
    long long not_sent;   /* read but never answered: the import stopped */
    struct cli_rejection *rej;
    size_t nrej, cap;
    char run_id[129];  /* the import's idempotency prefix */
    char stopped[256]; /* why the import stopped early; "" if it did not */
};

void cli_summary_init(struct cli_summary *s, enum cli_import_kind kind);
void cli_summary_reject(struct cli_summary *s, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cli_summary_release(struct cli_summary *s);

/* cli_summary_print - the counts, then every rejection by row. */
void cli_summary_print(struct cli_summary *s, FILE *out);

/* cli_summary_json - {"kind", "rows", "items", "accepted", ..., "rejections": [{"row", "reason"}]}.
 */
json_t *cli_summary_json(struct cli_summary *s);

/*
 * cli_problem_reason - a server's problem details as one line for a summary:
 * its detail without the batch prefix ("movements[3].", "orders[0]."), then
 * the code in brackets: "no product NOPE (unknown-reference)".
 */
void cli_problem_reason(json_t *problem, int status, char *out, size_t size);

/*
 * cli_field_index - the index N of a field named "@prefix[N]..." (as in
 * "orders[12].lines[0].sku"). @return N, or -1.
 */
long cli_field_index(const char *field, const char *prefix);

#endif
