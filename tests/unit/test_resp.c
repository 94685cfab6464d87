/*
 * test_resp.c - the daemon's own formatting of Redis commands: byte for
 * byte what hiredis makes of the same arguments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/resp.h"

/* resp_format and hiredis agree on @argv (@lens may be NULL). */
static void same_as_hiredis(int argc, const char **argv, const size_t *lens)
{
    char *ours, *theirs;
    long n = resp_format(&ours, argc, argv, lens);
    int m = redisFormatCommandArgv(&theirs, argc, argv, lens);

    assert_true(n >= 0);
    assert_int_equal(n, m);
    assert_memory_equal(ours, theirs, (size_t)n);
    assert_int_equal(ours[n], '\0');
    free(ours);
    free(theirs);
}

/* Arguments of every length around the digits' boundaries, as C strings and with lengths. */
static void test_resp__lengths_at_every_boundary_match_hiredis(void **state)
{
    static const size_t sizes[] = {0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 65535, 100000};
    char *big = malloc(100001);

    (void)state;
    assert_non_null(big);
    for (size_t i = 0; i < 100000; i++)
        big[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char saved = big[sizes[i]];
        const char *argv[] = {"XADD", "{rec}:audit", big};
        size_t lens[] = {4, 11, sizes[i]};
        big[sizes[i]] = '\0';
        same_as_hiredis(3, argv, NULL);
        same_as_hiredis(3, argv, lens);
        big[sizes[i]] = saved;
    }
    free(big);
}

/* Bytes that mean something in the protocol, and NULs, pass through as they are. */
static void test_resp__binary_arguments_match_hiredis(void **state)
{
    const char bin[] = {'a', '\0', '\r', '\n', '$', '*', '\xff', '\0'};
    const char *argv[] = {"SET", "k\r\n", bin};
    size_t lens[] = {3, 3, sizeof(bin)};

    (void)state;
    same_as_hiredis(3, argv, lens);
}

/* No argument, one, and more than fit the formatter's own table of lengths. */
static void test_resp__any_number_of_arguments_match_hiredis(void **state)
{
    const char *argv[100];
    char names[100][16];

    (void)state;
    same_as_hiredis(0, argv, NULL);
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        argv[i] = names[i];
    }
    for (int argc = 1; argc <= 100; argc += 11)
        same_as_hiredis(argc, argv, NULL);
    same_as_hiredis(100, argv, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp__lengths_at_every_boundary_match_hiredis),
        cmocka_unit_test(test_resp__binary_arguments_match_hiredis),
        cmocka_unit_test(test_resp__any_number_of_arguments_match_hiredis),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
