/*
 * events_logic.c - the order of events across partitions, and cursors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/inventory/events_logic.h"

int ev_pos_cmp(const struct ev_pos *a, const struct ev_pos *b)
{
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    if (a->part != b->part)
        return a->part < b->part ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

void ev_cursor_format(const struct ev_pos *p, char out[EV_CURSOR_SIZE])
{
    snprintf(out, EV_CURSOR_SIZE, "%u-%" PRIu64 "-%" PRIu64, p->part, p->ms, p->seq);
}

/* One decimal number of @s, up to @end, that fits in 64 bits. @return the character after it. */
static const char *read_u64(const char *s, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;

    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
    }
    if (p == s || p - s > 20 || (p - s > 1 && *s == '0'))
        return NULL;
    *out = v;
    return p;
}

int ev_stream_id_parse(const char *s, size_t len, struct ev_pos *out)
{
    const char *end = s + len, *p;

    if ((p = read_u64(s, end, &out->ms)) == NULL || p == end || *p != '-')
        return -1;
    if ((p = read_u64(p + 1, end, &out->seq)) == NULL || p != end)
        return -1;
    return 0;
}

int ev_cursor_parse(const char *s, unsigned nparts, struct ev_pos *out)
{
    const char *end = s + strlen(s), *p;
    uint64_t part;

    if ((p = read_u64(s, end, &part)) == NULL || p == end || *p != '-' || part >= nparts)
        return -1;
    out->part = (unsigned)part;
    return ev_stream_id_parse(p + 1, (size_t)(end - p - 1), out);
}

struct ev_pos ev_watermark(uint64_t now_ms, unsigned nparts)
{
    struct ev_pos w = {now_ms > 0 ? now_ms - 1 : 0, nparts - 1, UINT64_MAX};
    return w;
}

void ev_range_start(const struct ev_pos *after, unsigned part, char *out, size_t outlen)
{
    /*
     * Nothing can follow the last id a stream can hold, and Redis refuses
     * "(" before it: start at "+", that id, which no entry has (ids are
     * Redis's clock), so the read is empty.
     */
    if (after->ms == UINT64_MAX &&
        (part < after->part || (part == after->part && after->seq == UINT64_MAX)))
        snprintf(out, outlen, "+");
    else if (part == after->part)
        snprintf(out, outlen, "(%" PRIu64 "-%" PRIu64, after->ms, after->seq);
    else if (part > after->part)
        snprintf(out, outlen, "%" PRIu64 "-0", after->ms);
    else
        snprintf(out, outlen, "%" PRIu64 "-0", after->ms + 1);
}

struct ev_pos ev_complete_through(const struct ev_part_read *reads, size_t n,
                                  const struct ev_pos *watermark)
{
    struct ev_pos through = *watermark;

    for (size_t i = 0; i < n; i++) {
        if (reads[i].truncated && ev_pos_cmp(&reads[i].last, &through) < 0)
            through = reads[i].last;
    }
    return through;
}
