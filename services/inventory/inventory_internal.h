/*
 * inventory_internal.h - what the inventory's HTTP files share.
 */
#ifndef INVENTORY_INVENTORY_INTERNAL_H
#define INVENTORY_INVENTORY_INTERNAL_H

#include <stddef.h>

#include "common/http.h"
#include "services/inventory/resv_store.h"
#include "services/inventory/stock_store.h"

struct inventory {
    const struct config *cfg;
    struct stock_store store;
    struct resv_store resv;
};

extern const struct route stock_routes[];
extern const size_t stock_nroutes;
extern const struct route resv_routes[];
extern const size_t resv_nroutes;

/* inventory_path_id - a path identifier, or a 400 naming @field. @return 0 or -1 (replied). */
int inventory_path_id(struct request *r, int i, const char *field);

#endif
