/*
 * resp.h - a Redis command in the protocol's own form (RESP), made in one
 * pass into one allocation.
 *
 * hiredis 0.14 formats a command argument by argument through sds strings
 * and a printf of each length: some 700 instructions an argument, more than
 * the daemon spends on the rest of an audit entry. The bytes are the same.
 */
#ifndef COMMON_RESP_H
#define COMMON_RESP_H

#include <stddef.h>

/*
 * resp_format - *@argc, then each argument as $<len> and its bytes, into a
 * new buffer (free with free()). @lens may be NULL for C strings.
 * @return the length, or -1 (out of memory; *@out is then NULL).
 */
long resp_format(char **out, int argc, const char **argv, const size_t *lens);

#endif
