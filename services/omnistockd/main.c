/*
 * main.c - omnistockd: read the configuration, start (or reach) Redis, wire
 * the modules onto one libevent loop, and on SIGTERM or SIGINT stop
 * accepting, finish the requests in flight and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "common/config.h"
#include "common/embedded.h"
#include "common/http.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/rcache.h"
#include "common/redis.h"
#include "services/console/console.h"
#include "services/inventory/inventory.h"
#include "services/recommend/recommend.h"

#define DRAIN_LIMIT_SECONDS 10

struct daemon {
    struct config cfg;
    struct event_base *base;
    struct embedded_redis *embedded;
    struct rclient *redis;
    struct http_server *http;
    struct inventory *inventory;
    struct recommend *recommend;
    struct event *sigterm, *sigint, *deadline;
    int stopping;
};

static void healthz(struct request *r)
{
    request_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void pinged(redisReply *reply, const char *err, void *arg)
{
    struct request *r = arg;

    if (err != NULL || reply->type == REDIS_REPLY_ERROR)
        request_reply_problem(r, PROBLEM_UNAVAILABLE, NULL, NULL, "Redis is not answering");
    else
        request_reply_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

/* Ready when Redis answers a PING sent after everything the modules send on connecting. */
static void readyz(struct request *r)
{
    const char *argv[] = {"PING"};

    if (!rclient_ready(request_redis(r)) ||
        rclient_command(request_redis(r), pinged, r, 1, argv, NULL) != 0)
        request_reply_problem(r, PROBLEM_UNAVAILABLE, NULL, NULL, "Redis is not answering");
}

/* The read cache's figures; none when it is off. */
static void read_cache_metrics(const struct rcache *cache, struct evbuffer *out)
{
    const struct rcache_stats *s;

    if (cache == NULL)
        return;
    s = rcache_stats(cache);
    evbuffer_add_printf(
        out,
        "# HELP omnistock_read_cache_live 1 while every Redis master's changes are heard and "
        "the read cache is used, else 0.\n"
        "# TYPE omnistock_read_cache_live gauge\n"
        "omnistock_read_cache_live %d\n"
        "# HELP omnistock_read_cache_hits_total Stock hashes and products read from the cache.\n"
        "# TYPE omnistock_read_cache_hits_total counter\n"
        "omnistock_read_cache_hits_total %llu\n"
        "# HELP omnistock_read_cache_misses_total Reads the live cache could not answer.\n"
        "# TYPE omnistock_read_cache_misses_total counter\n"
        "omnistock_read_cache_misses_total %llu\n"
        "# HELP omnistock_read_cache_answers_total Stock answers given again as they were kept "
        "with their copy (counted in hits too).\n"
        "# TYPE omnistock_read_cache_answers_total counter\n"
        "omnistock_read_cache_answers_total %llu\n"
        "# HELP omnistock_read_cache_renewals_total Copies past their age used again because "
        "Redis gave the same version (counted in misses, as the read that asked).\n"
        "# TYPE omnistock_read_cache_renewals_total counter\n"
        "omnistock_read_cache_renewals_total %llu\n"
        "# HELP omnistock_read_cache_renewals_ahead_total Copies read during their age that "
        "Redis gave the same version for before it ran out, asked with no read waiting.\n"
        "# TYPE omnistock_read_cache_renewals_ahead_total counter\n"
        "omnistock_read_cache_renewals_ahead_total %llu\n"
        "# HELP omnistock_read_cache_invalidations_total Copies dropped because Redis said "
        "the key changed.\n"
        "# TYPE omnistock_read_cache_invalidations_total counter\n"
        "omnistock_read_cache_invalidations_total %llu\n"
        "# HELP omnistock_read_cache_evictions_total Copies dropped to stay within "
        "read_cache.entries.\n"
        "# TYPE omnistock_read_cache_evictions_total counter\n"
        "omnistock_read_cache_evictions_total %llu\n"
        "# HELP omnistock_read_cache_clears_total Times every copy was dropped: a Redis "
        "connection lost or made, a slot moving, a FLUSHALL.\n"
        "# TYPE omnistock_read_cache_clears_total counter\n"
        "omnistock_read_cache_clears_total %llu\n"
        "# HELP omnistock_read_cache_entries Copies held, those past their age included.\n"
        "# TYPE omnistock_read_cache_entries gauge\n"
        "omnistock_read_cache_entries %zu\n"
        "# HELP omnistock_read_cache_bytes Memory the copies take.\n"
        "# TYPE omnistock_read_cache_bytes gauge\n"
        "omnistock_read_cache_bytes %zu\n",
        rcache_live(cache), s->hits, s->misses, s->renderings, s->renewals, s->renewals_ahead,
        s->invalidations, s->evictions, s->clears, s->entries, s->bytes);
}

static void metrics(struct request *r)
{
    struct evbuffer *out = evbuffer_new();
    const struct rclient *c = request_redis(r);
    const struct rclient_stats *s = rclient_stats(c);
    struct conn_stats cs;

    metrics_render(request_metrics(r), out);
    evbuffer_add_printf(out,
                        "# HELP omnistock_redis_up 1 when Redis answers, else 0.\n"
                        "# TYPE omnistock_redis_up gauge\n"
                        "omnistock_redis_up %d\n"
                        "# HELP omnistock_redis_commands_total Commands sent to Redis.\n"
                        "# TYPE omnistock_redis_commands_total counter\n"
                        "omnistock_redis_commands_total %llu\n"
                        "# HELP omnistock_redis_errors_total Redis commands that failed or got "
                        "an error reply.\n"
                        "# TYPE omnistock_redis_errors_total counter\n"
                        "omnistock_redis_errors_total %llu\n"
                        "# HELP omnistock_redis_timeouts_total Redis commands that timed out.\n"
                        "# TYPE omnistock_redis_timeouts_total counter\n"
                        "omnistock_redis_timeouts_total %llu\n"
                        "# HELP omnistock_redis_reconnects_total Connections to Redis made again "
                        "after one was lost.\n"
                        "# TYPE omnistock_redis_reconnects_total counter\n"
                        "omnistock_redis_reconnects_total %llu\n"
                        "# HELP omnistock_redis_cluster_masters Masters of the Redis Cluster "
                        "reached (0: not a cluster).\n"
                        "# TYPE omnistock_redis_cluster_masters gauge\n"
                        "omnistock_redis_cluster_masters %zu\n"
                        "# HELP omnistock_redis_redirects_total Commands sent again to another "
                        "cluster node after MOVED or ASK.\n"
                        "# TYPE omnistock_redis_redirects_total counter\n"
                        "omnistock_redis_redirects_total %llu\n"
                        "# HELP omnistock_redis_slot_maps_total Slot maps read from the cluster "
                        "with CLUSTER SLOTS.\n"
                        "# TYPE omnistock_redis_slot_maps_total counter\n"
                        "omnistock_redis_slot_maps_total %llu\n",
                        rclient_ready(c), s->commands, s->errors, s->timeouts, s->reconnects,
                        rclient_cluster_nodes(c), s->redirects, s->slot_maps);
    http_server_conn_stats(r->srv, &cs);
    evbuffer_add_printf(out,
                        "# HELP omnistock_connections Client connections open.\n"
                        "# TYPE omnistock_connections gauge\n"
                        "omnistock_connections %zu\n"
                        "# HELP omnistock_connections_max Connections that may be open at once.\n"
                        "# TYPE omnistock_connections_max gauge\n"
                        "omnistock_connections_max %zu\n"
                        "# HELP omnistock_connections_refused_total Connections closed on arrival: "
                        "max_connections were open.\n"
                        "# TYPE omnistock_connections_refused_total counter\n"
                        "omnistock_connections_refused_total %llu\n"
                        "# HELP omnistock_connections_deadline_total Connections closed because "
                        "no whole request came within request_deadline_seconds (idle or "
                        "trickling).\n"
                        "# TYPE omnistock_connections_deadline_total counter\n"
                        "omnistock_connections_deadline_total %llu\n",
                        cs.open, cs.max, cs.refused, cs.deadline);
    read_cache_metrics(rclient_cache(c), out);
    request_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", out);
}

/*
 * The counters API.md's Operations section names exist from the start at 0:
 * a series that first appears at its first event hides that event from
 * rate() and increase(). The help texts are the ones the modules count with.
 */
static const struct {
    unsigned module;
    const char *name, *help, *labels;
} preset_counters[] = {
    {MODULE_INVENTORY, "omnistock_reservations_total", "Reservation requests by outcome.",
     "outcome=\"held\""},
    {MODULE_INVENTORY, "omnistock_reservations_total", "Reservation requests by outcome.",
     "outcome=\"insufficient\""},
    {MODULE_INVENTORY, "omnistock_oversell_refused_total",
     "Holds refused because they would promise more than is available.", NULL},
    {MODULE_RECOMMEND, "omnistock_recommendation_feedback_total",
     "Recommendation feedback: shown, accepted, dismissed.", "event=\"shown\""},
    {MODULE_RECOMMEND, "omnistock_recommendation_feedback_total",
     "Recommendation feedback: shown, accepted, dismissed.", "event=\"accepted\""},
    {MODULE_RECOMMEND, "omnistock_recommendation_feedback_total",
     "Recommendation feedback: shown, accepted, dismissed.", "event=\"dismissed\""},
};

static void metrics_preset(struct daemon *d)
{
    struct metrics *m = http_server_metrics(d->http);

    for (size_t i = 0; m != NULL && i < sizeof(preset_counters) / sizeof(preset_counters[0]); i++) {
        if (d->cfg.modules & preset_counters[i].module)
            metrics_counter_add(m, preset_counters[i].name, preset_counters[i].help,
                                preset_counters[i].labels, 0);
    }
}

/* The key the request was made with: its name, role and store, never the key itself. */
static void me(struct request *r)
{
    json_t *body = json_pack("{s:s, s:s}", "name", r->key->name, "role", role_name(r->key->role));

    if (r->key->location[0] != '\0')
        json_object_set_new(body, "location", json_string(r->key->location));
    request_reply_json(r, 200, body);
}

static const struct route ops_routes[] = {
    {EVHTTP_REQ_GET, "/v1/me", "me", ROLE_ANY, 0, me},
    {EVHTTP_REQ_GET, "/healthz", "healthz", 0, ROUTE_PUBLIC, healthz},
    {EVHTTP_REQ_GET, "/readyz", "readyz", 0, ROUTE_PUBLIC, readyz},
    {EVHTTP_REQ_GET, "/metrics", "metrics", 0, ROUTE_PUBLIC | ROUTE_RAW, metrics},
};

static void drained(void *arg)
{
    struct daemon *d = arg;
    /* The last responses are queued, not yet written: give the loop a moment to flush them. */
    struct timeval flush = {0, 200 * 1000};

    log_info("event=drained");
    recommend_flush(d->recommend); /* written within the moment below */
    event_base_loopexit(d->base, &flush);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct daemon *d = arg;

    (void)fd;
    (void)what;
    log_warn("event=drain_timeout in_flight=%zu", http_server_in_flight(d->http));
    event_base_loopexit(d->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon *d = arg;
    struct timeval limit = {DRAIN_LIMIT_SECONDS, 0};

    (void)what;
    if (d->stopping)
        return;
    d->stopping = 1;
    log_info("event=stopping signal=%d in_flight=%zu", (int)sig, http_server_in_flight(d->http));
    d->deadline = evtimer_new(d->base, on_deadline, d);
    if (d->deadline)
        evtimer_add(d->deadline, &limit);
    http_server_drain(d->http, drained, d);
}

/* Reach Redis: our own embedded server, or the URL given. @return 0, 1 (runtime), 2 (config). */
static int redis_connect(struct daemon *d, char *err, size_t errlen)
{
    struct redis_addr addr;

    if (strcmp(d->cfg.redis_url, "embedded") == 0) {
        memset(&addr, 0, sizeof(addr));
        addr.kind = REDIS_ADDR_UNIX;
        d->embedded =
            embedded_start(d->base, d->cfg.data_dir, addr.path, sizeof(addr.path), err, errlen);
        if (d->embedded == NULL)
            return 1;
    } else if (redis_addr_parse(d->cfg.redis_url, &addr, err, errlen) != 0) {
        return 2;
    }
    d->redis = rclient_new(d->base, &addr, d->cfg.redis_timeout_ms);
    if (d->redis == NULL ||
        (d->cfg.read_cache_entries > 0 &&
         inventory_cache_enable(&d->cfg, d->redis, recommend_watched, recommend_nwatched) != 0)) {
        snprintf(err, errlen, "out of memory");
        return 1;
    }
    return 0;
}

static int wire(struct daemon *d, char *err, size_t errlen)
{
    d->http = http_server_new(d->base, &d->cfg, d->redis);
    if (d->http == NULL ||
        http_server_route(d->http, ops_routes, sizeof(ops_routes) / sizeof(ops_routes[0]), d)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if ((d->cfg.modules & MODULE_INVENTORY) &&
        (d->inventory = inventory_new(&d->cfg, d->base, d->redis, d->http)) == NULL) {
        snprintf(err, errlen, "cannot start the inventory module");
        return -1;
    }
    /* The console comes with the inventory module: it is mostly about stock. */
    if ((d->cfg.modules & MODULE_INVENTORY) && console_routes(d->http) != 0) {
        snprintf(err, errlen, "cannot serve the console");
        return -1;
    }
    if ((d->cfg.modules & MODULE_RECOMMEND) &&
        (d->recommend = recommend_new(&d->cfg, d->base, d->redis, d->http)) == NULL) {
        snprintf(err, errlen, "cannot start the recommend module");
        return -1;
    }
    if (http_server_listen(d->http, d->cfg.listen_host, d->cfg.listen_port, err, errlen) != 0)
        return -1;
    metrics_preset(d);
    d->sigterm = evsignal_new(d->base, SIGTERM, on_signal, d);
    d->sigint = evsignal_new(d->base, SIGINT, on_signal, d);
    if (d->sigterm == NULL || d->sigint == NULL || evsignal_add(d->sigterm, NULL) != 0 ||
        evsignal_add(d->sigint, NULL) != 0) {
        snprintf(err, errlen, "cannot watch signals");
        return -1;
    }
    return 0;
}

static void daemon_release(struct daemon *d)
{
    /* Commands still in flight are answered ("shutdown") while their owners exist. */
    rclient_close(d->redis);
    recommend_free(d->recommend);
    inventory_free(d->inventory);
    http_server_free(d->http);
    rclient_free(d->redis);
    embedded_stop(d->embedded);
    if (d->sigterm)
        event_free(d->sigterm);
    if (d->sigint)
        event_free(d->sigint);
    if (d->deadline)
        event_free(d->deadline);
    if (d->base)
        event_base_free(d->base);
    config_release(&d->cfg);
}

int main(int argc, char **argv)
{
    struct daemon d;
    char err[512];
    int rc;

    memset(&d, 0, sizeof(d));
    rc = config_load(&d.cfg, argc, argv, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "omnistockd: %s\n", err);
        config_release(&d.cfg);
        return rc < 0 ? 2 : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    d.base = http_base_new();
    if (d.base == NULL) {
        fprintf(stderr, "omnistockd: cannot create the event loop\n");
        return 1;
    }
    rc = redis_connect(&d, err, sizeof(err));
    if (rc == 0 && wire(&d, err, sizeof(err)) != 0)
        rc = 1;
    if (rc != 0) {
        fprintf(stderr, "omnistockd: %s\n", err);
        daemon_release(&d);
        return rc;
    }
    rclient_start(d.redis);
    if (d.cfg.dev_key[0] != '\0')
        fprintf(stderr,
                "omnistockd: no --config given, so this is development mode with one admin key, "
                "shown once:\n  %s\nDo not run like this in production: write a config file with "
                "hashed keys.\n",
                d.cfg.dev_key);
    log_info("event=listening addr=%s:%d redis=%s modules=%s%s", d.cfg.listen_host,
             d.cfg.listen_port, d.embedded ? "embedded" : "external",
             (d.cfg.modules & MODULE_INVENTORY) ? "inventory" : "",
             (d.cfg.modules & MODULE_RECOMMEND) ? ",recommend" : "");
    event_base_dispatch(d.base);
    log_info("event=stopped");
    daemon_release(&d);
    return 0;
}
