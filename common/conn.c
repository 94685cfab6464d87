/*
 * conn.c - see conn.h.
 *
 * evhttp makes each connection's bufferevent through the callback set with
 * evhttp_set_bevcb, then sets its socket and its own callbacks on it, with
 * the evhttp_connection as their argument. So a new bufferevent is noted
 * (and referenced, so it stays valid), and once the accept callback has
 * returned, one deferred pass ("adopt") looks up each one's connection and
 * sets its close callback: that is how we learn it is gone.
 *
 * The deadline is kept armed, not stopped and started around every request
 * (an event_del and an event_add each time were a tenth of what the daemon
 * itself did for a read from its cache): when it fires, a connection with a
 * request in hand, or whose last request ended less than the deadline ago,
 * is given the rest of its time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "common/clock.h"
#include "common/conn.h"
#include "common/log.h"

#define REFUSED_LOG_INTERVAL_S 10

struct conn {
    struct conn_table *t;
    struct bufferevent *bev;         /* ours until adopted */
    struct evhttp_connection *evcon; /* once adopted */
    struct event *deadline;
    int busy;          /* a request in hand: between conn_begin and conn_end */
    long long idle_ms; /* when it became ready for a request (clock_coarse_ms) */
    void (*gone)(void *arg);
    void *gone_arg;
    struct conn *next; /* in its hash bucket, or in the list to adopt */
};

struct conn_table {
    struct event_base *base;
    size_t max;
    const struct timeval *deadline_tv; /* a common timeout: one queue for every connection */
    long long deadline_ms;
    struct event *adopt;
    struct conn *unadopted;
    struct conn **buckets;
    size_t mask;
    struct conn_stats stats;
    time_t refused_logged;
};

static size_t bucket_of(const struct conn_table *t, const struct evhttp_connection *evcon)
{
    uint64_t h = (uint64_t)(uintptr_t)evcon >> 4;

    return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 32) & t->mask;
}

static struct conn **find(struct conn_table *t, const struct evhttp_connection *evcon)
{
    struct conn **p = &t->buckets[bucket_of(t, evcon)];

    while (*p != NULL && (*p)->evcon != evcon)
        p = &(*p)->next;
    return p;
}

static void conn_free(struct conn *c)
{
    c->t->stats.open--;
    event_free(c->deadline);
    free(c);
}

/* evhttp closes the connection, whoever decided it. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct conn *c = arg;
    struct conn **p = find(c->t, evcon);

    if (*p == c)
        *p = c->next;
    if (c->gone != NULL)
        c->gone(c->gone_arg);
    conn_free(c);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    char *addr = NULL;
    ev_uint16_t port = 0;
    long long left = c->idle_ms + c->t->deadline_ms - clock_coarse_ms();

    (void)fd;
    (void)what;
    if (c->busy) {
        event_add(c->deadline, c->t->deadline_tv); /* looked at again a deadline from now */
        return;
    }
    if (left > 0) {
        clock_timer_add(c->deadline, left);
        return;
    }
    c->t->stats.deadline++;
    evhttp_connection_get_peer(c->evcon, &addr, &port);
    log_debug("event=request_deadline peer=%s port=%u", addr ? addr : "-", (unsigned)port);
    evhttp_connection_free(c->evcon); /* on_close frees c */
}

static void refuse(struct conn *c, struct evhttp_connection *evcon)
{
    struct conn_table *t = c->t;
    time_t now = time(NULL);

    t->stats.refused++;
    if (now - t->refused_logged >= REFUSED_LOG_INTERVAL_S) {
        t->refused_logged = now;
        log_warn("event=connections_refused max=%zu refused_total=%llu", t->max, t->stats.refused);
    }
    conn_free(c);
    evhttp_connection_free(evcon);
}

static void adopt(evutil_socket_t fd, short what, void *arg)
{
    struct conn_table *t = arg;
    struct conn *c;

    (void)fd;
    (void)what;
    while ((c = t->unadopted) != NULL) {
        void *cbarg = NULL;
        struct evhttp_connection *evcon;

        t->unadopted = c->next;
        bufferevent_getcb(c->bev, NULL, NULL, NULL, &cbarg);
        evcon = cbarg;
        if (evcon == NULL || evhttp_connection_get_bufferevent(evcon) != c->bev) {
            /* evhttp let it go already (out of memory): the last reference is ours. */
            bufferevent_decref(c->bev);
            conn_free(c);
            continue;
        }
        bufferevent_decref(c->bev);
        c->bev = NULL;
        if (t->stats.open > t->max) {
            refuse(c, evcon);
            continue;
        }
        c->evcon = evcon;
        c->next = t->buckets[bucket_of(t, evcon)];
        t->buckets[bucket_of(t, evcon)] = c;
        evhttp_connection_set_closecb(evcon, on_close, c);
        c->idle_ms = clock_coarse_ms();
        event_add(c->deadline, t->deadline_tv);
    }
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
    struct conn_table *t = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct conn *c = calloc(1, sizeof(*c));

    if (bev == NULL || c == NULL || (c->deadline = evtimer_new(base, on_deadline, c)) == NULL) {
        /* Out of memory: evhttp makes its own, or gives up on the connection. */
        if (bev != NULL)
            bufferevent_free(bev);
        free(c);
        return NULL;
    }
    bufferevent_incref(bev);
    c->t = t;
    c->bev = bev;
    c->next = t->unadopted;
    t->unadopted = c;
    t->stats.open++;
    event_active(t->adopt, EV_TIMEOUT, 0);
    return bev;
}

struct conn_table *conn_table_new(struct event_base *base, struct evhttp *http, size_t max,
                                  int deadline_secs)
{
    struct conn_table *t = calloc(1, sizeof(*t));
    struct timeval tv = {deadline_secs, 0};
    size_t n = 64;

    if (t == NULL)
        return NULL;
    while (n < max)
        n *= 2;
    t->base = base;
    t->max = max;
    t->mask = n - 1;
    t->buckets = calloc(n, sizeof(*t->buckets));
    t->adopt = event_new(base, -1, 0, adopt, t);
    t->deadline_tv = event_base_init_common_timeout(base, &tv);
    t->deadline_ms = (long long)deadline_secs * 1000;
    if (t->buckets == NULL || t->adopt == NULL || t->deadline_tv == NULL) {
        conn_table_free(t);
        return NULL;
    }
    evhttp_set_bevcb(http, make_bev, t);
    return t;
}

void conn_table_free(struct conn_table *t)
{
    struct conn *c;

    if (t == NULL)
        return;
    while ((c = t->unadopted) != NULL) {
        t->unadopted = c->next;
        bufferevent_decref(c->bev);
        conn_free(c);
    }
    if (t->adopt != NULL)
        event_free(t->adopt);
    free(t->buckets);
    free(t);
}

void conn_table_stats(const struct conn_table *t, struct conn_stats *out)
{
    *out = t->stats;
    out->max = t->max;
}

struct conn *conn_begin(struct conn_table *t, struct evhttp_connection *evcon,
                        void (*gone)(void *arg), void *arg)
{
    struct conn *c = evcon != NULL ? *find(t, evcon) : NULL;

    if (c == NULL)
        return NULL;
    c->busy = 1;
    c->gone = gone;
    c->gone_arg = arg;
    return c;
}

void conn_end(struct conn *c)
{
    if (c == NULL)
        return;
    c->gone = NULL;
    c->gone_arg = NULL;
    c->busy = 0;
    c->idle_ms = clock_coarse_ms();
}
