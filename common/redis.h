/*
 * redis.h - the async Redis client every module shares.
 *
 * One pipelined connection per client on the daemon's libevent loop (hiredis
 * async with its libevent adapter), with what hiredis 0.14 lacks: command and
 * connect timeouts on libevent timers, reconnection with backoff, and Lua
 * scripts loaded at connect as function libraries and called by FCALL
 * (loaded again when Redis answers "Function not found").
 *
 * On Redis Cluster, one such connection per master: the client learns the
 * slot map (CLUSTER SLOTS) from any node it reaches, sends each command to
 * the master of its key's slot, follows MOVED and ASK, and reads the map
 * again when a connection drops, on MOVED, and every few seconds, so a
 * promoted replica is found by itself. Commands on keys in different
 * slots may be answered in any order.
 *
 * Contract: a command accepted by rclient_command or rclient_eval (return 0)
 * gets its callback called exactly once, later, from the loop: with the reply,
 * or with reply NULL and an error string when it timed out, the connection
 * was lost or the client was freed. A command refused (return -1) never calls
 * back: the client is not connected, and the caller answers 503 at once.
 */
#ifndef COMMON_REDIS_H
#define COMMON_REDIS_H

#include <limits.h>
#include <stddef.h>

struct event_base;
struct redisReply;
struct rclient;

enum redis_addr_kind {
    REDIS_ADDR_TCP,
    REDIS_ADDR_UNIX,
    REDIS_ADDR_CLUSTER,
};

#define REDIS_MAX_SEEDS 16

struct redis_addr {
    enum redis_addr_kind kind;
    char host[256]; /* TCP; for a cluster, the first seed */
    int port;
    char path[PATH_MAX];
    char user[128];
    char password[256];
    int db;
    struct {
        char host[256];
        int port;
    } seeds[REDIS_MAX_SEEDS]; /* a cluster's nodes to learn the slot map from */
    size_t nseeds;
};

/*
 * redis_addr_parse - "redis://[[user]:password@]host[:port][/db]",
 * "unix:///path/to/socket" or "cluster://[[user]:password@]host:port[,host:port...]".
 * @return 0, or -1 with one line in @err.
 */
int redis_addr_parse(const char *url, struct redis_addr *out, char *err, size_t errlen);

/*
 * rclient_cb - the reply to one command.
 * @reply: borrowed, valid only during the call; NULL on failure.
 * @err: NULL on success, else why the command failed ("timeout",
 *       "connection lost", "shutdown"). A Redis error reply is a reply, not err.
 */
typedef void rclient_cb(struct redisReply *reply, const char *err, void *arg);

/* rclient_state_cb - told when the client becomes ready (up=1) or loses Redis (up=0). */
typedef void rclient_state_cb(int up, void *arg);

struct rclient_stats {
    unsigned long long commands;
    unsigned long long errors;     /* failed commands and error replies */
    unsigned long long timeouts;   /* commands that timed out */
    unsigned long long reconnects; /* successful connects after the first */
    unsigned long long redirects;  /* cluster: commands sent again after MOVED or ASK */
    unsigned long long slot_maps;  /* cluster: slot maps learnt */
};

/*
 * rclient_new - a client for @addr; it connects when rclient_start is called,
 * and from then on reconnects by itself for ever.
 * @return a new client, or NULL if out of memory.
 */
struct rclient *rclient_new(struct event_base *base, const struct redis_addr *addr,
                            long long timeout_ms);

/*
 * rclient_add_script - register a Lua script, loaded at every connect as a
 * Redis function library (FUNCTION LOAD REPLACE): @prelude (may be NULL)
 * runs once when the library loads, @body on every call, with KEYS and ARGV
 * as in EVAL. The library and its function are named omnistock_<name>_<16
 * hex digits of the SHA-256 of prelude and body>. Call before rclient_start.
 * @prelude and @body: borrowed, must outlive the client.
 * @return the script's index for rclient_eval (the same index again for the
 * same @body), or -1.
 */
int rclient_add_script(struct rclient *c, const char *name, const char *prelude, const char *body);

/* rclient_script_reads_only - mark @script as changing nothing: its answers do not drop the
 * read cache's copies of the keys it declares (see rclient_cache_enable). */
void rclient_script_reads_only(struct rclient *c, size_t script);

/* rclient_start - begin connecting. */
void rclient_start(struct rclient *c);

/*
 * rclient_close - fail every pending command with "shutdown" and stay
 * disconnected: what callers send from then on is refused. Call it while
 * the callbacks' owners still exist, then free them. Accepts NULL.
 */
void rclient_close(struct rclient *c);

/* rclient_free - rclient_close, and free. Accepts NULL. */
void rclient_free(struct rclient *c);

/*
 * rclient_observe - add an observer of ready/lost transitions (at most 4). A
 * command an observer sends when told up=1 goes before any other caller's.
 * @return 0 or -1.
 */
int rclient_observe(struct rclient *c, rclient_state_cb *cb, void *arg);

/*
 * rclient_ready - 1 when connected, authenticated and scripts loaded (on a
 * cluster: for the master of every slot).
 */
int rclient_ready(const struct rclient *c);

/* rclient_cluster_nodes - the masters a cluster client routes to (0 when not a cluster). */
size_t rclient_cluster_nodes(const struct rclient *c);

/* rclient_stats - counters since the client was made. */
const struct rclient_stats *rclient_stats(const struct rclient *c);

/*
 * rclient_flush - write what the commands sent so far left in the connections'
 * buffers now, rather than on the loop's next turn: before an answer that
 * must not reach its client ahead of them. A connection that fails meanwhile
 * fails its commands' callbacks at once, as the loop would.
 */
void rclient_flush(struct rclient *c);

/*
 * rclient_command - send one command (argv form; lens may be NULL for C
 * strings). On a cluster it goes to the master of its key (the argument
 * after the command name; the stream of XREADGROUP, the key of XGROUP) or,
 * with no key (TIME, PING), to any master. @return 0 if sent (callback will
 * come), -1 if not connected.
 */
int rclient_command(struct rclient *c, rclient_cb *cb, void *arg, int argc, const char **argv,
                    const size_t *lens);

/*
 * rclient_eval - FCALL scripts[script] with @nkeys keys followed by the
 * script's other arguments, all in @args (lens may be NULL). On a cluster it
 * goes to the master of the first key; every key must be in its slot.
 * @return 0 if sent, -1 if not connected.
 */
int rclient_eval(struct rclient *c, rclient_cb *cb, void *arg, size_t script, int nkeys, int nargs,
                 const char **args, const size_t *lens);

/*
 * rclient_cache_enable - keep a read cache (common/rcache.h) of up to
 * @max_entries copies, none older than @max_age_ms (0: no limit), of keys
 * that start with one of @kept (@nkept prefixes, copied; not overlapping),
 * and hear of changes to the keys that start with one of @heard (copied),
 * which must cover every kept prefix: a change to a key heard of drops its
 * copy and voids the cache's tickets of its hash tag (rcache_ticket_holds).
 * Each master gets a second connection, the watch, that turns on CLIENT
 * TRACKING in broadcast mode for the @heard prefixes with its news sent to
 * itself, and subscribes to it: Redis names every such key that changes,
 * whoever changed it. Redis compares every key any command writes with every
 * prefix, so @heard should be few. A script run through this client drops
 * the copies of the kept keys it declares as soon as it answers; other
 * changes are known when Redis's message comes. The cache is live while
 * every slot's master has its watch; otherwise every copy is dropped and
 * reads go to Redis. Heard prefixes must not overlap (Redis refuses it).
 * Call before rclient_start.
 * @return 0, or -1 (out of memory, a kept prefix not heard, or already on).
 */
int rclient_cache_enable(struct rclient *c, size_t max_entries, long long max_age_ms,
                         const char *const *kept, size_t nkept, const char *const *heard,
                         size_t nheard);

/* rclient_cache - the read cache: borrowed, NULL when not enabled. */
struct rcache *rclient_cache(const struct rclient *c);

/* rclient_base - the loop the client runs on: borrowed. */
struct event_base *rclient_base(struct rclient *c);

#endif
