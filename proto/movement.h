/*
 * movement.h - codecs for stock movements and stock queries.
 */
#ifndef PROTO_MOVEMENT_H
#define PROTO_MOVEMENT_H

#include "proto/proto.h"

#define MOVEMENT_BATCH_MAX 1000
#define STOCK_QUERY_MAX    500

enum movement_type {
    MOVE_RECEIPT = 0,
    MOVE_SALE,
    MOVE_RETURN,
    MOVE_ADJUSTMENT,
    MOVE_COUNT,
    MOVE_TRANSFER,
};

/* movement_type_name - the wire name, e.g. "receipt". */
const char *movement_type_name(enum movement_type t);

struct movement {
    char sku[PROTO_ID_SIZE];
    char location[PROTO_ID_SIZE];
    enum movement_type type;
    long long quantity;              /* see movement_parse for the range per type */
    char to_location[PROTO_ID_SIZE]; /* transfer only; "" otherwise */
    long long as_of_ms;              /* count only; valid when has_as_of */
    int has_as_of;
    char reason[PROTO_TEXT_SIZE];    /* optional, "" when absent */
    char reference[PROTO_TEXT_SIZE]; /* optional, "" when absent */
};

/*
 * movement_parse - validate one movement object.
 * quantity: receipt, sale, return, transfer 1..1e9; adjustment -1e9..1e9 and
 * not 0; count 0..1e9. to_location: required for transfer (an identifier
 * different from location), not allowed otherwise. as_of: RFC 3339, count
 * only, optional. reason, reference: optional strings up to 256 bytes.
 * @return 0, or -1 with @err filled (field names are as in the body).
 */
int movement_parse(json_t *obj, struct movement *out, struct proto_error *err);

struct movement_item {
    struct movement m;
    int ok;                 /* 1 if m is valid, else err says why */
    struct proto_error err; /* field names prefixed "movements[i]." in batch form */
};

struct movement_batch {
    int is_batch; /* 1 for {"movements": [...]}, 0 for a single movement */
    size_t n;
    struct movement_item *items; /* owned; movement_batch_release frees */
};

/*
 * movement_batch_parse - a POST /v1/movements body: one movement, or
 * {"movements": [1..1000 objects]}. Items are validated each on its own: a bad
 * item does not fail the batch. A body whose shape is wrong (movements not an
 * array, empty or too long, extra top-level keys) fails as a whole.
 * @return 0 with @out filled (release it), or -1 with @err filled.
 */
int movement_batch_parse(json_t *body, struct movement_batch *out, struct proto_error *err);
void movement_batch_release(struct movement_batch *b);

struct stock_query {
    enum channel channel;
    char location[PROTO_ID_SIZE]; /* "" when absent */
    size_t n;
    char (*skus)[PROTO_ID_SIZE]; /* owned; stock_query_release frees */
};

/*
 * stock_query_parse - a POST /v1/stock/query body: skus (required array of
 * 1..500 identifiers; a bad one is invalid-identifier naming "skus[i]"),
 * channel (required), location (optional identifier).
 * @return 0 with @out filled (release it), or -1 with @err filled.
 */
int stock_query_parse(json_t *body, struct stock_query *out, struct proto_error *err);
void stock_query_release(struct stock_query *q);

#endif
