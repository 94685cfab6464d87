/*
 * conn.h - the server's connections: counted, capped, and each request
 * given a deadline to arrive whole.
 *
 * libevent 2.1's evhttp neither counts its connections nor bounds the
 * total time a request may take to come in (its timeout restarts at every
 * byte). conn_table hooks each new connection as evhttp creates it, closes
 * those beyond the cap at once, and closes a connection whose next request
 * is not in whole within the deadline of the connection becoming ready
 * (opened, or its previous response sent). While a request is being
 * answered its connection has no deadline.
 */
#ifndef COMMON_CONN_H
#define COMMON_CONN_H

#include <stddef.h>

struct event_base;
struct evhttp;
struct evhttp_connection;
struct conn;
struct conn_table;

struct conn_stats {
    size_t open;                 /* connections now */
    size_t max;                  /* the cap: max_connections, or lower to fit the fd limit */
    unsigned long long refused;  /* closed at once: over the cap */
    unsigned long long deadline; /* closed: no whole request by the deadline (idle or slow) */
};

/*
 * conn_table_new - account for @http's connections from now on. @max: the
 * most open at once; @deadline_secs: how long a request may take to arrive.
 */
struct conn_table *conn_table_new(struct event_base *base, struct evhttp *http, size_t max,
                                  int deadline_secs);
/* conn_table_free - after evhttp_free (which closes every connection). */
void conn_table_free(struct conn_table *t);
void conn_table_stats(const struct conn_table *t, struct conn_stats *out);

/*
 * conn_begin - a request on @evcon is in and about to be answered: its
 * deadline stops. @gone(@arg) runs if the connection closes before
 * conn_end. Returns the connection, or NULL when it is not one we track.
 */
struct conn *conn_begin(struct conn_table *t, struct evhttp_connection *evcon,
                        void (*gone)(void *arg), void *arg);
/* conn_end - the answer is sent (or a stream ended): the next request's deadline starts. */
void conn_end(struct conn *c);

#endif
