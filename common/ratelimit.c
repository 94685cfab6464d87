/*
 * ratelimit.c - the token bucket behind per-key rate limits (ratelimit.h).
 */
#include "common/ratelimit.h"

long rate_take(struct rate_bucket *b, double per_second, double burst, uint64_t now_ns)
{
    double wait;
    long secs;

    if (b->last_ns == 0) {
        b->tokens = burst;
    } else if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) / 1e9 * per_second;
        if (b->tokens > burst)
            b->tokens = burst;
    }
    if (now_ns > b->last_ns)
        b->last_ns = now_ns;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    wait = (1.0 - b->tokens) / per_second;
    if (wait > 86400.0)
        return 86400;
    secs = (long)wait;
    if ((double)secs < wait)
        secs++; /* rounded up: retrying at once would fail again */
    return secs < 1 ? 1 : secs;
}
