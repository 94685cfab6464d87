/*
 * fuzz_product.c - PUT /v1/products/{sku}: proto_json_load then
 * product_parse, with line 1 of the input as the path SKU (and "MUG-01" too),
 * then product_to_json.
 */
#include "proto/catalog.h"
#include "tests/fuzz/fuzz.h"

static void parse_one(json_t *body, const char *sku)
{
    struct product p;
    struct proto_error err;

    if (product_parse(body, sku, &p, &err) < 0) {
        fuzz_check_error(&err);
        return;
    }
    fuzz_check_id(p.sku);
    fuzz_check_id(p.category);
    FUZZ_CHECK(p.name[0] != '\0' && strlen(p.name) <= PROTO_NAME_MAX);
    FUZZ_CHECK(strlen(p.currency) == 3);
    FUZZ_CHECK(p.price_amount >= 0);
    FUZZ_CHECK(p.safety_stock >= 0 && p.safety_stock <= PROTO_QUANTITY_MAX);
    fuzz_dump(product_to_json(&p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_body_each_id(data, size, "MUG-01", parse_one);
    return 0;
}
