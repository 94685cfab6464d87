/*
 * ratelimit.h - a token bucket per API key: each key may make `burst`
 * requests at once, and gets back `per_second` of them every second.
 *
 * Pure: the caller passes the time, so the arithmetic is tested without a
 * clock (tests/unit/test_ratelimit.c).
 */
#ifndef COMMON_RATELIMIT_H
#define COMMON_RATELIMIT_H

#include <stdint.h>

struct rate_bucket {
    double tokens;    /* requests the key may make now */
    uint64_t last_ns; /* when tokens was last brought up to date; 0 = never used (full) */
};

/*
 * rate_take - bring @b up to date at @now_ns (monotonic nanoseconds, never 0)
 * with @per_second tokens a second up to @burst, then take one token.
 * @return 0 if a token was taken, else the whole seconds until one will be
 * there (at least 1), for Retry-After. @per_second and @burst must be > 0.
 */
long rate_take(struct rate_bucket *b, double per_second, double burst, uint64_t now_ns);

#endif
