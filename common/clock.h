/*
 * clock.h - the clocks the daemon reads, in milliseconds, and timers set in
 * them. Ages, deadlines and intervals use a monotonic clock, never the wall.
 */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

struct event;

/* clock_wall_ms - since the epoch: for what is shown or stored. */
long long clock_wall_ms(void);

/* clock_mono_ms - monotonic: for ages, deadlines and intervals. */
long long clock_mono_ms(void);

/* clock_coarse_ms - monotonic to a few milliseconds, and cheaper: for what every request reads. */
long long clock_coarse_ms(void);

/* clock_timer_add - event_add(@ev) to fire in @ms milliseconds. @return event_add's. */
int clock_timer_add(struct event *ev, long long ms);

#endif
