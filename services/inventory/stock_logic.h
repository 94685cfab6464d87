/*
 * stock_logic.h - what each channel may promise, from the levels.
 *
 * Pure decisions, no I/O: per location L with on_hand h, reserved r, the
 * product's safety stock S and L's store buffer B,
 *   available(L)          = max(0, h - r - S)
 *   web                   = sum over L fulfilling web of max(0, h - r - S - B)
 *   click_collect at L    = max(0, h - r - S - B)   if L fulfils click_collect
 *   store (walk-in) at L  = max(0, h - r)           if L fulfils store
 */
#ifndef INVENTORY_STOCK_LOGIC_H
#define INVENTORY_STOCK_LOGIC_H

#include <stddef.h>

#include "proto/catalog.h"
#include "proto/proto.h"

/* How a location takes part in channel figures. */
struct loc_rule {
    char id[PROTO_ID_SIZE]; /* a valid identifier: needs no escape in JSON */
    size_t idlen;
    enum location_type type;
    unsigned fulfils; /* CHANNEL_* bits */
    long long buffer; /* store buffer */
};

/* One SKU at one location. */
struct level {
    long long on_hand;
    long long reserved;
    long long last_count_ms; /* -1 when never counted */
};

/* stock_available - max(0, on_hand - reserved - safety). */
long long stock_available(const struct level *lv, long long safety);

/*
 * stock_channel_at - what location @rule may promise in @channel for one SKU.
 * @return the figure (>= 0), or -1 when the location does not fulfil @channel.
 */
long long stock_channel_at(enum channel channel, const struct loc_rule *rule,
                           const struct level *lv, long long safety);

/*
 * stock_channel_total - the sum of stock_channel_at over the @n locations
 * that fulfil @channel (levels[i] belongs to rules[i]).
 */
long long stock_channel_total(enum channel channel, const struct loc_rule *rules,
                              const struct level *levels, size_t n, long long safety);

/*
 * stock_level_parse - "on_hand:reserved:last_count_ms" as kept in Redis.
 * @return 0, or -1 if malformed (lv zeroed).
 */
int stock_level_parse(const char *s, size_t len, struct level *lv);

/*
 * stock_rule_parse - a location rule as kept in Redis, "<w|s>:<fulfils>:<buffer>",
 * for the location @id (only valid identifiers are taken).
 * @return 0, or -1 if malformed.
 */
int stock_rule_parse(const char *id, const char *s, size_t len, struct loc_rule *rule);

/* stock_rule_format - the Redis form of @loc's rule into @buf. */
void stock_rule_format(const struct location *loc, char *buf, size_t buflen);

#endif
