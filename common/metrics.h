/*
 * metrics.h - counters and latency histograms in Prometheus text format.
 *
 * Routes are known at start-up, so every series lives in a fixed array
 * indexed by route, method and status: observing a request is a few
 * increments, never an allocation.
 */
#ifndef COMMON_METRICS_H
#define COMMON_METRICS_H

#include <stddef.h>

struct evbuffer;
struct metrics;

/* metrics_new - series for @nroutes routes named by @names (borrowed, must outlive). */
struct metrics *metrics_new(const char *const *names, size_t nroutes);
void metrics_free(struct metrics *m);

/* metrics_observe - one finished request. @method is an evhttp_cmd_type. */
void metrics_observe(struct metrics *m, size_t route, int method, int status, double seconds);

/*
 * metrics_counter_add - a named counter outside HTTP (e.g.
 * "omnistock_oversell_refused_total"), created on first use; @labels is a
 * Prometheus label set without braces ("outcome=\"held\"") or NULL.
 * @help: a one-line description, used when the counter is created.
 */
void metrics_counter_add(struct metrics *m, const char *name, const char *help, const char *labels,
                         unsigned long long n);

/* metrics_render - append the text exposition of every series to @out. */
void metrics_render(const struct metrics *m, struct evbuffer *out);

#endif
