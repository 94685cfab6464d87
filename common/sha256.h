/*
 * sha256.h - SHA-256 (FIPS 180-4), used to hash API keys and request
 * fingerprints. Small and dependency-free.
 */
#ifndef COMMON_SHA256_H
#define COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used; /* bytes waiting in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, unsigned char digest[32]);

/* sha256_hex - hash @len bytes of @data into 64 lower-case hex digits and a NUL. */
void sha256_hex(const void *data, size_t len, char hex[65]);

/* sha256_equal - compare two digests in constant time. @return 1 if equal. */
int sha256_equal(const unsigned char a[32], const unsigned char b[32]);

#endif
