/*
 * proto.h - shared rules of the contract: identifiers, quantities, channels,
 * times and the error struct every codec fills.
 *
 * Everything in proto/ is pure: no I/O, no logging, no allocation it does not
 * document. Codecs take a parsed JSON value (borrowed) and fill a caller's
 * struct, or fill a struct proto_error and return -1.
 */
#ifndef PROTO_PROTO_H
#define PROTO_PROTO_H

#include <stddef.h>
#include <jansson.h>

#include "proto/problem.h"

#define PROTO_ID_MAX       64 /* identifiers: 1..64 of [A-Za-z0-9._-] */
#define PROTO_ID_SIZE      (PROTO_ID_MAX + 1)
#define PROTO_NAME_MAX     200 /* display names, bytes of UTF-8 */
#define PROTO_NAME_SIZE    (PROTO_NAME_MAX + 1)
#define PROTO_TEXT_MAX     256 /* free text such as reason and reference */
#define PROTO_TEXT_SIZE    (PROTO_TEXT_MAX + 1)
#define PROTO_QUANTITY_MAX 1000000000LL
#define PROTO_BODY_MAX     (1024 * 1024)

/* A problem found while decoding; fixed size so reporting never allocates. */
struct proto_error {
    enum problem_code code;
    char field[64];   /* the offending field, e.g. "lines[2].quantity"; may be empty */
    char detail[200]; /* one sentence for a human */
};

/* proto_error_set - fill @err (may be NULL) and return -1. @field may be NULL. */
int proto_error_set(struct proto_error *err, enum problem_code code, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * proto_error_prefix - place the field @err names inside @prefix: "quantity"
 * becomes "movements[2].quantity" (or just @prefix when no field was named),
 * and a detail that starts with the old name starts with the new one.
 * @err may be NULL.
 */
void proto_error_prefix(struct proto_error *err, const char *prefix);

/* proto_id_valid - 1 if @s is 1..64 characters of [A-Za-z0-9._-], else 0. */
int proto_id_valid(const char *s);

/*
 * proto_json_load - parse a request body as a JSON object.
 * Rejects invalid JSON, invalid UTF-8, duplicate keys, NUL bytes and any
 * top-level value that is not an object (invalid-json).
 * @return a new reference, or NULL with @err filled.
 */
json_t *proto_json_load(const char *buf, size_t len, struct proto_error *err);

enum channel {
    CHANNEL_WEB = 1,
    CHANNEL_STORE = 2,
    CHANNEL_CLICK_COLLECT = 4,
};
#define CHANNEL_ALL (CHANNEL_WEB | CHANNEL_STORE | CHANNEL_CLICK_COLLECT)

/* proto_channel_parse - "web", "store" or "click_collect" to its enum; 0 if unknown. */
enum channel proto_channel_parse(const char *s);
/* proto_channel_name - the wire name of one channel. */
const char *proto_channel_name(enum channel c);

/*
 * proto_time_parse - an RFC 3339 date-time ("2026-11-22T10:00:00Z",
 * "2026-11-22T10:00:00.250+01:00") to milliseconds since the epoch, UTC.
 * @return 0 on success, -1 if @s is not a valid RFC 3339 date-time.
 */
int proto_time_parse(const char *s, long long *ms);
/* proto_time_format - milliseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void proto_time_format(long long ms, char buf[32]);

/*
 * Field readers for codecs. Each fills @err naming @field and returns -1 when
 * the value is missing (if required), of the wrong JSON type or out of range;
 * 0 on success, 1 when an optional field is absent (out untouched).
 * Integers must be JSON integers: 1.0, "1" and true are invalid-field.
 */
int proto_get_id(json_t *obj, const char *field, int required, char out[PROTO_ID_SIZE],
                 struct proto_error *err);
int proto_get_int(json_t *obj, const char *field, int required, long long min, long long max,
                  long long *out, struct proto_error *err);
int proto_get_string(json_t *obj, const char *field, int required, size_t max_bytes, char *out,
                     size_t out_size, struct proto_error *err);

/*
 * proto_check_fields - invalid-field naming the first key of @obj that is not
 * in the NULL-terminated list @allowed. @return 0 or -1.
 */
int proto_check_fields(json_t *obj, const char *const *allowed, struct proto_error *err);

/*
 * proto_parse_uint - a query-string integer in [min, max], decimal digits only.
 * @return 0, or -1 with @err (invalid-query naming @name).
 */
int proto_parse_uint(const char *s, const char *name, long long min, long long max, long long *out,
                     struct proto_error *err);
/* proto_parse_bool - "true"/"1" or "false"/"0". @return 0 or -1 with @err. */
int proto_parse_bool(const char *s, const char *name, int *out, struct proto_error *err);

#endif
