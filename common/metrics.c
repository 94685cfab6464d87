/*
 * metrics.c - fixed-size request series and a short list of named counters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "common/metrics.h"

static const int statuses[] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
                               409, 413, 415, 422, 429, 500, 503, 0};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0])) /* last slot: any other */

static const struct {
    int method;
    const char *name;
} methods[] = {
    {EVHTTP_REQ_GET, "GET"},       {EVHTTP_REQ_POST, "POST"}, {EVHTTP_REQ_PUT, "PUT"},
    {EVHTTP_REQ_DELETE, "DELETE"}, {EVHTTP_REQ_HEAD, "HEAD"}, {0, "OTHER"},
};
#define NMETHOD (sizeof(methods) / sizeof(methods[0]))

static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};
#define NBUCKET (sizeof(bounds) / sizeof(bounds[0]))

struct route_series {
    unsigned long long requests[NMETHOD][NSTATUS];
    unsigned long long buckets[NBUCKET]; /* cumulative at render, not at observe */
    unsigned long long count;
    double sum;
};

#define MAX_COUNTERS 64

struct counter {
    char name[96];
    char help[160];
    char labels[128];
    unsigned long long value;
};

struct metrics {
    const char *const *names;
    size_t nroutes;
    struct route_series *routes;
    struct counter counters[MAX_COUNTERS];
    size_t ncounters;
};

struct metrics *metrics_new(const char *const *names, size_t nroutes)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    m->names = names;
    m->nroutes = nroutes;
    m->routes = calloc(nroutes ? nroutes : 1, sizeof(*m->routes));
    if (m->routes == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    free(m->routes);
    free(m);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++) {
        if (statuses[i] == status)
            return i;
    }
    return NSTATUS - 1;
}

static size_t method_slot(int method)
{
    for (size_t i = 0; i < NMETHOD - 1; i++) {
        if (methods[i].method == method)
            return i;
    }
    return NMETHOD - 1;
}

void metrics_observe(struct metrics *m, size_t route, int method, int status, double seconds)
{
    struct route_series *s;
    size_t b = 0;

    if (route >= m->nroutes)
        return;
    s = &m->routes[route];
    s->requests[method_slot(method)][status_slot(status)]++;
    while (b < NBUCKET && seconds > bounds[b])
        b++;
    if (b < NBUCKET)
        s->buckets[b]++;
    s->count++;
    s->sum += seconds;
}

void metrics_counter_add(struct metrics *m, const char *name, const char *help, const char *labels,
                         unsigned long long n)
{
    const char *l = labels ? labels : "";
    struct counter *c;

    for (size_t i = 0; i < m->ncounters; i++) {
        c = &m->counters[i];
        if (strcmp(c->name, name) == 0 && strcmp(c->labels, l) == 0) {
            c->value += n;
            return;
        }
    }
    if (m->ncounters == MAX_COUNTERS)
        return;
    c = &m->counters[m->ncounters++];
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->help, sizeof(c->help), "%s", help);
    snprintf(c->labels, sizeof(c->labels), "%s", l);
    c->value = n;
}

static void render_requests(const struct metrics *m, struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP omnistock_http_requests_total HTTP requests answered, by "
                             "route, method and status.\n"
                             "# TYPE omnistock_http_requests_total counter\n");
    for (size_t r = 0; r < m->nroutes; r++) {
        for (size_t i = 0; i < NMETHOD; i++) {
            for (size_t j = 0; j < NSTATUS; j++) {
                unsigned long long v = m->routes[r].requests[i][j];
                if (v == 0)
                    continue;
                if (statuses[j] != 0)
                    evbuffer_add_printf(out,
                                        "omnistock_http_requests_total{route=\"%s\",method=\"%s\","
                                        "status=\"%d\"} %llu\n",
                                        m->names[r], methods[i].name, statuses[j], v);
                else
                    evbuffer_add_printf(out,
                                        "omnistock_http_requests_total{route=\"%s\",method=\"%s\","
                                        "status=\"other\"} %llu\n",
                                        m->names[r], methods[i].name, v);
            }
        }
    }
}

static void render_latency(const struct metrics *m, struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP omnistock_http_request_duration_seconds Time from request "
                             "read to response queued, by route.\n"
                             "# TYPE omnistock_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < m->nroutes; r++) {
        const struct route_series *s = &m->routes[r];
        unsigned long long cum = 0;
        if (s->count == 0)
            continue;
        for (size_t b = 0; b < NBUCKET; b++) {
            cum += s->buckets[b];
            evbuffer_add_printf(out,
                                "omnistock_http_request_duration_seconds_bucket{route=\"%s\","
                                "le=\"%g\"} %llu\n",
                                m->names[r], bounds[b], cum);
        }
        evbuffer_add_printf(out,
                            "omnistock_http_request_duration_seconds_bucket{route=\"%s\","
                            "le=\"+Inf\"} %llu\n"
                            "omnistock_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                            "omnistock_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                            m->names[r], s->count, m->names[r], s->sum, m->names[r], s->count);
    }
}

void metrics_render(const struct metrics *m, struct evbuffer *out)
{
    render_requests(m, out);
    render_latency(m, out);
    /* Samples of one family must be contiguous: print each family once, in full. */
    for (size_t i = 0; i < m->ncounters; i++) {
        const struct counter *c = &m->counters[i];
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(m->counters[j].name, c->name) == 0;
        if (seen)
            continue;
        evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n", c->name, c->help, c->name);
        for (size_t j = i; j < m->ncounters; j++) {
            const struct counter *s = &m->counters[j];
            if (strcmp(s->name, c->name) != 0)
                continue;
            if (s->labels[0])
                evbuffer_add_printf(out, "%s{%s} %llu\n", s->name, s->labels, s->value);
            else
                evbuffer_add_printf(out, "%s %llu\n", s->name, s->value);
        }
    }
}
