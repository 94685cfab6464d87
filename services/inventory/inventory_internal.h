/*
 * inventory_internal.h - what the inventory's HTTP files share.
 */
#ifndef INVENTORY_INVENTORY_INTERNAL_H
#define INVENTORY_INVENTORY_INTERNAL_H

#include <stddef.h>

#include "common/http.h"
#include "services/inventory/resv_store.h"
#include "services/inventory/stock_store.h"

struct event_base;
struct events_hub;

struct inventory {
    const struct config *cfg;
    struct stock_store store;
    struct resv_store resv;
    struct events_hub *hub;
};

extern const struct route stock_routes[];
extern const size_t stock_nroutes;
extern const struct route resv_routes[];
extern const size_t resv_nroutes;
extern const struct route events_routes[];
extern const size_t events_nroutes;

/* events_hub_new - the reader the event streams share. @store, @srv: borrowed. */
struct events_hub *events_hub_new(const struct config *cfg, struct event_base *base,
                                  struct stock_store *store, struct http_server *srv);
void events_hub_free(struct events_hub *hub);

/* inventory_path_id - a path identifier, or a 400 naming @field. @return 0 or -1 (replied). */
int inventory_path_id(struct request *r, int i, const char *field);

#endif
