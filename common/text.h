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

#endif
