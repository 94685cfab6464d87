/*
 * rcache.h - the daemon's copy of the Redis hashes it reads most (a SKU's
 * stock levels, its product), kept exact by Redis itself.
 *
 * Redis tells the daemon of every change to the keys it caches (CLIENT
 * TRACKING in broadcast mode, on a connection of its own per master: see
 * rclient_cache_enable in redis.h), and each change drops the copy. A copy
 * is used only while that news is sure to arrive ("live"); when a watching
 * connection is lost, everything is dropped and reads go to Redis until it
 * is back.
 *
 * A read that misses takes a ticket before it asks Redis, and its answer is
 * kept only if no change to a key of the same hash tag (so the same Redis
 * slot: a partition) and no clearing came in meanwhile: the change may have
 * been made after Redis answered, its news overtaking the answer on the
 * other connection.
 *
 * A copy past its age is not used, but it is kept (until Redis says its key
 * changed, a newer answer replaces it, or it makes room) so that a reader may
 * ask Redis for one field that every write changes (a version) instead of the
 * whole hash, and use the copy again when that field is the same
 * (rcache_lapsed, rcache_renew). A copy read during its age can be confirmed
 * the same way shortly before the age runs out, without a reader waiting
 * (rcache_due, rcache_confirm): a key read steadily then never lapses.
 *
 * Not thread-safe: one per event loop. The unit tests drive it without Redis.
 */
#ifndef COMMON_RCACHE_H
#define COMMON_RCACHE_H

#include <stddef.h>

struct redisReply;
struct rcache;

/* What a read held before it asked Redis; see rcache_put. */
struct rcache_ticket {
    unsigned long generation;
    unsigned long epoch;
};

struct rcache_stats {
    unsigned long long hits;
    unsigned long long misses;         /* gets while live that found nothing usable */
    unsigned long long stores;         /* answers kept */
    unsigned long long invalidations;  /* copies dropped because Redis said the key changed */
    unsigned long long evictions;      /* copies dropped to stay within max_entries */
    unsigned long long clears;         /* every copy dropped: a watch lost or gained, a FLUSHALL */
    unsigned long long renderings;     /* hits that were a copy's rendering (also in hits) */
    unsigned long long renewals;       /* copies past their age found unchanged: rcache_renew */
    unsigned long long renewals_ahead; /* copies found unchanged before it: rcache_confirm */
    size_t entries;                    /* those past their age included */
    size_t bytes;                      /* the copies' own size, headers and renderings included */
};

/* rcache_new - an empty cache, not live. @max_age_ms: a copy older than this is not used
 * (0: no limit); each is given up at a random age between half of it and it, so that copies
 * made together are not all read again together. @return new, or NULL when out of memory. */
struct rcache *rcache_new(size_t max_entries, long long max_age_ms);

/* rcache_free - everything; NULL is fine. */
void rcache_free(struct rcache *rc);

/* rcache_set_live - whether changes are being heard. Any call drops every copy and voids
 * every ticket taken before it. */
void rcache_set_live(struct rcache *rc, int live);

int rcache_live(const struct rcache *rc);

/*
 * rcache_get - the copy of @key (a string array, as HGETALL answers), or NULL.
 * @return borrowed: valid until the next call on @rc.
 */
const struct redisReply *rcache_get(struct rcache *rc, const char *key, long long now_ms);

/* rcache_get_numbered - rcache_get, and the copy's number (rcache_serial) in *@serial (0 when
 * NULL is returned): one lookup for both. */
const struct redisReply *rcache_get_numbered(struct rcache *rc, const char *key, long long now_ms,
                                             unsigned long long *serial);

/*
 * rcache_lapsed - whether @key has a copy past its age at @now_ms (and so not given by
 * rcache_get), otherwise good, that holds @field. @return the copy's number, or 0.
 */
unsigned long long rcache_lapsed(const struct rcache *rc, const char *key, long long now_ms,
                                 const char *field);

/*
 * rcache_renew - Redis says @field of @key is @value (@len bytes), as read after rcache_lapsed
 * gave copy number @serial: if that copy is still held and its @field is the same, it is used
 * again, for a new age, with its rendering. No ticket is needed: any change heard meanwhile
 * has dropped the copy. @return the copy, as rcache_get gives it, or NULL: read the whole key.
 */
const redisReply *rcache_renew(struct rcache *rc, const char *key, unsigned long long serial,
                               const char *field, const char *value, size_t len, long long now_ms);

/* What rcache_due gives: copy number @serial of @key (valid during the call). */
typedef void rcache_due_cb(const char *key, unsigned long long serial, void *arg);

/*
 * rcache_due - the copies whose age runs out within three rcache_due_every
 * of @now_ms, that were read (rcache_get, rcache_attached) since Redis last
 * gave or confirmed them, and that hold @field: @cb for each, up to @max. A
 * copy given is taken as unread, so it is given again only if read again.
 * The caller asks Redis for @field and passes the answer to rcache_confirm.
 * Each slot of time is looked at once: call at least every rcache_due_every
 * (sooner is fine: after a call that gave @max, say), or a copy may lapse
 * first (as any other does). @cb must not change @rc.
 * @return how many were given.
 */
size_t rcache_due(struct rcache *rc, long long now_ms, const char *field, size_t max,
                  rcache_due_cb *cb, void *arg);

/* rcache_due_every - how often to call rcache_due, in ms; 0 when copies do not age. */
long long rcache_due_every(const struct rcache *rc);

/*
 * rcache_confirm - Redis says @field of @key is @value (@len bytes; NULL if it has no such
 * field or key), as read after rcache_due gave copy number @serial: if that copy is still
 * held, the same value gives it (and its rendering) a new age; another drops it as changed
 * (rcache_changed: a change Redis did not report). @return 1 if renewed, else 0.
 */
int rcache_confirm(struct rcache *rc, const char *key, unsigned long long serial, const char *field,
                   const char *value, size_t len, long long now_ms);

/* rcache_ticket - take before sending the read of @key. */
struct rcache_ticket rcache_ticket(const struct rcache *rc, const char *key);

/*
 * rcache_put - keep a copy of @reply (borrowed; copied) for @key, if @t is
 * still good and the reply is an array of strings. Makes room by dropping
 * the oldest copy when full. @return the copy's number (rcache_serial), or 0
 * when nothing was kept.
 */
unsigned long long rcache_put(struct rcache *rc, const char *key, const struct redisReply *reply,
                              struct rcache_ticket t, long long now_ms);

/*
 * rcache_ticket_holds - whether @t, taken for @key, would still let an answer
 * be kept: the cache live, no clearing, and no change to a key of @key's hash
 * tag since. What was read after taking it is still what Redis holds.
 */
int rcache_ticket_holds(const struct rcache *rc, const char *key, struct rcache_ticket t);

/*
 * Renderings: a copy may carry bytes a caller made from it (an answer, say),
 * given again while the copy lives and dropped with it. @tag says what else
 * they were made from (the caller's own version of that): a rendering is
 * given only to a caller asking with the same tag.
 */

/* rcache_serial - the number of @key's current copy (each copy its own, never 0), or 0. */
unsigned long long rcache_serial(const struct rcache *rc, const char *key);

/*
 * rcache_attach - keep @len bytes made from @key's copy number @serial, in
 * place of any rendering it had. @return 0, or -1 when that copy is gone
 * (changed, replaced, dropped) or memory is short: nothing kept.
 */
int rcache_attach(struct rcache *rc, const char *key, unsigned long long serial,
                  unsigned long long tag, const char *bytes, size_t len);

/*
 * rcache_attached - the rendering of @key's copy made with @tag, if the copy
 * may be used at @now_ms (as rcache_get), or NULL. Counted as a hit.
 * @return borrowed: valid until the next call on @rc; *@len its length.
 */
const char *rcache_attached(struct rcache *rc, const char *key, long long now_ms,
                            unsigned long long tag, size_t *len);

/* rcache_changed - Redis says @key (@len bytes) changed: drop its copy, void the tickets of its
 * hash tag. */
void rcache_changed(struct rcache *rc, const char *key, size_t len);

/* rcache_clear - every key may have changed (a FLUSHALL). */
void rcache_clear(struct rcache *rc);

const struct rcache_stats *rcache_stats(const struct rcache *rc);

#endif
