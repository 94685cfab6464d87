/*
 * recommend_internal.h - what the recommend module's files share.
 */
#ifndef RECOMMEND_RECOMMEND_INTERNAL_H
#define RECOMMEND_RECOMMEND_INTERNAL_H

#include <stddef.h>

#include "common/http.h"
#include "services/recommend/rec_store.h"

struct recommend {
    const struct config *cfg;
    struct rec_store store;
};

extern const struct route rec_routes[];
extern const size_t rec_nroutes;

#endif
