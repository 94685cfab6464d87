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
}

/* Before any value or key: the comma that separates it from the one before. */
static void separate(struct jsonw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->first[w->depth])
        evbuffer_add(w->out, ",", 1);
    w->first[w->depth] = 0;
}

static void begin(struct jsonw *w, char c)
{
    separate(w);
    evbuffer_add(w->out, &c, 1);
    if (w->depth + 1 < JW_DEPTH)
        w->depth++;
    w->first[w->depth] = 1;
}

static void end(struct jsonw *w, char c)
{
    if (w->depth > 0)
        w->depth--;
    evbuffer_add(w->out, &c, 1);
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

/* @s as a JSON string: quotes, and escapes for what JSON does not allow as it is. */
static void quoted(struct jsonw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;

    evbuffer_add(w->out, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        evbuffer_add(w->out, run, (size_t)(s - run));
        run = s + 1;
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            evbuffer_add(w->out, esc, 2);
        } else {
            evbuffer_add(w->out, esc, 6);
        }
    }
    evbuffer_add(w->out, run, (size_t)(s - run));
    evbuffer_add(w->out, "\"", 1);
}

void jw_key(struct jsonw *w, const char *key)
{
    separate(w);
    quoted(w, key);
    evbuffer_add(w->out, ":", 1);
    w->after_key = 1;
}

void jw_string(struct jsonw *w, const char *s)
{
    separate(w);
    quoted(w, s);
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
    evbuffer_add(w->out, p, (size_t)(digits + sizeof(digits) - p));
}

void jw_bool(struct jsonw *w, int v)
{
    separate(w);
    if (v)
        evbuffer_add(w->out, "true", 4);
    else
        evbuffer_add(w->out, "false", 5);
}
