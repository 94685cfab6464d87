/*
 * problem.c - the one table that maps each problem code to its HTTP status,
 * its stable slug and its title. Handlers name a code; this file decides the
 * rest, so the contract's statuses cannot drift between endpoints.
 */
#include <string.h>

#include "proto/problem.h"

struct problem_info {
    int status;
    const char *slug;
    const char *title;
};

static const struct problem_info problems[PROBLEM__COUNT] = {
    /* Answering with "no problem" is a bug in the caller: it is reported as one. */
    [PROBLEM_NONE] = {500, "internal", "Internal error"},
    [PROBLEM_INVALID_JSON] = {400, "invalid-json", "Invalid JSON"},
    [PROBLEM_INVALID_FIELD] = {400, "invalid-field", "Invalid field"},
    [PROBLEM_INVALID_IDENTIFIER] = {400, "invalid-identifier", "Invalid identifier"},
    [PROBLEM_INVALID_QUERY] = {400, "invalid-query", "Invalid query parameter"},
    [PROBLEM_UNAUTHORIZED] = {401, "unauthorized", "Unauthorized"},
    [PROBLEM_FORBIDDEN] = {403, "forbidden", "Forbidden"},
    [PROBLEM_NOT_FOUND] = {404, "not-found", "Not found"},
    [PROBLEM_METHOD_NOT_ALLOWED] = {405, "method-not-allowed", "Method not allowed"},
    [PROBLEM_INSUFFICIENT_STOCK] = {409, "insufficient-stock", "Insufficient stock"},
    [PROBLEM_INVALID_TRANSITION] = {409, "invalid-transition", "Invalid transition"},
    [PROBLEM_STALE_COUNT] = {409, "stale-count", "Stale count"},
    [PROBLEM_IDEMPOTENCY_PENDING] = {409, "idempotency-pending",
                                     "Request with this idempotency key in progress"},
    [PROBLEM_PAYLOAD_TOO_LARGE] = {413, "payload-too-large", "Payload too large"},
    [PROBLEM_UNSUPPORTED_MEDIA] = {415, "unsupported-media-type", "Unsupported media type"},
    [PROBLEM_UNKNOWN_REFERENCE] = {422, "unknown-reference", "Unknown reference"},
    [PROBLEM_IDEMPOTENCY_REUSED] = {422, "idempotency-key-reused",
                                    "Idempotency key reused with a different request"},
    [PROBLEM_RATE_LIMITED] = {429, "rate-limited", "Too many requests"},
    [PROBLEM_INTERNAL] = {500, "internal", "Internal error"},
    [PROBLEM_UNAVAILABLE] = {503, "unavailable", "Service unavailable"},
};

static const struct problem_info *problem_info(enum problem_code code)
{
    if ((int)code < 0 || code >= PROBLEM__COUNT) {
        return &problems[PROBLEM_INTERNAL];
    }
    return &problems[code];
}

int problem_status(enum problem_code code)
{
    return problem_info(code)->status;
}

const char *problem_slug(enum problem_code code)
{
    return problem_info(code)->slug;
}

const char *problem_title(enum problem_code code)
{
    return problem_info(code)->title;
}

enum problem_code problem_from_slug(const char *slug)
{
    if (slug == NULL) {
        return PROBLEM_NONE;
    }
    for (int i = PROBLEM_NONE + 1; i < PROBLEM__COUNT; i++) {
        if (strcmp(problems[i].slug, slug) == 0) {
            return (enum problem_code)i;
        }
    }
    return PROBLEM_NONE;
}
