/*
 * fuzz.h - what the libFuzzer harnesses share: splitting an input in the
 * format of tests/data/proto (line 1, then the body), and the checks that
 * turn a broken promise of a header into a crash the fuzzer reports.
 *
 * Inputs: line 1 (up to the first '\n') is the "head" (a path identifier
 * where the route has one, otherwise ignored), the rest is the body. An input
 * without '\n' is all body. So the case files in tests/data/proto/<codec>/
 * (line 1 = their expectation) are seeds as they are.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* FUZZ_CHECK - a documented promise; a broken one aborts, which libFuzzer reports as a crash. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct fuzz_input {
    char head[256]; /* line 1, NUL-terminated, cut at 255 bytes; "" when there is no '\n' */
    const char *body;
    size_t body_len;
};

static inline void fuzz_split(const uint8_t *data, size_t size, struct fuzz_input *in)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t n;

    in->head[0] = '\0';
    in->body = (const char *)data;
    in->body_len = size;
    if (nl == NULL) {
        return;
    }
    n = (size_t)(nl - data);
    if (n >= sizeof(in->head)) {
        n = sizeof(in->head) - 1;
    }
    memcpy(in->head, data, n);
    in->head[n] = '\0';
    in->body = (const char *)nl + 1;
    in->body_len = size - (size_t)(nl + 1 - data);
}

/*
 * fuzz_check_error - what every codec promises of a failure: a code, and a
 * field and detail that are NUL-terminated valid UTF-8 (they go into a JSON
 * problem body as they are).
 */
static inline void fuzz_check_error(const struct proto_error *err)
{
    json_t *s;

    FUZZ_CHECK(err->code > PROBLEM_NONE && err->code < PROBLEM__COUNT);
    FUZZ_CHECK(memchr(err->field, '\0', sizeof(err->field)) != NULL);
    FUZZ_CHECK(memchr(err->detail, '\0', sizeof(err->detail)) != NULL);
    s = json_string(err->field);
    FUZZ_CHECK(s != NULL);
    json_decref(s);
    s = json_string(err->detail);
    FUZZ_CHECK(s != NULL);
    json_decref(s);
}

/* fuzz_check_id - a decoded identifier obeys the contract's rule. */
static inline void fuzz_check_id(const char *id)
{
    FUZZ_CHECK(memchr(id, '\0', PROTO_ID_SIZE) != NULL);
    FUZZ_CHECK(proto_id_valid(id));
}

/* fuzz_check_optional_id - "" (absent) or a valid identifier. */
static inline void fuzz_check_optional_id(const char *id)
{
    FUZZ_CHECK(memchr(id, '\0', PROTO_ID_SIZE) != NULL);
    FUZZ_CHECK(id[0] == '\0' || proto_id_valid(id));
}

/* fuzz_dump - serialise @v (stolen) as a reply would; it must succeed. */
static inline void fuzz_dump(json_t *v)
{
    char *text;

    FUZZ_CHECK(v != NULL);
    text = json_dumps(v, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    free(text);
    json_decref(v);
}

/*
 * fuzz_load - the body through proto_json_load, as the daemon reads it.
 * @return a new reference, or NULL after checking the error.
 */
static inline json_t *fuzz_load(const struct fuzz_input *in)
{
    struct proto_error err;
    json_t *body = proto_json_load(in->body, in->body_len, &err);

    if (body == NULL) {
        fuzz_check_error(&err);
        FUZZ_CHECK(err.code == PROBLEM_INVALID_JSON);
        return NULL;
    }
    FUZZ_CHECK(json_is_object(body));
    return body;
}

/*
 * fuzz_body - the input after its first line, as a request body the daemon
 * has read. @return a new reference, or NULL (not JSON: the error checked).
 */
static inline json_t *fuzz_body(const uint8_t *data, size_t size)
{
    struct fuzz_input in;

    fuzz_split(data, size, &in);
    return fuzz_load(&in);
}

/*
 * fuzz_body_each_id - a PUT of a path id: line 1 is the id, the rest the
 * body. @parse runs with that id, and with @fallback too when line 1 is not
 * a valid id, so that a bad id does not hide the body.
 */
static inline void fuzz_body_each_id(const uint8_t *data, size_t size, const char *fallback,
                                     void (*parse)(json_t *body, const char *id))
{
    struct fuzz_input in;
    json_t *body;

    fuzz_split(data, size, &in);
    body = fuzz_load(&in);
    if (body == NULL)
        return;
    parse(body, in.head);
    if (!proto_id_valid(in.head))
        parse(body, fallback);
    json_decref(body);
}

#endif
