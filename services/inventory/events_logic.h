/*
 * events_logic.h - the order of events across partitions, and cursors.
 *
 * Each partition appends its events to its own stream, so stream ids only
 * order the events of one partition. omnistock orders all events by
 * (ms, partition, seq): the stream id's milliseconds first, then the
 * partition, then the stream id's sequence. An event's id names its place in
 * that order: "<partition>-<ms>-<seq>", and any such id is a cursor.
 *
 * A reader can only be sure it has seen every event up to a millisecond that
 * is over: Redis stamps a new entry with its clock, so once the clock reads
 * T, no entry can appear below T. Reads therefore stop at the watermark
 * (T - 1, last partition, last sequence), itself a cursor.
 */
#ifndef INVENTORY_EVENTS_LOGIC_H
#define INVENTORY_EVENTS_LOGIC_H

#include <stddef.h>
#include <stdint.h>

/* A place in the order of all events. */
struct ev_pos {
    uint64_t ms;
    unsigned part;
    uint64_t seq;
};

/* "<partition>-<ms>-<seq>", at most 10 + 20 + 20 + 2 characters. */
#define EV_CURSOR_SIZE 56

/* ev_pos_cmp - <0, 0 or >0 as @a comes before, at or after @b. */
int ev_pos_cmp(const struct ev_pos *a, const struct ev_pos *b);

/* ev_cursor_format - write @p as a cursor into @out (EV_CURSOR_SIZE bytes). */
void ev_cursor_format(const struct ev_pos *p, char out[EV_CURSOR_SIZE]);

/*
 * ev_cursor_parse - read a cursor of a store with @nparts partitions.
 * @return 0, or -1 when @s is not one (malformed, or a partition >= @nparts).
 */
int ev_cursor_parse(const char *s, unsigned nparts, struct ev_pos *out);

/* ev_stream_id_parse - read a stream id "<ms>-<seq>" into @out's ms and seq. @return 0 or -1. */
int ev_stream_id_parse(const char *s, size_t len, struct ev_pos *out);

/* ev_watermark - the last place readable when Redis's clock reads @now_ms. */
struct ev_pos ev_watermark(uint64_t now_ms, unsigned nparts);

/*
 * ev_range_start - the XRANGE start, in partition @part, of the events after
 * @after: exclusive when @part is @after's own partition, and past @after's
 * millisecond for the partitions before it. @out: at least 48 bytes.
 */
void ev_range_start(const struct ev_pos *after, unsigned part, char *out, size_t outlen);

/* What one partition's range read returned. */
struct ev_part_read {
    int truncated;      /* it returned as many entries as asked: more may follow */
    struct ev_pos last; /* its last entry, when truncated */
};

/*
 * ev_complete_through - how far a merged read is complete: every event up to
 * the returned place has been read. That is the watermark, or earlier the
 * last entry of a partition whose read was cut short.
 */
struct ev_pos ev_complete_through(const struct ev_part_read *reads, size_t n,
                                  const struct ev_pos *watermark);

#endif
