/*
 * cli_logic.c - the command-line client's pure helpers: exit codes, argument
 * parsing, tables, CSV, API keys and progress. Nothing here touches the
 * network, so every rule is unit-tested without a daemon.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/sha256.h"
#include "services/cli/cli_logic.h"

#define QUANTITY_MAX 1000000000LL

enum cli_exit cli_exit_for_status(int status)
{
    if (status >= 200 && status < 300)
        return CLI_EXIT_OK;
    if (status == 401 || status == 403)
        return CLI_EXIT_AUTH;
    if (status == 0 || status >= 500)
        return CLI_EXIT_UNAVAILABLE;
    return CLI_EXIT_REJECTED;
}

/* ---- arguments ---- */

static struct cli_opt *opt_find(struct cli_opt *opts, const char *name, size_t len)
{
    for (struct cli_opt *o = opts; o->name != NULL; o++) {
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    }
    return NULL;
}

static int add_positional(struct cli_args *out, const char *arg, char *err, size_t errlen)
{
    if (out->npos >= CLI_POS_MAX) {
        snprintf(err, errlen, "too many arguments (at most %d)", CLI_POS_MAX);
        return -1;
    }
    out->pos[out->npos++] = arg;
    return 0;
}

/* One "--name[=value]" at argv[*i]; consumes the next argument when it is the value. */
static int parse_option(int argc, char **argv, int *i, struct cli_opt *opts, char *err,
                        size_t errlen)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    struct cli_opt *o = opt_find(opts, arg, len);

    if (o == NULL) {
        snprintf(err, errlen, "unknown option '--%.*s'", (int)len, arg);
        return -1;
    }
    if (!o->has_arg) {
        if (eq != NULL) {
            snprintf(err, errlen, "option '--%s' takes no value", o->name);
            return -1;
        }
        o->value = "1";
    } else if (eq != NULL) {
        o->value = eq + 1;
    } else if (*i + 1 < argc) {
        o->value = argv[++*i];
    } else {
        snprintf(err, errlen, "option '--%s' needs a value", o->name);
        return -1;
    }
    o->seen = 1;
    return 0;
}

int cli_args_parse(int argc, char **argv, struct cli_opt *opts, struct cli_args *out, char *err,
                   size_t errlen)
{
    int only_positionals = 0;

    out->npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (only_positionals || a[0] != '-' || strcmp(a, "-") == 0) {
            if (add_positional(out, a, err, errlen) != 0)
                return -1;
        } else if (strcmp(a, "--") == 0) {
            only_positionals = 1;
        } else if (a[1] == '-') {
            if (parse_option(argc, argv, &i, opts, err, errlen) != 0)
                return -1;
        } else if (strcmp(a, "-h") == 0 && opt_find(opts, "help", 4) != NULL) {
            opt_find(opts, "help", 4)->value = "1";
            opt_find(opts, "help", 4)->seen = 1;
        } else {
            snprintf(err, errlen, "unknown option '%s' (options are spelt --name)", a);
            return -1;
        }
    }
    return 0;
}

const char *cli_opt_get(const struct cli_opt *opts, const char *name)
{
    for (const struct cli_opt *o = opts; o->name != NULL; o++) {
        if (strcmp(o->name, name) == 0)
            return o->seen ? o->value : NULL;
    }
    return NULL;
}

int cli_parse_int(const char *s, long long min, long long max, long long *out)
{
    const char *p = s;
    char *end;
    long long v;

    if (s == NULL || *s == '\0')
        return -1;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    if (*s == '+')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_id_valid(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= 64;
}

int cli_parse_line_spec(const char *s, char sku[65], long long *qty, char *err, size_t errlen)
{
    const char *colon = strchr(s, ':');
    size_t len = colon != NULL ? (size_t)(colon - s) : strlen(s);

    *qty = 1;
    if (len == 0 || len > 64) {
        snprintf(err, errlen, "'%s': expected SKU or SKU:QUANTITY", s);
        return -1;
    }
    memcpy(sku, s, len);
    sku[len] = '\0';
    if (!cli_id_valid(sku)) {
        snprintf(err, errlen, "'%s': a SKU is 1 to 64 characters of A-Z a-z 0-9 . _ -", sku);
        return -1;
    }
    if (colon != NULL && cli_parse_int(colon + 1, 1, QUANTITY_MAX, qty) != 0) {
        snprintf(err, errlen, "'%s': the quantity must be a whole number from 1 to 1000000000", s);
        return -1;
    }
    return 0;
}

int cli_channel_valid(const char *s)
{
    return s != NULL &&
           (strcmp(s, "web") == 0 || strcmp(s, "click_collect") == 0 || strcmp(s, "store") == 0);
}

/* ---- strings ---- */

void cli_buf_add(struct cli_buf *b, const char *s, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + len + 1)
            cap *= 2;
        b->data = realloc(b->data, cap);
        if (b->data == NULL)
            abort(); /* a command-line tool out of memory has nothing better to do */
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void cli_buf_printf(struct cli_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        cli_buf_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        abort();
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cli_buf_add(b, big, (size_t)n);
    free(big);
}

void cli_buf_release(struct cli_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

size_t cli_text_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    }
    return w;
}

/* ---- tables ---- */

struct cli_table {
    size_t ncols, nrows, cap;
    char **headers;
    int *right;
    char **cells; /* nrows * ncols */
};

static char *dup_or_dash(const char *s)
{
    char *d = strdup(s != NULL ? s : "-");

    if (d == NULL)
        abort();
    return d;
}

struct cli_table *cli_table_new(size_t ncols, const char *const *headers)
{
    struct cli_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        abort();
    t->ncols = ncols;
    t->headers = calloc(ncols, sizeof(*t->headers));
    t->right = calloc(ncols, sizeof(*t->right));
    if (t->headers == NULL || t->right == NULL)
        abort();
    for (size_t i = 0; i < ncols; i++) {
        t->right[i] = headers[i][0] == '>';
        t->headers[i] = dup_or_dash(headers[i] + t->right[i]);
    }
    return t;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
        if (t->cells == NULL)
            abort();
    }
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = dup_or_dash(cells[i]);
    t->nrows++;
}

size_t cli_table_rows(const struct cli_table *t)
{
    return t->nrows;
}

static void print_row(const struct cli_table *t, char *const *row, const size_t *width, FILE *out,
                      int indent)
{
    size_t last = t->ncols;

    /* Trailing empty left-aligned cells would only add spaces. */
    while (last > 1 && !t->right[last - 1] && row[last - 1][0] == '\0')
        last--;
    fprintf(out, "%*s", indent, "");
    for (size_t i = 0; i < last; i++) {
        size_t w = cli_text_width(row[i]);
        size_t pad = width[i] > w ? width[i] - w : 0;

        if (i > 0)
            fputs("  ", out);
        if (t->right[i])
            fprintf(out, "%*s%s", (int)pad, "", row[i]);
        else if (i + 1 == last)
            fputs(row[i], out);
        else
            fprintf(out, "%s%*s", row[i], (int)pad, "");
    }
    fputc('\n', out);
}

void cli_table_print(const struct cli_table *t, FILE *out, int indent)
{
    size_t *width = calloc(t->ncols, sizeof(*width));

    if (width == NULL)
        abort();
    for (size_t c = 0; c < t->ncols; c++) {
        width[c] = cli_text_width(t->headers[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = cli_text_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    print_row(t, t->headers, width, out, indent);
    for (size_t r = 0; r < t->nrows; r++)
        print_row(t, t->cells + r * t->ncols, width, out, indent);
    free(width);
}

void cli_table_free(struct cli_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->ncols; i++)
        free(t->headers[i]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->headers);
    free(t->right);
    free(t->cells);
    free(t);
}

/* ---- CSV ---- */

void cli_csv_init(struct cli_csv *c, FILE *in)
{
    memset(c, 0, sizeof(*c));
    c->in = in;
    c->line = 1;
}

void cli_csv_release(struct cli_csv *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nfields; i++)
        free(c->fields[i]);
    free(c->fields);
    cli_buf_release(&c->field);
    c->fields = NULL;
    c->nfields = c->cap = 0;
}

/* The next byte, from our own pushback first (stdio promises only one). */
static int rd(struct cli_csv *c)
{
    int ch = c->npending > 0 ? c->pending[--c->npending] : getc(c->in);

    if (ch != EOF)
        c->bytes++;
    return ch;
}

static void unrd(struct cli_csv *c, int ch)
{
    if (ch != EOF && c->npending < (int)(sizeof(c->pending) / sizeof(c->pending[0]))) {
        c->pending[c->npending++] = ch;
        c->bytes--;
    }
}

/* Trim spaces and tabs around an unquoted field, in place. */
static void trim_field(struct cli_buf *b)
{
    size_t start = 0;

    while (b->len > 0 && (b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\t'))
        b->data[--b->len] = '\0';
    while (start < b->len && (b->data[start] == ' ' || b->data[start] == '\t'))
        start++;
    if (start > 0) {
        memmove(b->data, b->data + start, b->len - start + 1);
        b->len -= start;
    }
}

static int field_blank(const struct cli_buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] != ' ' && b->data[i] != '\t')
            return 0;
    }
    return 1;
}

static void end_field(struct cli_csv *c, int quoted)
{
    if (c->field.data == NULL)
        cli_buf_add(&c->field, "", 0);
    if (!quoted)
        trim_field(&c->field);
    if (c->nfields == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->fields = realloc(c->fields, c->cap * sizeof(*c->fields));
        if (c->fields == NULL)
            abort();
    }
    c->fields[c->nfields] = strdup(c->field.data);
    if (c->fields[c->nfields] == NULL)
        abort();
    c->nfields++;
    c->field.len = 0;
    c->field.data[0] = '\0';
}

static void skip_bom(struct cli_csv *c)
{
    int a = rd(c), b = a == 0xEF ? rd(c) : EOF, d = b == 0xBB ? rd(c) : EOF;

    if (a == 0xEF && b == 0xBB && d == 0xBF)
        return;
    unrd(c, d);
    unrd(c, b);
    unrd(c, a);
}

/*
 * A quoted field, from after its opening quote up to after its closing one.
 * @return 0, or -1 at EOF inside the quotes.
 */
static int read_quoted(struct cli_csv *c)
{
    for (;;) {
        int ch = rd(c);
        char chr;

        if (ch == EOF)
            return -1;
        if (ch == '"') {
            int next = rd(c);
            if (next != '"') {
                unrd(c, next);
                return 0;
            }
        }
        if (ch == '\n')
            c->line++;
        chr = (char)ch;
        cli_buf_add(&c->field, &chr, 1);
    }
}

/* A record of empty fields only (an empty line, or ",,," from a spreadsheet): skipped. */
static int record_is_empty(const struct cli_csv *c)
{
    for (size_t i = 0; i < c->nfields; i++) {
        if (c->fields[i][0] != '\0')
            return 0;
    }
    return 1;
}

static void clear_record(struct cli_csv *c)
{
    for (size_t i = 0; i < c->nfields; i++)
        free(c->fields[i]);
    c->nfields = 0;
    c->field.len = 0;
    if (c->field.data != NULL)
        c->field.data[0] = '\0';
}

/* Is @ch (just read) the end of the record? Consumes the LF of a CRLF. */
static int end_of_record(struct cli_csv *c, int ch)
{
    if (ch == '\n' || ch == EOF)
        return 1;
    if (ch == '\r') {
        int next = rd(c);
        if (next == '\n')
            return 1;
        unrd(c, next);
    }
    return 0;
}

/* One record into c->fields. @return 1, 0 at EOF before any byte, -1 on an open quote. */
static int read_record(struct cli_csv *c, int *at_eof, char *err, size_t errlen)
{
    int quoted = 0, any = 0;

    for (;;) {
        int ch = rd(c);

        if (ch == '"' && !quoted && field_blank(&c->field)) {
            long start = c->line;
            c->field.len = 0;
            if (c->field.data != NULL)
                c->field.data[0] = '\0';
            if (read_quoted(c) != 0) {
                snprintf(err, errlen, "the quoted field opened on line %ld is never closed", start);
                return -1;
            }
            quoted = any = 1;
        } else if (ch == ',') {
            end_field(c, quoted);
            quoted = 0;
            any = 1;
        } else if (end_of_record(c, ch)) {
            *at_eof = ch == EOF;
            if (ch == EOF && !any && c->field.len == 0)
                return 0;
            end_field(c, quoted);
            if (ch != EOF)
                c->line++;
            return 1;
        } else {
            char chr = (char)ch;
            any = 1;
            /* Text after a closing quote ("ab"c) is dropped, as most readers do. */
            if (!quoted)
                cli_buf_add(&c->field, &chr, 1);
        }
    }
}

enum cli_csv_result cli_csv_next(struct cli_csv *c, long *line, char *err, size_t errlen)
{
    if (!c->started) {
        skip_bom(c);
        c->started = 1;
    }
    for (;;) {
        int at_eof = 0, rc;

        clear_record(c);
        *line = c->line;
        rc = read_record(c, &at_eof, err, errlen);
        if (rc < 0)
            return CLI_CSV_ERROR;
        if (rc == 0)
            return CLI_CSV_EOF;
        if (!record_is_empty(c))
            return CLI_CSV_RECORD;
        if (at_eof)
            return CLI_CSV_EOF;
    }
}

/* ---- API keys ---- */

void cli_base64url(const unsigned char *in, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t n = len - i >= 3 ? 3 : len - i;

        if (n > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (n > 2)
            v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (n > 1)
            out[o++] = alphabet[(v >> 6) & 63];
        if (n > 2)
            out[o++] = alphabet[v & 63];
    }
    out[o] = '\0';
}

static int role_valid(const char *role)
{
    static const char *const roles[] = {"storefront", "store", "agent", "admin"};

    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (role != NULL && strcmp(role, roles[i]) == 0)
            return 1;
    }
    return 0;
}

char *cli_key_config(const char *key, const char *role, const char *location, const char *name,
                     char *err, size_t errlen)
{
    char hex[65], made[80];
    json_t *obj;
    char *text;

    if (!role_valid(role)) {
        snprintf(err, errlen, "--role must be storefront, store, agent or admin");
        return NULL;
    }
    if (strcmp(role, "store") == 0 && !cli_id_valid(location)) {
        snprintf(err, errlen, "a store key needs --location, the store's identifier");
        return NULL;
    }
    if (strcmp(role, "store") != 0 && location != NULL) {
        snprintf(err, errlen, "--location is only for store keys (a %s key sees every location)",
                 role);
        return NULL;
    }
    sha256_hex(key, strlen(key), hex);
    if (name == NULL) {
        snprintf(made, sizeof(made), "%s-%.8s", role, hex);
        name = made;
    }
    if (!cli_id_valid(name)) {
        snprintf(err, errlen, "--name must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
        return NULL;
    }
    obj = json_pack("{s:s, s:s}", "name", name, "role", role);
    if (location != NULL)
        json_object_set_new(obj, "location", json_string(location));
    json_object_set_new(obj, "sha256", json_string(hex));
    text = json_dumps(obj, JSON_PRESERVE_ORDER);
    json_decref(obj);
    return text;
}

/* ---- progress ---- */

void cli_progress_line(char *out, size_t size, int width, unsigned long done_bytes,
                       unsigned long total_bytes, long long rows, long long rejected)
{
    char tail[96];
    int n = 0;

    snprintf(tail, sizeof(tail), "%lld rows, %lld rejected", rows, rejected);
    if (total_bytes > 0) {
        double frac = done_bytes >= total_bytes ? 1.0 : (double)done_bytes / (double)total_bytes;
        int bar = width - (int)strlen(tail) - 10;

        if (bar > 40)
            bar = 40;
        if (bar >= 10) {
            int full = (int)(frac * bar);
            n = snprintf(out, size, "[");
            for (int i = 0; i < bar && (size_t)n + 2 < size; i++)
                out[n++] = i < full ? '#' : '.';
            n += snprintf(out + n, size > (size_t)n ? size - (size_t)n : 0, "] ");
        }
        n += snprintf(out + n, size > (size_t)n ? size - (size_t)n : 0, "%3d%%  ",
                      (int)(frac * 100.0));
    }
    snprintf(out + n, size > (size_t)n ? size - (size_t)n : 0, "%s", tail);
}
