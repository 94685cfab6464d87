/*
 * fuzz_preferences.c - PUT /v1/customers/{id}/preferences: proto_json_load
 * then preferences_parse.
 */
#include "proto/recommend.h"
#include "tests/fuzz/fuzz.h"

#define PREF_ALL (PREF_RECOMMENDATIONS | PREF_CONSENT | PREF_STORE | PREF_CHANNEL | PREF_NOTES)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct preferences p;
    struct proto_error err;
    json_t *body, *notes;

    body = fuzz_body(data, size);
    if (body == NULL) {
        return 0;
    }
    if (preferences_parse(body, &p, &err) < 0) {
        fuzz_check_error(&err);
    } else {
        FUZZ_CHECK((p.set | p.clear) != 0 && ((p.set | p.clear) & ~(unsigned)PREF_ALL) == 0);
        FUZZ_CHECK((p.set & p.clear) == 0);
        FUZZ_CHECK((p.set & PREF_STORE) ? proto_id_valid(p.preferred_store)
                                        : p.preferred_store[0] == '\0');
        FUZZ_CHECK(!(p.set & PREF_CHANNEL) || proto_channel_name(p.preferred_channel)[0] != '\0');
        FUZZ_CHECK(strlen(p.notes) <= PREF_NOTES_MAX);
        notes = json_string(p.notes); /* stored and shown again: valid UTF-8 */
        FUZZ_CHECK(notes != NULL);
        json_decref(notes);
    }
    json_decref(body);
    return 0;
}
