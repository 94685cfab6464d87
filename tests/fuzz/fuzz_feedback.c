/*
 * fuzz_feedback.c - POST /v1/recommendations/feedback: proto_json_load then
 * rec_feedback_parse.
 */
#include "proto/recommend.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rec_feedback f;
    struct proto_error err;
    json_t *body;

    body = fuzz_body(data, size);
    if (body == NULL) {
        return 0;
    }
    if (rec_feedback_parse(body, &f, &err) < 0) {
        fuzz_check_error(&err);
    } else {
        FUZZ_CHECK(rec_feedback_name(f.event)[0] != '\0');
        fuzz_check_id(f.primary);
        fuzz_check_id(f.sku);
        fuzz_check_optional_id(f.customer);
        fuzz_check_optional_id(f.session);
    }
    json_decref(body);
    return 0;
}
