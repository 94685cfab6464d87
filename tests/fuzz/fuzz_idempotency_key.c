/*
 * fuzz_idempotency_key.c - http_idempotency_key_valid, the check common/http.c
 * makes of an Idempotency-Key header value, against the contract's rule
 * written out again here: 1 to 128 printable ASCII characters. The input up
 * to a NUL is the header value, as evhttp hands it over.
 */
#include "common/http.h"
#include "tests/fuzz/fuzz.h"

static int rule(const char *s)
{
    size_t len = strlen(s);

    if (len < 1 || len > 128) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    FUZZ_CHECK(http_idempotency_key_valid(s) == rule(s));
    free(s);
    return 0;
}
