/*
 * movement.c - the codecs for POST /v1/movements (one movement or a batch)
 * and POST /v1/stock/query. Validation only: whether the SKU and locations
 * exist, and whether there is stock to move, is for the store to decide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/movement.h"

static const char *const type_names[] = {
    [MOVE_RECEIPT] = "receipt",       [MOVE_SALE] = "sale",   [MOVE_RETURN] = "return",
    [MOVE_ADJUSTMENT] = "adjustment", [MOVE_COUNT] = "count", [MOVE_TRANSFER] = "transfer",
};
#define TYPE_COUNT (sizeof(type_names) / sizeof(type_names[0]))

const char *movement_type_name(enum movement_type t)
{
    if ((unsigned)t >= TYPE_COUNT) {
        return "";
    }
    return type_names[t];
}

static int type_parse(json_t *obj, enum movement_type *out, struct proto_error *err)
{
    json_t *v = json_object_get(obj, "type");
    const char *s = json_string_value(v);

    if (v == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "type", "type is required");
    }
    for (size_t i = 0; s != NULL && i < TYPE_COUNT; i++) {
        if (strcmp(s, type_names[i]) == 0) {
            *out = (enum movement_type)i;
            return 0;
        }
    }
    return proto_error_set(err, PROBLEM_INVALID_FIELD, "type",
                           "type must be one of receipt, sale, return, adjustment, count or "
                           "transfer");
}

static int quantity_parse(json_t *obj, struct movement *m, struct proto_error *err)
{
    long long min = m->type == MOVE_ADJUSTMENT ? -PROTO_QUANTITY_MAX
                    : m->type == MOVE_COUNT    ? 0
                                               : 1;

    if (proto_get_int(obj, "quantity", 1, min, PROTO_QUANTITY_MAX, &m->quantity, err) < 0) {
        return -1;
    }
    if (m->type == MOVE_ADJUSTMENT && m->quantity == 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "quantity",
                               "quantity must not be 0 for an adjustment");
    }
    return 0;
}

static int to_location_parse(json_t *obj, struct movement *m, struct proto_error *err)
{
    if (m->type != MOVE_TRANSFER) {
        if (json_object_get(obj, "to_location") != NULL) {
            return proto_error_set(err, PROBLEM_INVALID_FIELD, "to_location",
                                   "to_location is allowed only for a transfer");
        }
        return 0;
    }
    if (proto_get_id(obj, "to_location", 1, m->to_location, err) < 0) {
        return -1;
    }
    if (strcmp(m->to_location, m->location) == 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "to_location",
                               "to_location must differ from location");
    }
    return 0;
}

static int as_of_parse(json_t *obj, struct movement *m, struct proto_error *err)
{
    json_t *v = json_object_get(obj, "as_of");

    if (v == NULL) {
        return 0;
    }
    if (m->type != MOVE_COUNT) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "as_of",
                               "as_of is allowed only for a count");
    }
    if (proto_time_parse(json_string_value(v), &m->as_of_ms) < 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "as_of",
                               "as_of must be an RFC 3339 date-time, e.g. "
                               "\"2026-11-22T10:00:00Z\"");
    }
    m->has_as_of = 1;
    return 0;
}

int movement_parse(json_t *obj, struct movement *out, struct proto_error *err)
{
    static const char *const allowed[] = {
        "sku", "location", "type", "quantity", "to_location", "as_of", "reason", "reference", NULL};

    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, NULL, "a movement must be an object");
    }
    if (proto_check_fields(obj, allowed, err) < 0 ||
        proto_get_id(obj, "sku", 1, out->sku, err) < 0 ||
        proto_get_id(obj, "location", 1, out->location, err) < 0 ||
        type_parse(obj, &out->type, err) < 0 || quantity_parse(obj, out, err) < 0 ||
        to_location_parse(obj, out, err) < 0 || as_of_parse(obj, out, err) < 0 ||
        proto_get_string(obj, "reason", 0, PROTO_TEXT_MAX, out->reason, sizeof(out->reason), err) <
            0 ||
        proto_get_string(obj, "reference", 0, PROTO_TEXT_MAX, out->reference,
                         sizeof(out->reference), err) < 0) {
        return -1;
    }
    return 0;
}

static void batch_parse_items(json_t *arr, struct movement_batch *out)
{
    json_t *v;
    size_t i;
    char prefix[32];

    json_array_foreach(arr, i, v)
    {
        struct movement_item *item = &out->items[i];

        snprintf(prefix, sizeof(prefix), "movements[%zu]", i);
        if (!json_is_object(v)) {
            proto_error_set(&item->err, PROBLEM_INVALID_FIELD, prefix, "%s must be an object",
                            prefix);
            continue;
        }
        if (movement_parse(v, &item->m, &item->err) < 0) {
            proto_error_prefix(&item->err, prefix);
            continue;
        }
        item->ok = 1;
    }
}

static int batch_alloc(struct movement_batch *out, size_t n, struct proto_error *err)
{
    out->items = calloc(n, sizeof(*out->items));
    if (out->items == NULL) {
        return proto_error_set(err, PROBLEM_INTERNAL, NULL, "out of memory");
    }
    out->n = n;
    return 0;
}

int movement_batch_parse(json_t *body, struct movement_batch *out, struct proto_error *err)
{
    static const char *const allowed[] = {"movements", NULL};
    json_t *arr;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(body)) {
        return proto_error_set(err, PROBLEM_INVALID_JSON, NULL,
                               "the request body must be a JSON object");
    }
    arr = json_object_get(body, "movements");
    if (arr == NULL) {
        if (batch_alloc(out, 1, err) < 0) {
            return -1;
        }
        if (movement_parse(body, &out->items[0].m, err) < 0) {
            movement_batch_release(out);
            return -1;
        }
        out->items[0].ok = 1;
        return 0;
    }
    if (proto_check_fields(body, allowed, err) < 0) {
        return -1;
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > MOVEMENT_BATCH_MAX) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "movements",
                               "movements must be an array of 1 to %d movements",
                               MOVEMENT_BATCH_MAX);
    }
    if (batch_alloc(out, json_array_size(arr), err) < 0) {
        return -1;
    }
    out->is_batch = 1;
    batch_parse_items(arr, out);
    return 0;
}

void movement_batch_release(struct movement_batch *b)
{
    if (b == NULL) {
        return;
    }
    free(b->items);
    b->items = NULL;
    b->n = 0;
}

static int skus_parse(json_t *body, struct stock_query *out, struct proto_error *err)
{
    json_t *arr = json_object_get(body, "skus");
    json_t *v;
    size_t i;
    char field[32];

    if (arr == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "skus", "skus is required");
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > STOCK_QUERY_MAX) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "skus",
                               "skus must be an array of 1 to %d SKUs", STOCK_QUERY_MAX);
    }
    out->skus = calloc(json_array_size(arr), sizeof(*out->skus));
    if (out->skus == NULL) {
        return proto_error_set(err, PROBLEM_INTERNAL, NULL, "out of memory");
    }
    out->n = json_array_size(arr);
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(v);

        if (s == NULL || strlen(s) != json_string_length(v) || !proto_id_valid(s)) {
            snprintf(field, sizeof(field), "skus[%zu]", i);
            return proto_error_set(err, PROBLEM_INVALID_IDENTIFIER, field,
                                   "%s must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' or "
                                   "'-'",
                                   field, PROTO_ID_MAX);
        }
        memcpy(out->skus[i], s, strlen(s) + 1);
    }
    return 0;
}

static int channel_parse(json_t *body, enum channel *out, struct proto_error *err)
{
    json_t *v = json_object_get(body, "channel");

    if (v == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "channel", "channel is required");
    }
    *out = proto_channel_parse(json_string_value(v));
    if (*out == 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "channel",
                               "channel must be \"web\", \"store\" or \"click_collect\"");
    }
    return 0;
}

int stock_query_parse(json_t *body, struct stock_query *out, struct proto_error *err)
{
    static const char *const allowed[] = {"skus", "channel", "location", NULL};

    memset(out, 0, sizeof(*out));
    if (!json_is_object(body)) {
        return proto_error_set(err, PROBLEM_INVALID_JSON, NULL,
                               "the request body must be a JSON object");
    }
    if (proto_check_fields(body, allowed, err) < 0 || skus_parse(body, out, err) < 0 ||
        channel_parse(body, &out->channel, err) < 0 ||
        proto_get_id(body, "location", 0, out->location, err) < 0) {
        stock_query_release(out);
        return -1;
    }
    return 0;
}

void stock_query_release(struct stock_query *q)
{
    if (q == NULL) {
        return;
    }
    free(q->skus);
    q->skus = NULL;
    q->n = 0;
}
