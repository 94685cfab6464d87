/*
 * recommend.c - the recommend module's wiring: its store and its routes.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "common/http.h"
#include "services/recommend/recommend.h"
#include "services/recommend/recommend_internal.h"

const char *const recommend_watched[] = {"{rec}:n"};
const size_t recommend_nwatched = sizeof(recommend_watched) / sizeof(recommend_watched[0]);

struct recommend *recommend_new(const struct config *cfg, struct event_base *base,
                                struct rclient *redis, struct http_server *srv)
{
    struct recommend *rec = calloc(1, sizeof(*rec));

    if (rec == NULL)
        return NULL;
    rec->cfg = cfg;
    rec->srv = srv;
    if (rec_store_init(&rec->store, cfg, redis, base) != 0 ||
        http_server_route(srv, rec_routes, rec_nroutes, rec) != 0 ||
        rec_confirm_start(rec, base) != 0) {
        recommend_free(rec);
        return NULL;
    }
    return rec;
}

void recommend_flush(struct recommend *rec)
{
    if (rec != NULL)
        rec_audit_flush(&rec->store);
}

void recommend_free(struct recommend *rec)
{
    if (rec == NULL)
        return;
    if (rec->confirm != NULL)
        event_free(rec->confirm);
    rec_store_release(&rec->store);
    free(rec);
}
