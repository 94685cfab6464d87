/*
 * fuzz_identifier.c - identifiers: proto_id_valid against the rule written
 * out again here (1..64 of [A-Za-z0-9._-]), proto_get_id on the same bytes
 * as a JSON string (NUL bytes included), and the error struct fed with
 * hostile field names: proto_error_set and proto_error_prefix must leave
 * valid UTF-8 whatever they are given.
 */
#include "tests/fuzz/fuzz.h"

static int rule(const char *s, size_t len)
{
    if (len < 1 || len > PROTO_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static void check_json_id(const uint8_t *data, size_t size, int want)
{
    json_t *obj = json_object();
    json_t *s = json_stringn((const char *)data, size); /* NULL unless valid UTF-8 */
    char out[PROTO_ID_SIZE];
    struct proto_error err;

    if (obj == NULL || s == NULL) {
        json_decref(s);
        json_decref(obj);
        return;
    }
    json_object_set_new(obj, "sku", s);
    if (proto_get_id(obj, "sku", 1, out, &err) == 0) {
        FUZZ_CHECK(want && strlen(out) == size && memcmp(out, data, size) == 0);
    } else {
        fuzz_check_error(&err);
        FUZZ_CHECK(!want && err.code == PROBLEM_INVALID_IDENTIFIER);
    }
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    struct proto_error err;
    size_t len;

    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    len = strlen(s);
    FUZZ_CHECK(proto_id_valid(s) == rule(s, len));
    check_json_id(data, size, len == size && rule(s, len));

    proto_error_set(&err, PROBLEM_INVALID_FIELD, s, "%s must be 1 to %d characters", s,
                    PROTO_ID_MAX);
    fuzz_check_error(&err);
    proto_error_prefix(&err, s);
    fuzz_check_error(&err);
    proto_error_prefix(&err, "movements[999]");
    fuzz_check_error(&err);
    free(s);
    return 0;
}
