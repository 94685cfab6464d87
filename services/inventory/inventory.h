/*
 * inventory.h - the inventory module: locations, products, stock levels,
 * channel figures and movements, over HTTP, kept in Redis.
 */
#ifndef INVENTORY_INVENTORY_H
#define INVENTORY_INVENTORY_H

struct config;
struct event_base;
struct http_server;
struct inventory;
struct rclient;

/*
 * inventory_new - register the module's Lua scripts with @redis (before
 * rclient_start) and its routes with @srv (before listening), and start the
 * reservation expiry sweep on @base.
 * @cfg, @base, @redis, @srv: borrowed, must outlive the module.
 * @return a new module, or NULL.
 */
struct inventory *inventory_new(const struct config *cfg, struct event_base *base,
                                struct rclient *redis, struct http_server *srv);
void inventory_free(struct inventory *inv);

/*
 * inventory_cache_enable - keep the stock hashes and products that reads ask
 * for in @redis's read cache (rclient_cache_enable), sized by @cfg, and hear
 * of changes to every key of every partition (the location rules among them)
 * and to the keys that start with one of @more (@nmore of them, borrowed:
 * another module's, treated as kept: a script that declares one drops it
 * when it answers, unless it reads only).
 * Call before rclient_start. @return 0, or -1 if out of memory.
 */
int inventory_cache_enable(const struct config *cfg, struct rclient *redis, const char *const *more,
                           size_t nmore);

#endif
