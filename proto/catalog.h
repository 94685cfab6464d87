/*
 * catalog.h - codecs for locations and products.
 */
#ifndef PROTO_CATALOG_H
#define PROTO_CATALOG_H

#include "proto/proto.h"

enum location_type {
    LOCATION_WAREHOUSE = 0,
    LOCATION_STORE = 1,
};

struct location {
    char id[PROTO_ID_SIZE];
    char name[PROTO_NAME_SIZE];
    enum location_type type;
    unsigned fulfils;       /* CHANNEL_* bits; 0 = fulfils nothing */
    long long store_buffer; /* 0 for warehouses */
};

/*
 * location_parse - validate a PUT /v1/locations/{id} body.
 * @id: the identifier from the path (validated here too: invalid-identifier).
 * Body fields: name (required, 1..200 bytes), type (required, "warehouse" or
 * "store"), fulfils (required array of distinct channel names; a warehouse may
 * fulfil only "web"), store_buffer (optional integer 0..1e9, default 0, must be
 * 0 for a warehouse). Unknown fields are invalid-field.
 * @return 0, or -1 with @err filled.
 */
int location_parse(json_t *body, const char *id, struct location *out, struct proto_error *err);

/* location_to_json - the location as the API shows it. @return a new reference. */
json_t *location_to_json(const struct location *loc);

struct product {
    char sku[PROTO_ID_SIZE];
    char name[PROTO_NAME_SIZE];
    char category[PROTO_ID_SIZE]; /* an identifier, e.g. "kitchen" */
    long long price_amount;       /* minor units, 0..100,000,000,000 */
    char currency[4];             /* ISO 4217: three upper-case letters */
    long long safety_stock;       /* 0..1e9, default 0 */
};

/*
 * product_parse - validate a PUT /v1/products/{sku} body: name (required),
 * category (required identifier), price {amount (required integer), currency
 * (required, three upper-case letters)}, safety_stock (optional).
 * @return 0, or -1 with @err filled.
 */
int product_parse(json_t *body, const char *sku, struct product *out, struct proto_error *err);

/* product_to_json - the product as the API shows it. @return a new reference. */
json_t *product_to_json(const struct product *p);

#endif
