/*
 * fuzz_location.c - PUT /v1/locations/{id}: proto_json_load then
 * location_parse, with line 1 of the input as the path id (and "wh-1" too,
 * so that a bad id does not hide the body), then location_to_json.
 */
#include "proto/catalog.h"
#include "tests/fuzz/fuzz.h"

static void parse_one(json_t *body, const char *id)
{
    struct location loc;
    struct proto_error err;

    if (location_parse(body, id, &loc, &err) < 0) {
        fuzz_check_error(&err);
        return;
    }
    fuzz_check_id(loc.id);
    FUZZ_CHECK(strcmp(loc.id, id) == 0);
    FUZZ_CHECK(loc.name[0] != '\0' && strlen(loc.name) <= PROTO_NAME_MAX);
    FUZZ_CHECK((loc.fulfils & ~(unsigned)CHANNEL_ALL) == 0);
    FUZZ_CHECK(loc.store_buffer >= 0 && loc.store_buffer <= PROTO_QUANTITY_MAX);
    FUZZ_CHECK(loc.type == LOCATION_STORE ||
               (loc.store_buffer == 0 && (loc.fulfils & ~(unsigned)CHANNEL_WEB) == 0));
    fuzz_dump(location_to_json(&loc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_body_each_id(data, size, "wh-1", parse_one);
    return 0;
}
