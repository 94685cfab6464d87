/*
 * fuzz_reservation.c - POST /v1/reservations (resv_request_parse) and
 * POST /v1/reservations/{id}/extend (resv_extend_parse), both on every body,
 * with the default max_ttl of 14400.
 */
#include "proto/reservation.h"
#include "tests/fuzz/fuzz.h"

#define MAX_TTL 14400

static void check_request(const struct resv_request *r)
{
    FUZZ_CHECK(proto_channel_name(r->channel)[0] != '\0');
    if (r->channel == CHANNEL_WEB) {
        FUZZ_CHECK(r->location[0] == '\0');
    } else {
        fuzz_check_id(r->location);
    }
    fuzz_check_optional_id(r->customer);
    FUZZ_CHECK(strlen(r->reference) <= PROTO_TEXT_MAX);
    FUZZ_CHECK(r->ttl_seconds >= 0 && r->ttl_seconds <= MAX_TTL);
    FUZZ_CHECK(r->nlines >= 1 && r->nlines <= RESV_LINES_MAX);
    for (size_t i = 0; i < r->nlines; i++) {
        fuzz_check_id(r->lines[i].sku);
        FUZZ_CHECK(r->lines[i].quantity >= 1 && r->lines[i].quantity <= PROTO_QUANTITY_MAX);
        for (size_t k = 0; k < i; k++) {
            FUZZ_CHECK(strcmp(r->lines[k].sku, r->lines[i].sku) != 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resv_request r;
    struct proto_error err;
    long long ttl = -1;
    json_t *body;

    body = fuzz_body(data, size);
    if (body == NULL) {
        return 0;
    }
    if (resv_request_parse(body, MAX_TTL, &r, &err) < 0) {
        fuzz_check_error(&err);
        FUZZ_CHECK(r.lines == NULL && r.nlines == 0);
    } else {
        check_request(&r);
        resv_request_release(&r);
    }
    if (resv_extend_parse(body, MAX_TTL, &ttl, &err) < 0) {
        fuzz_check_error(&err);
    } else {
        FUZZ_CHECK(ttl >= 1 && ttl <= MAX_TTL);
    }
    json_decref(body);
    return 0;
}
