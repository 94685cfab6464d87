/*
 * events_http.c - GET /v1/events (pages) and GET /v1/events/stream
 * (Server-Sent Events).
 *
 * The streams share one reader, the hub: while any stream is open it reads
 * every partition's new events every EVENTS_TICK_MS, from where it left off,
 * and hands each event to the streams whose filters it matches. A stream
 * that resumes from a Last-Event-ID first reads on its own (catching up)
 * until it reaches the hub's place, then joins it. A stream delivers only
 * events after the last one it sent, so joining repeats nothing, and the hub
 * and catching up both read up to a watermark, so nothing is skipped.
 *
 * A client that reads slower than events come has its unsent bytes bounded:
 * past stream_buffer_bytes it is dropped, and resumes with its Last-Event-ID.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/http.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "services/inventory/events_store.h"
#include "services/inventory/inventory_internal.h"

#define EVENTS_TICK_MS      100
#define EVENTS_PAGE_DEFAULT 100
#define CATCHUP_PAGE        500

struct stream {
    struct events_hub *hub;
    struct request *r; /* NULL once the stream is over */
    struct ev_query q; /* its filters; q.after: the place delivered through */
    int from_now;      /* no Last-Event-ID: starts where the hub is when it has a place */
    int live;          /* caught up: the hub feeds it */
    int reading;       /* a catch-up read is in flight */
    int redact;        /* leave out who the customer is (sees_customers) */
    uint64_t last_write_ms;
    struct stream *prev, *next;
};

/* The hub's read in flight; outlives the hub if it is freed meanwhile. */
struct hub_read {
    struct events_hub *hub;
};

struct events_hub {
    const struct config *cfg;
    struct stock_store *store;
    struct http_server *srv;
    struct event *tick;
    struct ev_pos head; /* every event through here has been handed to the live streams */
    int have_head;
    struct hub_read *reading;
    struct stream *streams;
    size_t nstreams;
};

static void count(struct events_hub *hub, const char *name, const char *help, const char *labels)
{
    struct metrics *m = http_server_metrics(hub->srv);

    if (m != NULL)
        metrics_counter_add(m, name, help, labels, 1);
}

/* ---- query parameters, shared by pages and streams ---- */

static const char *const event_types[] = {
    "stock.changed",
    "stock.low",
    "stock.out",
    "stock.back",
    "stock.shortfall",
    "reservation.held",
    "reservation.committed",
    "reservation.released",
    "reservation.expired",
    "reservation.fulfilled",
    "order.placed",
    "stock.",
    "reservation.",
    "order.",
};

/* Read sku, location and type into @q. @return 0, or -1 (replied). */
static int read_filters(struct request *r, struct ev_query *q)
{
    const char *sku = request_query(r, "sku"), *loc = request_query(r, "location");
    const char *type = request_query(r, "type");

    if (sku != NULL && !proto_id_valid(sku)) {
        request_reply_problem(r, PROBLEM_INVALID_QUERY, "sku", NULL,
                              "sku must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
        return -1;
    }
    if (loc != NULL && !proto_id_valid(loc)) {
        request_reply_problem(r, PROBLEM_INVALID_QUERY, "location", NULL,
                              "location must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
        return -1;
    }
    if (type != NULL) {
        size_t i, n = sizeof(event_types) / sizeof(event_types[0]);
        for (i = 0; i < n && strcmp(type, event_types[i]) != 0; i++)
            ;
        if (i == n) {
            request_reply_problem(r, PROBLEM_INVALID_QUERY, "type", NULL,
                                  "type must be an event type (stock.changed) or a family "
                                  "(stock., reservation., order.)");
            return -1;
        }
        snprintf(q->type, sizeof(q->type), "%s", type);
    }
    if (sku != NULL)
        snprintf(q->sku, sizeof(q->sku), "%s", sku);
    if (loc != NULL)
        snprintf(q->location, sizeof(q->location), "%s", loc);
    return 0;
}

/* Read a cursor named @name from @s into @pos. @return 0, or -1 (replied). */
static int read_cursor(struct request *r, const char *name, const char *s, struct ev_pos *pos)
{
    if (ev_cursor_parse(s, request_config(r)->partitions, pos) == 0)
        return 0;
    request_reply_problem(r, PROBLEM_INVALID_QUERY, name, NULL,
                          "%s must be an event id as this service gives them", name);
    return -1;
}

/*
 * Whether @r's key may see who a customer is: agents and admins. The events
 * of a whole reservation name its customer; the other roles read them without.
 */
static int sees_customers(const struct request *r)
{
    return (r->key->role & (ROLE_AGENT | ROLE_ADMIN)) != 0;
}

/* ---- GET /v1/events ---- */

static void page_read(json_t *events, const struct ev_pos *next, const char *err, void *arg)
{
    struct request *r = arg;
    char cursor[EV_CURSOR_SIZE];

    if (err != NULL) {
        log_warn("event=events_read_failed err=\"%s\"", err);
        request_reply_unavailable(r);
        return;
    }
    if (!sees_customers(r)) {
        size_t i;
        json_t *ev;
        json_array_foreach(events, i, ev) json_object_del(ev, "customer");
    }
    ev_cursor_format(next, cursor);
    request_reply_json(r, 200, json_pack("{s:o, s:s}", "events", events, "next", cursor));
}

static void events_page(struct request *r)
{
    struct inventory *inv = r->ctx;
    const char *after = request_query(r, "after"), *limit = request_query(r, "limit");
    struct ev_query q;
    struct proto_error err;
    long long n = EVENTS_PAGE_DEFAULT;

    memset(&q, 0, sizeof(q));
    if (after != NULL && read_cursor(r, "after", after, &q.after) != 0)
        return;
    if (limit != NULL && proto_parse_uint(limit, "limit", 1, EVENTS_LIMIT_MAX, &n, &err) != 0) {
        request_reply_error(r, &err);
        return;
    }
    if (read_filters(r, &q) != 0)
        return;
    q.limit = (size_t)n;
    if (events_read(&inv->store, &q, page_read, r) != 0)
        request_reply_unavailable(r);
}

/* ---- streams ---- */

static void stream_free(struct stream *s)
{
    free(s);
}

static void stream_unlink(struct stream *s)
{
    struct events_hub *hub = s->hub;

    if (s->prev)
        s->prev->next = s->next;
    else
        hub->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    hub->nstreams--;
    if (hub->nstreams == 0) {
        /* Nobody listens: stop reading, and start from the present next time. */
        evtimer_del(hub->tick);
        hub->have_head = 0;
    }
}

/* The client went away, or the server is draining. */
static void stream_closed(struct request *r, void *arg)
{
    struct stream *s = arg;

    (void)r;
    count(s->hub, "omnistock_event_streams_closed_total", "Event streams closed, by how",
          "how=\"closed\"");
    stream_unlink(s);
    s->r = NULL;
    if (!s->reading)
        stream_free(s);
}

/* Send @text; drop the client if it has fallen too far behind. @return 0, or -1 (dropped). */
static int stream_send(struct stream *s, struct evbuffer *buf)
{
    size_t pending = request_stream_write(s->r, buf);

    s->last_write_ms = (uint64_t)clock_mono_ms();
    if ((long long)pending <= s->hub->cfg->stream_buffer_bytes)
        return 0;
    log_warn("event=stream_dropped id=%s pending=%zu", s->r->id, pending);
    count(s->hub, "omnistock_event_streams_closed_total", "Event streams closed, by how",
          "how=\"too_slow\"");
    stream_unlink(s);
    request_stream_drop(s->r);
    s->r = NULL;
    if (!s->reading)
        stream_free(s);
    return -1;
}

/* Send the events of @events (all after s->q.after) that match the stream's filters. */
static int stream_deliver(struct stream *s, json_t *events)
{
    struct evbuffer *buf = evbuffer_new();
    size_t i;
    json_t *ev;
    int rc = 0;

    if (buf == NULL)
        return 0;
    json_array_foreach(events, i, ev)
    {
        const char *id = json_string_value(json_object_get(ev, "id"));
        struct ev_pos pos;
        char *text;

        if (id == NULL || ev_cursor_parse(id, s->hub->cfg->partitions, &pos) != 0 ||
            ev_pos_cmp(&pos, &s->q.after) <= 0 || !ev_query_matches(&s->q, ev))
            continue;
        if (s->redact && json_object_get(ev, "customer") != NULL) {
            /* The hub's events are shared by every stream: dump a copy without the name. */
            json_t *copy = json_copy(ev);
            json_object_del(copy, "customer");
            text = json_dumps(copy, JSON_COMPACT);
            json_decref(copy);
        } else {
            text = json_dumps(ev, JSON_COMPACT);
        }
        if (text == NULL)
            continue;
        evbuffer_add_printf(buf, "id: %s\nevent: %s\ndata: %s\n\n", id,
                            json_string_value(json_object_get(ev, "type")), text);
        free(text);
        s->q.after = pos;
    }
    if (evbuffer_get_length(buf) > 0)
        rc = stream_send(s, buf);
    evbuffer_free(buf);
    return rc;
}

static void stream_advance(struct stream *s);

static void catchup_read(json_t *events, const struct ev_pos *next, const char *err, void *arg)
{
    struct stream *s = arg;
    int full;

    s->reading = 0;
    if (s->r == NULL) {
        json_decref(events);
        stream_free(s);
        return;
    }
    if (err != NULL) {
        /* Redis did not answer: the next tick tries again from the same place. */
        log_warn("event=events_catchup_failed id=%s err=\"%s\"", s->r->id, err);
        return;
    }
    full = json_array_size(events) == s->q.limit;
    if (stream_deliver(s, events) != 0) {
        json_decref(events);
        return;
    }
    json_decref(events);
    if (ev_pos_cmp(next, &s->q.after) > 0)
        s->q.after = *next;
    if (s->hub->have_head && ev_pos_cmp(&s->q.after, &s->hub->head) >= 0)
        s->live = 1;
    else if (full || s->hub->have_head)
        stream_advance(s); /* more to read, or the hub moved on meanwhile */
}

/* Move a stream that is not live yet towards the hub's place. */
static void stream_advance(struct stream *s)
{
    struct events_hub *hub = s->hub;

    if (s->live || s->reading)
        return;
    if (s->from_now) {
        if (!hub->have_head)
            return;
        s->q.after = hub->head;
        s->from_now = 0;
        s->live = 1;
        return;
    }
    if (hub->have_head && ev_pos_cmp(&s->q.after, &hub->head) >= 0) {
        s->live = 1;
        return;
    }
    s->q.limit = CATCHUP_PAGE;
    if (events_read(hub->store, &s->q, catchup_read, s) == 0)
        s->reading = 1;
}

static void hub_poll(struct events_hub *hub);

static void hub_read(json_t *events, const struct ev_pos *next, const char *err, void *arg)
{
    struct hub_read *hr = arg;
    struct events_hub *hub = hr->hub;
    struct stream *s, *following;
    int full;

    free(hr);
    if (hub == NULL) { /* freed meanwhile */
        json_decref(events);
        return;
    }
    hub->reading = NULL;
    if (err != NULL) {
        log_warn("event=events_poll_failed err=\"%s\"", err);
        return;
    }
    full = json_array_size(events) == EVENTS_LIMIT_MAX;
    for (s = hub->streams; s != NULL; s = following) {
        following = s->next; /* delivering may drop s */
        if (s->live && stream_deliver(s, events) == 0 && ev_pos_cmp(next, &s->q.after) > 0)
            s->q.after = *next;
    }
    json_decref(events);
    hub->head = *next;
    if (full && hub->nstreams > 0)
        hub_poll(hub);
}

static void hub_now(const struct ev_pos *now, const char *err, void *arg)
{
    struct hub_read *hr = arg;
    struct events_hub *hub = hr->hub;
    struct stream *s, *following;

    free(hr);
    if (hub == NULL)
        return;
    hub->reading = NULL;
    if (err != NULL || hub->nstreams == 0)
        return;
    hub->head = *now;
    hub->have_head = 1;
    for (s = hub->streams; s != NULL; s = following) {
        following = s->next;
        stream_advance(s);
    }
}

/* Read on from the hub's place; the first time, learn the present from Redis's clocks. */
static void hub_poll(struct events_hub *hub)
{
    struct hub_read *hr;
    int rc;

    if (hub->reading != NULL || (hr = malloc(sizeof(*hr))) == NULL)
        return;
    hr->hub = hub;
    if (!hub->have_head) {
        rc = events_now(hub->store, hub_now, hr);
    } else {
        struct ev_query q;
        memset(&q, 0, sizeof(q));
        q.after = hub->head;
        q.limit = EVENTS_LIMIT_MAX;
        rc = events_read(hub->store, &q, hub_read, hr);
    }
    if (rc != 0) {
        free(hr);
        return;
    }
    hub->reading = hr;
}

static void hub_tick(evutil_socket_t fd, short what, void *arg)
{
    struct events_hub *hub = arg;
    uint64_t now = (uint64_t)clock_mono_ms();
    struct stream *s, *following;

    (void)fd;
    (void)what;
    hub_poll(hub);
    for (s = hub->streams; s != NULL; s = following) {
        following = s->next;
        stream_advance(s);
        if (s->r != NULL && now - s->last_write_ms >= (uint64_t)hub->cfg->stream_heartbeat_ms) {
            struct evbuffer *buf = evbuffer_new();
            if (buf != NULL) {
                evbuffer_add(buf, ": heartbeat\n\n", 13);
                stream_send(s, buf);
                evbuffer_free(buf);
            }
        }
    }
}

static void events_stream(struct request *r)
{
    struct inventory *inv = r->ctx;
    struct events_hub *hub = inv->hub;
    struct evkeyvalq *in = evhttp_request_get_input_headers(r->ev);
    const char *last = evhttp_find_header(in, "Last-Event-ID");
    const char *after = request_query(r, "after");
    struct timeval every = {0, EVENTS_TICK_MS * 1000};
    struct evbuffer *buf;
    struct stream *s;

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    /* A reconnecting EventSource repeats the URL it was given: Last-Event-ID wins. */
    if ((last != NULL && read_cursor(r, "Last-Event-ID", last, &s->q.after) != 0) ||
        (last == NULL && after != NULL && read_cursor(r, "after", after, &s->q.after) != 0) ||
        read_filters(r, &s->q) != 0) {
        free(s);
        return;
    }
    if (!rclient_ready(request_redis(r))) {
        free(s);
        request_reply_unavailable(r);
        return;
    }
    if (evhttp_request_get_command(r->ev) == EVHTTP_REQ_HEAD) {
        /* What a GET would answer, without the stream that never ends. */
        free(s);
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control", "no-cache");
        request_reply_raw(r, 200, "text/event-stream", evbuffer_new());
        return;
    }
    if ((long long)hub->nstreams >= hub->cfg->stream_max_clients) {
        free(s);
        request_reply_problem(r, PROBLEM_UNAVAILABLE, NULL, NULL,
                              "too many event streams are open; try again later");
        return;
    }
    s->hub = hub;
    s->r = r;
    s->from_now = last == NULL && after == NULL;
    s->redact = !sees_customers(r);
    s->next = hub->streams;
    if (hub->streams)
        hub->streams->prev = s;
    hub->streams = s;
    if (hub->nstreams++ == 0)
        evtimer_add(hub->tick, &every);
    count(hub, "omnistock_event_streams_opened_total", "Event streams opened", NULL);
    request_stream_start(r, "text/event-stream", stream_closed, s);
    /* Tell the client how soon to come back, and that it is connected. */
    if ((buf = evbuffer_new()) != NULL) {
        evbuffer_add_printf(buf, "retry: 1000\n: connected\n\n");
        stream_send(s, buf);
        evbuffer_free(buf);
    }
    stream_advance(s);
    if (!hub->have_head)
        hub_poll(hub);
}

struct events_hub *events_hub_new(const struct config *cfg, struct event_base *base,
                                  struct stock_store *store, struct http_server *srv)
{
    struct events_hub *hub = calloc(1, sizeof(*hub));

    if (hub == NULL)
        return NULL;
    hub->cfg = cfg;
    hub->store = store;
    hub->srv = srv;
    hub->tick = event_new(base, -1, EV_PERSIST, hub_tick, hub);
    if (hub->tick == NULL) {
        free(hub);
        return NULL;
    }
    return hub;
}

void events_hub_free(struct events_hub *hub)
{
    if (hub == NULL)
        return;
    if (hub->reading != NULL)
        hub->reading->hub = NULL;
    /* The server's drain ends the streams before this; end any left. */
    while (hub->streams != NULL) {
        struct stream *s = hub->streams;
        struct request *r = s->r;
        stream_unlink(s);
        s->r = NULL;
        if (!s->reading)
            stream_free(s);
        request_stream_end(r);
    }
    event_free(hub->tick);
    free(hub);
}

const struct route events_routes[] = {
    {EVHTTP_REQ_GET, "/v1/events", "events", ROLE_ANY, 0, events_page},
    {EVHTTP_REQ_GET, "/v1/events/stream", "events_stream", ROLE_ANY, 0, events_stream},
};

const size_t events_nroutes = sizeof(events_routes) / sizeof(events_routes[0]);
