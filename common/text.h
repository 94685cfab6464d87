/*
 * text.h - building short strings (keys, labels) without snprintf, which costs
 * hundreds of instructions for what a strlen and a memcpy do.
 */
#ifndef COMMON_TEXT_H
#define COMMON_TEXT_H

#include <stddef.h>

/*
 * text_add - append @s, then the character @end unless it is '\0', to @buf
 * (@size bytes, NUL-terminated) at *@at, as much as fits; *@at moves past
 * what was added.
 */
void text_add(char *buf, size_t size, size_t *at, const char *s, char end);

/* TEXT_INT_SIZE - room for any long long in decimal: sign, 19 digits, NUL. */
#define TEXT_INT_SIZE 21

/*
 * text_int - @v in decimal, as printf's "%lld" writes it, NUL-terminated, at
 * @out (TEXT_INT_SIZE bytes at least); @return its length. Two digits a
 * division, from the last.
 */
size_t text_int(char *out, long long v);

#endif
