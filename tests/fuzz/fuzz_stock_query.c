/*
 * fuzz_stock_query.c - POST /v1/stock/query: proto_json_load then
 * stock_query_parse.
 */
#include "proto/movement.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stock_query q;
    struct proto_error err;
    json_t *body;

    body = fuzz_body(data, size);
    if (body == NULL) {
        return 0;
    }
    if (stock_query_parse(body, &q, &err) < 0) {
        fuzz_check_error(&err);
        FUZZ_CHECK(q.skus == NULL && q.n == 0);
    } else {
        FUZZ_CHECK(q.n >= 1 && q.n <= STOCK_QUERY_MAX);
        FUZZ_CHECK(proto_channel_name(q.channel)[0] != '\0');
        fuzz_check_optional_id(q.location);
        for (size_t i = 0; i < q.n; i++) {
            fuzz_check_id(q.skus[i]);
        }
        stock_query_release(&q);
    }
    json_decref(body);
    return 0;
}
