/*
 * crc16.c - CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection),
 * the checksum Redis Cluster hashes keys with, so that a SKU's partition is
 * the same one a cluster would pick.
 */
#include <string.h>

#include "common/crc16.h"

uint16_t crc16(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int bit = 0; bit < 8; bit++) {
            if (crc & 0x8000) {
                crc = (uint16_t)((crc << 1) ^ 0x1021);
            } else {
                crc = (uint16_t)(crc << 1);
            }
        }
    }
    return crc;
}

unsigned key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;

    if (open != NULL) {
        close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
        if (close != NULL && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) & 16383;
    }
    return crc16(key, len) & 16383;
}

unsigned partition_of(const char *sku, unsigned nparts)
{
    if (sku == NULL || nparts == 0) {
        return 0;
    }
    return crc16(sku, strlen(sku)) % nparts;
}
