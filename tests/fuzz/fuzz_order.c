/*
 * fuzz_order.c - POST /v1/orders: proto_json_load then order_batch_parse.
 */
#include "proto/recommend.h"
#include "tests/fuzz/fuzz.h"

static void check_order(const struct order *o)
{
    fuzz_check_id(o->id);
    fuzz_check_optional_id(o->customer);
    FUZZ_CHECK(o->channel == 0 || proto_channel_name(o->channel)[0] != '\0');
    FUZZ_CHECK(o->at_ms >= -1);
    FUZZ_CHECK(o->nskus >= 1 && o->nskus <= ORDER_LINES_MAX);
    for (size_t i = 0; i < o->nskus; i++) {
        fuzz_check_id(o->skus[i]);
        for (size_t k = 0; k < i; k++) {
            FUZZ_CHECK(strcmp(o->skus[k], o->skus[i]) != 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct order_batch b;
    struct proto_error err;
    json_t *body;

    body = fuzz_body(data, size);
    if (body == NULL) {
        return 0;
    }
    if (order_batch_parse(body, &b, &err) < 0) {
        fuzz_check_error(&err);
        FUZZ_CHECK(b.orders == NULL && b.n == 0);
    } else {
        FUZZ_CHECK(b.n >= 1 && b.n <= ORDERS_MAX);
        for (size_t i = 0; i < b.n; i++) {
            check_order(&b.orders[i]);
            for (size_t k = 0; k < i; k++) {
                FUZZ_CHECK(strcmp(b.orders[k].id, b.orders[i].id) != 0);
            }
        }
    }
    order_batch_release(&b);
    order_batch_release(&b); /* released twice: a no-op */
    json_decref(body);
    return 0;
}
