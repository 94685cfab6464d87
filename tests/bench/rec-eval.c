/*
 * rec-eval.c - offline evaluation of the recommendation scoring: would the suggestions have
 * named what shoppers went on to buy together?
 *
 * Learns the counts the service keeps (DESIGN.md: orders per SKU, co-occurrence of each pair of
 * distinct SKUs within an order, total orders; an order counts with its first 30 distinct SKUs)
 * from the older part of an order history, sorted by "at". Then, for each newer order with two
 * or more distinct SKUs and each of its SKUs as the primary, it takes the top k suggestions and
 * checks them against the order's other SKUs. Suggestions are scored and thresholded by
 * rec_score (services/recommend/rec_logic.h) and kept to complements: products of the
 * catalogue in another category than the primary's, as the API does. A popularity baseline (the
 * k most-ordered catalogue SKUs outside the primary's category) is measured on the same cases.
 * The other policy filters (stock, price cap, basket, customer history) need live state and are
 * not applied. docs/recommendations-eval.md explains the figures.
 *
 * Exit status: 0; 1 when a file cannot be read, holds an invalid line or memory runs out;
 * 2 on a usage error.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>

#include "proto/proto.h"
#include "services/recommend/rec_logic.h"

#define BASKET_CAP       30 /* distinct SKUs of one order that count */
#define K_MAX            100
#define TOP_PAIRS        10 /* strongest complement pairs shown */
#define DEFAULT_PRODUCTS "deploy/demo/products.ndjson"

static const char usage_text[] =
    "usage: rec_eval [--train 0.8] [--k 3] [--min-co-orders 3] [--min-llr 10.83]\n"
    "                [--products FILE] [--json] ORDERS.ndjson\n"
    "  --train F          share of the orders, oldest first, to learn from (0 < F < 1)\n"
    "  --k N              suggestions per primary (1..100)\n"
    "  --min-co-orders N  a pair needs at least N orders together\n"
    "  --min-llr X        a pair needs an LLR of at least X\n"
    "  --products FILE    the catalogue (NDJSON with sku and category);\n"
    "                     default " DEFAULT_PRODUCTS " in the current directory\n"
    "  --json             one JSON object instead of lines of text\n"
    "ORDERS.ndjson holds one POST /v1/orders item per line (\"-\": standard input).\n";

struct options {
    double train;
    int k;
    long long min_co_orders;
    double min_llr;
    const char *products;
    const char *orders;
    int json;
};

/* A set of identifiers, numbered 0, 1, ... in the order they were added. */
struct idset {
    size_t n, cap;
    char (*id)[PROTO_ID_SIZE];
    int *slot;    /* open addressing: an index into id, or -1 */
    size_t nslot; /* a power of two, 2 * cap */
};

/* One order: its SKUs are item[first .. first + n). */
struct order_rec {
    long long at_ms;
    size_t line;
    size_t first;
    int n;
};

/* What the files hold. */
struct history {
    struct idset skus; /* the catalogue's first (0 .. ncatalogue - 1), then the others */
    size_t ncatalogue;
    struct idset categories;
    int *category; /* of each catalogue SKU, an index into categories */
    size_t category_cap;
    struct idset ids; /* order ids seen, to skip repeats as the service does */
    size_t duplicates;
    struct order_rec *order;
    size_t norders, order_cap;
    int *item;
    size_t nitems, item_cap;
};

/* Pair counts: key (a << 32 | b) with a < b. */
#define PAIR_EMPTY UINT64_MAX
struct pairmap {
    size_t n, nslot; /* nslot: a power of two */
    uint64_t *key;
    long long *count;
};

/* The counts learnt from the training orders, and each SKU's neighbours. */
struct model {
    size_t nsku;
    long long total;
    long long *orders; /* per SKU */
    struct pairmap pairs;
    size_t *adj_first; /* SKU a's neighbours: adj[adj_first[a] .. adj_first[a + 1]) */
    int *adj;
    long long *adj_together;
};

/* What one recommender suggests for each SKU: top[a * k + j], j < ntop[a]. */
struct suggestions {
    int *top;
    int *ntop;
};

struct metrics {
    long long cases, case_hits, made, hits, empty;
    size_t covered;
};

static int oom(void)
{
    fprintf(stderr, "rec_eval: out of memory\n");
    return -1;
}

/*
 * grow - room in the dynamic array @p of @size-byte items for @need of them, *@cap updated.
 * @return the array (maybe moved), or NULL when memory runs out (@p is then untouched).
 */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    size_t ncap = *cap ? *cap : 64;

    if (need <= *cap) {
        return p;
    }
    while (ncap < need) {
        ncap *= 2;
    }
    p = realloc(p, ncap * size);
    if (p != NULL) {
        *cap = ncap;
    }
    return p;
}

/* ---- identifiers ---- */

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

static void idset_place(struct idset *s, int index)
{
    size_t mask = s->nslot - 1, i = hash_id(s->id[index]) & mask;

    while (s->slot[i] >= 0) {
        i = (i + 1) & mask;
    }
    s->slot[i] = index;
}

/* idset_find - the number of @id, or -1 when it is not in @s. */
static int idset_find(const struct idset *s, const char *id)
{
    size_t mask = s->nslot - 1, i;

    if (s->nslot == 0) {
        return -1;
    }
    for (i = hash_id(id) & mask; s->slot[i] >= 0; i = (i + 1) & mask) {
        if (strcmp(s->id[s->slot[i]], id) == 0) {
            return s->slot[i];
        }
    }
    return -1;
}

static int idset_grow(struct idset *s)
{
    size_t cap = s->cap ? 2 * s->cap : 64;
    char(*id)[PROTO_ID_SIZE] = realloc(s->id, cap * sizeof(*id));
    int *slot;

    if (id == NULL) {
        return -1;
    }
    s->id = id;
    slot = malloc(2 * cap * sizeof(*slot));
    if (slot == NULL) {
        return -1;
    }
    free(s->slot);
    s->slot = slot;
    s->nslot = 2 * cap;
    s->cap = cap;
    for (size_t i = 0; i < s->nslot; i++) {
        s->slot[i] = -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        idset_place(s, (int)i);
    }
    return 0;
}

/*
 * idset_add - the number of @id (a valid identifier), added if it is new; *@added (may be
 * NULL) says which. @return the number, or -1 when memory runs out.
 */
static int idset_add(struct idset *s, const char *id, int *added)
{
    int found = idset_find(s, id);

    if (added != NULL) {
        *added = found < 0;
    }
    if (found >= 0) {
        return found;
    }
    if (s->n == s->cap && idset_grow(s) < 0) {
        return -1;
    }
    snprintf(s->id[s->n], PROTO_ID_SIZE, "%s", id);
    idset_place(s, (int)s->n);
    return (int)s->n++;
}

static void idset_release(struct idset *s)
{
    free(s->id);
    free(s->slot);
}

/* ---- pair counts ---- */

static uint64_t pair_key(int a, int b)
{
    return a < b ? (uint64_t)a << 32 | (uint32_t)b : (uint64_t)b << 32 | (uint32_t)a;
}

static size_t pair_slot(const struct pairmap *m, uint64_t key)
{
    size_t mask = m->nslot - 1, i = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 20) & mask;

    while (m->key[i] != PAIR_EMPTY && m->key[i] != key) {
        i = (i + 1) & mask;
    }
    return i;
}

static int pairmap_grow(struct pairmap *m)
{
    struct pairmap g = {0, m->nslot ? 2 * m->nslot : 1024, NULL, NULL};

    g.key = malloc(g.nslot * sizeof(*g.key));
    g.count = calloc(g.nslot, sizeof(*g.count));
    if (g.key == NULL || g.count == NULL) {
        free(g.key);
        free(g.count);
        return -1;
    }
    memset(g.key, 0xff, g.nslot * sizeof(*g.key));
    for (size_t i = 0; i < m->nslot; i++) {
        if (m->key[i] != PAIR_EMPTY) {
            size_t j = pair_slot(&g, m->key[i]);

            g.key[j] = m->key[i];
            g.count[j] = m->count[i];
        }
    }
    g.n = m->n;
    free(m->key);
    free(m->count);
    *m = g;
    return 0;
}

/* pairmap_add - one more order with both @a and @b (a != b). @return 0 or -1. */
static int pairmap_add(struct pairmap *m, int a, int b)
{
    uint64_t key = pair_key(a, b);
    size_t i;

    if (2 * (m->n + 1) > m->nslot && pairmap_grow(m) < 0) {
        return -1;
    }
    i = pair_slot(m, key);
    if (m->key[i] == PAIR_EMPTY) {
        m->key[i] = key;
        m->n++;
    }
    m->count[i]++;
    return 0;
}

/* ---- reading ---- */

/* One line's parsed object (borrowed), its number, and where to report a problem. */
typedef int (*line_cb)(void *ctx, json_t *obj, size_t line, struct proto_error *err);

/*
 * read_ndjson - call @cb for each non-blank line of @path ("-": standard input), which must be
 * a JSON object. @return 0, or -1 after printing the first problem.
 */
static int read_ndjson(const char *path, line_cb cb, void *ctx)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *buf = NULL;
    size_t bufsize = 0, line = 0;
    ssize_t len;
    int rc = 0;

    if (f == NULL) {
        fprintf(stderr, "rec_eval: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && (len = getline(&buf, &bufsize, f)) >= 0) {
        struct proto_error err = {0};
        json_t *obj;

        line++;
        if (strspn(buf, " \t\r\n") == (size_t)len) {
            continue;
        }
        obj = proto_json_load(buf, (size_t)len, &err);
        if (obj == NULL || cb(ctx, obj, line, &err) < 0) {
            fprintf(stderr, "rec_eval: %s:%zu: %s%s%s\n", path, line, err.field,
                    err.field[0] ? ": " : "", err.detail);
            rc = -1;
        }
        json_decref(obj);
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "rec_eval: %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    free(buf);
    if (f != stdin) {
        fclose(f);
    }
    return rc;
}

static int nomem(struct proto_error *err)
{
    return proto_error_set(err, PROBLEM_INTERNAL, NULL, "out of memory");
}

/* A catalogue line: {"sku", "category", ...}; other fields are not looked at. */
static int product_line(void *ctx, json_t *obj, size_t line, struct proto_error *err)
{
    struct history *h = ctx;
    char sku[PROTO_ID_SIZE], category[PROTO_ID_SIZE];
    int added, s, c, *of_sku;

    (void)line;
    if (proto_get_id(obj, "sku", 1, sku, err) < 0 ||
        proto_get_id(obj, "category", 1, category, err) < 0) {
        return -1;
    }
    s = idset_add(&h->skus, sku, &added);
    c = idset_add(&h->categories, category, NULL);
    of_sku = grow(h->category, &h->category_cap, h->skus.n, sizeof(int));
    if (s < 0 || c < 0 || of_sku == NULL) {
        return nomem(err);
    }
    h->category = of_sku;
    if (!added) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "sku", "%s appears twice", sku);
    }
    h->category[s] = c;
    return 0;
}

/* add_line - the SKU of lines[i] (an object {"sku", "quantity"}) into the order's items. */
static int add_line(struct history *h, struct order_rec *o, json_t *jl, struct proto_error *err)
{
    static const char *const fields[] = {"sku", "quantity", NULL};
    char sku[PROTO_ID_SIZE];
    long long quantity;
    int s, *item;

    if (!json_is_object(jl)) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, NULL, "must be an object");
    }
    if (proto_check_fields(jl, fields, err) < 0 || proto_get_id(jl, "sku", 1, sku, err) < 0 ||
        proto_get_int(jl, "quantity", 1, 1, PROTO_QUANTITY_MAX, &quantity, err) < 0) {
        return -1;
    }
    s = idset_add(&h->skus, sku, NULL);
    if (s < 0) {
        return nomem(err);
    }
    for (int j = 0; j < o->n; j++) {
        if (h->item[o->first + (size_t)j] == s) {
            return 0; /* lines of one SKU count once */
        }
    }
    if (o->n == BASKET_CAP) {
        return 0;
    }
    item = grow(h->item, &h->item_cap, h->nitems + 1, sizeof(int));
    if (item == NULL) {
        return nomem(err);
    }
    h->item = item;
    h->item[h->nitems++] = s;
    o->n++;
    return 0;
}

static int order_lines(struct history *h, struct order_rec *o, json_t *lines,
                       struct proto_error *err)
{
    char field[32];

    if (!json_is_array(lines) || json_array_size(lines) == 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "lines",
                               "lines must be an array of 1 or more lines");
    }
    for (size_t i = 0; i < json_array_size(lines); i++) {
        if (add_line(h, o, json_array_get(lines, i), err) < 0) {
            snprintf(field, sizeof(field), "lines[%zu]", i);
            proto_error_prefix(err, field);
            return -1;
        }
    }
    return 0;
}

/* An order line: {"id", "customer"?, "channel"?, "at", "lines": [{"sku", "quantity"}]}. */
static int order_line(void *ctx, json_t *obj, size_t line, struct proto_error *err)
{
    static const char *const fields[] = {"id", "customer", "channel", "at", "lines", NULL};
    struct history *h = ctx;
    struct order_rec o = {0, line, h->nitems, 0};
    struct order_rec *order;
    char id[PROTO_ID_SIZE], customer[PROTO_ID_SIZE], channel[32], at[64];
    int added;

    if (proto_check_fields(obj, fields, err) < 0 || proto_get_id(obj, "id", 1, id, err) < 0 ||
        proto_get_id(obj, "customer", 0, customer, err) < 0 ||
        proto_get_string(obj, "channel", 0, sizeof(channel) - 1, channel, sizeof(channel), err) <
            0 ||
        proto_get_string(obj, "at", 1, sizeof(at) - 1, at, sizeof(at), err) < 0) {
        return -1;
    }
    if (json_object_get(obj, "channel") != NULL && proto_channel_parse(channel) == 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "channel",
                               "channel must be web, click_collect or store");
    }
    if (proto_time_parse(at, &o.at_ms) < 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "at",
                               "at must be an RFC 3339 date-time");
    }
    if (order_lines(h, &o, json_object_get(obj, "lines"), err) < 0) {
        return -1;
    }
    if (idset_add(&h->ids, id, &added) < 0) {
        return nomem(err);
    }
    if (!added) {
        h->duplicates++; /* the service keeps the first and ignores the rest */
        h->nitems = o.first;
        return 0;
    }
    order = grow(h->order, &h->order_cap, h->norders + 1, sizeof(o));
    if (order == NULL) {
        return nomem(err);
    }
    h->order = order;
    h->order[h->norders++] = o;
    return 0;
}

static int by_time(const void *pa, const void *pb)
{
    const struct order_rec *a = pa, *b = pb;

    if (a->at_ms != b->at_ms) {
        return a->at_ms < b->at_ms ? -1 : 1;
    }
    return a->line < b->line ? -1 : a->line > b->line;
}

static void history_release(struct history *h)
{
    idset_release(&h->skus);
    idset_release(&h->categories);
    idset_release(&h->ids);
    free(h->category);
    free(h->order);
    free(h->item);
}

/* ---- learning ---- */

static const int *items_of(const struct history *h, const struct order_rec *o)
{
    return h->item + o->first;
}

/* model_build_adjacency - each SKU's neighbours and orders together, from the pair counts. */
static int model_build_adjacency(struct model *m)
{
    size_t *fill = calloc(m->nsku + 1, sizeof(*fill));
    int rc = -1;

    m->adj_first = calloc(m->nsku + 1, sizeof(*m->adj_first));
    m->adj = malloc((2 * m->pairs.n + 1) * sizeof(*m->adj));
    m->adj_together = malloc((2 * m->pairs.n + 1) * sizeof(*m->adj_together));
    if (fill == NULL || m->adj_first == NULL || m->adj == NULL || m->adj_together == NULL) {
        goto out;
    }
    for (size_t i = 0; i < m->pairs.nslot; i++) {
        if (m->pairs.key[i] != PAIR_EMPTY) {
            m->adj_first[(m->pairs.key[i] >> 32) + 1]++;
            m->adj_first[(m->pairs.key[i] & 0xffffffffu) + 1]++;
        }
    }
    for (size_t a = 0; a < m->nsku; a++) {
        m->adj_first[a + 1] += m->adj_first[a];
    }
    for (size_t i = 0; i < m->pairs.nslot; i++) {
        size_t a = m->pairs.key[i] >> 32, b = m->pairs.key[i] & 0xffffffffu, j;

        if (m->pairs.key[i] == PAIR_EMPTY) {
            continue;
        }
        j = m->adj_first[a] + fill[a]++;
        m->adj[j] = (int)b;
        m->adj_together[j] = m->pairs.count[i];
        j = m->adj_first[b] + fill[b]++;
        m->adj[j] = (int)a;
        m->adj_together[j] = m->pairs.count[i];
    }
    rc = 0;
out:
    free(fill);
    return rc;
}

/* model_learn - the counts of orders [0, ntrain) of @h. @return 0 or -1 (out of memory). */
static int model_learn(struct model *m, const struct history *h, size_t ntrain)
{
    m->nsku = h->skus.n;
    m->total = (long long)ntrain;
    m->orders = calloc(m->nsku + 1, sizeof(*m->orders));
    if (m->orders == NULL) {
        return -1;
    }
    for (size_t i = 0; i < ntrain; i++) {
        const struct order_rec *o = &h->order[i];
        const int *item = items_of(h, o);

        for (int x = 0; x < o->n; x++) {
            m->orders[item[x]]++;
            for (int y = x + 1; y < o->n; y++) {
                if (pairmap_add(&m->pairs, item[x], item[y]) < 0) {
                    return -1;
                }
            }
        }
    }
    return model_build_adjacency(m);
}

static void model_release(struct model *m)
{
    free(m->orders);
    free(m->pairs.key);
    free(m->pairs.count);
    free(m->adj_first);
    free(m->adj);
    free(m->adj_together);
}

/* ---- recommending ---- */

/* complement - 1 when SKU @b may be suggested with @a: in the catalogue, another category. */
static int complement(const struct history *h, int a, int b)
{
    if (a == b || (size_t)b >= h->ncatalogue) {
        return 0;
    }
    return (size_t)a >= h->ncatalogue || h->category[a] != h->category[b];
}

static struct rec_policy policy_of(const struct options *opt)
{
    struct rec_policy p = {0};

    p.max_items = opt->k;
    p.max_price_ratio = HUGE_VAL;
    p.min_co_orders = opt->min_co_orders;
    p.min_llr = opt->min_llr;
    return p;
}

/* suggest_llr - the top k complements of @a by rec_score, into out[0 .. k). @return how many. */
static int suggest_llr(const struct history *h, const struct model *m, const struct options *opt,
                       int a, struct rec_candidate *c, int *out)
{
    struct rec_policy policy = policy_of(opt);
    size_t n = m->adj_first[a + 1] - m->adj_first[a], strong;
    int made = 0;

    for (size_t i = 0; i < n; i++) {
        int b = m->adj[m->adj_first[a] + i];

        memset(&c[i], 0, sizeof(c[i]));
        snprintf(c[i].sku, sizeof(c[i].sku), "%s", h->skus.id[b]);
        c[i].together = m->adj_together[m->adj_first[a] + i];
        c[i].orders = m->orders[b];
    }
    strong = rec_score(c, n, m->orders[a], m->total, &policy);
    for (size_t i = 0; i < strong && made < opt->k; i++) {
        int b = idset_find(&h->skus, c[i].sku);

        if (complement(h, a, b)) {
            out[made++] = b;
        }
    }
    return made;
}

/* suggest_popular - the k most-ordered complements of @a, from @rank (most-ordered first). */
static int suggest_popular(const struct history *h, const struct options *opt, const int *rank,
                           size_t nrank, int a, int *out)
{
    int made = 0;

    for (size_t i = 0; i < nrank && made < opt->k; i++) {
        if (complement(h, a, rank[i])) {
            out[made++] = rank[i];
        }
    }
    return made;
}

/* A catalogue SKU by the training orders that hold it. */
struct ranked {
    long long orders;
    const char *sku;
    int index;
};

/* Most orders first, then by SKU. */
static int by_popularity(const void *pa, const void *pb)
{
    const struct ranked *a = pa, *b = pb;

    if (a->orders != b->orders) {
        return a->orders > b->orders ? -1 : 1;
    }
    return strcmp(a->sku, b->sku);
}

/* popularity_rank - the ordered catalogue SKUs, most-ordered first. @return a new array. */
static int *popularity_rank(const struct history *h, const struct model *m, size_t *n)
{
    struct ranked *r = malloc((h->ncatalogue + 1) * sizeof(*r));
    int *rank = malloc((h->ncatalogue + 1) * sizeof(*rank));

    *n = 0;
    if (r == NULL || rank == NULL) {
        free(r);
        free(rank);
        return NULL;
    }
    for (size_t s = 0; s < h->ncatalogue; s++) {
        if (m->orders[s] > 0) {
            r[(*n)++] = (struct ranked){m->orders[s], h->skus.id[s], (int)s};
        }
    }
    if (*n > 1) {
        qsort(r, *n, sizeof(*r), by_popularity);
    }
    for (size_t i = 0; i < *n; i++) {
        rank[i] = r[i].index;
    }
    free(r);
    return rank;
}

/* suggestions_make - both recommenders' suggestions for every SKU. @return 0 or -1. */
static int suggestions_make(struct suggestions *llr, struct suggestions *pop,
                            const struct history *h, const struct model *m,
                            const struct options *opt)
{
    size_t k = (size_t)opt->k, nrank = 0, maxdeg = 1;
    struct rec_candidate *c = NULL;
    int *rank = popularity_rank(h, m, &nrank);
    int rc = -1;

    for (size_t a = 0; a < m->nsku; a++) {
        size_t deg = m->adj_first[a + 1] - m->adj_first[a];

        maxdeg = deg > maxdeg ? deg : maxdeg;
    }
    c = malloc(maxdeg * sizeof(*c));
    llr->top = malloc(m->nsku * k * sizeof(int) + 1);
    llr->ntop = calloc(m->nsku + 1, sizeof(int));
    pop->top = malloc(m->nsku * k * sizeof(int) + 1);
    pop->ntop = calloc(m->nsku + 1, sizeof(int));
    if (rank == NULL || c == NULL || llr->top == NULL || llr->ntop == NULL || pop->top == NULL ||
        pop->ntop == NULL) {
        goto out;
    }
    for (size_t a = 0; a < m->nsku; a++) {
        llr->ntop[a] = suggest_llr(h, m, opt, (int)a, c, llr->top + a * k);
        pop->ntop[a] = suggest_popular(h, opt, rank, nrank, (int)a, pop->top + a * k);
    }
    rc = 0;
out:
    free(c);
    free(rank);
    return rc;
}

static void suggestions_release(struct suggestions *s)
{
    free(s->top);
    free(s->ntop);
}

/* ---- evaluating ---- */

static int contains_other(const int *item, int n, int a, int b)
{
    for (int i = 0; i < n; i++) {
        if (item[i] == b && b != a) {
            return 1;
        }
    }
    return 0;
}

/* score_case - the suggestions for primary @a against the order's other SKUs. */
static void score_case(struct metrics *mt, const struct suggestions *s, int k, const int *item,
                       int n, int a, char *seen)
{
    const int *top = s->top + (size_t)a * (size_t)k;
    int hits = 0;

    mt->cases++;
    mt->made += s->ntop[a];
    if (s->ntop[a] == 0) {
        mt->empty++;
    }
    for (int j = 0; j < s->ntop[a]; j++) {
        hits += contains_other(item, n, a, top[j]);
        if (!seen[top[j]]) {
            seen[top[j]] = 1;
            mt->covered++;
        }
    }
    mt->hits += hits;
    mt->case_hits += hits > 0;
}

struct evaluation {
    struct metrics llr, pop;
    long long orders_with_pairs, reachable;
};

/* evaluate - every (order, primary) case of orders [ntrain, norders). @return 0 or -1. */
static int evaluate(struct evaluation *ev, const struct history *h, size_t ntrain,
                    const struct suggestions *llr, const struct suggestions *pop, int k)
{
    char *seen_llr = calloc(h->skus.n + 1, 1), *seen_pop = calloc(h->skus.n + 1, 1);

    if (seen_llr == NULL || seen_pop == NULL) {
        free(seen_llr);
        free(seen_pop);
        return -1;
    }
    for (size_t i = ntrain; i < h->norders; i++) {
        const struct order_rec *o = &h->order[i];
        const int *item = items_of(h, o);

        if (o->n < 2) {
            continue;
        }
        ev->orders_with_pairs++;
        for (int x = 0; x < o->n; x++) {
            int reachable = 0;

            for (int y = 0; y < o->n; y++) {
                reachable |= complement(h, item[x], item[y]);
            }
            ev->reachable += reachable;
            score_case(&ev->llr, llr, k, item, o->n, item[x], seen_llr);
            score_case(&ev->pop, pop, k, item, o->n, item[x], seen_pop);
        }
    }
    free(seen_llr);
    free(seen_pop);
    return 0;
}

/* ---- reporting ---- */

static double ratio(long long a, long long b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

/* One complement pair of the training counts. */
struct strong_pair {
    int a, b;
    long long together;
    double llr;
};

static int by_llr(const void *pa, const void *pb)
{
    const struct strong_pair *a = pa, *b = pb;

    if (a->llr != b->llr) {
        return a->llr > b->llr ? -1 : 1;
    }
    return a->together > b->together ? -1 : a->together < b->together;
}

/*
 * strong_pairs - the pairs of different categories that pass the thresholds, strongest first
 * (LLR is symmetric, so each pair once). @return a new array of *n, or NULL.
 */
static struct strong_pair *strong_pairs(const struct history *h, const struct model *m,
                                        const struct options *opt, size_t *n)
{
    struct strong_pair *p = malloc((m->pairs.n + 1) * sizeof(*p));

    *n = 0;
    if (p == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < m->pairs.nslot; i++) {
        int a = (int)(m->pairs.key[i] >> 32), b = (int)(m->pairs.key[i] & 0xffffffffu);
        struct rec_table t;
        double llr;

        if (m->pairs.key[i] == PAIR_EMPTY || !complement(h, a, b) || !complement(h, b, a)) {
            continue;
        }
        t = rec_table_make(m->pairs.count[i], m->orders[a], m->orders[b], m->total);
        llr = rec_llr(&t);
        if (rec_positive(&t) && t.k11 >= opt->min_co_orders && llr >= opt->min_llr) {
            p[(*n)++] = (struct strong_pair){a, b, t.k11, llr};
        }
    }
    if (*n > 1) {
        qsort(p, *n, sizeof(*p), by_llr);
    }
    return p;
}

/* Everything the report shows. */
struct report {
    const struct options *opt;
    const struct history *h;
    const struct model *m;
    size_t ntrain;
    const struct evaluation *ev;
    const struct strong_pair *pairs;
    size_t npairs;
};

static json_t *metrics_json(const struct metrics *mt, size_t ncatalogue)
{
    return json_pack("{s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I}", "hit_rate",
                     ratio(mt->case_hits, mt->cases), "precision", ratio(mt->hits, mt->made),
                     "coverage", ratio((long long)mt->covered, (long long)ncatalogue), "cases_hit",
                     (json_int_t)mt->case_hits, "recommendations", (json_int_t)mt->made, "hits",
                     (json_int_t)mt->hits, "cases_without", (json_int_t)mt->empty,
                     "skus_recommended", (json_int_t)mt->covered);
}

static json_t *pairs_json(const struct report *r)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < r->npairs && i < TOP_PAIRS; i++) {
        const struct strong_pair *p = &r->pairs[i];

        json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:f}", "a", r->h->skus.id[p->a], "b",
                                             r->h->skus.id[p->b], "together",
                                             (json_int_t)p->together, "llr", p->llr));
    }
    return arr;
}

static json_t *settings_json(const struct options *o)
{
    return json_pack("{s:f, s:i, s:I, s:f, s:i}", "train", o->train, "k", o->k, "min_co_orders",
                     (json_int_t)o->min_co_orders, "min_llr", o->min_llr, "basket_cap", BASKET_CAP);
}

static json_t *orders_json(const struct report *r)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "read", (json_int_t)r->h->norders, "duplicates",
                     (json_int_t)r->h->duplicates, "train", (json_int_t)r->ntrain, "test",
                     (json_int_t)(r->h->norders - r->ntrain), "test_with_pairs",
                     (json_int_t)r->ev->orders_with_pairs);
}

static int report_json(const struct report *r)
{
    const struct history *h = r->h;
    const struct evaluation *ev = r->ev;
    json_t *root = json_pack(
        "{s:o, s:o, s:I, s:I, s:I, s:I, s:f, s:o, s:o, s:o}", "settings", settings_json(r->opt),
        "orders", orders_json(r), "catalogue", (json_int_t)h->ncatalogue, "skus_not_in_catalogue",
        (json_int_t)(h->skus.n - h->ncatalogue), "cases", (json_int_t)ev->llr.cases,
        "cases_reachable", (json_int_t)ev->reachable, "reachable",
        ratio(ev->reachable, ev->llr.cases), "llr", metrics_json(&ev->llr, h->ncatalogue),
        "popularity", metrics_json(&ev->pop, h->ncatalogue), "top_pairs", pairs_json(r));

    if (root == NULL || json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) < 0) {
        json_decref(root);
        return oom();
    }
    putchar('\n');
    json_decref(root);
    return 0;
}

static void print_metrics(const char *name, const struct metrics *mt, size_t ncatalogue)
{
    printf("%-12s %11.3f %13.3f %10.3f %11lld %17lld\n", name, ratio(mt->case_hits, mt->cases),
           ratio(mt->hits, mt->made), ratio((long long)mt->covered, (long long)ncatalogue),
           mt->made, mt->empty);
}

static void print_span(const char *name, const struct history *h, size_t from, size_t to)
{
    char first[32] = "-", last[32] = "-";

    if (from < to) {
        proto_time_format(h->order[from].at_ms, first);
        proto_time_format(h->order[to - 1].at_ms, last);
    }
    printf("%s %zu orders, %s .. %s\n", name, to - from, first, last);
}

static void report_text(const struct report *r)
{
    const struct options *o = r->opt;
    const struct evaluation *ev = r->ev;
    const struct history *h = r->h;
    char k[16];

    printf("orders:   %zu (%zu repeated ids skipped); catalogue %zu SKUs (%s)", h->norders,
           h->duplicates, h->ncatalogue, o->products);
    if (h->skus.n > h->ncatalogue) {
        printf("; %zu ordered SKUs not in it", h->skus.n - h->ncatalogue);
    }
    putchar('\n');
    print_span("train:   ", h, 0, r->ntrain);
    print_span("test:    ", h, r->ntrain, h->norders);
    printf("cases:    %lld (order, primary) from %lld test orders with 2+ SKUs\n", ev->llr.cases,
           ev->orders_with_pairs);
    printf("settings: k=%d min_co_orders=%lld min_llr=%g basket_cap=%d, complements only\n", o->k,
           o->min_co_orders, o->min_llr, BASKET_CAP);
    printf("reachable: %lld of %lld cases (%.3f) have another-category SKU in the order\n\n",
           ev->reachable, ev->llr.cases, ratio(ev->reachable, ev->llr.cases));
    snprintf(k, sizeof(k), "@%d", o->k);
    printf("%-12s %8s%-3s %10s%-3s %10s %11s %17s\n", "", "HitRate", k, "precision", k, "coverage",
           "recs made", "cases without any");
    print_metrics("llr", &ev->llr, h->ncatalogue);
    print_metrics("popularity", &ev->pop, h->ncatalogue);
    printf("\nstrongest complement pairs in training (%zu pass the thresholds):\n", r->npairs);
    for (size_t i = 0; i < r->npairs && i < TOP_PAIRS; i++) {
        const struct strong_pair *p = &r->pairs[i];

        printf("  %-20s + %-20s LLR %7.1f  together %lld\n", h->skus.id[p->a], h->skus.id[p->b],
               p->llr, p->together);
    }
}

/* ---- command line ---- */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* usage_error - print the problem and the usage on stderr. @return -1. */
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("rec_eval: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage_text);
    return -1;
}

static int parse_real(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && errno == 0 && isfinite(*out) ? 0 : -1;
}

static int parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    return end != s && *end == '\0' && errno == 0 && *out >= min && *out <= max ? 0 : -1;
}

/* One option and its value. @return 0, or -1 after printing a usage error. */
static int parse_option(struct options *opt, const char *name, const char *v)
{
    long long n;

    if (strcmp(name, "--train") == 0) {
        if (parse_real(v, &opt->train) < 0 || !(opt->train > 0 && opt->train < 1)) {
            return usage_error("--train needs a number between 0 and 1 (got '%s')", v);
        }
    } else if (strcmp(name, "--k") == 0) {
        if (parse_int(v, 1, K_MAX, &n) < 0) {
            return usage_error("--k needs a whole number from 1 to 100 (got '%s')", v);
        }
        opt->k = (int)n;
    } else if (strcmp(name, "--min-co-orders") == 0) {
        if (parse_int(v, 0, PROTO_QUANTITY_MAX, &opt->min_co_orders) < 0) {
            return usage_error("--min-co-orders needs a whole number >= 0 (got '%s')", v);
        }
    } else if (strcmp(name, "--min-llr") == 0) {
        if (parse_real(v, &opt->min_llr) < 0 || opt->min_llr < 0) {
            return usage_error("--min-llr needs a number >= 0 (got '%s')", v);
        }
    } else if (strcmp(name, "--products") == 0) {
        opt->products = v;
    } else {
        return usage_error("unknown option '%s'", name);
    }
    return 0;
}

static int takes_value(const char *name)
{
    static const char *const names[] = {"--train",   "--k",        "--min-co-orders",
                                        "--min-llr", "--products", NULL};

    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* parse_args - @return 0, 1 for --help, or -1 after printing a usage error. */
static int parse_args(struct options *opt, int argc, char **argv)
{
    int i = 1;

    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        char name[32];
        const char *eq = strchr(argv[i], '='), *value;

        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--help") == 0) {
            return 1;
        }
        if (strcmp(argv[i], "--json") == 0) {
            opt->json = 1;
            continue;
        }
        if (argv[i][1] != '-') {
            return usage_error("unknown option '%s' (options start with --)", argv[i]);
        }
        snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - argv[i]) : (int)strlen(argv[i]),
                 argv[i]);
        if (!takes_value(name)) {
            return usage_error("unknown option '%s'", argv[i]);
        }
        if (eq == NULL && i + 1 == argc) {
            return usage_error("%s needs a value", name);
        }
        value = eq ? eq + 1 : argv[++i];
        if (parse_option(opt, name, value) < 0) {
            return -1;
        }
    }
    if (argc - i != 1) {
        return usage_error("%s", argc - i ? "one ORDERS file only" : "ORDERS.ndjson is needed");
    }
    opt->orders = argv[i];
    return 0;
}

/* run - read, learn, evaluate and report. @return the exit status. */
static int run(const struct options *opt)
{
    struct history h = {0};
    struct model m = {0};
    struct suggestions llr = {0}, pop = {0};
    struct evaluation ev = {0};
    struct report r = {opt, &h, &m, 0, &ev, NULL, 0};
    struct strong_pair *pairs = NULL;
    int rc = 1;

    if (read_ndjson(opt->products, product_line, &h) < 0) {
        if (strcmp(opt->products, DEFAULT_PRODUCTS) == 0) {
            fprintf(stderr, "rec_eval: (the default catalogue is relative to the current "
                            "directory; run from the repository root or give --products FILE)\n");
        }
        goto out;
    }
    h.ncatalogue = h.skus.n;
    if (read_ndjson(opt->orders, order_line, &h) < 0) {
        goto out;
    }
    if (h.norders == 0) {
        fprintf(stderr, "rec_eval: %s holds no orders\n", opt->orders);
        goto out;
    }
    if (h.norders > 1) {
        qsort(h.order, h.norders, sizeof(*h.order), by_time);
    }
    r.ntrain = (size_t)(opt->train * (double)h.norders);
    if (model_learn(&m, &h, r.ntrain) < 0 || suggestions_make(&llr, &pop, &h, &m, opt) < 0 ||
        evaluate(&ev, &h, r.ntrain, &llr, &pop, opt->k) < 0 ||
        (pairs = strong_pairs(&h, &m, opt, &r.npairs)) == NULL) {
        oom();
        goto out;
    }
    r.pairs = pairs;
    if (opt->json) {
        rc = report_json(&r) < 0;
    } else {
        report_text(&r);
        rc = 0;
    }
out:
    free(pairs);
    suggestions_release(&llr);
    suggestions_release(&pop);
    model_release(&m);
    history_release(&h);
    return rc;
}

int main(int argc, char **argv)
{
    struct options opt = {0.8, 3, 3, 10.83, DEFAULT_PRODUCTS, NULL, 0};

    switch (parse_args(&opt, argc, argv)) {
    case 1:
        fputs(usage_text, stdout);
        return 0;
    case -1:
        return 2;
    default:
        return run(&opt);
    }
}
