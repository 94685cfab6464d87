/*
 * crc16.h - CRC16-CCITT (XMODEM), the checksum Redis Cluster uses for key
 * slots, and the partition of a SKU derived from it.
 */
#ifndef COMMON_CRC16_H
#define COMMON_CRC16_H

#include <stddef.h>
#include <stdint.h>

/* crc16 - CRC16/XMODEM of @len bytes: crc16("123456789", 9) == 0x31C3. */
uint16_t crc16(const void *data, size_t len);

/*
 * crc16_more - crc16 of bytes that follow others whose crc16 is @crc:
 * crc16_more(crc16(a, n), b, m) is crc16 of the n + m bytes a then b.
 */
uint16_t crc16_more(uint16_t crc, const void *data, size_t len);

/*
 * key_slot - the Redis Cluster slot (0..16383) of a key: crc16 of the part
 * between the first '{' and the next '}' when that part is not empty, else
 * of the whole key.
 */
unsigned key_slot(const char *key, size_t len);

/* partition_of - the partition (0..nparts-1) of a SKU: crc16(sku) % nparts. */
unsigned partition_of(const char *sku, unsigned nparts);

#endif
