/*
 * test_hash.c - SHA-256 against the FIPS 180-4 / NIST example vectors, and
 * CRC16/XMODEM against its check value and the slots Redis Cluster reports.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/crc16.h"
#include "common/sha256.h"

static void digest_hex(const unsigned char digest[32], char hex[65])
{
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
}

static void assert_sha256(const char *msg, const char *want)
{
    char hex[65];

    sha256_hex(msg, strlen(msg), hex);
    assert_string_equal(hex, want);
}

static void test_sha256__nist_short_vectors(void **state)
{
    (void)state;
    assert_sha256("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_sha256("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_sha256__nist_448_bit_message(void **state)
{
    (void)state;
    assert_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256__nist_896_bit_message(void **state)
{
    (void)state;
    assert_sha256("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                  "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_sha256__million_a_in_odd_chunks(void **state)
{
    static const size_t chunks[] = {1, 3, 7, 55, 56, 57, 63, 64, 65, 127, 128, 1000, 4093};
    unsigned char buf[4096];
    unsigned char digest[32];
    char hex[65];
    struct sha256 s;
    size_t left = 1000000;

    (void)state;
    memset(buf, 'a', sizeof(buf));
    sha256_init(&s);
    for (size_t i = 0; left > 0; i++) {
        size_t n = chunks[i % (sizeof(chunks) / sizeof(chunks[0]))];

        if (n > left) {
            n = left;
        }
        sha256_update(&s, buf, n);
        left -= n;
    }
    sha256_final(&s, digest);
    digest_hex(digest, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256__chunking_does_not_change_digest(void **state)
{
    /* Every split point of a message that crosses the 55/56/64-byte padding edges. */
    unsigned char msg[130], whole[32], split[32];
    struct sha256 s;

    (void)state;
    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] = (unsigned char)(i * 7 + 1);
    }
    for (size_t len = 0; len <= sizeof(msg); len++) {
        sha256_init(&s);
        sha256_update(&s, msg, len);
        sha256_final(&s, whole);
        for (size_t cut = 0; cut <= len; cut++) {
            sha256_init(&s);
            sha256_update(&s, msg, cut);
            sha256_update(&s, msg + cut, 0);
            sha256_update(&s, msg + cut, len - cut);
            sha256_final(&s, split);
            assert_memory_equal(whole, split, 32);
        }
    }
}

static void test_sha256__padding_boundaries(void **state)
{
    /* 55 bytes fit one block with the length; 56 need a second; 64 is exactly one block. */
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
    };
    char msg[65];
    char hex[65];

    (void)state;
    memset(msg, 'a', sizeof(msg));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sha256_hex(msg, cases[i].n, hex);
        assert_string_equal(hex, cases[i].hex);
    }
}

static void test_sha256__hex_is_lower_case(void **state)
{
    char hex[65];

    (void)state;
    memset(hex, 'X', sizeof(hex));
    sha256_hex("abc", 3, hex);
    assert_int_equal(hex[64], '\0');
    assert_int_equal(strlen(hex), 64);
    for (int i = 0; i < 64; i++) {
        assert_true((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f'));
    }
}

static void test_sha256__equal_compares_every_byte(void **state)
{
    unsigned char a[32], b[32];
    struct sha256 s;

    (void)state;
    sha256_init(&s);
    sha256_update(&s, "key", 3);
    sha256_final(&s, a);
    memcpy(b, a, sizeof(b));
    assert_int_equal(sha256_equal(a, b), 1);
    for (int i = 0; i < 32; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (unsigned char)(1u << bit);
            assert_int_equal(sha256_equal(a, b), 0);
            b[i] ^= (unsigned char)(1u << bit);
        }
    }
    assert_int_equal(sha256_equal(a, b), 1);
}

static void test_crc16__xmodem_check_value(void **state)
{
    (void)state;
    assert_int_equal(crc16("123456789", 9), 0x31C3);
    assert_int_equal(crc16("", 0), 0);
}

/* The definition, a bit at a time: what the table-driven crc16 must agree with. */
static uint16_t crc16_by_bits(const unsigned char *p, size_t len)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

static void test_crc16__agrees_with_the_bitwise_definition(void **state)
{
    unsigned char buf[64];
    uint32_t x = 12345;

    (void)state;
    for (int b = 0; b < 256; b++) {
        buf[0] = (unsigned char)b;
        assert_int_equal(crc16(buf, 1), crc16_by_bits(buf, 1));
    }
    for (int n = 0; n < 2000; n++) {
        size_t len = (size_t)(n % 64);
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (unsigned char)(x >> 16);
        }
        assert_int_equal(crc16(buf, len), crc16_by_bits(buf, len));
        /* Split anywhere, the checksum of the first part carried on over the rest. */
        for (size_t cut = 0; cut <= len; cut++)
            assert_int_equal(crc16_more(crc16(buf, cut), buf + cut, len - cut),
                             crc16_by_bits(buf, len));
    }
}

static void test_crc16__matches_redis_cluster_slots(void **state)
{
    (void)state;
    /* CLUSTER KEYSLOT foo == 12182: slot = crc16(key) & 16383. */
    assert_int_equal(crc16("foo", 3) & 16383, 12182);
    assert_int_equal(crc16("MUG-01", 6), 0xCAF7);
}

static void test_crc16__key_slot_follows_hash_tags(void **state)
{
    (void)state;
    /* The values CLUSTER KEYSLOT gives for the same keys. */
    assert_int_equal(key_slot("foo", 3), 12182);
    assert_int_equal(key_slot("{user1000}.following", 20), key_slot("user1000", 8));
    assert_int_equal(key_slot("{p03}:sku:MUG-01", 16), key_slot("p03", 3));
    assert_int_equal(key_slot("{p03}:locs", 10), key_slot("{p03}:sku:X", 11));
    /* An empty tag, or none closed, hashes the whole key. */
    assert_int_equal(key_slot("foo{}{bar}", 10), crc16("foo{}{bar}", 10) & 16383);
    assert_int_equal(key_slot("foo{bar", 7), crc16("foo{bar", 7) & 16383);
    /* Only the first tag counts. */
    assert_int_equal(key_slot("foo{{bar}}zap", 13), crc16("{bar", 4) & 16383);
}

static void test_crc16__partition_of(void **state)
{
    (void)state;
    assert_int_equal(partition_of("123456789", 16), 0x31C3 % 16);
    assert_int_equal(partition_of("MUG-01", 16), 0xCAF7 % 16);
    assert_int_equal(partition_of("MUG-01", 16384), 2807);
    assert_int_equal(partition_of("MUG-01", 1), 0);
    assert_int_equal(partition_of("MUG-01", 0), 0);
    assert_int_equal(partition_of(NULL, 16), 0);
}

static void test_crc16__partitions_spread(void **state)
{
    unsigned counts[8] = {0};
    char sku[32];

    (void)state;
    for (int i = 0; i < 8000; i++) {
        unsigned p;

        snprintf(sku, sizeof(sku), "SKU-%05d", i);
        p = partition_of(sku, 8);
        assert_true(p < 8);
        assert_int_equal(p, partition_of(sku, 8)); /* stable */
        counts[p]++;
    }
    for (int p = 0; p < 8; p++) {
        assert_in_range(counts[p], 700, 1300);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256__nist_short_vectors),
        cmocka_unit_test(test_sha256__nist_448_bit_message),
        cmocka_unit_test(test_sha256__nist_896_bit_message),
        cmocka_unit_test(test_sha256__million_a_in_odd_chunks),
        cmocka_unit_test(test_sha256__chunking_does_not_change_digest),
        cmocka_unit_test(test_sha256__padding_boundaries),
        cmocka_unit_test(test_sha256__hex_is_lower_case),
        cmocka_unit_test(test_sha256__equal_compares_every_byte),
        cmocka_unit_test(test_crc16__xmodem_check_value),
        cmocka_unit_test(test_crc16__agrees_with_the_bitwise_definition),
        cmocka_unit_test(test_crc16__matches_redis_cluster_slots),
        cmocka_unit_test(test_crc16__key_slot_follows_hash_tags),
        cmocka_unit_test(test_crc16__partition_of),
        cmocka_unit_test(test_crc16__partitions_spread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
