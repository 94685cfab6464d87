/*
 * test_redis_addr.c - --redis as the daemon reads it: redis://, unix://
 * and cluster:// addresses, and the one-line errors for the rest (with any
 * password hidden).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/redis.h"

static void test_redis_addr__a_plain_address(void **state)
{
    struct redis_addr a;
    char err[256];

    (void)state;
    assert_int_equal(redis_addr_parse("redis://10.0.0.5", &a, err, sizeof(err)), 0);
    assert_int_equal(a.kind, REDIS_ADDR_TCP);
    assert_string_equal(a.host, "10.0.0.5");
    assert_int_equal(a.port, 6379);
    assert_int_equal(redis_addr_parse("redis://app:s3cret@db.local:6380/2", &a, err, sizeof(err)),
                     0);
    assert_string_equal(a.user, "app");
    assert_string_equal(a.password, "s3cret");
    assert_string_equal(a.host, "db.local");
    assert_int_equal(a.port, 6380);
    assert_int_equal(a.db, 2);
    assert_int_equal(redis_addr_parse("unix:///run/redis.sock", &a, err, sizeof(err)), 0);
    assert_int_equal(a.kind, REDIS_ADDR_UNIX);
    assert_string_equal(a.path, "/run/redis.sock");
}

static void test_redis_addr__a_cluster_names_its_seeds(void **state)
{
    struct redis_addr a;
    char err[256];

    (void)state;
    assert_int_equal(redis_addr_parse("cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,node-3:7002", &a,
                                      err, sizeof(err)),
                     0);
    assert_int_equal(a.kind, REDIS_ADDR_CLUSTER);
    assert_string_equal(a.password, "pw");
    assert_int_equal(a.nseeds, 3);
    assert_string_equal(a.seeds[0].host, "10.0.0.1");
    assert_int_equal(a.seeds[0].port, 7000);
    assert_string_equal(a.seeds[2].host, "node-3");
    assert_int_equal(a.seeds[2].port, 7002);
    assert_string_equal(a.host, "10.0.0.1"); /* the first seed */
    assert_int_equal(redis_addr_parse("cluster://127.0.0.1:7000", &a, err, sizeof(err)), 0);
    assert_int_equal(a.nseeds, 1);
}

static void test_redis_addr__bad_addresses_say_why(void **state)
{
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"cluster://127.0.0.1", "host:port"},
        {"cluster://127.0.0.1:7000,", "host:port"},
        {"cluster://127.0.0.1:7000/1", "no database"},
        {"cluster://", "host:port"},
        {"cluster://:hunter2@h:0", "host:port"},
        {"redis://h:70000", "invalid port"},
        {"redis://h:", "invalid port"},
        {"redis://:6379", "missing"},
        {"redis://h/x", "database"},
        {"http://h", "is not redis://"},
        {"unix://relative.sock", "absolute"},
    };
    struct redis_addr a;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (redis_addr_parse(bad[i].url, &a, err, sizeof(err)) != -1)
            fail_msg("%s: accepted", bad[i].url);
        if (strstr(err, bad[i].says) == NULL)
            fail_msg("%s: \"%s\" does not say \"%s\"", bad[i].url, err, bad[i].says);
        assert_null(strstr(err, "hunter2"));
    }
}

static void test_redis_addr__at_most_sixteen_seeds(void **state)
{
    char url[1024] = "cluster://";
    struct redis_addr a;
    char err[256];

    (void)state;
    for (int i = 0; i < REDIS_MAX_SEEDS + 1; i++) {
        char node[32];
        snprintf(node, sizeof(node), "%sh%d:%d", i ? "," : "", i, 7000 + i);
        strcat(url, node);
    }
    assert_int_equal(redis_addr_parse(url, &a, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at most"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_addr__a_plain_address),
        cmocka_unit_test(test_redis_addr__a_cluster_names_its_seeds),
        cmocka_unit_test(test_redis_addr__bad_addresses_say_why),
        cmocka_unit_test(test_redis_addr__at_most_sixteen_seeds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
