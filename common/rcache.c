/*
 * rcache.c - the cache of rcache.h: a chained hash table of copies, each one
 * allocation holding its key and its strings, a list in the order they were
 * stored for eviction, and one epoch per hash-tag bucket for the tickets.
 *
 * A copy's strings are laid out as a 4-byte length, the bytes and a NUL, one
 * after the other. rcache_get dresses them as a redisReply in a scratch
 * space the cache keeps, so that callers read a copy as they read a reply.
 *
 * Copies live long and come and go among the short-lived allocations of
 * requests: from malloc's heap they leave it in small holes that every
 * request's malloc then searches (a benchmark at 100,000 copies spent a
 * sixth of the daemon's time there). So they come from blocks of their own,
 * in sizes of 64 bytes, each size with its list of free places. A block is
 * 2 MB, aligned, and asked to be one huge page: a read finds its copy at
 * random among a hundred megabytes or more, and with 4 KB pages nearly
 * every lookup missed the TLB (perf: the kept answer's lookup, 6.2 % of the
 * daemon's samples on the bench's stock reads; 3.9 % with huge pages).
 *
 * A copy may carry one rendering (rcache_attach): bytes made from it, in a
 * place of their own from the same blocks, freed with the copy. Each copy
 * has a serial number, never reused, so that a rendering made from one copy
 * cannot be attached to the copy that replaced it.
 *
 * A copy past its age stays where it is, unused, until rcache_renew finds it
 * unchanged (it then moves to the newest end of the order of storing), or it
 * goes as any copy goes.
 *
 * The copies are also hung on a wheel by the moment their age runs out, in
 * slots of max_age_ms / 128 up to 250 ms (a lap is two ages, or 64 s), so
 * that rcache_due finds those about to lapse and passes over the others
 * once a lap at most.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <hiredis/hiredis.h>

#include "common/rcache.h"

#define TAG_BUCKETS 1024              /* tickets are voided per bucket of hash tags */
#define SLAB_UNIT   64                /* copies are placed in sizes of this many bytes */
#define SLAB_MAX    4096              /* larger copies come from malloc */
#define SLAB_BLOCK  (2 * 1024 * 1024) /* a huge page's size and alignment */
#define WHEEL_SLOTS 256               /* a power of two */

struct slab_block {
    struct slab_block *next;
};

struct rentry {
    struct rentry *chain;               /* the next in its hash bucket */
    struct rentry *older, *newer;       /* the order of storing */
    struct rentry *due_prev, *due_next; /* its slot of the wheel; see rcache_due */
    uint32_t hash;
    uint32_t nelem;
    uint32_t keylen;
    int read;    /* given by rcache_get or rcache_attached since Redis last gave or confirmed it */
    size_t size; /* of the allocation */
    long long expires_ms;
    unsigned long long serial;
    char *rendering; /* rcache_attach's, or NULL */
    size_t rendering_len, rendering_size;
    unsigned long long rendering_tag;
    char data[]; /* the key and its NUL, then the strings */
};

struct rcache {
    struct rentry **buckets;
    size_t nbuckets; /* a power of two */
    size_t max_entries;
    long long max_age_ms;
    uint64_t rng; /* spreads the copies' ages out: see rcache_put */
    struct rentry *oldest, *newest;
    int live;
    unsigned long generation;
    unsigned long long serial; /* the last copy's */
    unsigned long epochs[TAG_BUCKETS];
    struct rcache_stats stats;

    struct rentry *wheel[WHEEL_SLOTS]; /* by (expires_ms / slot_ms) % WHEEL_SLOTS */
    long long slot_ms;
    long long swept; /* the next slot rcache_due looks at, counted from 0 ms */

    struct slab_block *blocks;
    char *block_free; /* the unused end of the newest block */
    size_t block_left;
    void *free_places[SLAB_MAX / SLAB_UNIT + 1]; /* by size in units: a list through each */

    /* rcache_get's answer: a reply whose strings point into a copy */
    redisReply view;
    redisReply **view_ptrs;
    redisReply *view_elems;
    size_t view_cap;
};

static uint32_t fnv1a(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* The hash tag's bucket, by Redis's rule: what is between the first '{' and the next '}'. */
static size_t tag_bucket(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;

    if (open != NULL) {
        close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
        if (close != NULL && close > open + 1) {
            key = open + 1;
            len = (size_t)(close - key);
        }
    }
    return fnv1a(key, len) % TAG_BUCKETS;
}

struct rcache *rcache_new(size_t max_entries, long long max_age_ms)
{
    struct rcache *rc = calloc(1, sizeof(*rc));

    if (rc == NULL)
        return NULL;
    rc->nbuckets = 64;
    while (rc->nbuckets < max_entries)
        rc->nbuckets *= 2;
    rc->buckets = calloc(rc->nbuckets, sizeof(*rc->buckets));
    if (rc->buckets == NULL) {
        free(rc);
        return NULL;
    }
    rc->max_entries = max_entries;
    rc->max_age_ms = max_age_ms;
    rc->slot_ms = max_age_ms / 128 < 1 ? 1 : max_age_ms / 128 > 250 ? 250 : max_age_ms / 128;
    rc->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)rc;
    return rc;
}

/* A place for @size bytes (NULL if out of memory); *@size becomes the place's size. */
static void *place_take(struct rcache *rc, size_t *size)
{
    size_t units = (*size + SLAB_UNIT - 1) / SLAB_UNIT;
    void *p;

    if (*size > SLAB_MAX)
        return malloc(*size);
    *size = units * SLAB_UNIT;
    if ((p = rc->free_places[units]) != NULL) {
        memcpy(&rc->free_places[units], p, sizeof(void *));
        return p;
    }
    if (rc->block_left < *size) {
        struct slab_block *b = aligned_alloc(SLAB_BLOCK, SLAB_BLOCK);
        if (b == NULL)
            return NULL;
        madvise(b, SLAB_BLOCK, MADV_HUGEPAGE); /* a hint: without, the pages are small */
        b->next = rc->blocks;
        rc->blocks = b;
        /* What is left of the old block goes unused: less than SLAB_MAX bytes. */
        rc->block_free = (char *)b + SLAB_UNIT;
        rc->block_left = SLAB_BLOCK - SLAB_UNIT;
    }
    p = rc->block_free;
    rc->block_free += *size;
    rc->block_left -= *size;
    return p;
}

/* Give back the place @p of @size bytes, as place_take made it. */
static void place_give(struct rcache *rc, void *p, size_t size)
{
    size_t units = size / SLAB_UNIT;

    if (size > SLAB_MAX) {
        free(p);
        return;
    }
    memcpy(p, &rc->free_places[units], sizeof(void *));
    rc->free_places[units] = p;
}

static void rendering_drop(struct rcache *rc, struct rentry *e)
{
    if (e->rendering == NULL)
        return;
    rc->stats.bytes -= e->rendering_size;
    place_give(rc, e->rendering, e->rendering_size);
    e->rendering = NULL;
}

/* Hang @e on the wheel by its expires_ms; copies that never lapse are not. */
static void wheel_add(struct rcache *rc, struct rentry *e)
{
    struct rentry **slot = &rc->wheel[(e->expires_ms / rc->slot_ms) & (WHEEL_SLOTS - 1)];

    e->due_prev = NULL;
    e->due_next = NULL;
    if (rc->max_age_ms <= 0)
        return;
    e->due_next = *slot;
    if (*slot != NULL)
        (*slot)->due_prev = e;
    *slot = e;
}

static void wheel_remove(struct rcache *rc, struct rentry *e)
{
    if (rc->max_age_ms <= 0)
        return;
    if (e->due_prev != NULL)
        e->due_prev->due_next = e->due_next;
    else
        rc->wheel[(e->expires_ms / rc->slot_ms) & (WHEEL_SLOTS - 1)] = e->due_next;
    if (e->due_next != NULL)
        e->due_next->due_prev = e->due_prev;
}

static void entry_unlink(struct rcache *rc, struct rentry *e)
{
    struct rentry **p = &rc->buckets[e->hash & (rc->nbuckets - 1)];

    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    if (e->older)
        e->older->newer = e->newer;
    else
        rc->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        rc->newest = e->older;
    wheel_remove(rc, e);
    rendering_drop(rc, e);
    rc->stats.entries--;
    rc->stats.bytes -= e->size;
    place_give(rc, e, e->size);
}

static struct rentry *entry_find(const struct rcache *rc, const char *key, size_t len,
                                 uint32_t hash)
{
    struct rentry *e = rc->buckets[hash & (rc->nbuckets - 1)];

    for (; e != NULL; e = e->chain) {
        if (e->hash == hash && e->keylen == len && memcmp(e->data, key, len) == 0)
            return e;
    }
    return NULL;
}

static void drop_all(struct rcache *rc)
{
    while (rc->oldest != NULL)
        entry_unlink(rc, rc->oldest);
    rc->generation++;
}

void rcache_free(struct rcache *rc)
{
    if (rc == NULL)
        return;
    drop_all(rc);
    while (rc->blocks != NULL) {
        struct slab_block *b = rc->blocks;
        rc->blocks = b->next;
        free(b);
    }
    free(rc->buckets);
    free(rc->view_ptrs);
    free(rc->view_elems);
    free(rc);
}

void rcache_set_live(struct rcache *rc, int live)
{
    drop_all(rc);
    rc->stats.clears++;
    rc->live = live;
}

int rcache_live(const struct rcache *rc)
{
    return rc->live;
}

/* Make room in the scratch reply for @n strings. */
static int view_reserve(struct rcache *rc, size_t n)
{
    redisReply **ptrs;
    redisReply *elems;
    size_t cap = rc->view_cap ? rc->view_cap : 32;

    if (n <= rc->view_cap)
        return 0;
    while (cap < n)
        cap *= 2;
    ptrs = realloc(rc->view_ptrs, cap * sizeof(*ptrs));
    if (ptrs == NULL)
        return -1;
    rc->view_ptrs = ptrs;
    elems = realloc(rc->view_elems, cap * sizeof(*elems));
    if (elems == NULL)
        return -1;
    rc->view_elems = elems;
    rc->view_cap = cap;
    return 0;
}

static long long expiry(struct rcache *rc, long long now_ms);

/* @key's copy, whatever its age, or NULL. */
static struct rentry *entry_held(const struct rcache *rc, const char *key)
{
    size_t len = strlen(key);

    return rc->live ? entry_find(rc, key, len, fnv1a(key, len)) : NULL;
}

/* @key's copy if it may be used at @now_ms, or NULL. One past its age stays: see rcache_lapsed. */
static struct rentry *entry_usable(struct rcache *rc, const char *key, long long now_ms)
{
    struct rentry *e = entry_held(rc, key);

    return e != NULL && now_ms <= e->expires_ms ? e : NULL;
}

/* @e dressed as a reply in the scratch space, or NULL when memory is short. */
static const redisReply *entry_view(struct rcache *rc, const struct rentry *e)
{
    const char *p = e->data + e->keylen + 1;

    if (view_reserve(rc, e->nelem) != 0)
        return NULL;
    memset(&rc->view, 0, sizeof(rc->view));
    rc->view.type = REDIS_REPLY_ARRAY;
    rc->view.elements = e->nelem;
    rc->view.element = rc->view_ptrs;
    for (uint32_t i = 0; i < e->nelem; i++) {
        redisReply *s = &rc->view_elems[i];
        uint32_t slen;
        memcpy(&slen, p, sizeof(slen));
        memset(s, 0, sizeof(*s));
        s->type = REDIS_REPLY_STRING;
        s->len = slen;
        s->str = (char *)(p + sizeof(slen));
        rc->view_ptrs[i] = s;
        p += sizeof(slen) + slen + 1;
    }
    return &rc->view;
}

const redisReply *rcache_get(struct rcache *rc, const char *key, long long now_ms)
{
    return rcache_get_numbered(rc, key, now_ms, NULL);
}

const redisReply *rcache_get_numbered(struct rcache *rc, const char *key, long long now_ms,
                                      unsigned long long *serial)
{
    struct rentry *e;
    const redisReply *view;

    if (serial != NULL)
        *serial = 0;
    if (!rc->live)
        return NULL;
    e = entry_usable(rc, key, now_ms);
    if (e == NULL || (view = entry_view(rc, e)) == NULL) {
        rc->stats.misses++;
        return NULL;
    }
    rc->stats.hits++;
    e->read = 1;
    if (serial != NULL)
        *serial = e->serial;
    return view;
}

/* The value of the field @field (a string of pairs, as HGETALL's) in @e, or NULL. */
static const char *entry_field(const struct rentry *e, const char *field, uint32_t *len)
{
    size_t flen = strlen(field);
    const char *p = e->data + e->keylen + 1;

    for (uint32_t i = 0; i + 1 < e->nelem; i += 2) {
        uint32_t klen, vlen;
        const char *value;
        memcpy(&klen, p, sizeof(klen));
        value = p + sizeof(klen) + klen + 1;
        memcpy(&vlen, value, sizeof(vlen));
        if (klen == flen && memcmp(p + sizeof(klen), field, flen) == 0) {
            *len = vlen;
            return value + sizeof(vlen);
        }
        p = value + sizeof(vlen) + vlen + 1;
    }
    return NULL;
}

unsigned long long rcache_lapsed(const struct rcache *rc, const char *key, long long now_ms,
                                 const char *field)
{
    const struct rentry *e = entry_held(rc, key);
    uint32_t len;

    if (e == NULL || now_ms <= e->expires_ms || entry_field(e, field, &len) == NULL)
        return 0;
    return e->serial;
}

/* Move @e to the newest end of the order of storing. */
static void entry_refresh(struct rcache *rc, struct rentry *e)
{
    if (rc->newest == e)
        return;
    if (e->older)
        e->older->newer = e->newer;
    else
        rc->oldest = e->newer;
    e->newer->older = e->older;
    e->older = rc->newest;
    e->newer = NULL;
    rc->newest->newer = e;
    rc->newest = e;
}

/* @key's copy number @serial if held and its @field is @value (@len bytes; NULL: none). */
static struct rentry *entry_confirmed(const struct rcache *rc, const char *key,
                                      unsigned long long serial, const char *field,
                                      const char *value, size_t len, int *other)
{
    struct rentry *e = entry_held(rc, key);
    const char *held;
    uint32_t hlen;

    *other = 0;
    if (e == NULL || e->serial != serial || serial == 0)
        return NULL;
    if ((held = entry_field(e, field, &hlen)) == NULL || value == NULL || hlen != len ||
        memcmp(held, value, len) != 0) {
        *other = 1;
        return NULL;
    }
    return e;
}

/* Redis has just said @e is as it was: a new age, from @now_ms. */
static void entry_renew(struct rcache *rc, struct rentry *e, long long now_ms)
{
    wheel_remove(rc, e);
    e->expires_ms = expiry(rc, now_ms);
    wheel_add(rc, e);
    e->read = 0;
    entry_refresh(rc, e);
}

const redisReply *rcache_renew(struct rcache *rc, const char *key, unsigned long long serial,
                               const char *field, const char *value, size_t len, long long now_ms)
{
    int other;
    struct rentry *e = entry_confirmed(rc, key, serial, field, value, len, &other);

    if (e == NULL)
        return NULL;
    entry_renew(rc, e, now_ms);
    rc->stats.renewals++;
    return entry_view(rc, e);
}

long long rcache_due_every(const struct rcache *rc)
{
    long long every = rc->max_age_ms / 64;

    if (rc->max_age_ms <= 0)
        return 0;
    return every < 20 ? 20 : every > 1000 ? 1000 : every;
}

size_t rcache_due(struct rcache *rc, long long now_ms, const char *field, size_t max,
                  rcache_due_cb *cb, void *arg)
{
    /*
     * The slots wholly before now + ahead; a lap behind or more, each slot once. Called
     * every `every`, a slot is looked at with its copies at least ahead - slot - every
     * (>= every) from their end, for the answer to come back.
     */
    long long ahead_ms = 3 * rcache_due_every(rc), last = (now_ms + ahead_ms) / rc->slot_ms - 1;
    size_t given = 0;
    uint32_t len;

    if (!rc->live || rc->max_age_ms <= 0)
        return 0;
    if (rc->swept < last - WHEEL_SLOTS + 1)
        rc->swept = last - WHEEL_SLOTS + 1;
    for (; rc->swept <= last; rc->swept++) {
        struct rentry *e = rc->wheel[rc->swept & (WHEEL_SLOTS - 1)];
        for (; e != NULL; e = e->due_next) {
            /* Those of a later lap stay; those past their age are left to rcache_lapsed. */
            if (!e->read || e->expires_ms < now_ms || e->expires_ms > now_ms + ahead_ms ||
                entry_field(e, field, &len) == NULL)
                continue;
            if (given == max)
                return given; /* the rest of this slot next time */
            e->read = 0;
            cb(e->data, e->serial, arg);
            given++;
        }
    }
    return given;
}

int rcache_confirm(struct rcache *rc, const char *key, unsigned long long serial, const char *field,
                   const char *value, size_t len, long long now_ms)
{
    int other;
    struct rentry *e = entry_confirmed(rc, key, serial, field, value, len, &other);

    if (e == NULL) {
        if (other)
            rcache_changed(rc, key, strlen(key));
        return 0;
    }
    entry_renew(rc, e, now_ms);
    rc->stats.renewals_ahead++;
    return 1;
}

struct rcache_ticket rcache_ticket(const struct rcache *rc, const char *key)
{
    struct rcache_ticket t = {rc->generation, rc->epochs[tag_bucket(key, strlen(key))]};

    return t;
}

/*
 * When a copy made at @now_ms is given up: at a random age between half of
 * max_age_ms and max_age_ms. Copies made together (the catalogue read after a
 * start, or after a watch was lost) would otherwise all lapse in the same
 * moment and send every read to Redis at once.
 */
static long long expiry(struct rcache *rc, long long now_ms)
{
    uint64_t x = rc->rng;

    if (rc->max_age_ms <= 0)
        return LLONG_MAX;
    x ^= x << 13; /* xorshift64 */
    x ^= x >> 7;
    x ^= x << 17;
    rc->rng = x;
    return now_ms + rc->max_age_ms - (long long)(x % (uint64_t)(rc->max_age_ms / 2 + 1));
}

unsigned long long rcache_put(struct rcache *rc, const char *key, const redisReply *reply,
                              struct rcache_ticket t, long long now_ms)
{
    size_t len = strlen(key), size = sizeof(struct rentry) + len + 1;
    uint32_t hash = fnv1a(key, len);
    struct rentry *e;
    char *p;

    if (!rc->live || rc->max_entries == 0 || t.generation != rc->generation ||
        t.epoch != rc->epochs[tag_bucket(key, len)] || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements > UINT32_MAX || len > UINT32_MAX)
        return 0;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *s = reply->element[i];
        if (s->type != REDIS_REPLY_STRING || s->len > UINT32_MAX)
            return 0;
        size += sizeof(uint32_t) + s->len + 1;
    }
    if ((e = entry_find(rc, key, len, hash)) != NULL)
        entry_unlink(rc, e);
    while (rc->stats.entries >= rc->max_entries) {
        entry_unlink(rc, rc->oldest);
        rc->stats.evictions++;
    }
    if ((e = place_take(rc, &size)) == NULL)
        return 0;
    e->hash = hash;
    e->nelem = (uint32_t)reply->elements;
    e->keylen = (uint32_t)len;
    e->size = size;
    e->expires_ms = expiry(rc, now_ms);
    wheel_add(rc, e);
    e->read = 0;
    e->serial = ++rc->serial;
    e->rendering = NULL;
    memcpy(e->data, key, len + 1);
    p = e->data + len + 1;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *s = reply->element[i];
        uint32_t slen = (uint32_t)s->len;
        memcpy(p, &slen, sizeof(slen));
        memcpy(p + sizeof(slen), s->str, s->len);
        p[sizeof(slen) + s->len] = '\0';
        p += sizeof(slen) + s->len + 1;
    }
    e->chain = rc->buckets[hash & (rc->nbuckets - 1)];
    rc->buckets[hash & (rc->nbuckets - 1)] = e;
    e->newer = NULL;
    e->older = rc->newest;
    if (rc->newest)
        rc->newest->newer = e;
    else
        rc->oldest = e;
    rc->newest = e;
    rc->stats.entries++;
    rc->stats.bytes += size;
    rc->stats.stores++;
    return e->serial;
}

unsigned long long rcache_serial(const struct rcache *rc, const char *key)
{
    const struct rentry *e = entry_held(rc, key);

    return e != NULL ? e->serial : 0;
}

int rcache_attach(struct rcache *rc, const char *key, unsigned long long serial,
                  unsigned long long tag, const char *bytes, size_t len)
{
    struct rentry *e = entry_held(rc, key);
    size_t size = len;
    char *place;

    if (e == NULL || e->serial != serial || serial == 0 || len == 0)
        return -1;
    if ((place = place_take(rc, &size)) == NULL)
        return -1;
    rendering_drop(rc, e);
    memcpy(place, bytes, len);
    e->rendering = place;
    e->rendering_len = len;
    e->rendering_size = size;
    e->rendering_tag = tag;
    rc->stats.bytes += size;
    return 0;
}

const char *rcache_attached(struct rcache *rc, const char *key, long long now_ms,
                            unsigned long long tag, size_t *len)
{
    struct rentry *e = entry_usable(rc, key, now_ms);

    if (e == NULL || e->rendering == NULL || e->rendering_tag != tag)
        return NULL;
    rc->stats.hits++;
    rc->stats.renderings++;
    e->read = 1;
    *len = e->rendering_len;
    return e->rendering;
}

int rcache_ticket_holds(const struct rcache *rc, const char *key, struct rcache_ticket t)
{
    return rc->live && t.generation == rc->generation &&
           t.epoch == rc->epochs[tag_bucket(key, strlen(key))];
}

void rcache_changed(struct rcache *rc, const char *key, size_t len)
{
    struct rentry *e;

    rc->epochs[tag_bucket(key, len)]++;
    e = entry_find(rc, key, len, fnv1a(key, len));
    if (e != NULL) {
        entry_unlink(rc, e);
        rc->stats.invalidations++;
    }
}

void rcache_clear(struct rcache *rc)
{
    drop_all(rc);
    rc->stats.clears++;
}

const struct rcache_stats *rcache_stats(const struct rcache *rc)
{
    return &rc->stats;
}
