/*
 * reservation.h - codecs for reservation requests.
 */
#ifndef PROTO_RESERVATION_H
#define PROTO_RESERVATION_H

#include "proto/proto.h"

#define RESV_LINES_MAX 100 /* distinct SKUs in one basket */

struct resv_line {
    char sku[PROTO_ID_SIZE];
    long long quantity; /* 1..1e9, after summing lines of the same SKU */
};

struct resv_request {
    enum channel channel;
    char location[PROTO_ID_SIZE];    /* click_collect and store: the store; "" for web */
    char customer[PROTO_ID_SIZE];    /* optional, "" when absent */
    char reference[PROTO_TEXT_SIZE]; /* optional, "" when absent */
    long long ttl_seconds;           /* 0 when absent: the configured default applies */
    size_t nlines;
    struct resv_line *lines; /* owned; one per SKU, in order of first appearance */
};

/*
 * resv_request_parse - a POST /v1/reservations body.
 * channel: required, "web", "click_collect" or "store".
 * location: required identifier for click_collect and store; not allowed for
 *   web (invalid-field "location": the service allocates web orders).
 * customer: optional identifier. reference: optional string up to 256 bytes.
 * ttl_seconds: optional integer 1..@max_ttl.
 * lines: required array of 1..RESV_LINES_MAX objects {sku, quantity}; lines
 *   of the same SKU are summed (a sum over 1e9 is invalid-field
 *   "lines[i].quantity" at the line that crossed it); more than
 *   RESV_LINES_MAX distinct SKUs or array elements is invalid-field "lines".
 * Unknown keys anywhere are invalid-field. Field names are as in the body:
 * "lines[2].sku".
 * @return 0 with @out filled (release it), or -1 with @err filled.
 */
int resv_request_parse(json_t *body, long long max_ttl, struct resv_request *out,
                       struct proto_error *err);
void resv_request_release(struct resv_request *r);

/*
 * resv_extend_parse - a POST /v1/reservations/{id}/extend body:
 * {"ttl_seconds": 1..@max_ttl} (required). @return 0 or -1 with @err.
 */
int resv_extend_parse(json_t *body, long long max_ttl, long long *ttl_seconds,
                      struct proto_error *err);

#endif
