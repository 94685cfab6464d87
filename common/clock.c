/*
 * clock.c - see clock.h.
 */
#include <time.h>

#include <event2/event.h>

#include "common/clock.h"

static long long ms_of(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clock_wall_ms(void)
{
    return ms_of(CLOCK_REALTIME);
}

long long clock_mono_ms(void)
{
    return ms_of(CLOCK_MONOTONIC);
}

long long clock_coarse_ms(void)
{
    return ms_of(CLOCK_MONOTONIC_COARSE);
}

int clock_timer_add(struct event *ev, long long ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

    return event_add(ev, &tv);
}
