/*
 * recommend.c - the codecs for the recommend module: POST /v1/orders (the
 * order history the model learns from), the query string of
 * GET /v1/recommendations, POST /v1/recommendations/feedback and
 * PUT /v1/customers/{id}/preferences. Validation only: whether a SKU, a
 * location or a customer exists is for the store to decide. The lines of an
 * order collapse to its distinct SKUs here, because the model counts the
 * orders that hold a SKU, not units.
 */
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/recommend.h"

#define ID_RULE "must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' or '-'"

static int body_is_object(json_t *body, struct proto_error *err)
{
    if (!json_is_object(body)) {
        return proto_error_set(err, PROBLEM_INVALID_JSON, NULL,
                               "the request body must be a JSON object");
    }
    return 0;
}

/* The string @v holds, or NULL if it is not a string or holds a NUL. */
static const char *string_of(json_t *v)
{
    const char *s = json_string_value(v);

    if (s == NULL || strlen(s) != json_string_length(v)) {
        return NULL;
    }
    return s;
}

/* Add @sku to the @n SKUs of @skus unless it is there already; the caller makes room. */
static void sku_add(char (*skus)[PROTO_ID_SIZE], size_t *n, const char *sku)
{
    for (size_t k = 0; k < *n; k++) {
        if (strcmp(skus[k], sku) == 0) {
            return;
        }
    }
    memcpy(skus[*n], sku, strlen(sku) + 1);
    (*n)++;
}

/* ---- POST /v1/orders ---- */

static int order_channel_parse(json_t *obj, enum channel *out, struct proto_error *err)
{
    json_t *v = json_object_get(obj, "channel");

    if (v == NULL) {
        return 0;
    }
    *out = proto_channel_parse(string_of(v));
    if (*out == 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "channel",
                               "channel must be \"web\", \"store\" or \"click_collect\"");
    }
    return 0;
}

/* at: from 1970 on, so that no time in the body reads as the -1 of "absent". */
static int order_at_parse(json_t *obj, long long *out, struct proto_error *err)
{
    json_t *v = json_object_get(obj, "at");
    long long ms;

    if (v == NULL) {
        return 0;
    }
    if (proto_time_parse(string_of(v), &ms) < 0 || ms < 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "at",
                               "at must be an RFC 3339 date-time from 1970 on, e.g. "
                               "\"2026-11-22T10:00:00Z\"");
    }
    *out = ms;
    return 0;
}

/* lines[@j] of @o: validated, and its SKU added to @o unless already there. */
static int order_line_parse(json_t *v, size_t j, struct order *o, struct proto_error *err)
{
    static const char *const allowed[] = {"sku", "quantity", NULL};
    char prefix[32], sku[PROTO_ID_SIZE];
    long long quantity;

    snprintf(prefix, sizeof(prefix), "lines[%zu]", j);
    if (!json_is_object(v)) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, prefix,
                               "%s must be an object with sku and quantity", prefix);
    }
    if (proto_check_fields(v, allowed, err) < 0 || proto_get_id(v, "sku", 1, sku, err) < 0 ||
        proto_get_int(v, "quantity", 1, 1, PROTO_QUANTITY_MAX, &quantity, err) < 0) {
        proto_error_prefix(err, prefix);
        return -1;
    }
    sku_add(o->skus, &o->nskus, sku);
    return 0;
}

static int order_lines_parse(json_t *obj, struct order *o, struct proto_error *err)
{
    json_t *arr = json_object_get(obj, "lines");
    json_t *v;
    size_t j;

    if (arr == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "lines", "lines is required");
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > ORDER_LINES_MAX) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "lines",
                               "lines must be an array of 1 to %d lines", ORDER_LINES_MAX);
    }
    o->skus = calloc(json_array_size(arr), sizeof(*o->skus));
    if (o->skus == NULL) {
        return proto_error_set(err, PROBLEM_INTERNAL, NULL, "out of memory");
    }
    json_array_foreach(arr, j, v)
    {
        if (order_line_parse(v, j, o, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* orders[@i], with field names as in the body ("orders[3].lines[0].sku"). */
static int order_parse(json_t *v, size_t i, struct order *o, struct proto_error *err)
{
    static const char *const allowed[] = {"id", "customer", "channel", "at", "lines", NULL};
    char prefix[32];

    snprintf(prefix, sizeof(prefix), "orders[%zu]", i);
    o->at_ms = -1;
    if (!json_is_object(v)) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, prefix,
                               "%s must be an object with id and lines", prefix);
    }
    if (proto_check_fields(v, allowed, err) < 0 || proto_get_id(v, "id", 1, o->id, err) < 0 ||
        proto_get_id(v, "customer", 0, o->customer, err) < 0 ||
        order_channel_parse(v, &o->channel, err) < 0 || order_at_parse(v, &o->at_ms, err) < 0 ||
        order_lines_parse(v, o, err) < 0) {
        proto_error_prefix(err, prefix);
        return -1;
    }
    return 0;
}

/* orders[@i].id must not repeat the id of an earlier order in the batch. */
static int order_id_unique(const struct order_batch *b, size_t i, struct proto_error *err)
{
    char field[32];

    for (size_t k = 0; k < i; k++) {
        if (strcmp(b->orders[k].id, b->orders[i].id) == 0) {
            snprintf(field, sizeof(field), "orders[%zu].id", i);
            return proto_error_set(err, PROBLEM_INVALID_FIELD, field,
                                   "%s repeats the id of orders[%zu]", field, k);
        }
    }
    return 0;
}

static int orders_parse(json_t *body, struct order_batch *out, struct proto_error *err)
{
    json_t *arr = json_object_get(body, "orders");
    json_t *v;
    size_t i;

    if (arr == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "orders", "orders is required");
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > ORDERS_MAX) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "orders",
                               "orders must be an array of 1 to %d orders", ORDERS_MAX);
    }
    out->orders = calloc(json_array_size(arr), sizeof(*out->orders));
    if (out->orders == NULL) {
        return proto_error_set(err, PROBLEM_INTERNAL, NULL, "out of memory");
    }
    out->n = json_array_size(arr); /* so that a release frees every order parsed so far */
    json_array_foreach(arr, i, v)
    {
        if (order_parse(v, i, &out->orders[i], err) < 0 || order_id_unique(out, i, err) < 0) {
            return -1;
        }
    }
    return 0;
}

int order_batch_parse(json_t *body, struct order_batch *out, struct proto_error *err)
{
    static const char *const allowed[] = {"orders", NULL};

    memset(out, 0, sizeof(*out));
    if (body_is_object(body, err) < 0 || proto_check_fields(body, allowed, err) < 0 ||
        orders_parse(body, out, err) < 0) {
        order_batch_release(out);
        return -1;
    }
    return 0;
}

void order_batch_release(struct order_batch *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        free(b->orders[i].skus);
    }
    free(b->orders);
    b->orders = NULL;
    b->n = 0;
}

/* ---- GET /v1/recommendations ---- */

enum query_param { Q_SKU, Q_CHANNEL, Q_LOCATION, Q_CUSTOMER, Q_RESERVATION, Q_SESSION, Q_BASKET };

static const char *const query_names[] = {
    [Q_SKU] = "sku",           [Q_CHANNEL] = "channel",         [Q_LOCATION] = "location",
    [Q_CUSTOMER] = "customer", [Q_RESERVATION] = "reservation", [Q_SESSION] = "session",
    [Q_BASKET] = "basket",
};
#define QUERY_COUNT (sizeof(query_names) / sizeof(query_names[0]))

/* Each known parameter's value (borrowed) into @vals, NULL when absent. */
static int query_collect(const struct evkeyvalq *query, const char *vals[QUERY_COUNT],
                         struct proto_error *err)
{
    const struct evkeyval *kv;

    if (query == NULL) {
        return 0;
    }
    TAILQ_FOREACH(kv, query, next)
    {
        size_t i = 0;

        while (i < QUERY_COUNT && strcmp(kv->key, query_names[i]) != 0) {
            i++;
        }
        if (i == QUERY_COUNT) {
            return proto_error_set(err, PROBLEM_INVALID_QUERY, kv->key,
                                   "%s is not a known parameter", kv->key);
        }
        if (vals[i] != NULL) {
            return proto_error_set(err, PROBLEM_INVALID_QUERY, kv->key,
                                   "%s must be given at most once", kv->key);
        }
        vals[i] = kv->value != NULL ? kv->value : "";
    }
    return 0;
}

static int query_id(const char *value, const char *name, char out[PROTO_ID_SIZE],
                    struct proto_error *err)
{
    if (!proto_id_valid(value)) {
        return proto_error_set(err, PROBLEM_INVALID_IDENTIFIER, name, "%s " ID_RULE, name,
                               PROTO_ID_MAX);
    }
    memcpy(out, value, strlen(value) + 1);
    return 0;
}

/* An optional identifier: left "" when absent. */
static int query_optional_id(const char *value, const char *name, char out[PROTO_ID_SIZE],
                             struct proto_error *err)
{
    if (value == NULL) {
        return 0;
    }
    return query_id(value, name, out, err);
}

static int query_sku(const char *value, struct rec_query *out, struct proto_error *err)
{
    if (value == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_QUERY, "sku", "sku is required");
    }
    return query_id(value, "sku", out->sku, err);
}

static int query_channel(const char *value, struct rec_query *out, struct proto_error *err)
{
    out->channel = value == NULL ? CHANNEL_WEB : proto_channel_parse(value);
    if (out->channel == 0) {
        return proto_error_set(err, PROBLEM_INVALID_QUERY, "channel",
                               "channel must be web, store or click_collect");
    }
    return 0;
}

/* The store for click_collect and store; never for web, which is served from anywhere. */
static int query_location(const char *value, struct rec_query *out, struct proto_error *err)
{
    if (out->channel == CHANNEL_WEB) {
        if (value != NULL) {
            return proto_error_set(err, PROBLEM_INVALID_QUERY, "location",
                                   "location is not allowed for web");
        }
        return 0;
    }
    if (value == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_QUERY, "location",
                               "location is required for %s", proto_channel_name(out->channel));
    }
    return query_id(value, "location", out->location, err);
}

/* The @len bytes at @p as an identifier in @sku. @return 0, or -1 if they are not one. */
static int basket_item(const char *p, size_t len, char sku[PROTO_ID_SIZE])
{
    if (len > PROTO_ID_MAX) {
        return -1;
    }
    memcpy(sku, p, len);
    sku[len] = '\0';
    return proto_id_valid(sku) ? 0 : -1;
}

/* basket: comma-separated identifiers, counted as written, then collapsed. */
static int query_basket(const char *value, struct rec_query *out, struct proto_error *err)
{
    size_t items = 1, item = 0;
    const char *p = value;

    if (value == NULL) {
        return 0;
    }
    for (const char *c = value; *c != '\0'; c++) {
        items += *c == ',';
    }
    if (items > REC_BASKET_MAX) {
        return proto_error_set(err, PROBLEM_INVALID_QUERY, "basket",
                               "basket must list at most %d SKUs", REC_BASKET_MAX);
    }
    out->basket = calloc(items, sizeof(*out->basket));
    if (out->basket == NULL) {
        return proto_error_set(err, PROBLEM_INTERNAL, NULL, "out of memory");
    }
    for (;; item++) {
        size_t len = strcspn(p, ",");
        char sku[PROTO_ID_SIZE];

        if (basket_item(p, len, sku) < 0) {
            return proto_error_set(err, PROBLEM_INVALID_IDENTIFIER, "basket",
                                   "basket must be SKUs separated by commas, each " ID_RULE
                                   "; item %zu is not",
                                   PROTO_ID_MAX, item + 1);
        }
        sku_add(out->basket, &out->nbasket, sku);
        if (p[len] == '\0') {
            return 0;
        }
        p += len + 1;
    }
}

int rec_query_parse(const struct evkeyvalq *query, struct rec_query *out, struct proto_error *err)
{
    const char *vals[QUERY_COUNT] = {0};

    memset(out, 0, sizeof(*out));
    if (query_collect(query, vals, err) < 0 || query_sku(vals[Q_SKU], out, err) < 0 ||
        query_channel(vals[Q_CHANNEL], out, err) < 0 ||
        query_location(vals[Q_LOCATION], out, err) < 0 ||
        query_optional_id(vals[Q_CUSTOMER], "customer", out->customer, err) < 0 ||
        query_optional_id(vals[Q_RESERVATION], "reservation", out->reservation, err) < 0 ||
        query_optional_id(vals[Q_SESSION], "session", out->session, err) < 0 ||
        query_basket(vals[Q_BASKET], out, err) < 0) {
        rec_query_release(out);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    return 0;
}

void rec_query_release(struct rec_query *q)
{
    if (q == NULL) {
        return;
    }
    free(q->basket);
    q->basket = NULL;
    q->nbasket = 0;
}

/* ---- POST /v1/recommendations/feedback ---- */

static const char *const feedback_names[] = {
    [FEEDBACK_SHOWN] = "shown",
    [FEEDBACK_ACCEPTED] = "accepted",
    [FEEDBACK_DISMISSED] = "dismissed",
};
#define FEEDBACK_COUNT (sizeof(feedback_names) / sizeof(feedback_names[0]))

const char *rec_feedback_name(enum rec_feedback_event e)
{
    if ((unsigned)e >= FEEDBACK_COUNT || feedback_names[e] == NULL) {
        return "";
    }
    return feedback_names[e];
}

static int feedback_event_parse(json_t *body, enum rec_feedback_event *out, struct proto_error *err)
{
    json_t *v = json_object_get(body, "event");
    const char *s = string_of(v);

    if (v == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "event", "event is required");
    }
    for (size_t i = 0; s != NULL && i < FEEDBACK_COUNT; i++) {
        if (feedback_names[i] != NULL && strcmp(s, feedback_names[i]) == 0) {
            *out = (enum rec_feedback_event)i;
            return 0;
        }
    }
    return proto_error_set(err, PROBLEM_INVALID_FIELD, "event",
                           "event must be \"shown\", \"accepted\" or \"dismissed\"");
}

int rec_feedback_parse(json_t *body, struct rec_feedback *out, struct proto_error *err)
{
    static const char *const allowed[] = {"event", "primary", "sku", "customer", "session", NULL};

    memset(out, 0, sizeof(*out));
    if (body_is_object(body, err) < 0 || proto_check_fields(body, allowed, err) < 0 ||
        feedback_event_parse(body, &out->event, err) < 0 ||
        proto_get_id(body, "primary", 1, out->primary, err) < 0 ||
        proto_get_id(body, "sku", 1, out->sku, err) < 0 ||
        proto_get_id(body, "customer", 0, out->customer, err) < 0 ||
        proto_get_id(body, "session", 0, out->session, err) < 0) {
        return -1;
    }
    return 0;
}

/* ---- PUT /v1/customers/{id}/preferences ---- */

static int pref_recommendations(json_t *body, struct preferences *out, struct proto_error *err)
{
    const char *s = string_of(json_object_get(body, "recommendations"));

    if (s != NULL && strcmp(s, "on") == 0) {
        out->recommendations_on = 1;
        return 0;
    }
    if (s != NULL && strcmp(s, "off") == 0) {
        out->recommendations_on = 0;
        return 0;
    }
    return proto_error_set(err, PROBLEM_INVALID_FIELD, "recommendations",
                           "recommendations must be \"on\", \"off\" or null");
}

static int pref_consent(json_t *body, struct preferences *out, struct proto_error *err)
{
    json_t *v = json_object_get(body, "personalisation_consent");

    if (!json_is_boolean(v)) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "personalisation_consent",
                               "personalisation_consent must be true, false or null");
    }
    out->consent = json_is_true(v);
    return 0;
}

static int pref_store(json_t *body, struct preferences *out, struct proto_error *err)
{
    return proto_get_id(body, "preferred_store", 1, out->preferred_store, err);
}

static int pref_channel(json_t *body, struct preferences *out, struct proto_error *err)
{
    out->preferred_channel =
        proto_channel_parse(string_of(json_object_get(body, "preferred_channel")));
    if (out->preferred_channel == 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "preferred_channel",
                               "preferred_channel must be \"web\", \"store\", \"click_collect\" "
                               "or null");
    }
    return 0;
}

static int pref_notes(json_t *body, struct preferences *out, struct proto_error *err)
{
    return proto_get_string(body, "notes", 1, PREF_NOTES_MAX, out->notes, sizeof(out->notes), err);
}

/* One field of the body: its name, its bit, and how to read a value that is not null. */
static const struct {
    const char *name;
    enum pref_field bit;
    int (*read)(json_t *body, struct preferences *out, struct proto_error *err);
} pref_fields[] = {
    {"recommendations", PREF_RECOMMENDATIONS, pref_recommendations},
    {"personalisation_consent", PREF_CONSENT, pref_consent},
    {"preferred_store", PREF_STORE, pref_store},
    {"preferred_channel", PREF_CHANNEL, pref_channel},
    {"notes", PREF_NOTES, pref_notes},
};

int preferences_parse(json_t *body, struct preferences *out, struct proto_error *err)
{
    static const char *const allowed[] = {"recommendations", "personalisation_consent",
                                          "preferred_store", "preferred_channel",
                                          "notes",           NULL};

    memset(out, 0, sizeof(*out));
    if (body_is_object(body, err) < 0 || proto_check_fields(body, allowed, err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(pref_fields) / sizeof(pref_fields[0]); i++) {
        json_t *v = json_object_get(body, pref_fields[i].name);

        if (v == NULL) {
            continue;
        }
        if (json_is_null(v)) {
            out->clear |= pref_fields[i].bit;
            continue;
        }
        if (pref_fields[i].read(body, out, err) < 0) {
            return -1;
        }
        out->set |= pref_fields[i].bit;
    }
    if (out->set == 0 && out->clear == 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, NULL,
                               "the body must carry at least one of recommendations, "
                               "personalisation_consent, preferred_store, preferred_channel or "
                               "notes");
    }
    return 0;
}
