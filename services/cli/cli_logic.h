/*
 * cli_logic.h - the pure parts of `omnistock`, the command-line client:
 * exit codes, argument parsing, aligned text tables, a CSV reader, API keys
 * and the import progress line. No sockets and no event loop here, so that
 * all of it is unit-tested (tests/unit/test_cli_logic.c); the HTTP glue is in
 * cli_http.c.
 *
 * Ownership: strings passed in are borrowed unless a function says it takes
 * them; everything a function returns as "new" is freed by the caller with
 * the matching *_free or free().
 */
#ifndef SERVICES_CLI_LOGIC_H
#define SERVICES_CLI_LOGIC_H

#include <stddef.h>
#include <stdio.h>

/* ---- exit codes (documented in `omnistock --help`) ---- */

enum cli_exit {
    CLI_EXIT_OK = 0,          /* done; for import, every row accepted */
    CLI_EXIT_REJECTED = 1,    /* the server said no (not found, insufficient stock, ...),
                                 some import rows were rejected, or check found problems */
    CLI_EXIT_USAGE = 2,       /* bad command line or unusable input file */
    CLI_EXIT_UNAVAILABLE = 3, /* daemon unreachable, timed out, or answered 5xx */
    CLI_EXIT_AUTH = 4,        /* the key is missing, unknown (401) or not allowed (403) */
};

/* cli_exit_for_status - the exit code for an HTTP status (0: no answer at all). */
enum cli_exit cli_exit_for_status(int status);

/* ---- arguments ---- */

/*
 * One option a command takes. The parser fills value (borrowed from argv) and
 * seen; flags (has_arg 0) get value "1".
 */
struct cli_opt {
    const char *name; /* without the leading "--" */
    int has_arg;
    const char *value;
    int seen;
};

#define CLI_POS_MAX 256

struct cli_args {
    size_t npos;
    const char *pos[CLI_POS_MAX]; /* positional arguments, borrowed from argv */
};

/*
 * cli_args_parse - parse argv[0..argc) (no program or command name) against
 * @opts (terminated by a NULL name): "--name value", "--name=value", flags,
 * "--" ends the options, "-" alone is a positional (stdin). Options and
 * positionals may be mixed. An option given twice keeps the last value.
 * @return 0, or -1 with @err naming the problem.
 */
int cli_args_parse(int argc, char **argv, struct cli_opt *opts, struct cli_args *out, char *err,
                   size_t errlen);

/* cli_opt_get - the value of option @name, or NULL when not given. Borrowed. */
const char *cli_opt_get(const struct cli_opt *opts, const char *name);

/*
 * cli_parse_int - a decimal integer in [@min, @max], nothing else (no sign
 * unless @min < 0, no spaces, no fraction). @return 0 or -1.
 */
int cli_parse_int(const char *s, long long min, long long max, long long *out);

/* cli_id_valid - 1 if @s is an identifier of the API: 1..64 of [A-Za-z0-9._-]. */
int cli_id_valid(const char *s);

/*
 * cli_parse_line_spec - "SKU" or "SKU:QTY" (QTY 1..1e9, default 1).
 * @sku: receives the SKU (65 bytes). @return 0, or -1 with @err.
 */
int cli_parse_line_spec(const char *s, char sku[65], long long *qty, char *err, size_t errlen);

/* cli_channel_valid - 1 for "web", "click_collect" or "store". */
int cli_channel_valid(const char *s);

/* ---- strings ---- */

/* A growable NUL-terminated string. Zero-initialise; cli_buf_release frees. */
struct cli_buf {
    char *data;
    size_t len, cap;
};

void cli_buf_add(struct cli_buf *b, const char *s, size_t len);
void cli_buf_printf(struct cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_buf_release(struct cli_buf *b);

/* cli_text_width - the display width of UTF-8 @s: its code points (no wide glyphs). */
size_t cli_text_width(const char *s);

/* ---- tables ---- */

struct cli_table;

/*
 * cli_table_new - a table with @ncols columns whose headers are @headers
 * (copied). A header that starts with '>' is right-aligned (numbers); the '>'
 * is not shown. @return new, free with cli_table_free.
 */
struct cli_table *cli_table_new(size_t ncols, const char *const *headers);

/* cli_table_add - append a row of ncols cells (copied; NULL shows as "-"). */
void cli_table_add(struct cli_table *t, const char *const *cells);

/* cli_table_rows - how many rows were added. */
size_t cli_table_rows(const struct cli_table *t);

/*
 * cli_table_print - the headers and rows, columns separated by two spaces and
 * aligned, with @indent spaces in front of every line; no trailing spaces.
 */
void cli_table_print(const struct cli_table *t, FILE *out, int indent);

void cli_table_free(struct cli_table *t);

/* ---- CSV (RFC 4180) ---- */

/*
 * A streaming CSV reader: fields separated by commas, optionally quoted with
 * '"' ("" inside quotes is one quote, and quoted fields may hold commas and
 * line breaks), records ended by LF or CRLF. A UTF-8 byte-order mark at the
 * start is skipped. Unquoted fields are trimmed of spaces and tabs. Empty
 * lines are skipped.
 */
struct cli_csv {
    FILE *in;            /* borrowed */
    long line;           /* the line the next record starts on (1-based) */
    unsigned long bytes; /* bytes consumed so far, for progress */
    int started;
    int pending[4]; /* bytes read ahead and given back */
    int npending;
    struct cli_buf field;
    char **fields;
    size_t nfields, cap;
};

void cli_csv_init(struct cli_csv *c, FILE *in);
void cli_csv_release(struct cli_csv *c);

enum cli_csv_result {
    CLI_CSV_RECORD = 1, /* c->fields[0..nfields) hold the record; @line its first line */
    CLI_CSV_EOF = 0,
    CLI_CSV_ERROR = -1, /* @err says why (an unterminated quote); the reader is at EOF */
};

/*
 * cli_csv_next - read one record. The fields stay valid until the next call.
 * @line: receives the line the record starts on.
 */
enum cli_csv_result cli_csv_next(struct cli_csv *c, long *line, char *err, size_t errlen);

/* ---- API keys ---- */

#define CLI_KEY_BYTES 32 /* entropy of a generated key */
#define CLI_KEY_SIZE  64 /* its text: 43 base64url characters and a NUL fit */

/* cli_base64url - @len bytes as unpadded base64url into @out (4*ceil(len/3)+1 bytes). */
void cli_base64url(const unsigned char *in, size_t len, char *out);

/*
 * cli_key_config - the api_keys entry common/config.c reads for @key:
 * {"name": ..., "role": ..., "location"?: ..., "sha256": <hex of the key>}.
 * @name: NULL for "<role>-<first 8 hex of the hash>".
 * @location: required for role store, refused for the others.
 * @return a new JSON text on one line, or NULL with @err (bad role, name or location).
 */
char *cli_key_config(const char *key, const char *role, const char *location, const char *name,
                     char *err, size_t errlen);

/* ---- progress ---- */

/*
 * cli_progress_line - one line of progress for a terminal, at most @width
 * columns: a bar and percentage when @total_bytes is known (> 0), then the
 * rows done and rejected. No line break.
 */
void cli_progress_line(char *out, size_t size, int width, unsigned long done_bytes,
                       unsigned long total_bytes, long long rows, long long rejected);

#endif
