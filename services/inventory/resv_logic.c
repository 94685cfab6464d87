/*
 * resv_logic.c - transitions, location rights and ids of reservations.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/crc16.h"
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

int resv_body_member(const char *body, size_t len, const char *name, char *out, size_t size)
{
    char key[40];
    size_t nlen = strlen(name), klen = nlen + 4; /* "name":" */
    const char *p = body, *end = body + len, *at, *close;

    if (body == NULL || klen >= sizeof(key))
        return -1;
    key[0] = '"';
    memcpy(key + 1, name, nlen);
    memcpy(key + 1 + nlen, "\":\"", 3);
    for (;;) {
        at = memchr(p, '"', (size_t)(end - p));
        if (at == NULL || (size_t)(end - at) < klen)
            return -1;
        if (memcmp(at, key, klen) == 0)
            break;
        p = at + 1;
    }
    at += klen;
    close = memchr(at, '"', (size_t)(end - at));
    if (close == NULL || (size_t)(close - at) >= size || memchr(at, '\\', (size_t)(close - at)))
        return -1;
    memcpy(out, at, (size_t)(close - at));
    out[close - at] = '\0';
    return 0;
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

int resv_may_act(const struct resv_may *may, json_t *body)
{
    json_t *line;
    size_t i, j;
    int any = 0, all = 1, seen = 0;

    if (may->rule == RESV_MAY_ANY)
        return 1;
    json_array_foreach(json_object_get(body, "lines"), i, line)
    {
        json_t *a;
        json_array_foreach(json_object_get(line, "allocations"), j, a)
        {
            const char *loc = json_string_value(json_object_get(a, "location"));
            int here = loc != NULL && strcmp(loc, may->location) == 0;
            seen = 1;
            any |= here;
            all &= here;
        }
    }
    return may->rule == RESV_MAY_SOME_HERE ? any : seen && all;
}

const char *resv_may_name(enum resv_may_rule rule)
{
    return rule == RESV_MAY_SOME_HERE ? "some" : rule == RESV_MAY_ALL_HERE ? "all" : "";
}

/* "r-" and @raw in hex. */
static void id_format(const unsigned char raw[RESV_ID_BYTES], char id[PROTO_ID_SIZE])
{
    static const char hex[] = "0123456789abcdef";

    id[0] = 'r';
    id[1] = '-';
    for (size_t i = 0; i < RESV_ID_BYTES; i++) {
        id[2 + 2 * i] = hex[raw[i] >> 4];
        id[3 + 2 * i] = hex[raw[i] & 15];
    }
    id[2 + 2 * RESV_ID_BYTES] = '\0';
}

/*
 * @n random bytes, taken from a pool that getrandom fills 40 ids at a time: one system
 * call where there was one a reservation. The daemon forks only to exec (embedded.c),
 * so no two processes share a pool.
 */
static int random_bytes(unsigned char *out, size_t n)
{
    static unsigned char pool[40 * RESV_ID_BYTES];
    static size_t left;

    if (n > sizeof(pool))
        return -1;
    if (left < n) {
        if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool))
            return -1;
        left = sizeof(pool);
    }
    memcpy(out, pool + sizeof(pool) - left, n);
    /* Bytes given are not kept where they were. */
    memset(pool + sizeof(pool) - left, 0, n);
    left -= n;
    return 0;
}

int resv_id_make(const char *idem_scope, unsigned part, unsigned nparts, char id[PROTO_ID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    const size_t tail = 2 + 2 * (RESV_ID_BYTES - 2); /* where the last two bytes' hex starts */
    unsigned char raw[RESV_ID_BYTES];
    unsigned char digest[32];
    unsigned start;
    uint16_t head;

    if (idem_scope != NULL && idem_scope[0] != '\0') {
        struct sha256 h;
        sha256_init(&h);
        sha256_update(&h, idem_scope, strlen(idem_scope));
        sha256_final(&h, digest);
        memcpy(raw, digest, sizeof(raw));
    } else if (random_bytes(raw, sizeof(raw)) != 0) {
        return -1;
    }
    id_format(raw, id);
    if (nparts == 0 || part >= nparts)
        return 0;
    /*
     * Count the last two bytes on from where they are until the id falls in @part: the
     * same steps for the same scope, about nparts of them. Only the id's last four
     * characters change, so the checksum of the rest is worked out once.
     */
    head = crc16(id, tail);
    start = (unsigned)raw[RESV_ID_BYTES - 2] << 8 | raw[RESV_ID_BYTES - 1];
    for (unsigned k = 0; k < 65536; k++) {
        unsigned v = (start + k) & 0xffff;
        char *t = id + tail;
        t[0] = hex[v >> 12];
        t[1] = hex[(v >> 8) & 15];
        t[2] = hex[(v >> 4) & 15];
        t[3] = hex[v & 15];
        if (crc16_more(head, t, 4) % nparts == part)
            return 0;
    }
    return -1;
}
