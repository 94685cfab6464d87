/*
 * reservation.c - the codecs for POST /v1/reservations and
 * POST /v1/reservations/{id}/extend. Validation only: whether the SKUs and the
 * location exist, and whether there is stock to hold, is for the store to
 * decide. Lines of one SKU are summed here, so that the store sees one line
 * per SKU and can hold a basket in a single pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/reservation.h"

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

/* The store for click_collect and store; never for web, where the service allocates. */
static int location_parse(json_t *body, struct resv_request *out, struct proto_error *err)
{
    json_t *v = json_object_get(body, "location");

    if (out->channel == CHANNEL_WEB) {
        if (v != NULL) {
            return proto_error_set(err, PROBLEM_INVALID_FIELD, "location",
                                   "location is not allowed for web: the service allocates web "
                                   "reservations");
        }
        return 0;
    }
    if (v == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "location",
                               "location is required for %s", proto_channel_name(out->channel));
    }
    return proto_get_id(body, "location", 1, out->location, err);
}

/* One element of lines, with field names as in the body ("lines[2].quantity"). */
static int line_parse(json_t *v, size_t i, struct resv_line *line, struct proto_error *err)
{
    static const char *const allowed[] = {"sku", "quantity", NULL};
    char prefix[32];

    snprintf(prefix, sizeof(prefix), "lines[%zu]", i);
    if (!json_is_object(v)) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, prefix,
                               "%s must be an object with sku and quantity", prefix);
    }
    if (proto_check_fields(v, allowed, err) < 0 || proto_get_id(v, "sku", 1, line->sku, err) < 0 ||
        proto_get_int(v, "quantity", 1, 1, PROTO_QUANTITY_MAX, &line->quantity, err) < 0) {
        proto_error_prefix(err, prefix);
        return -1;
    }
    return 0;
}

/*
 * Add @line (lines[@i] in the body) to @out: into the first line of the same
 * SKU if there is one, else as a new line at the end.
 */
static int line_merge(struct resv_request *out, const struct resv_line *line, size_t i,
                      struct proto_error *err)
{
    char field[48];

    for (size_t k = 0; k < out->nlines; k++) {
        struct resv_line *l = &out->lines[k];

        if (strcmp(l->sku, line->sku) != 0) {
            continue;
        }
        if (l->quantity > PROTO_QUANTITY_MAX - line->quantity) {
            snprintf(field, sizeof(field), "lines[%zu].quantity", i);
            return proto_error_set(err, PROBLEM_INVALID_FIELD, field,
                                   "%s takes the total for %s over %lld", field, line->sku,
                                   PROTO_QUANTITY_MAX);
        }
        l->quantity += line->quantity;
        return 0;
    }
    out->lines[out->nlines++] = *line;
    return 0;
}

static int lines_parse(json_t *body, struct resv_request *out, struct proto_error *err)
{
    json_t *arr = json_object_get(body, "lines");
    struct resv_line line;
    json_t *v;
    size_t i;

    if (arr == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "lines", "lines is required");
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > RESV_LINES_MAX) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "lines",
                               "lines must be an array of 1 to %d lines", RESV_LINES_MAX);
    }
    out->lines = calloc(json_array_size(arr), sizeof(*out->lines));
    if (out->lines == NULL) {
        return proto_error_set(err, PROBLEM_INTERNAL, NULL, "out of memory");
    }
    json_array_foreach(arr, i, v)
    {
        if (line_parse(v, i, &line, err) < 0 || line_merge(out, &line, i, err) < 0) {
            return -1;
        }
    }
    return 0;
}

int resv_request_parse(json_t *body, long long max_ttl, struct resv_request *out,
                       struct proto_error *err)
{
    static const char *const allowed[] = {"channel",     "location", "customer", "reference",
                                          "ttl_seconds", "lines",    NULL};

    memset(out, 0, sizeof(*out));
    if (!json_is_object(body)) {
        return proto_error_set(err, PROBLEM_INVALID_JSON, NULL,
                               "the request body must be a JSON object");
    }
    if (proto_check_fields(body, allowed, err) < 0 || channel_parse(body, &out->channel, err) < 0 ||
        location_parse(body, out, err) < 0 ||
        proto_get_id(body, "customer", 0, out->customer, err) < 0 ||
        proto_get_string(body, "reference", 0, PROTO_TEXT_MAX, out->reference,
                         sizeof(out->reference), err) < 0 ||
        proto_get_int(body, "ttl_seconds", 0, 1, max_ttl, &out->ttl_seconds, err) < 0 ||
        lines_parse(body, out, err) < 0) {
        resv_request_release(out);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    return 0;
}

void resv_request_release(struct resv_request *r)
{
    if (r == NULL) {
        return;
    }
    free(r->lines);
    r->lines = NULL;
    r->nlines = 0;
}

int resv_extend_parse(json_t *body, long long max_ttl, long long *ttl_seconds,
                      struct proto_error *err)
{
    static const char *const allowed[] = {"ttl_seconds", NULL};

    if (!json_is_object(body)) {
        return proto_error_set(err, PROBLEM_INVALID_JSON, NULL,
                               "the request body must be a JSON object");
    }
    if (proto_check_fields(body, allowed, err) < 0 ||
        proto_get_int(body, "ttl_seconds", 1, 1, max_ttl, ttl_seconds, err) < 0) {
        return -1;
    }
    return 0;
}
