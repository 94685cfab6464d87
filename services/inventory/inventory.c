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

int inventory_cache_enable(const struct config *cfg, struct rclient *redis)
{
    static const char *const kinds[] = {"sku", "prod"};
    size_t n = 2 * cfg->partitions;
    char(*prefixes)[32] = calloc(n, sizeof(*prefixes));
    const char **argv = calloc(n, sizeof(*argv));
    int rc = -1;

    if (prefixes == NULL || argv == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        stock_key_part((unsigned)(i / 2), kinds[i % 2], "", prefixes[i], sizeof(prefixes[i]));
        argv[i] = prefixes[i];
    }
    rc = rclient_cache_enable(redis, cfg->read_cache_entries, cfg->read_cache_max_age_ms, argv, n);
out:
    free(prefixes);
    free(argv);
    return rc;
}
