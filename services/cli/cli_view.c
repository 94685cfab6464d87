/*
 * cli_view.c - the daemon's JSON answers as tables and sentences for support
 * agents and operators. Missing fields show as "-" rather than failing: a
 * newer server may add fields, and a view should never hide an answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/cli/cli_logic.h"
#include "services/cli/cli_view.h"

#define NUM_SIZE 24

/* ---- small helpers ---- */

static const char *jstr(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The integer at @key as text, or "-". */
static const char *jnum(json_t *obj, const char *key, char buf[NUM_SIZE])
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v))
        return "-";
    snprintf(buf, NUM_SIZE, "%lld", (long long)json_integer_value(v));
    return buf;
}

static long long jint(json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

static void kv(FILE *out, const char *key, const char *value)
{
    if (value != NULL)
        fprintf(out, "%-12s %s\n", key, value);
}

static int currency_decimals(const char *c)
{
    static const char *const zero[] = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
                                       "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"};
    static const char *const three[] = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"};

    for (size_t i = 0; c != NULL && i < sizeof(zero) / sizeof(zero[0]); i++) {
        if (strcmp(c, zero[i]) == 0)
            return 0;
    }
    for (size_t i = 0; c != NULL && i < sizeof(three) / sizeof(three[0]); i++) {
        if (strcmp(c, three[i]) == 0)
            return 3;
    }
    return 2;
}

void cli_format_price(long long amount, const char *currency, char *out, size_t size)
{
    int d = currency_decimals(currency);
    long long unit = d == 0 ? 1 : d == 3 ? 1000 : 100;
    const char *sign = amount < 0 ? "-" : "";
    unsigned long long a =
        amount < 0 ? 0ULL - (unsigned long long)amount : (unsigned long long)amount;

    if (currency == NULL)
        currency = "";
    if (d == 0)
        snprintf(out, size, "%s %s%llu", currency, sign, a);
    else
        snprintf(out, size, "%s %s%llu.%0*llu", currency, sign, a / (unsigned long long)unit, d,
                 a % (unsigned long long)unit);
}

/* ---- problems ---- */

static void view_short_lines(FILE *out, json_t *lines)
{
    static const char *const headers[] = {"SKU", ">REQUESTED", ">AVAILABLE"};
    struct cli_table *t = cli_table_new(3, headers);
    char a[NUM_SIZE], b[NUM_SIZE];
    json_t *l;
    size_t i;

    json_array_foreach(lines, i, l)
    {
        const char *cells[] = {jstr(l, "sku"), jnum(l, "requested", a), jnum(l, "available", b)};
        cli_table_add(t, cells);
    }
    cli_table_print(t, out, 2);
    cli_table_free(t);
}

void cli_view_problem(FILE *out, int status, json_t *problem)
{
    const char *title = jstr(problem, "title"), *detail = jstr(problem, "detail");
    json_t *lines = json_object_get(problem, "lines");

    fprintf(out, "%s (HTTP %d)", title != NULL ? title : "Error", status);
    if (detail != NULL)
        fprintf(out, ": %s", detail);
    fputc('\n', out);
    if (jstr(problem, "current_status") != NULL)
        fprintf(out, "  the reservation is %s\n", jstr(problem, "current_status"));
    if (json_array_size(lines) > 0) {
        fprintf(out, "  what can be promised:\n");
        view_short_lines(out, lines);
    }
}

/* ---- stock ---- */

static json_t *find_location(json_t *list, const char *key, const char *id)
{
    json_t *v;
    size_t i;

    json_array_foreach(list, i, v)
    {
        if (jstr(v, key) != NULL && strcmp(jstr(v, key), id) == 0)
            return v;
    }
    return NULL;
}

static void stock_locations(FILE *out, json_t *stock, const char *location)
{
    static const char *const headers[] = {"LOCATION", ">ON HAND", ">RESERVED", ">SAFETY",
                                          ">AVAILABLE"};
    struct cli_table *t = cli_table_new(5, headers);
    char a[NUM_SIZE], b[NUM_SIZE], c[NUM_SIZE], d[NUM_SIZE];
    json_t *l;
    size_t i;

    json_array_foreach(json_object_get(stock, "locations"), i, l)
    {
        const char *cells[] = {jstr(l, "location"), jnum(l, "on_hand", a), jnum(l, "reserved", b),
                               jnum(l, "safety_stock", c), jnum(l, "available", d)};
        if (location != NULL && (cells[0] == NULL || strcmp(cells[0], location) != 0))
            continue;
        cli_table_add(t, cells);
    }
    cli_table_print(t, out, 0);
    cli_table_free(t);
}

static void stock_channels(FILE *out, json_t *stock, const char *location)
{
    static const char *const headers[] = {"CHANNEL", "LOCATION", ">AVAILABLE"};
    static const char *const per_store[] = {"click_collect", "store"};
    json_t *channels = json_object_get(stock, "channels");
    struct cli_table *t = cli_table_new(3, headers);
    char a[NUM_SIZE];

    if (location == NULL && json_object_get(channels, "web") != NULL) {
        const char *cells[] = {"web", "(all)",
                               jnum(json_object_get(channels, "web"), "available", a)};
        cli_table_add(t, cells);
    }
    for (size_t k = 0; k < 2; k++) {
        const char *store;
        json_t *fig;

        json_object_foreach(json_object_get(channels, per_store[k]), store, fig)
        {
            const char *cells[] = {per_store[k], store, jnum(fig, "available", a)};
            if (location != NULL && strcmp(store, location) != 0)
                continue;
            cli_table_add(t, cells);
        }
    }
    if (cli_table_rows(t) > 0)
        cli_table_print(t, out, 0);
    else
        fprintf(out, "no channel is served from %s\n", location);
    cli_table_free(t);
}

int cli_view_stock(FILE *out, json_t *stock, const char *location)
{
    char v[NUM_SIZE];

    if (location != NULL &&
        find_location(json_object_get(stock, "locations"), "location", location) == NULL)
        return -1;
    fprintf(out, "%s  (version %s)\n\n", jstr(stock, "sku") ? jstr(stock, "sku") : "-",
            jnum(stock, "version", v));
    stock_locations(out, stock, location);
    fputc('\n', out);
    stock_channels(out, stock, location);
    return 0;
}

/* ---- where ---- */

static const char *location_name(json_t *locations, const char *id)
{
    json_t *l = find_location(json_object_get(locations, "locations"), "id", id);

    return l != NULL && jstr(l, "name") != NULL ? jstr(l, "name") : id;
}

/* "on hand 9 - reserved 0 - safety 1 - buffer 2", from one explain entry. */
static void how_one(json_t *e, int walk_in, struct cli_buf *b)
{
    if (e == NULL) {
        cli_buf_printf(b, "-");
        return;
    }
    cli_buf_printf(b, "on hand %lld - reserved %lld", jint(e, "on_hand"), jint(e, "reserved"));
    if (!walk_in)
        cli_buf_printf(b, " - safety %lld - buffer %lld", jint(e, "safety_stock"),
                       jint(e, "store_buffer"));
}

static int by_available_desc(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    long long d = jint(y, "available") - jint(x, "available");

    if (d != 0)
        return d > 0 ? 1 : -1;
    return strcmp(jstr(x, "location") ? jstr(x, "location") : "",
                  jstr(y, "location") ? jstr(y, "location") : "");
}

/* "wh-central 99 + store-leeds 6": where web's figure comes from, most first. */
static void how_web(json_t *web, struct cli_buf *b)
{
    json_t *explain = json_object_get(web, "explain");
    size_t n = json_array_size(explain), shown = 0;
    json_t **parts;

    if (explain == NULL) {
        cli_buf_printf(b, "-");
        return;
    }
    if (n == 0) {
        cli_buf_printf(b, "no location ships to customers");
        return;
    }
    parts = calloc(n, sizeof(*parts));
    if (parts == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        parts[i] = json_array_get(explain, i);
    qsort(parts, n, sizeof(*parts), by_available_desc);
    for (size_t i = 0; i < n; i++) {
        cli_buf_printf(b, "%s%s %lld", shown++ ? " + " : "", jstr(parts[i], "location"),
                       jint(parts[i], "available"));
    }
    free(parts);
}

static void where_add(json_t *rows, const char *channel, const char *location, const char *name,
                      long long available, const char *how)
{
    json_t *row = json_pack("{s:s, s:o, s:s, s:I, s:s}", "channel", channel, "location",
                            location != NULL ? json_string(location) : json_null(), "name", name,
                            "available", (json_int_t)available, "how", how);

    json_array_append_new(rows, row);
}

static int channel_rank(const char *c)
{
    return strcmp(c, "web") == 0 ? 0 : strcmp(c, "click_collect") == 0 ? 1 : 2;
}

static int where_order(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int r = channel_rank(jstr(x, "channel")) - channel_rank(jstr(y, "channel"));

    return r != 0 ? r : by_available_desc(a, b);
}

static json_t *sorted(json_t *rows)
{
    size_t n = json_array_size(rows);
    json_t **v = calloc(n + 1, sizeof(*v));
    json_t *out = json_array();

    if (v == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(rows, i);
    qsort(v, n, sizeof(*v), where_order);
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(rows);
    return out;
}

json_t *cli_where_rows(json_t *stock, json_t *locations, const char *channel)
{
    static const char *const per_store[] = {"click_collect", "store"};
    json_t *channels = json_object_get(stock, "channels");
    json_t *web = json_object_get(channels, "web");
    json_t *rows = json_array();

    if (web != NULL && (channel == NULL || strcmp(channel, "web") == 0)) {
        struct cli_buf how = {0};
        how_web(web, &how);
        where_add(rows, "web", NULL, "delivery", jint(web, "available"), how.data);
        cli_buf_release(&how);
    }
    for (size_t k = 0; k < 2; k++) {
        const char *store;
        json_t *fig;

        if (channel != NULL && strcmp(channel, per_store[k]) != 0)
            continue;
        json_object_foreach(json_object_get(channels, per_store[k]), store, fig)
        {
            struct cli_buf how = {0};
            how_one(json_array_get(json_object_get(fig, "explain"), 0), k == 1, &how);
            where_add(rows, per_store[k], store, location_name(locations, store),
                      jint(fig, "available"), how.data);
            cli_buf_release(&how);
        }
    }
    return sorted(rows);
}

void cli_view_where(FILE *out, const char *sku, json_t *product, json_t *rows)
{
    static const char *const headers[] = {"CHANNEL", "LOCATION", "NAME", ">AVAILABLE", "HOW"};
    struct cli_table *t = cli_table_new(5, headers);
    char a[NUM_SIZE];
    json_t *r;
    size_t i;

    fprintf(out, "%s", sku);
    if (jstr(product, "name") != NULL)
        fprintf(out, "  %s", jstr(product, "name"));
    fprintf(out, "\n\n");
    json_array_foreach(rows, i, r)
    {
        const char *cells[] = {jstr(r, "channel"), jstr(r, "location"), jstr(r, "name"),
                               jnum(r, "available", a), jstr(r, "how")};
        cli_table_add(t, cells);
    }
    if (cli_table_rows(t) > 0)
        cli_table_print(t, out, 0);
    else
        fprintf(out, "no channel offers it\n");
    cli_table_free(t);
}

/* ---- reservations ---- */

void cli_view_reservation(FILE *out, json_t *resv)
{
    static const char *const headers[] = {"SKU", ">QUANTITY", "LOCATION", ">ALLOCATED"};
    static const char *const times[] = {"expires_at", "committed_at", "released_at",
                                        "expired_at", "fulfilled_at", NULL};
    struct cli_table *t = cli_table_new(4, headers);
    char a[NUM_SIZE], b[NUM_SIZE];
    json_t *line;
    size_t i;

    kv(out, "reservation", jstr(resv, "id"));
    kv(out, "status", jstr(resv, "status"));
    kv(out, "channel", jstr(resv, "channel"));
    kv(out, "location", jstr(resv, "location"));
    kv(out, "customer", jstr(resv, "customer"));
    kv(out, "reference", jstr(resv, "reference"));
    kv(out, "created_at", jstr(resv, "created_at"));
    for (size_t k = 0; times[k] != NULL; k++)
        kv(out, times[k], jstr(resv, times[k]));
    fputc('\n', out);
    json_array_foreach(json_object_get(resv, "lines"), i, line)
    {
        json_t *alloc = json_object_get(line, "allocations");
        json_t *al;
        size_t j;

        if (json_array_size(alloc) == 0) {
            const char *cells[] = {jstr(line, "sku"), jnum(line, "quantity", a), "", ""};
            cli_table_add(t, cells);
        }
        json_array_foreach(alloc, j, al)
        {
            const char *cells[] = {j == 0 ? jstr(line, "sku") : "",
                                   j == 0 ? jnum(line, "quantity", a) : "", jstr(al, "location"),
                                   jnum(al, "quantity", b)};
            cli_table_add(t, cells);
        }
    }
    cli_table_print(t, out, 0);
    cli_table_free(t);
}

/* ---- history ---- */

/* "receipt +6", "sale -2", "count =5", "reserved +2": what an event changed. */
static void change_of(json_t *ev, struct cli_buf *b)
{
    json_t *m = json_object_get(ev, "movement");
    const char *type = jstr(m, "type"), *ev_type = jstr(ev, "type");
    long long q = jint(m, "quantity");

    if (type != NULL) {
        if (strcmp(type, "count") == 0)
            cli_buf_printf(b, "%s =%lld", type, q);
        else if (strcmp(type, "sale") == 0 || strcmp(type, "transfer_out") == 0)
            cli_buf_printf(b, "%s -%lld", type, q);
        else
            cli_buf_printf(b, "%s %+lld", type, q);
        return;
    }
    if (!json_is_integer(json_object_get(ev, "quantity")) || ev_type == NULL)
        return;
    q = jint(ev, "quantity");
    if (strcmp(ev_type, "reservation.held") == 0)
        cli_buf_printf(b, "reserved +%lld", q);
    else if (strcmp(ev_type, "reservation.fulfilled") == 0)
        cli_buf_printf(b, "handed over %lld", q);
    else if (strncmp(ev_type, "reservation.", 12) == 0)
        cli_buf_printf(b, "reserved -%lld", q);
    else
        cli_buf_printf(b, "%lld", q);
}

static void note_of(json_t *ev, struct cli_buf *b)
{
    json_t *m = json_object_get(ev, "movement");
    json_t *list = json_object_get(ev, "reservations");
    const char *sep = "";

    if (jstr(m, "to_location") != NULL) {
        cli_buf_printf(b, "to %s", jstr(m, "to_location"));
        sep = "; ";
    }
    if (jstr(m, "from_location") != NULL) {
        cli_buf_printf(b, "%sfrom %s", sep, jstr(m, "from_location"));
        sep = "; ";
    }
    if (jstr(m, "reason") != NULL) {
        cli_buf_printf(b, "%s%s", sep, jstr(m, "reason"));
        sep = "; ";
    }
    if (jstr(m, "reference") != NULL) {
        cli_buf_printf(b, "%sref %s", sep, jstr(m, "reference"));
        sep = "; ";
    }
    if (jstr(ev, "reservation") != NULL) {
        cli_buf_printf(b, "%s%s", sep, jstr(ev, "reservation"));
        sep = "; ";
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        cli_buf_printf(b, "%s%s", sep, json_string_value(json_array_get(list, i)));
        sep = ", ";
    }
}

void cli_view_history(FILE *out, json_t *history)
{
    static const char *const headers[] = {"AT",       "EVENT",     "LOCATION",   "CHANGE",
                                          ">ON HAND", ">RESERVED", ">AVAILABLE", "NOTE"};
    json_t *events = json_object_get(history, "events");
    struct cli_table *t;
    json_t *ev;
    size_t i;

    if (json_array_size(events) == 0) {
        fprintf(out, "no events\n");
        return;
    }
    t = cli_table_new(8, headers);
    json_array_foreach(events, i, ev)
    {
        json_t *lv = json_object_get(ev, "levels");
        struct cli_buf change = {0}, note = {0};
        char a[NUM_SIZE], b[NUM_SIZE], c[NUM_SIZE];

        change_of(ev, &change);
        note_of(ev, &note);
        const char *cells[] = {jstr(ev, "at"),           jstr(ev, "type"),
                               jstr(ev, "location"),     change.data ? change.data : "",
                               jnum(lv, "on_hand", a),   jnum(lv, "reserved", b),
                               jnum(lv, "available", c), note.data ? note.data : ""};
        cli_table_add(t, cells);
        cli_buf_release(&change);
        cli_buf_release(&note);
    }
    cli_table_print(t, out, 0);
    cli_table_free(t);
}

/* ---- recommendations ---- */

static void where_asked(struct cli_buf *b, const char *channel, const char *location)
{
    cli_buf_printf(b, "%s", channel != NULL ? channel : "web");
    if (location != NULL)
        cli_buf_printf(b, " at %s", location);
}

static void view_alternatives(FILE *out, json_t *alts)
{
    static const char *const headers[] = {"CHANNEL", "LOCATION", ">AVAILABLE"};
    struct cli_table *t = cli_table_new(3, headers);
    char a[NUM_SIZE];
    json_t *alt;
    size_t i;

    json_array_foreach(alts, i, alt)
    {
        const char *cells[] = {jstr(alt, "channel"), jstr(alt, "location"),
                               jnum(alt, "available", a)};
        cli_table_add(t, cells);
    }
    if (cli_table_rows(t) > 0) {
        fprintf(out, "it can be had instead:\n");
        cli_table_print(t, out, 2);
    } else {
        fprintf(out, "it is not available in any channel now\n");
    }
    cli_table_free(t);
}

static void view_items(FILE *out, json_t *items)
{
    static const char *const headers[] = {"SKU", "NAME", ">PRICE", ">AVAILABLE", "REASON"};
    struct cli_table *t = cli_table_new(5, headers);
    char a[NUM_SIZE], price[64];
    json_t *it;
    size_t i;

    json_array_foreach(items, i, it)
    {
        json_t *p = json_object_get(it, "price");
        const char *cells[] = {jstr(it, "sku"), jstr(it, "name"), price, jnum(it, "available", a),
                               jstr(it, "reason")};
        if (json_is_integer(json_object_get(p, "amount")))
            cli_format_price(jint(p, "amount"), jstr(p, "currency"), price, sizeof(price));
        else
            snprintf(price, sizeof(price), "-");
        cli_table_add(t, cells);
    }
    cli_table_print(t, out, 0);
    cli_table_free(t);
}

void cli_view_recommendations(FILE *out, json_t *rec, const char *channel, const char *location)
{
    json_t *primary = json_object_get(rec, "primary");
    json_t *items = json_object_get(rec, "items");
    json_t *policy = json_object_get(rec, "policy");
    const char *suppressed = jstr(rec, "suppressed"), *how = jstr(primary, "how");
    struct cli_buf asked = {0};

    where_asked(&asked, channel, location);
    fprintf(out, "primary need  %s: ", jstr(primary, "sku") ? jstr(primary, "sku") : "-");
    if (!json_is_true(json_object_get(primary, "resolved"))) {
        fprintf(out, "NOT resolved: not available in %s\n", asked.data);
        fprintf(out, "no suggestions until the primary need is met; ");
        view_alternatives(out, json_object_get(primary, "alternatives"));
        cli_buf_release(&asked);
        return;
    }
    if (how != NULL && strcmp(how, "reserved") == 0)
        fprintf(out, "resolved (held by the reservation)\n");
    else
        fprintf(out, "resolved (%s in %s)\n", how != NULL ? how : "available", asked.data);
    cli_buf_release(&asked);
    if (suppressed != NULL && strcmp(suppressed, "customer_opt_out") == 0)
        fprintf(out, "no suggestions: the customer has turned recommendations off\n");
    else if (suppressed != NULL && strcmp(suppressed, "dismissed_today") == 0)
        fprintf(out, "no suggestions: the customer dismissed them twice today\n");
    else if (suppressed != NULL)
        fprintf(out, "no suggestions: %s\n", suppressed);
    else if (json_array_size(items) == 0)
        fprintf(out, "no suggestions: nothing passes the policy (no filler)\n");
    else {
        fputc('\n', out);
        view_items(out, items);
    }
    if (json_is_integer(json_object_get(policy, "max_items")))
        fprintf(out, "\npolicy: at most %lld items, each priced at most %g x the primary\n",
                jint(policy, "max_items"),
                json_number_value(json_object_get(policy, "max_price_ratio")));
}

/* ---- consistency ---- */

int cli_view_consistency(FILE *out, json_t *report)
{
    static const char *const headers[] = {"KIND", "SKU", "LOCATION", "RESERVATION", "DETAIL"};
    json_t *problems = json_object_get(report, "problems");
    char a[NUM_SIZE], b[NUM_SIZE], c[NUM_SIZE];
    struct cli_table *t;
    json_t *p;
    size_t i;

    if (json_is_true(json_object_get(report, "ok")) && json_array_size(problems) == 0) {
        fprintf(out, "clean: %s SKUs, %s holds, %s partitions checked\n", jnum(report, "skus", a),
                jnum(report, "holds", b), jnum(report, "partitions", c));
        return 1;
    }
    fprintf(out, "NOT clean: %zu problems (%s SKUs, %s holds checked)\n", json_array_size(problems),
            jnum(report, "skus", a), jnum(report, "holds", b));
    t = cli_table_new(5, headers);
    json_array_foreach(problems, i, p)
    {
        const char *cells[] = {jstr(p, "kind"), jstr(p, "sku"), jstr(p, "location"),
                               jstr(p, "reservation"), jstr(p, "detail")};
        cli_table_add(t, cells);
    }
    cli_table_print(t, out, 0);
    cli_table_free(t);
    return 0;
}
