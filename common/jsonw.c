/*
 * jsonw.c - write JSON straight into an evbuffer.
 */
#include <string.h>

#include <event2/buffer.h>

#include "common/jsonw.h"
#include "common/text.h"

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

/* Every piece goes through here or put(): gathered, and handed on in large pieces. */
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

/* One byte: most of what the writer adds (quotes, commas, brackets) comes one at a time. */
static void put(struct jsonw *w, char c)
{
    if (w->len == sizeof(w->pending))
        jw_done(w);
    w->pending[w->len++] = c;
}

/* Before any value or key: the comma that separates it from the one before. */
static void separate(struct jsonw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (!w->first[w->depth])
        put(w, ',');
    w->first[w->depth] = 0;
}

static void begin(struct jsonw *w, char c)
{
    separate(w);
    put(w, c);
    if (w->depth + 1 < JW_DEPTH)
        w->depth++;
    w->first[w->depth] = 1;
}

static void end(struct jsonw *w, char c)
{
    if (w->depth > 0)
        w->depth--;
    put(w, c);
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

/*
 * @s as a JSON string: quotes, and escapes for what JSON does not allow as it
 * is; @colon adds a ':' (a key). Plain bytes are copied as they are checked,
 * straight into pending: most strings (names, identifiers) are nothing else.
 */
static void quoted(struct jsonw *w, const char *s, int colon)
{
    static const char hex[] = "0123456789abcdef";

    put(w, '"');
    for (;;) {
        char *d = w->pending + w->len, *full = w->pending + sizeof(w->pending);
        unsigned char c;

        while (d < full && plain((unsigned char)*s))
            *d++ = *s++;
        w->len = (size_t)(d - w->pending);
        c = (unsigned char)*s;
        if (c == '\0')
            break;
        if (plain(c)) { /* pending is full */
            jw_done(w);
            continue;
        }
        s++;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            add(w, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            add(w, esc, 6);
        }
    }
    put(w, '"');
    if (colon)
        put(w, ':');
}

void jw_key(struct jsonw *w, const char *key)
{
    separate(w);
    quoted(w, key, 1);
    w->after_key = 1;
}

void jw_key_quoted_slow(struct jsonw *w, const char *quoted, size_t len)
{
    separate(w);
    add(w, quoted, len);
    w->after_key = 1;
}

void jw_string(struct jsonw *w, const char *s)
{
    separate(w);
    quoted(w, s, 0);
}

/* @s of @len bytes as it is, in quotes; @colon adds a ':'. */
static void quoted_plain(struct jsonw *w, const char *s, size_t len, int colon)
{
    char *d;

    if (w->len + len + 3 > sizeof(w->pending)) {
        put(w, '"');
        add(w, s, len);
        put(w, '"');
        if (colon)
            put(w, ':');
        return;
    }
    d = w->pending + w->len;
    *d++ = '"';
    memcpy(d, s, len);
    d += len;
    *d++ = '"';
    if (colon)
        *d++ = ':';
    w->len = (size_t)(d - w->pending);
}

void jw_key_plain(struct jsonw *w, const char *s, size_t len)
{
    separate(w);
    quoted_plain(w, s, len, 1);
    w->after_key = 1;
}

void jw_string_plain(struct jsonw *w, const char *s, size_t len)
{
    separate(w);
    quoted_plain(w, s, len, 0);
}

void jw_int(struct jsonw *w, long long v)
{
    separate(w);
    if (w->len + TEXT_INT_SIZE > sizeof(w->pending))
        jw_done(w);
    w->len += text_int(w->pending + w->len, v);
}

void jw_bool(struct jsonw *w, int v)
{
    separate(w);
    if (v)
        add(w, "true", 4);
    else
        add(w, "false", 5);
}
