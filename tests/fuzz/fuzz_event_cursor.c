/*
 * fuzz_event_cursor.c - event cursors, as clients send them in after= and
 * Last-Event-ID: ev_cursor_parse (16 partitions). A cursor that parses
 * formats back to itself, and every XRANGE start made from it is one Redis
 * accepts: "+", "<ms>-<seq>", or "(<ms>-<seq>" with an id that has a
 * successor (Redis refuses "(" before the last possible id).
 */
#include <inttypes.h>

#include "services/inventory/events_logic.h"
#include "tests/fuzz/fuzz.h"

#define PARTS 16

static void check_start(const char *start)
{
    struct ev_pos id;
    const char *p = start;

    if (strcmp(start, "+") == 0) {
        return;
    }
    if (*p == '(') {
        p++;
    }
    FUZZ_CHECK(ev_stream_id_parse(p, strlen(p), &id) == 0);
    FUZZ_CHECK(start[0] != '(' || id.ms != UINT64_MAX || id.seq != UINT64_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    char text[EV_CURSOR_SIZE], start[48];
    struct ev_pos pos, again;

    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    if (ev_cursor_parse(s, PARTS, &pos) == 0) {
        FUZZ_CHECK(pos.part < PARTS);
        ev_cursor_format(&pos, text);
        FUZZ_CHECK(strcmp(text, s) == 0);
        FUZZ_CHECK(ev_cursor_parse(text, PARTS, &again) == 0 && ev_pos_cmp(&pos, &again) == 0);
        for (unsigned part = 0; part < PARTS; part++) {
            ev_range_start(&pos, part, start, sizeof(start));
            check_start(start);
        }
    }
    free(s);
    return 0;
}
