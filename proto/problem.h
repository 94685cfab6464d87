/*
 * problem.h - the stable error codes of the contract and their HTTP mapping.
 *
 * Every error the API returns is RFC 9457 problem details whose type is
 * "/problems/<slug>". The codes and their statuses are mapped here and nowhere
 * else, so that a handler names what went wrong and never picks a status.
 */
#ifndef PROTO_PROBLEM_H
#define PROTO_PROBLEM_H

enum problem_code {
    PROBLEM_NONE = 0,
    PROBLEM_INVALID_JSON,        /* 400 */
    PROBLEM_INVALID_FIELD,       /* 400 */
    PROBLEM_INVALID_IDENTIFIER,  /* 400 */
    PROBLEM_INVALID_QUERY,       /* 400: a bad query-string parameter */
    PROBLEM_UNAUTHORIZED,        /* 401 */
    PROBLEM_FORBIDDEN,           /* 403 */
    PROBLEM_NOT_FOUND,           /* 404 */
    PROBLEM_METHOD_NOT_ALLOWED,  /* 405 */
    PROBLEM_INSUFFICIENT_STOCK,  /* 409 */
    PROBLEM_INVALID_TRANSITION,  /* 409 */
    PROBLEM_STALE_COUNT,         /* 409 */
    PROBLEM_IDEMPOTENCY_PENDING, /* 409: the first request with this key is still running */
    PROBLEM_PAYLOAD_TOO_LARGE,   /* 413 */
    PROBLEM_UNSUPPORTED_MEDIA,   /* 415 */
    PROBLEM_UNKNOWN_REFERENCE,   /* 422 */
    PROBLEM_IDEMPOTENCY_REUSED,  /* 422: same key, different request */
    PROBLEM_RATE_LIMITED,        /* 429: the key made too many requests; Retry-After says when */
    PROBLEM_INTERNAL,            /* 500 */
    PROBLEM_UNAVAILABLE,         /* 503 */
    PROBLEM__COUNT
};

/* problem_status - the HTTP status of a code. */
int problem_status(enum problem_code code);

/* problem_slug - the stable "<code>" of "/problems/<code>", e.g. "invalid-field". */
const char *problem_slug(enum problem_code code);

/* problem_title - a short human title, e.g. "Invalid field". */
const char *problem_title(enum problem_code code);

/* problem_from_slug - the code named by a slug, or PROBLEM_NONE. */
enum problem_code problem_from_slug(const char *slug);

#endif
