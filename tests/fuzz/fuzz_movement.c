/*
 * fuzz_movement.c - POST /v1/movements: proto_json_load then
 * movement_batch_parse (one movement or {"movements": [...]}), and
 * movement_parse on the same body, checking every item against the rules of
 * movement.h.
 */
#include "proto/movement.h"
#include "tests/fuzz/fuzz.h"

static void check_movement(const struct movement *m)
{
    long long min = m->type == MOVE_ADJUSTMENT ? -PROTO_QUANTITY_MAX
                    : m->type == MOVE_COUNT    ? 0
                                               : 1;

    fuzz_check_id(m->sku);
    fuzz_check_id(m->location);
    FUZZ_CHECK(movement_type_name(m->type)[0] != '\0');
    FUZZ_CHECK(m->quantity >= min && m->quantity <= PROTO_QUANTITY_MAX);
    FUZZ_CHECK(m->type != MOVE_ADJUSTMENT || m->quantity != 0);
    if (m->type == MOVE_TRANSFER) {
        fuzz_check_id(m->to_location);
        FUZZ_CHECK(strcmp(m->to_location, m->location) != 0);
    } else {
        FUZZ_CHECK(m->to_location[0] == '\0');
    }
    FUZZ_CHECK(!m->has_as_of || m->type == MOVE_COUNT);
    FUZZ_CHECK(strlen(m->reason) <= PROTO_TEXT_MAX && strlen(m->reference) <= PROTO_TEXT_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct movement_batch b;
    struct movement m;
    struct proto_error err;
    json_t *body;

    body = fuzz_body(data, size);
    if (body == NULL) {
        return 0;
    }
    if (movement_batch_parse(body, &b, &err) < 0) {
        fuzz_check_error(&err);
        FUZZ_CHECK(b.items == NULL && b.n == 0);
    } else {
        FUZZ_CHECK(b.n >= 1 && b.n <= MOVEMENT_BATCH_MAX);
        FUZZ_CHECK(b.is_batch || b.n == 1);
        for (size_t i = 0; i < b.n; i++) {
            if (b.items[i].ok) {
                check_movement(&b.items[i].m);
            } else {
                fuzz_check_error(&b.items[i].err);
            }
        }
        movement_batch_release(&b);
        movement_batch_release(&b); /* released twice: a no-op */
    }
    if (movement_parse(body, &m, &err) < 0) {
        fuzz_check_error(&err);
    } else {
        check_movement(&m);
    }
    json_decref(body);
    return 0;
}
