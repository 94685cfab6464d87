/*
 * catalog.c - the codecs for the two kinds of reference data an admin writes:
 * locations (where stock lives and which channels it serves) and products.
 */
#include <stdio.h>
#include <string.h>

#include "proto/catalog.h"

#define PRICE_AMOUNT_MAX 100000000000LL

/* The channels in the order the API lists them. */
static const enum channel channel_order[] = {CHANNEL_WEB, CHANNEL_STORE, CHANNEL_CLICK_COLLECT};

static int body_is_object(json_t *body, struct proto_error *err)
{
    if (!json_is_object(body)) {
        return proto_error_set(err, PROBLEM_INVALID_JSON, NULL,
                               "the request body must be a JSON object");
    }
    return 0;
}

static int path_id(const char *id, const char *field, char out[PROTO_ID_SIZE],
                   struct proto_error *err)
{
    if (!proto_id_valid(id)) {
        return proto_error_set(err, PROBLEM_INVALID_IDENTIFIER, field,
                               "%s must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_' or '-'",
                               field, PROTO_ID_MAX);
    }
    memcpy(out, id, strlen(id) + 1);
    return 0;
}

static int get_name(json_t *body, char out[PROTO_NAME_SIZE], struct proto_error *err)
{
    if (proto_get_string(body, "name", 1, PROTO_NAME_MAX, out, PROTO_NAME_SIZE, err) < 0) {
        return -1;
    }
    if (out[0] == '\0') {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "name", "name must not be empty");
    }
    return 0;
}

static int location_type_parse(json_t *body, enum location_type *out, struct proto_error *err)
{
    const char *s = json_string_value(json_object_get(body, "type"));

    if (json_object_get(body, "type") == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "type", "type is required");
    }
    if (s != NULL && strcmp(s, "warehouse") == 0) {
        *out = LOCATION_WAREHOUSE;
        return 0;
    }
    if (s != NULL && strcmp(s, "store") == 0) {
        *out = LOCATION_STORE;
        return 0;
    }
    return proto_error_set(err, PROBLEM_INVALID_FIELD, "type",
                           "type must be \"warehouse\" or \"store\"");
}

static int fulfils_parse(json_t *body, enum location_type type, unsigned *out,
                         struct proto_error *err)
{
    json_t *arr = json_object_get(body, "fulfils");
    json_t *v;
    size_t i;
    char field[32];

    if (arr == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "fulfils", "fulfils is required");
    }
    if (!json_is_array(arr)) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "fulfils",
                               "fulfils must be an array of channel names");
    }
    *out = 0;
    json_array_foreach(arr, i, v)
    {
        enum channel c = proto_channel_parse(json_string_value(v));

        snprintf(field, sizeof(field), "fulfils[%zu]", i);
        if (c == 0) {
            return proto_error_set(err, PROBLEM_INVALID_FIELD, field,
                                   "%s must be \"web\", \"store\" or \"click_collect\"", field);
        }
        if (*out & c) {
            return proto_error_set(err, PROBLEM_INVALID_FIELD, field, "%s repeats \"%s\"", field,
                                   proto_channel_name(c));
        }
        if (type == LOCATION_WAREHOUSE && c != CHANNEL_WEB) {
            return proto_error_set(err, PROBLEM_INVALID_FIELD, field,
                                   "%s: a warehouse may fulfil only \"web\"", field);
        }
        *out |= c;
    }
    return 0;
}

int location_parse(json_t *body, const char *id, struct location *out, struct proto_error *err)
{
    static const char *const allowed[] = {"name", "type", "fulfils", "store_buffer", NULL};

    memset(out, 0, sizeof(*out));
    if (path_id(id, "id", out->id, err) < 0 || body_is_object(body, err) < 0 ||
        proto_check_fields(body, allowed, err) < 0 || get_name(body, out->name, err) < 0 ||
        location_type_parse(body, &out->type, err) < 0 ||
        fulfils_parse(body, out->type, &out->fulfils, err) < 0 ||
        proto_get_int(body, "store_buffer", 0, 0, PROTO_QUANTITY_MAX, &out->store_buffer, err) <
            0) {
        return -1;
    }
    if (out->type == LOCATION_WAREHOUSE && out->store_buffer != 0) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "store_buffer",
                               "store_buffer must be 0 for a warehouse");
    }
    return 0;
}

json_t *location_to_json(const struct location *loc)
{
    json_t *fulfils = json_array();

    if (fulfils == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(channel_order) / sizeof(channel_order[0]); i++) {
        if (loc->fulfils & channel_order[i]) {
            json_array_append_new(fulfils, json_string(proto_channel_name(channel_order[i])));
        }
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:I}", "id", loc->id, "name", loc->name, "type",
                     loc->type == LOCATION_STORE ? "store" : "warehouse", "fulfils", fulfils,
                     "store_buffer", (json_int_t)loc->store_buffer);
}

static int currency_valid(const char *s)
{
    if (s == NULL) {
        return 0;
    }
    for (int i = 0; i < 3; i++) {
        if (s[i] < 'A' || s[i] > 'Z') {
            return 0;
        }
    }
    return s[3] == '\0';
}

static int price_parse(json_t *body, struct product *out, struct proto_error *err)
{
    static const char *const allowed[] = {"amount", "currency", NULL};
    json_t *price = json_object_get(body, "price");
    json_t *currency;

    if (price == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "price", "price is required");
    }
    if (!json_is_object(price)) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "price",
                               "price must be an object with amount and currency");
    }
    if (proto_check_fields(price, allowed, err) < 0 ||
        proto_get_int(price, "amount", 1, 0, PRICE_AMOUNT_MAX, &out->price_amount, err) < 0) {
        proto_error_prefix(err, "price");
        return -1;
    }
    currency = json_object_get(price, "currency");
    if (currency == NULL) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "price.currency",
                               "price.currency is required");
    }
    if (!currency_valid(json_string_value(currency)) || json_string_length(currency) != 3) {
        return proto_error_set(err, PROBLEM_INVALID_FIELD, "price.currency",
                               "price.currency must be three upper-case letters, e.g. \"GBP\"");
    }
    memcpy(out->currency, json_string_value(currency), sizeof(out->currency));
    return 0;
}

int product_parse(json_t *body, const char *sku, struct product *out, struct proto_error *err)
{
    static const char *const allowed[] = {"name", "category", "price", "safety_stock", NULL};

    memset(out, 0, sizeof(*out));
    if (path_id(sku, "sku", out->sku, err) < 0 || body_is_object(body, err) < 0 ||
        proto_check_fields(body, allowed, err) < 0 || get_name(body, out->name, err) < 0 ||
        proto_get_id(body, "category", 1, out->category, err) < 0 ||
        price_parse(body, out, err) < 0 ||
        proto_get_int(body, "safety_stock", 0, 0, PROTO_QUANTITY_MAX, &out->safety_stock, err) <
            0) {
        return -1;
    }
    return 0;
}

json_t *product_to_json(const struct product *p)
{
    return json_pack("{s:s, s:s, s:s, s:{s:I, s:s}, s:I}", "sku", p->sku, "name", p->name,
                     "category", p->category, "price", "amount", (json_int_t)p->price_amount,
                     "currency", p->currency, "safety_stock", (json_int_t)p->safety_stock);
}
