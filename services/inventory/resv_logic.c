/*
 * resv_logic.c - transitions, location rights and ids of reservations.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/sha256.h"
#include "services/inventory/resv_logic.h"

static const char *const names[] = {"", "held", "committed", "released", "expired", "fulfilled"};

enum resv_status resv_status_parse(const char *s)
{
    for (int i = RESV_HELD; i <= RESV_FULFILLED; i++) {
        if (s != NULL && strcmp(s, names[i]) == 0)
            return (enum resv_status)i;
    }
    return RESV_NONE;
}

const char *resv_status_name(enum resv_status s)
{
    return s >= RESV_HELD && s <= RESV_FULFILLED ? names[s] : "";
}

enum resv_move resv_transition(enum resv_status from, enum resv_status to)
{
    if (from == to && to != RESV_HELD)
        return RESV_MOVE_SAME;
    switch (from) {
    case RESV_HELD:
        return to == RESV_COMMITTED || to == RESV_RELEASED || to == RESV_EXPIRED || to == RESV_HELD
                   ? RESV_MOVE_OK
                   : RESV_MOVE_INVALID;
    case RESV_COMMITTED:
        return to == RESV_RELEASED || to == RESV_FULFILLED ? RESV_MOVE_OK : RESV_MOVE_INVALID;
    default:
        return RESV_MOVE_INVALID;
    }
}

void resv_at_location(json_t *body, const char *location, int *any, int *all)
{
    json_t *lines = json_object_get(body, "lines"), *line;
    size_t i, j;
    int seen = 0;

    *any = 0;
    *all = 1;
    json_array_foreach(lines, i, line)
    {
        json_t *a;
        json_array_foreach(json_object_get(line, "allocations"), j, a)
        {
            const char *loc = json_string_value(json_object_get(a, "location"));
            int here = loc != NULL && strcmp(loc, location) == 0;
            seen = 1;
            *any |= here;
            *all &= here;
        }
    }
    if (!seen)
        *all = 0;
}

int resv_id_make(const char *idem_scope, char id[PROTO_ID_SIZE])
{
    unsigned char raw[12];
    char hex[65];

    if (idem_scope != NULL && idem_scope[0] != '\0') {
        sha256_hex(idem_scope, strlen(idem_scope), hex);
        snprintf(id, PROTO_ID_SIZE, "r-%.24s", hex);
        return 0;
    }
    /* 12 bytes never come short from getrandom; no file to open per reservation. */
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -1;
    strcpy(id, "r-");
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(id + 2 + 2 * i, 3, "%02x", raw[i]);
    return 0;
}
