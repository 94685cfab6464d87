/*
 * resp.c - see resp.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/resp.h"

/* Digits of @v in decimal. */
static size_t digits(size_t v)
{
    size_t n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* '@mark' @v "\r\n" at @p, @n the digits of @v. @return the byte after. */
static char *header(char *p, char mark, size_t v, size_t n)
{
    *p++ = mark;
    for (char *d = p + n; d > p; v /= 10)
        *--d = (char)('0' + v % 10);
    p += n;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

long resp_format(char **out, int argc, const char **argv, const size_t *lens)
{
    size_t stack_lens[32], *own = NULL;
    size_t total, argc_digits = digits((size_t)argc);
    char *buf = NULL, *p;

    *out = NULL;
    if (argc < 0)
        return -1;
    if (lens == NULL) { /* C strings: measured once */
        own = (size_t)argc <= sizeof(stack_lens) / sizeof(stack_lens[0])
                  ? stack_lens
                  : malloc(sizeof(*own) * (size_t)argc);
        if (own == NULL)
            return -1;
        for (int i = 0; i < argc; i++)
            own[i] = strlen(argv[i]);
        lens = own;
    }
    total = 1 + argc_digits + 2;
    for (int i = 0; i < argc; i++)
        total += 1 + digits(lens[i]) + 2 + lens[i] + 2;
    if ((buf = malloc(total + 1)) != NULL) {
        p = header(buf, '*', (size_t)argc, argc_digits);
        for (int i = 0; i < argc; i++) {
            p = header(p, '$', lens[i], digits(lens[i]));
            memcpy(p, argv[i], lens[i]);
            p += lens[i];
            *p++ = '\r';
            *p++ = '\n';
        }
        *p = '\0';
    }
    if (own != stack_lens)
        free(own);
    *out = buf;
    return buf != NULL ? (long)total : -1;
}
