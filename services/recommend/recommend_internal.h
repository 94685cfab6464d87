/*
 * recommend_internal.h - what the recommend module's files share.
 */
#ifndef RECOMMEND_RECOMMEND_INTERNAL_H
#define RECOMMEND_RECOMMEND_INTERNAL_H

#include <stddef.h>

#include "common/http.h"
#include "services/recommend/rec_store.h"

struct event;
struct event_base;

struct recommend {
    const struct config *cfg;
    struct http_server *srv;
    struct rec_store store;
    struct event *confirm; /* kept answers confirmed ahead (rec_http.c); NULL when none are kept */
};

/* rec_confirm_start - confirm kept answers ahead of their age (rec_http.c). @return 0 or -1. */
int rec_confirm_start(struct recommend *rec, struct event_base *base);

extern const struct route rec_routes[];
extern const size_t rec_nroutes;

#endif
