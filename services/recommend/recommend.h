/*
 * recommend.h - the recommend module: learns what is bought together and
 * suggests complements after the primary need is met, over HTTP.
 */
#ifndef RECOMMEND_RECOMMEND_H
#define RECOMMEND_RECOMMEND_H

#include <stddef.h>

struct config;
struct event_base;
struct http_server;
struct recommend;
struct rclient;

/*
 * recommend_new - register the module's Lua scripts with @redis (before
 * rclient_start) and its routes with @srv (before listening), and start the
 * order.placed consumer on @base.
 * @cfg, @base, @redis, @srv: borrowed, must outlive the module.
 * @return a new module, or NULL.
 */
struct recommend *recommend_new(const struct config *cfg, struct event_base *base,
                                struct rclient *redis, struct http_server *srv);
void recommend_free(struct recommend *rec);

/* recommend_flush - write what waits to be written (the audit trail's tally): the daemon is
 * stopping. */
void recommend_flush(struct recommend *rec);

/* The keys whose changes the recommend module must hear of (see inventory_cache_enable): the
 * model's counts, which every order learnt changes. */
extern const char *const recommend_watched[];
extern const size_t recommend_nwatched;

#endif
