/*
 * jsonw.h - write JSON straight into an evbuffer, for the hot answers.
 *
 * Building a tree of jansson values to dump it at once costs an allocation
 * per value and a formatted print per number; an answer read thousands of
 * times a second is cheaper written as it goes. The writer puts the commas
 * in; the caller opens and closes objects and arrays in order and names
 * every member of an object with jw_key, and ends with jw_done. Output is
 * compact, like json_dumps(JSON_COMPACT). Small pieces gather in the writer
 * and go to the evbuffer in large ones.
 */
#ifndef COMMON_JSONW_H
#define COMMON_JSONW_H

#include <stddef.h>
#include <string.h>

struct evbuffer;

#define JW_DEPTH 16

struct jsonw {
    struct evbuffer *out; /* borrowed */
    int depth;
    unsigned char first[JW_DEPTH]; /* nothing written yet at this depth */
    int after_key;                 /* a key was written: its value needs no comma */
    size_t len;                    /* bytes in pending */
    char pending[2048];
};

/* jw_init - write into @out. */
void jw_init(struct jsonw *w, struct evbuffer *out);

/* jw_done - add what is still pending to the evbuffer. @return 0, or -1 if out of memory. */
int jw_done(struct jsonw *w);

void jw_object(struct jsonw *w);
void jw_object_end(struct jsonw *w);
void jw_array(struct jsonw *w);
void jw_array_end(struct jsonw *w);

/* jw_key - an object member's name; its value comes next. */
void jw_key(struct jsonw *w, const char *key);

/*
 * jw_name - jw_key for a name written in the source, jw_name(w, "on_hand"):
 * quoted by the compiler, so copied rather than scanned. For names that need
 * no escape.
 */
#define jw_name(w, literal) jw_key_quoted((w), "\"" literal "\":", sizeof(literal) + 2)

/* jw_key_quoted's way when pending has no room: through the evbuffer. */
void jw_key_quoted_slow(struct jsonw *w, const char *quoted, size_t len);

/*
 * jw_key_quoted - a name already quoted and followed by its ':', @len bytes.
 * Inline, so that jw_name's copy of a length known when compiling is a few moves.
 */
static inline void jw_key_quoted(struct jsonw *w, const char *quoted, size_t len)
{
    size_t comma = !w->after_key && !w->first[w->depth];

    if (w->len + comma + len > sizeof(w->pending)) {
        jw_key_quoted_slow(w, quoted, len);
        return;
    }
    w->pending[w->len] = ',';
    w->len += comma;
    memcpy(w->pending + w->len, quoted, len);
    w->len += len;
    w->first[w->depth] = 0;
    w->after_key = 1;
}

void jw_string(struct jsonw *w, const char *s);

/*
 * jw_key_plain, jw_string_plain - @s, @len bytes that need no escape (an
 * identifier checked when it came in): copied, not scanned.
 */
void jw_key_plain(struct jsonw *w, const char *s, size_t len);
void jw_string_plain(struct jsonw *w, const char *s, size_t len);

void jw_int(struct jsonw *w, long long v);
void jw_bool(struct jsonw *w, int v);

#endif
