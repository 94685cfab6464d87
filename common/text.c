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

/* "00" to "99": two digits at a time, one division for both. */
static const char two_digits[] = "00010203040506070809"
                                 "10111213141516171819"
                                 "20212223242526272829"
                                 "30313233343536373839"
                                 "40414243444546474849"
                                 "50515253545556575859"
                                 "60616263646566676869"
                                 "70717273747576777879"
                                 "80818283848586878889"
                                 "90919293949596979899";

/* The digits counted first, then set from the last, two at a time. */
size_t text_int(char *out, long long v)
{
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    size_t digits = 1;
    char *p = out;

    for (unsigned long long t = u; t >= 10; t /= 10)
        digits++;
    if (v < 0)
        *p++ = '-';
    p += digits;
    *p = '\0';
    while (u >= 100) {
        const char *d = two_digits + 2 * (u % 100);
        u /= 100;
        *--p = d[1];
        *--p = d[0];
    }
    if (u >= 10) {
        *--p = two_digits[2 * u + 1];
        *--p = two_digits[2 * u];
    } else {
        *--p = (char)('0' + u);
    }
    return (size_t)(v < 0) + digits;
}
