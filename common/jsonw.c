/*
 * jsonw.c - write JSON straight into an evbuffer.
 */
#include <string.h>

#include <event2/buffer.h>

#include "common/jsonw.h"

void jw_init(struct jsonw *w, struct evbuffer *out)
{
    w->out = out;
    w->depth = 0;
    w->first[0] = 1;
    w->after_key = 0;
    w->len = 0;
}

int jw_done(struct jsonw *w)
{
    int rc = w->len > 0 ? evbuffer_add(w->out, w->pending, w->len) : 0;

    w->len = 0;
    return rc;
}

/* Every byte goes through here: gathered, and handed on in large pieces. */
static void add(struct jsonw *w, const void *p, size_t n)
{
    if (w->len + n > sizeof(w->pending))
        jw_done(w);
    if (n > sizeof(w->pending)) {
        evbuffer_add(w->out, p, n);
        return;
    }
    memcpy(w->pending + w->len, p, n);
    w->len += n;
}

/* Before any value or key: the comma that separates it from the one before. */
static void separate(struct jsonw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->first[w->depth])
        add(w, ",", 1);
    w->first[w->depth] = 0;
}

static void begin(struct jsonw *w, char c)
{
    separate(w);
    add(w, &c, 1);
    if (w->depth + 1 < JW_DEPTH)
        w->depth++;
    w->first[w->depth] = 1;
}

static void end(struct jsonw *w, char c)
{
    if (w->depth > 0)
        w->depth--;
    add(w, &c, 1);
}

void jw_object(struct jsonw *w)
{
    begin(w, '{');
}

void jw_object_end(struct jsonw *w)
{
    end(w, '}');
}

void jw_array(struct jsonw *w)
{
    begin(w, '[');
}

void jw_array_end(struct jsonw *w)
{
    end(w, ']');
}

/* Whether a byte may stand in a JSON string as it is: not a control character, '"' or '\\'. */
static int plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

/* @s as a JSON string: quotes, and escapes for what JSON does not allow as it is; @colon adds a
 * ':' (a key). */
static void quoted(struct jsonw *w, const char *s, int colon)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;
    size_t n = 0;

    /* Most strings (keys, identifiers) need no escape: copied in one piece. */
    while (plain((unsigned char)s[n]))
        n++;
    if (s[n] == '\0' && n + 3 <= sizeof(w->pending)) {
        char *p;
        if (w->len + n + 3 > sizeof(w->pending))
            jw_done(w);
        p = w->pending + w->len;
        p[0] = '"';
        memcpy(p + 1, s, n);
        p[n + 1] = '"';
        p[n + 2] = ':';
        w->len += n + 2 + (colon != 0);
        return;
    }
    add(w, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (plain(c))
            continue;
        add(w, run, (size_t)(s - run));
        run = s + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            add(w, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            add(w, esc, 6);
        }
    }
    add(w, run, (size_t)(s - run));
    add(w, colon ? "\":" : "\"", colon ? 2 : 1);
}

void jw_key(struct jsonw *w, const char *key)
{
    separate(w);
    quoted(w, key, 1);
    w->after_key = 1;
}

void jw_string(struct jsonw *w, const char *s)
{
    separate(w);
    quoted(w, s, 0);
}

void jw_int(struct jsonw *w, long long v)
{
    char digits[24], *p = digits + sizeof(digits);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    separate(w);
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    add(w, p, (size_t)(digits + sizeof(digits) - p));
}

void jw_bool(struct jsonw *w, int v)
{
    separate(w);
    if (v)
        add(w, "true", 4);
    else
        add(w, "false", 5);
}
