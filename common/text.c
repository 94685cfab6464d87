/*
 * text.c - the string helpers of text.h.
 */
#include <string.h>

#include "common/text.h"

void text_add(char *buf, size_t size, size_t *at, const char *s, char end)
{
    size_t n = strlen(s);

    if (*at + n + 1 >= size)
        n = *at + 1 < size ? size - *at - 1 : 0;
    memcpy(buf + *at, s, n);
    *at += n;
    if (end != '\0' && *at + 1 < size)
        buf[(*at)++] = end;
    buf[*at] = '\0';
}
