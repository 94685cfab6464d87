/*
 * inventory.c - the inventory module's wiring: its stores and its routes.
 */
#include <stdlib.h>

#include "common/config.h"
#include "common/http.h"
#include "common/redis.h"
#include "services/inventory/inventory.h"
#include "services/inventory/inventory_internal.h"

struct inventory *inventory_new(const struct config *cfg, struct event_base *base,
                                struct rclient *redis, struct http_server *srv)
{
    struct inventory *inv = calloc(1, sizeof(*inv));

    if (inv == NULL)
        return NULL;
    inv->cfg = cfg;
    if (stock_store_init(&inv->store, cfg, redis) != 0 ||
        stock_renew_start(&inv->store, base) != 0 ||
        resv_store_init(&inv->resv, &inv->store, base) != 0 ||
        (inv->hub = events_hub_new(cfg, base, &inv->store, srv)) == NULL ||
        http_server_route(srv, stock_routes, stock_nroutes, inv) != 0 ||
        http_server_route(srv, resv_routes, resv_nroutes, inv) != 0 ||
        http_server_route(srv, events_routes, events_nroutes, inv) != 0) {
        inventory_free(inv);
        return NULL;
    }
    return inv;
}

void inventory_free(struct inventory *inv)
{
    if (inv == NULL)
        return;
    events_hub_free(inv->hub);
    resv_store_release(&inv->resv);
    stock_store_release(&inv->store);
    free(inv);
}

int inventory_cache_enable(const struct config *cfg, struct rclient *redis, const char *const *more,
                           size_t nmore)
{
    /*
     * Kept: each partition's stock hashes and products, and @more. Heard: every key of every
     * partition
     * ("{p": the location rules among them, whose changes void the tickets of answers made
     * from them, see rec_http.c), and @more. Redis compares every key written with each
     * prefix it broadcasts for: the 49 precise prefixes this was (a kept and a rules prefix
     * per partition) made every write in Redis twice as dear; a key of a partition heard of
     * but not kept only voids that partition's tickets.
     */
    size_t parts = cfg->partitions, nkept = 2 * parts + nmore, nheard = 1 + nmore;
    char(*prefixes)[32] = calloc(2 * parts, sizeof(*prefixes));
    const char **kept = calloc(nkept, sizeof(*kept)), **heard = calloc(nheard, sizeof(*heard));
    int rc = -1;

    if (prefixes == NULL || kept == NULL || heard == NULL)
        goto out;
    for (unsigned p = 0; p < parts; p++) {
        stock_key_part(p, "sku", "", prefixes[2 * p], sizeof(prefixes[0]));
        stock_key_part(p, "prod", "", prefixes[2 * p + 1], sizeof(prefixes[0]));
        kept[2 * p] = prefixes[2 * p];
        kept[2 * p + 1] = prefixes[2 * p + 1];
    }
    heard[0] = "{p";
    for (size_t i = 0; i < nmore; i++)
        kept[2 * parts + i] = heard[1 + i] = more[i];
    rc = rclient_cache_enable(redis, cfg->read_cache_entries, cfg->read_cache_max_age_ms, kept,
                              nkept, heard, nheard);
out:
    free(prefixes);
    free(kept);
    free(heard);
    return rc;
}
