/*
 * test_events.c - the event log over HTTP: pages of GET /v1/events and the
 * Server-Sent Events of GET /v1/events/stream, through the real daemon.
 *
 * Every check compares what a client received with what Redis holds: the
 * events of every partition's stream ({pNN}:events), read directly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness/harness.h"

#define ADMIN      (h->keys[HARNESS_ADMIN])
#define NPARTS     16
#define MAX_EVENTS 4096

/* SKUs chosen to fall in several partitions. */
static const char *const skus[] = {"EV-A", "EV-B", "EV-C", "EV-D", "EV-E", "EV-F"};
#define NSKUS (sizeof(skus) / sizeof(skus[0]))

static void movement(const struct harness *h, const char *sku, const char *location,
                     const char *type, int quantity)
{
    char body[256];
    struct harness_response *r;

    snprintf(body, sizeof(body),
             "{\"sku\": \"%s\", \"location\": \"%s\", \"type\": \"%s\", \"quantity\": %d}", sku,
             location, type, quantity);
    r = harness_post_json(h, h->keys[HARNESS_ADMIN], "/v1/movements", body);
    if (r->status != 201)
        fail_msg("movement %s: status %d %s", body, r->status, r->body ? r->body : "");
    harness_response_free(r);
}

/* ---- what Redis holds ---- */

struct ev_id {
    unsigned long long ms, seq;
    unsigned part;
};

static int id_parse(const char *s, struct ev_id *out)
{
    char tail;

    return sscanf(s, "%u-%llu-%llu%c", &out->part, &out->ms, &out->seq, &tail) == 3 ? 0 : -1;
}

static int id_cmp(const struct ev_id *a, const struct ev_id *b)
{
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    if (a->part != b->part)
        return a->part < b->part ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

static int id_text_cmp(const void *a, const void *b)
{
    struct ev_id x, y;

    id_parse(*(char *const *)a, &x);
    id_parse(*(char *const *)b, &y);
    return id_cmp(&x, &y);
}

/* Every event id in Redis whose event matches (@sku, @location: NULL for any), in order. */
static size_t redis_event_ids(struct harness *h, const char *sku, const char *location, char **out,
                              size_t max)
{
    size_t n = 0;

    for (unsigned p = 0; p < NPARTS; p++) {
        redisReply *rep = harness_redis_command(&h->redis, "XRANGE {p%02u}:events - +", p);
        for (size_t i = 0; rep != NULL && rep->type == REDIS_REPLY_ARRAY && i < rep->elements;
             i++) {
            redisReply *e = rep->element[i], *f = e->element[1];
            json_t *ev = NULL;
            const char *esku, *eloc;
            char id[80];
            /* An entry is the event alone, its JSON in field 'e'. */
            assert_int_equal(f->elements, 2);
            assert_string_equal(f->element[0]->str, "e");
            ev = json_loads(f->element[1]->str, 0, NULL);
            assert_non_null(ev);
            esku = json_string_value(json_object_get(ev, "sku"));
            eloc = json_string_value(json_object_get(ev, "location"));
            if ((sku && (!esku || strcmp(esku, sku) != 0)) ||
                (location && (!eloc || strcmp(eloc, location) != 0))) {
                json_decref(ev);
                continue;
            }
            json_decref(ev);
            snprintf(id, sizeof(id), "%u-%s", p, e->element[0]->str);
            assert_true(n < max);
            out[n++] = strdup(id);
        }
        freeReplyObject(rep);
    }
    qsort(out, n, sizeof(*out), id_text_cmp);
    return n;
}

static void ids_free(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
}

/* Both lists hold the same ids in the same order. */
static void assert_same_ids(char **got, size_t ngot, char **want, size_t nwant)
{
    for (size_t i = 0; i < ngot && i < nwant; i++) {
        if (strcmp(got[i], want[i]) != 0)
            fail_msg("event %zu: got %s, Redis has %s", i, got[i], want[i]);
    }
    if (ngot != nwant)
        fail_msg("got %zu events, Redis has %zu", ngot, nwant);
}

/* ---- pages ---- */

/* Page through GET /v1/events with @query (e.g. "sku=EV-A&") from @after; collect the ids. */
static size_t page_all(struct harness *h, const char *key, const char *query, const char *after,
                       int limit, char **out, size_t max, char *last_next)
{
    char path[512], next[80] = "";
    size_t n = 0;

    if (after != NULL)
        snprintf(next, sizeof(next), "%s", after);
    for (int page = 0; page < 1000; page++) {
        struct harness_response *r;
        json_t *events, *ev;
        size_t i;

        snprintf(path, sizeof(path), "/v1/events?%slimit=%d%s%s", query, limit,
                 next[0] ? "&after=" : "", next);
        r = harness_get(h, key, path);
        harness_assert_status(r, 200);
        events = json_object_get(r->json, "events");
        assert_true(json_is_array(events));
        assert_true(json_array_size(events) <= (size_t)limit);
        assert_non_null(json_string_value(json_object_get(r->json, "next")));
        json_array_foreach(events, i, ev)
        {
            const char *id = json_string_value(json_object_get(ev, "id"));
            assert_non_null(id);
            assert_non_null(json_string_value(json_object_get(ev, "type")));
            assert_non_null(json_string_value(json_object_get(ev, "at")));
            assert_true(n < max);
            out[n++] = strdup(id);
        }
        snprintf(next, sizeof(next), "%s", json_string_value(json_object_get(r->json, "next")));
        if (json_array_size(events) == 0) {
            harness_response_free(r);
            break;
        }
        harness_response_free(r);
    }
    if (last_next != NULL)
        snprintf(last_next, 80, "%s", next);
    return n;
}

static void test_events__pages_hold_every_event_once_in_order(void **state)
{
    struct harness *h = *state;
    char *got[MAX_EVENTS], *want[MAX_EVENTS], next[80];
    size_t ngot, nwant;

    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < NSKUS; i++)
            movement(h, skus[i], round % 2 ? "store-leeds" : "wh-1", "receipt", 3);
    }
    ngot = page_all(h, h->keys[HARNESS_AGENT], "", NULL, 7, got, MAX_EVENTS, next);
    nwant = redis_event_ids(h, NULL, NULL, want, MAX_EVENTS);
    assert_true(nwant >= 30);
    assert_same_ids(got, ngot, want, nwant);

    /* Reading on from the last cursor gives nothing new, then exactly what happens next. */
    ids_free(got, ngot);
    ngot = page_all(h, h->keys[HARNESS_AGENT], "", next, 50, got, MAX_EVENTS, NULL);
    assert_int_equal(ngot, 0);
    movement(h, "EV-C", "wh-1", "sale", 1);
    usleep(20 * 1000); /* the millisecond of the sale is over */
    ngot = page_all(h, h->keys[HARNESS_AGENT], "", next, 50, got, MAX_EVENTS, NULL);
    assert_int_equal(ngot, 1);
    ids_free(want, nwant);
    nwant = redis_event_ids(h, NULL, NULL, want, MAX_EVENTS);
    assert_string_equal(got[0], want[nwant - 1]);
    ids_free(got, ngot);
    ids_free(want, nwant);
}

static void test_events__filters_by_sku_location_and_type(void **state)
{
    struct harness *h = *state;
    char *got[MAX_EVENTS], *want[MAX_EVENTS];
    size_t ngot, nwant;
    struct harness_response *r;
    json_t *ev;
    size_t i;

    movement(h, "EV-B", "store-leeds", "receipt", 2);
    movement(h, "EV-E", "store-leeds", "receipt", 2);

    ngot = page_all(h, ADMIN, "sku=EV-B&", NULL, 3, got, MAX_EVENTS, NULL);
    nwant = redis_event_ids(h, "EV-B", NULL, want, MAX_EVENTS);
    assert_true(nwant > 0);
    assert_same_ids(got, ngot, want, nwant);
    ids_free(got, ngot);
    ids_free(want, nwant);

    ngot = page_all(h, ADMIN, "location=store-leeds&", NULL, 4, got, MAX_EVENTS, NULL);
    nwant = redis_event_ids(h, NULL, "store-leeds", want, MAX_EVENTS);
    assert_true(nwant > 0);
    assert_same_ids(got, ngot, want, nwant);
    ids_free(got, ngot);
    ids_free(want, nwant);

    ngot = page_all(h, ADMIN, "sku=EV-E&location=wh-1&", NULL, 2, got, MAX_EVENTS, NULL);
    nwant = redis_event_ids(h, "EV-E", "wh-1", want, MAX_EVENTS);
    assert_same_ids(got, ngot, want, nwant);
    ids_free(got, ngot);
    ids_free(want, nwant);

    /* A type, and a family of types. */
    r = harness_get(h, ADMIN, "/v1/events?type=stock.changed&limit=1000");
    harness_assert_status(r, 200);
    assert_true(json_array_size(json_object_get(r->json, "events")) > 0);
    json_array_foreach(json_object_get(r->json, "events"), i, ev)
    {
        assert_string_equal(json_string_value(json_object_get(ev, "type")), "stock.changed");
    }
    harness_response_free(r);
    r = harness_get(h, ADMIN, "/v1/events?type=stock.&limit=1000");
    harness_assert_status(r, 200);
    json_array_foreach(json_object_get(r->json, "events"), i, ev)
    {
        assert_memory_equal(json_string_value(json_object_get(ev, "type")), "stock.", 6);
    }
    harness_response_free(r);
}

static void test_events__an_event_says_what_changed(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;
    char path[160], *ids[MAX_EVENTS];
    size_t n = redis_event_ids(h, NULL, NULL, ids, MAX_EVENTS);
    json_t *ev;

    /*
     * The page after the last event so far holds the next movement's event,
     * once the millisecond it happened in is over.
     */
    snprintf(path, sizeof(path), "/v1/events?after=%s", ids[n - 1]);
    movement(h, "EV-D", "store-leeds", "receipt", 4);
    for (int i = 0;; i++) {
        r = harness_get(h, h->keys[HARNESS_STORE_LEEDS], path);
        harness_assert_status(r, 200);
        if (json_array_size(json_object_get(r->json, "events")) > 0 || i == 100)
            break;
        harness_response_free(r);
        usleep(10 * 1000);
    }
    ev = json_array_get(json_object_get(r->json, "events"), 0);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "stock.changed");
    assert_string_equal(json_string_value(json_object_get(ev, "sku")), "EV-D");
    assert_string_equal(json_string_value(json_object_get(ev, "location")), "store-leeds");
    assert_true(json_integer_value(harness_jget(ev, "levels/on_hand")) >= 4);
    assert_string_equal(json_string_value(harness_jget(ev, "movement/type")), "receipt");
    assert_int_equal(json_integer_value(harness_jget(ev, "movement/quantity")), 4);
    harness_response_free(r);
    ids_free(ids, n);
}

static void test_events__bad_queries_are_refused(void **state)
{
    struct harness *h = *state;
    static const struct {
        const char *path, *field;
    } bad[] = {
        {"/v1/events?after=nonsense", "after"},
        {"/v1/events?after=16-1-0", "after"}, /* partition 16 of 16 */
        {"/v1/events?after=3-1", "after"},
        {"/v1/events?limit=0", "limit"},
        {"/v1/events?limit=1001", "limit"},
        {"/v1/events?limit=ten", "limit"},
        {"/v1/events?sku=no%20spaces", "sku"},
        {"/v1/events?location=a%2Fb", "location"},
        {"/v1/events?type=stock.gone", "type"},
        {"/v1/events/stream?type=everything", "type"},
        {"/v1/events/stream?after=x", "after"},
    };
    char before[41];

    assert_int_equal(harness_redis_digest(&h->redis, before), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct harness_response *r = harness_get(h, ADMIN, bad[i].path);
        harness_context("GET %s", bad[i].path);
        harness_assert_problem(r, 400, "invalid-query", bad[i].field);
        harness_response_free(r);
    }
    harness_context("%s", "");
    harness_assert_unchanged(h, before);
}

static void test_events__every_role_reads_events_and_a_key_is_needed(void **state)
{
    struct harness *h = *state;
    struct harness_response *r;

    for (int role = 0; role < HARNESS_NROLES; role++) {
        r = harness_get(h, h->keys[role], "/v1/events?limit=1");
        harness_assert_status(r, 200);
        harness_response_free(r);
    }
    r = harness_get(h, NULL, "/v1/events");
    harness_assert_problem(r, 401, "unauthorized", NULL);
    harness_response_free(r);
    r = harness_get(h, NULL, "/v1/events/stream");
    harness_assert_problem(r, 401, "unauthorized", NULL);
    harness_response_free(r);
}

/* ---- a Server-Sent Events client ---- */

struct sse {
    int fd;
    int status;
    char raw[1 << 16]; /* bytes read, not yet decoded from chunks */
    size_t nraw;
    char *body; /* decoded stream text not yet parsed into events */
    size_t nbody, capbody;
    size_t chunk_left; /* bytes left in the current chunk */
    int eof;
};

struct sse_event {
    char id[80];
    char type[48];
    json_t *data;
};

/* Connect and send the request. @rcvbuf: a small receive buffer, or 0. */
static struct sse *sse_open(const struct harness *h, const char *key, const char *path,
                            const char *last_id, int rcvbuf)
{
    struct sse *s = calloc(1, sizeof(*s));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port)};
    char req[1024];
    int n;

    assert_non_null(s);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    if (rcvbuf > 0)
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    assert_int_equal(connect(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                 "Authorization: Bearer %s\r\n%s%s%s\r\n",
                 path, key, last_id ? "Last-Event-ID: " : "", last_id ? last_id : "",
                 last_id ? "\r\n" : "");
    assert_int_equal(write(s->fd, req, (size_t)n), n);
    return s;
}

static void sse_close(struct sse *s)
{
    close(s->fd);
    free(s->body);
    free(s);
}

static void body_add(struct sse *s, const char *p, size_t n)
{
    if (s->nbody + n + 1 > s->capbody) {
        s->capbody = (s->nbody + n + 1) * 2;
        s->body = realloc(s->body, s->capbody);
        assert_non_null(s->body);
    }
    memcpy(s->body + s->nbody, p, n);
    s->nbody += n;
    s->body[s->nbody] = '\0';
}

/* Decode what can be decoded of the raw bytes: the headers, then chunks. */
static void sse_decode(struct sse *s)
{
    size_t used = 0;

    if (s->status == 0) {
        char *end = memmem(s->raw, s->nraw, "\r\n\r\n", 4);
        if (end == NULL)
            return;
        assert_true(sscanf(s->raw, "HTTP/1.1 %d", &s->status) == 1);
        used = (size_t)(end - s->raw) + 4;
    }
    for (;;) {
        if (s->chunk_left > 0) {
            size_t take = s->nraw - used < s->chunk_left ? s->nraw - used : s->chunk_left;
            if (take == 0)
                break;
            body_add(s, s->raw + used, take);
            used += take;
            s->chunk_left -= take;
            if (s->chunk_left == 0)
                s->chunk_left = (size_t)-1; /* the CRLF after the chunk */
            continue;
        }
        if (s->chunk_left == (size_t)-1) {
            if (s->nraw - used < 2)
                break;
            used += 2;
            s->chunk_left = 0;
            continue;
        }
        {
            char *eol = memmem(s->raw + used, s->nraw - used, "\r\n", 2);
            unsigned long size;
            if (eol == NULL)
                break;
            size = strtoul(s->raw + used, NULL, 16);
            used = (size_t)(eol - s->raw) + 2;
            if (size == 0) {
                s->eof = 1;
                break;
            }
            s->chunk_left = size;
        }
    }
    memmove(s->raw, s->raw + used, s->nraw - used);
    s->nraw -= used;
}

/* Read once, waiting up to @ms. @return bytes read, 0 on timeout, -1 at the end. */
static int sse_read(struct sse *s, int ms)
{
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    ssize_t n;

    if (s->eof)
        return -1;
    if (poll(&p, 1, ms) <= 0)
        return 0;
    n = read(s->fd, s->raw + s->nraw, sizeof(s->raw) - s->nraw);
    if (n <= 0) {
        s->eof = 1;
        return -1;
    }
    s->nraw += (size_t)n;
    sse_decode(s);
    return (int)n;
}

/* Wait (up to @ms) for the response's status line. */
static int sse_status(struct sse *s, int ms)
{
    long long deadline = harness_now_ms() + ms;

    while (s->status == 0 && !s->eof && harness_now_ms() < deadline)
        sse_read(s, 100);
    return s->status;
}

/*
 * The next block of the stream: an event (1, filled in @ev) or a comment
 * line (2, @comment set when not NULL). 0 when nothing came within @ms,
 * -1 at the end of the stream.
 */
static int sse_next(struct sse *s, struct sse_event *ev, char *comment, size_t comment_len, int ms)
{
    long long deadline = harness_now_ms() + ms;

    memset(ev, 0, sizeof(*ev));
    for (;;) {
        char *end = s->body ? strstr(s->body, "\n\n") : NULL;
        if (end != NULL) {
            size_t len = (size_t)(end - s->body) + 2;
            int kind = 0;
            *end = '\0';
            for (char *line = s->body, *nl; line != NULL && *line; line = nl) {
                nl = strchr(line, '\n');
                if (nl != NULL)
                    *nl++ = '\0';
                if (line[0] == ':') {
                    if (comment != NULL)
                        snprintf(comment, comment_len, "%s", line + 1);
                    if (kind == 0)
                        kind = 2;
                } else if (strncmp(line, "id: ", 4) == 0) {
                    snprintf(ev->id, sizeof(ev->id), "%s", line + 4);
                    kind = 1;
                } else if (strncmp(line, "event: ", 7) == 0) {
                    snprintf(ev->type, sizeof(ev->type), "%s", line + 7);
                } else if (strncmp(line, "data: ", 6) == 0) {
                    ev->data = json_loads(line + 6, 0, NULL);
                    assert_non_null(ev->data);
                }
            }
            memmove(s->body, s->body + len, s->nbody - len + 1);
            s->nbody -= len;
            if (kind != 0)
                return kind;
            continue; /* a "retry:" line alone */
        }
        if (harness_now_ms() >= deadline)
            return 0;
        if (sse_read(s, (int)(deadline - harness_now_ms())) < 0 && (s->body == NULL || !s->nbody))
            return -1;
    }
}

/* The next event, skipping comments; fails the test if none comes within 10 s. */
static void sse_expect_event(struct sse *s, struct sse_event *ev)
{
    int kind;

    while ((kind = sse_next(s, ev, NULL, 0, 10000)) == 2)
        ;
    if (kind != 1)
        fail_msg("no event came (%d)", kind);
}

/* Wait for the ": connected" comment that opens every stream. */
static void sse_expect_open(struct sse *s)
{
    struct sse_event ev;
    char comment[64] = "";

    assert_int_equal(sse_status(s, 10000), 200);
    assert_int_equal(sse_next(s, &ev, comment, sizeof(comment), 10000), 2);
    assert_string_equal(comment, " connected");
}

/* ---- streams ---- */

static void test_events__a_stream_shows_a_movement_as_it_happens(void **state)
{
    struct harness *h = *state;
    struct sse *s = sse_open(h, h->keys[HARNESS_STOREFRONT], "/v1/events/stream", NULL, 0);
    struct sse_event ev;
    char *ids[MAX_EVENTS];
    size_t n;

    sse_expect_open(s);
    movement(h, "EV-A", "wh-1", "receipt", 5);
    sse_expect_event(s, &ev);
    assert_string_equal(ev.type, "stock.changed");
    assert_string_equal(json_string_value(json_object_get(ev.data, "sku")), "EV-A");
    assert_string_equal(json_string_value(json_object_get(ev.data, "id")), ev.id);
    assert_int_equal(json_integer_value(harness_jget(ev.data, "movement/quantity")), 5);
    /* The stream's id is the event's place in the log. */
    n = redis_event_ids(h, "EV-A", NULL, ids, MAX_EVENTS);
    assert_string_equal(ev.id, ids[n - 1]);
    json_decref(ev.data);
    ids_free(ids, n);
    sse_close(s);
}

static void test_events__a_stream_keeps_to_its_filters(void **state)
{
    struct harness *h = *state;
    struct sse *s = sse_open(h, ADMIN, "/v1/events/stream?sku=EV-F&location=store-leeds", NULL, 0);
    struct sse_event ev;

    sse_expect_open(s);
    movement(h, "EV-A", "store-leeds", "receipt", 1);
    movement(h, "EV-F", "wh-1", "receipt", 1);
    movement(h, "EV-F", "store-leeds", "receipt", 6);
    sse_expect_event(s, &ev);
    assert_string_equal(json_string_value(json_object_get(ev.data, "sku")), "EV-F");
    assert_string_equal(json_string_value(json_object_get(ev.data, "location")), "store-leeds");
    assert_int_equal(json_integer_value(harness_jget(ev.data, "movement/quantity")), 6);
    json_decref(ev.data);
    sse_close(s);
}

struct writer {
    const struct harness *h;
    int movements;
};

static void *write_movements(void *arg)
{
    struct writer *w = arg;

    for (int i = 0; i < w->movements; i++)
        movement(w->h, skus[i % NSKUS], i % 3 ? "wh-1" : "store-leeds", "receipt", 1);
    return NULL;
}

/* Read events from @s into @ids until @until (an id) has come. */
static void read_until(struct sse *s, const char *until, char **ids, size_t *n)
{
    struct sse_event ev;

    for (;;) {
        sse_expect_event(s, &ev);
        json_decref(ev.data);
        ids[(*n)++] = strdup(ev.id);
        if (strcmp(ev.id, until) == 0)
            return;
    }
}

static void test_events__resuming_with_last_event_id_loses_and_repeats_nothing(void **state)
{
    struct harness *h = *state;
    char *before[MAX_EVENTS], *all[MAX_EVENTS], *got[MAX_EVENTS], first_id[80];
    size_t nbefore = redis_event_ids(h, NULL, NULL, before, MAX_EVENTS), nall, ngot = 0;
    struct sse *s = sse_open(h, h->keys[HARNESS_AGENT], "/v1/events/stream", NULL, 0);
    struct writer w = {h, 40};
    struct sse_event ev;
    pthread_t t;

    sse_expect_open(s);
    /* Events happen while the client reads, drops, and comes back. */
    assert_int_equal(pthread_create(&t, NULL, write_movements, &w), 0);
    for (int i = 0; i < 10; i++) {
        sse_expect_event(s, &ev);
        json_decref(ev.data);
        if (i == 0)
            snprintf(first_id, sizeof(first_id), "%s", ev.id);
        got[ngot++] = strdup(ev.id);
    }
    sse_close(s);
    usleep(200 * 1000);
    s = sse_open(h, h->keys[HARNESS_AGENT], "/v1/events/stream", got[ngot - 1], 0);
    sse_expect_open(s);
    pthread_join(t, NULL);
    movement(h, "EV-A", "wh-1", "receipt", 1); /* the last event of all */
    nall = redis_event_ids(h, NULL, NULL, all, MAX_EVENTS);
    read_until(s, all[nall - 1], got, &ngot);
    sse_close(s);

    /* What the client saw is exactly every event from its first on. */
    {
        size_t from = nbefore;
        while (from < nall && strcmp(all[from], first_id) != 0)
            from++;
        assert_true(from < nall);
        assert_true(nall - from >= 41);
        assert_same_ids(got, ngot, all + from, nall - from);
    }
    ids_free(before, nbefore);
    ids_free(all, nall);
    ids_free(got, ngot);
}

static void test_events__a_stream_resumes_from_an_old_cursor_with_its_filter(void **state)
{
    struct harness *h = *state;
    char *want[MAX_EVENTS], *got[MAX_EVENTS];
    size_t nwant = redis_event_ids(h, "EV-C", NULL, want, MAX_EVENTS), ngot = 0;
    struct sse *s;

    /* From before the first event there is: every EV-C event ever, then live ones. */
    assert_true(nwant > 2);
    s = sse_open(h, ADMIN, "/v1/events/stream?sku=EV-C", "0-0-0", 0);
    sse_expect_open(s);
    read_until(s, want[nwant - 1], got, &ngot);
    assert_same_ids(got, ngot, want, nwant);
    movement(h, "EV-C", "wh-1", "receipt", 2);
    ids_free(want, nwant);
    nwant = redis_event_ids(h, "EV-C", NULL, want, MAX_EVENTS);
    read_until(s, want[nwant - 1], got, &ngot);
    assert_same_ids(got, ngot, want, nwant);
    ids_free(want, nwant);
    ids_free(got, ngot);
    sse_close(s);
}

static void test_events__many_streams_all_see_a_movement(void **state)
{
    struct harness *h = *state;
    enum { NSTREAMS = 150 };
    struct sse *s[NSTREAMS];
    struct harness_response *r;

    for (int i = 0; i < NSTREAMS; i++) {
        s[i] = sse_open(h, h->keys[HARNESS_STOREFRONT], "/v1/events/stream?sku=EV-B", NULL, 0);
        sse_expect_open(s[i]);
    }
    /* The API answers as usual with the streams open. */
    r = harness_get(h, ADMIN, "/v1/stock/EV-B");
    harness_assert_status(r, 200);
    harness_response_free(r);
    movement(h, "EV-B", "wh-1", "receipt", 9);
    for (int i = 0; i < NSTREAMS; i++) {
        struct sse_event ev;
        sse_expect_event(s[i], &ev);
        assert_int_equal(json_integer_value(harness_jget(ev.data, "movement/quantity")), 9);
        json_decref(ev.data);
        sse_close(s[i]);
    }
}

static void test_events__streams_answer_503_while_redis_is_down_and_resume_after(void **state)
{
    struct harness *h = *state;
    struct sse *s = sse_open(h, ADMIN, "/v1/events/stream?sku=EV-D", NULL, 0), *late;
    struct harness_response *r;
    struct sse_event ev;

    sse_expect_open(s);
    assert_int_equal(harness_redis_stop(&h->redis), 0);
    r = harness_get(h, ADMIN, "/v1/events");
    harness_assert_problem(r, 503, "unavailable", NULL);
    assert_non_null(harness_header(r, "Retry-After"));
    harness_response_free(r);
    late = sse_open(h, ADMIN, "/v1/events/stream", NULL, 0);
    assert_int_equal(sse_status(late, 10000), 503);
    sse_close(late);

    assert_int_equal(harness_redis_start(&h->redis), 0);
    for (int i = 0; i < 100; i++) {
        r = harness_get(h, ADMIN, "/readyz");
        int ready = r->status == 200;
        harness_response_free(r);
        if (ready)
            break;
        usleep(100 * 1000);
    }
    /* The stream opened before the outage carries on (on a Redis that lost its data). */
    harness_catalogue(h, skus, NSKUS);
    movement(h, "EV-D", "wh-1", "receipt", 3);
    sse_expect_event(s, &ev);
    assert_string_equal(json_string_value(json_object_get(ev.data, "sku")), "EV-D");
    json_decref(ev.data);
    sse_close(s);
}

/* Hold one EV-E at wh-1 for @customer and commit it: reservation.committed and order.placed. */
static void order_for(struct harness *h, const char *customer)
{
    struct harness_response *r;
    char body[256], path[128];

    movement(h, "EV-E", "wh-1", "receipt", 1);
    snprintf(body, sizeof(body),
             "{\"channel\": \"web\", \"customer\": \"%s\", \"lines\": [{\"sku\": \"EV-E\", "
             "\"quantity\": 1}]}",
             customer);
    r = harness_post_json(h, h->keys[HARNESS_STOREFRONT], "/v1/reservations", body);
    harness_assert_status(r, 201);
    snprintf(path, sizeof(path), "/v1/reservations/%s/commit", harness_jstr(r->json, "id"));
    harness_response_free(r);
    r = harness_http(h, "POST", path, h->keys[HARNESS_STOREFRONT], NULL, "", 0);
    harness_assert_status(r, 200);
    harness_response_free(r);
}

/* The order.placed events of a page for @key, with how many name @customer. */
static size_t orders_naming(struct harness *h, const char *key, const char *customer,
                            size_t *placed)
{
    struct harness_response *r;
    size_t i, naming = 0;
    json_t *ev;

    /* Past the millisecond of the commit, the page holds its events. */
    usleep(20 * 1000);
    r = harness_get(h, key, "/v1/events?type=order.placed&limit=1000");
    harness_assert_status(r, 200);
    *placed = json_array_size(json_object_get(r->json, "events"));
    json_array_foreach(json_object_get(r->json, "events"), i, ev)
    {
        const char *c = json_string_value(json_object_get(ev, "customer"));
        naming += c != NULL && strcmp(c, customer) == 0;
        assert_non_null(json_object_get(ev, "lines"));
    }
    if (naming == 0)
        assert_null(strstr(r->body, customer)); /* not anywhere else either */
    harness_response_free(r);
    return naming;
}

static void test_events__only_agents_and_admins_see_who_ordered(void **state)
{
    struct harness *h = *state;
    struct sse *store, *agent;
    struct sse_event ev;
    size_t placed;

    order_for(h, "cust-ev-1");
    assert_int_equal(orders_naming(h, h->keys[HARNESS_AGENT], "cust-ev-1", &placed), 1);
    assert_int_equal(orders_naming(h, ADMIN, "cust-ev-1", &placed), 1);
    assert_int_equal(orders_naming(h, h->keys[HARNESS_STOREFRONT], "cust-ev-1", &placed), 0);
    assert_true(placed >= 1);
    assert_int_equal(orders_naming(h, h->keys[HARNESS_STORE_LEEDS], "cust-ev-1", &placed), 0);
    assert_true(placed >= 1);

    /* The same live, from one shared reader. */
    store = sse_open(h, h->keys[HARNESS_STORE_LEEDS], "/v1/events/stream?type=order.", NULL, 0);
    agent = sse_open(h, h->keys[HARNESS_AGENT], "/v1/events/stream?type=order.", NULL, 0);
    sse_expect_open(store);
    sse_expect_open(agent);
    order_for(h, "cust-ev-2");
    sse_expect_event(agent, &ev);
    assert_string_equal(json_string_value(json_object_get(ev.data, "customer")), "cust-ev-2");
    json_decref(ev.data);
    sse_expect_event(store, &ev);
    assert_string_equal(ev.type, "order.placed");
    assert_null(json_object_get(ev.data, "customer"));
    json_decref(ev.data);
    sse_close(store);
    sse_close(agent);
}

static int group_setup(void **state)
{
    struct harness *h = harness_start();

    *state = h;
    if (h == NULL)
        return -1;
    harness_catalogue(h, skus, NSKUS);
    return 0;
}

static int group_teardown(void **state)
{
    return harness_stop(*state);
}

/* ---- limits, each on a daemon of its own ---- */

static void test_events__a_quiet_stream_gets_heartbeats(void **state)
{
    struct harness *h = harness_start_config("{\"events\": {\"stream_heartbeat_ms\": 300}}");
    struct sse *s;
    struct sse_event ev;
    char comment[64] = "";

    (void)state;
    assert_non_null(h);
    s = sse_open(h, ADMIN, "/v1/events/stream", NULL, 0);
    sse_expect_open(s);
    assert_int_equal(sse_next(s, &ev, comment, sizeof(comment), 5000), 2);
    assert_string_equal(comment, " heartbeat");
    sse_close(s);
    assert_int_equal(harness_stop(h), 0);
}

static void test_events__streams_beyond_the_limit_get_503(void **state)
{
    struct harness *h = harness_start_config("{\"events\": {\"stream_max_clients\": 2}}");
    struct sse *a, *b, *c;

    (void)state;
    assert_non_null(h);
    a = sse_open(h, ADMIN, "/v1/events/stream", NULL, 0);
    b = sse_open(h, ADMIN, "/v1/events/stream", NULL, 0);
    sse_expect_open(a);
    sse_expect_open(b);
    c = sse_open(h, ADMIN, "/v1/events/stream", NULL, 0);
    assert_int_equal(sse_status(c, 10000), 503);
    sse_close(c);
    /* A place freed is a place taken. */
    sse_close(a);
    usleep(300 * 1000);
    c = sse_open(h, ADMIN, "/v1/events/stream", NULL, 0);
    sse_expect_open(c);
    sse_close(b);
    sse_close(c);
    assert_int_equal(harness_stop(h), 0);
}

/* The text of the daemon's /metrics, or NULL. */
static char *metrics_text(const struct harness *h)
{
    struct harness_response *r = harness_get(h, NULL, "/metrics");
    char *text = r->status == 200 ? strdup(r->body) : NULL;

    harness_response_free(r);
    return text;
}

static void test_events__a_client_that_does_not_read_is_dropped(void **state)
{
    struct harness *h = harness_start_config("{\"events\": {\"stream_buffer_bytes\": 65536}}");
    struct sse *slow, *fast;
    struct sse_event ev;
    char body[160 * 1000 + 64], *metrics;
    struct harness_response *r;
    size_t len = 0;
    int ended = 0, batches = 0;

    (void)state;
    assert_non_null(h);
    harness_catalogue(h, skus, NSKUS);
    slow = sse_open(h, ADMIN, "/v1/events/stream", NULL, 4096);
    fast = sse_open(h, ADMIN, "/v1/events/stream?sku=EV-A&type=stock.changed", NULL, 0);
    sse_expect_open(slow);
    sse_expect_open(fast);

    /* Batches of 1,000 movements until the slow client is dropped (each event ~300 bytes). */
    len += (size_t)snprintf(body + len, sizeof(body) - len, "{\"movements\": [");
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(body + len, sizeof(body) - len,
                                "%s{\"sku\": \"EV-B\", \"location\": \"wh-1\", \"type\": "
                                "\"receipt\", \"quantity\": 1}",
                                i ? ", " : "");
    snprintf(body + len, sizeof(body) - len, "]}");
    while (!ended && batches < 100) {
        r = harness_post_json(h, ADMIN, "/v1/movements", body);
        harness_assert_status(r, 200);
        harness_response_free(r);
        batches++;
        metrics = metrics_text(h);
        assert_non_null(metrics);
        ended = strstr(metrics, "omnistock_event_streams_closed_total{how=\"too_slow\"} 1") != NULL;
        free(metrics);
    }
    assert_true(ended);
    /* The slow client finds its stream cut before the end; the others carry on. */
    while (sse_read(slow, 5000) > 0)
        ;
    assert_true(slow->eof);
    movement(h, "EV-A", "wh-1", "receipt", 7);
    sse_expect_event(fast, &ev);
    assert_int_equal(json_integer_value(harness_jget(ev.data, "movement/quantity")), 7);
    json_decref(ev.data);
    sse_close(slow);
    sse_close(fast);
    assert_int_equal(harness_stop(h), 0);
}

static void test_events__shutting_down_ends_open_streams(void **state)
{
    struct harness *h = harness_start();
    struct sse *s;

    (void)state;
    assert_non_null(h);
    s = sse_open(h, ADMIN, "/v1/events/stream", NULL, 0);
    sse_expect_open(s);
    /* SIGTERM: the daemon ends the stream and exits 0 rather than waiting on it. */
    assert_int_equal(harness_stop(h), 0);
    while (sse_read(s, 5000) > 0)
        ;
    assert_true(s->eof);
    sse_close(s);
}

int main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_events__pages_hold_every_event_once_in_order),
        cmocka_unit_test(test_events__filters_by_sku_location_and_type),
        cmocka_unit_test(test_events__an_event_says_what_changed),
        cmocka_unit_test(test_events__bad_queries_are_refused),
        cmocka_unit_test(test_events__every_role_reads_events_and_a_key_is_needed),
        cmocka_unit_test(test_events__a_stream_shows_a_movement_as_it_happens),
        cmocka_unit_test(test_events__a_stream_keeps_to_its_filters),
        cmocka_unit_test(test_events__resuming_with_last_event_id_loses_and_repeats_nothing),
        cmocka_unit_test(test_events__a_stream_resumes_from_an_old_cursor_with_its_filter),
        cmocka_unit_test(test_events__many_streams_all_see_a_movement),
        cmocka_unit_test(test_events__only_agents_and_admins_see_who_ordered),
        cmocka_unit_test(test_events__streams_answer_503_while_redis_is_down_and_resume_after),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_events__a_quiet_stream_gets_heartbeats),
        cmocka_unit_test(test_events__streams_beyond_the_limit_get_503),
        cmocka_unit_test(test_events__a_client_that_does_not_read_is_dropped),
        cmocka_unit_test(test_events__shutting_down_ends_open_streams),
    };
    int failed = cmocka_run_group_tests_name("events", shared, group_setup, group_teardown);

    return failed + cmocka_run_group_tests_name("events_limits", own, NULL, NULL);
}
