/*
 * stock_logic.c - the channel formulas of stock_logic.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/inventory/stock_logic.h"

static long long floor0(long long v)
{
    return v < 0 ? 0 : v;
}

long long stock_available(const struct level *lv, long long safety)
{
    return floor0(lv->on_hand - lv->reserved - safety);
}

long long stock_channel_at(enum channel channel, const struct loc_rule *rule,
                           const struct level *lv, long long safety)
{
    if ((rule->fulfils & channel) == 0)
        return -1;
    if (channel == CHANNEL_STORE)
        return floor0(lv->on_hand - lv->reserved);
    return floor0(lv->on_hand - lv->reserved - safety - rule->buffer);
}

long long stock_channel_total(enum channel channel, const struct loc_rule *rules,
                              const struct level *levels, size_t n, long long safety)
{
    long long total = 0;

    for (size_t i = 0; i < n; i++) {
        long long v = stock_channel_at(channel, &rules[i], &levels[i], safety);
        if (v > 0)
            total += v;
    }
    return total;
}

/* Parse a decimal integer ending at @end or @stop; @return 0 or -1. */
static int parse_ll(const char **p, const char *end, char stop, long long *out)
{
    const char *s = *p;
    long long v = 0;
    int neg = 0;

    if (s < end && *s == '-') {
        neg = 1;
        s++;
    }
    if (s == end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > 100000000000000LL)
            return -1;
        v = v * 10 + (*s++ - '0');
    }
    if (s < end && *s != stop)
        return -1;
    *out = neg ? -v : v;
    *p = s < end ? s + 1 : s;
    return 0;
}

int stock_level_parse(const char *s, size_t len, struct level *lv)
{
    const char *p = s, *end = s + len;

    memset(lv, 0, sizeof(*lv));
    lv->last_count_ms = -1;
    if (parse_ll(&p, end, ':', &lv->on_hand) != 0 || parse_ll(&p, end, ':', &lv->reserved) != 0 ||
        parse_ll(&p, end, '\0', &lv->last_count_ms) != 0 || p != end) {
        memset(lv, 0, sizeof(*lv));
        lv->last_count_ms = -1;
        return -1;
    }
    return 0;
}

int stock_rule_parse(const char *id, const char *s, size_t len, struct loc_rule *rule)
{
    const char *p = s + 2, *end = s + len;
    long long fulfils, buffer;

    memset(rule, 0, sizeof(*rule));
    if (len < 5 || (s[0] != 'w' && s[0] != 's') || s[1] != ':' || !proto_id_valid(id))
        return -1;
    if (parse_ll(&p, end, ':', &fulfils) != 0 || parse_ll(&p, end, '\0', &buffer) != 0 ||
        p != end || fulfils < 0 || fulfils > CHANNEL_ALL || buffer < 0)
        return -1;
    rule->idlen = strlen(id);
    memcpy(rule->id, id, rule->idlen + 1);
    rule->type = s[0] == 'w' ? LOCATION_WAREHOUSE : LOCATION_STORE;
    rule->fulfils = (unsigned)fulfils;
    rule->buffer = buffer;
    return 0;
}

void stock_rule_format(const struct location *loc, char *buf, size_t buflen)
{
    snprintf(buf, buflen, "%c:%u:%lld", loc->type == LOCATION_WAREHOUSE ? 'w' : 's', loc->fulfils,
             loc->store_buffer);
}
