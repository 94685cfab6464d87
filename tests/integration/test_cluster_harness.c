/*
 * test_cluster_harness.c - the cluster harness itself (tests/harness/cluster.h), on
 * redis-server alone: three masters with one replica each cover every slot, a key is
 * written and read through the master of its slot (following MOVED by hand), FLUSHALL
 * reaches every master, a killed master's replica takes over with the writes it
 * acknowledged, and stop leaves nothing running.
 *
 * Starting a cluster takes seconds, so the cases share one, in this order: the failover
 * case kills a master and the last case stops the cluster.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tests/harness/cluster.h"

#define SLOTS       16384
#define FAILOVER_MS 20000
#define MAX_RANGES  16

struct fixture {
    struct harness_cluster c;
    pid_t started[HARNESS_CLUSTER_NODES]; /* every node's pid, even once killed */
    char dir[PATH_MAX];
};

/* One entry of CLUSTER SLOTS. */
struct slot_range {
    long long first, last;
    int master;
    int replica; /* 0 when none */
    size_t nreplicas;
};

/* node_connect - a connection to 127.0.0.1:@port with 2 s to connect and 5 s per reply. */
static redisContext *node_connect(int port)
{
    redisContext *ctx = redisConnectWithTimeout("127.0.0.1", port, (struct timeval){2, 0});

    assert_non_null(ctx);
    if (ctx->err) {
        fail_msg("connect to port %d: %s", port, ctx->errstr);
    }
    redisSetTimeout(ctx, (struct timeval){5, 0});
    return ctx;
}

/* node_command - one command on a fresh connection to @port. @return a new reply. */
static redisReply *node_command(int port, const char *fmt, ...)
{
    redisContext *ctx = node_connect(port);
    redisReply *rep;
    va_list ap;

    va_start(ap, fmt);
    rep = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    if (rep == NULL) {
        fail_msg("port %d: %s", port, ctx->errstr);
    }
    redisFree(ctx);
    return rep;
}

/* read_slots - CLUSTER SLOTS as @port sees it, into @out. @return the number of ranges. */
static size_t read_slots(int port, struct slot_range *out)
{
    redisReply *rep = node_command(port, "CLUSTER SLOTS");
    size_t n = 0;

    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_true(rep->elements <= MAX_RANGES);
    for (size_t k = 0; k < rep->elements; k++) {
        const redisReply *range = rep->element[k];

        assert_true(range->elements >= 3);
        out[n] = (struct slot_range){.first = range->element[0]->integer,
                                     .last = range->element[1]->integer,
                                     .master = (int)range->element[2]->element[1]->integer,
                                     .nreplicas = range->elements - 3};
        if (out[n].nreplicas > 0) {
            out[n].replica = (int)range->element[3]->element[1]->integer;
        }
        n++;
    }
    freeReplyObject(rep);
    return n;
}

/* key_range - the range serving @key, as @port sees it. */
static struct slot_range key_range(int port, const char *key)
{
    struct slot_range ranges[MAX_RANGES];
    redisReply *slot = node_command(port, "CLUSTER KEYSLOT %s", key);
    size_t n = read_slots(port, ranges);

    assert_int_equal(slot->type, REDIS_REPLY_INTEGER);
    for (size_t k = 0; k < n; k++) {
        if (ranges[k].first <= slot->integer && slot->integer <= ranges[k].last) {
            freeReplyObject(slot);
            return ranges[k];
        }
    }
    fail_msg("no range serves slot %lld of %s", slot->integer, key);
    abort(); /* not reached */
}

/* index_of - the index of @port in @ports (@n of them), or -1. */
static int index_of(int port, const int *ports, int n)
{
    for (int i = 0; i < n; i++) {
        if (ports[i] == port) {
            return i;
        }
    }
    return -1;
}

static int group_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    long long start = harness_now_ms();

    *state = f;
    if (f == NULL || harness_cluster_start(&f->c) != 0) {
        return -1;
    }
    print_message("cluster up in %lld ms\n", harness_now_ms() - start);
    memcpy(f->started, f->c.pids, sizeof(f->started));
    snprintf(f->dir, sizeof(f->dir), "%s", f->c.dir);
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *f = *state;

    if (f != NULL) {
        harness_cluster_stop(&f->c); /* a no-op once the last case stopped it */
    }
    free(f);
    return 0;
}

static void test_cluster_harness__three_masters_with_a_replica_each_cover_every_slot(void **state)
{
    struct fixture *f = *state;
    struct harness_cluster *c = &f->c;
    struct slot_range ranges[MAX_RANGES];
    static unsigned char served[SLOTS];
    int replica_of[HARNESS_CLUSTER_NODES] = {0}; /* by master index: its replica's port */
    size_t n = read_slots(c->ports[0], ranges);
    char seed[128], want[128];

    assert_int_equal(c->masters, 3);
    for (size_t k = 0; k < n; k++) {
        /* redis-cli made the first three nodes the masters, the others their replicas */
        int m = index_of(ranges[k].master, c->ports, c->masters);

        for (long long s = ranges[k].first; s <= ranges[k].last; s++) {
            assert_true(s >= 0 && s < SLOTS);
            served[s]++;
        }
        assert_true(m >= 0);
        assert_int_equal(ranges[k].nreplicas, 1);
        assert_true(index_of(ranges[k].replica, c->ports + c->masters,
                             HARNESS_CLUSTER_NODES - c->masters) >= 0);
        if (replica_of[m] == 0) {
            replica_of[m] = ranges[k].replica;
        }
        assert_int_equal(replica_of[m], ranges[k].replica);
    }
    for (int s = 0; s < SLOTS; s++) {
        if (served[s] != 1) {
            fail_msg("slot %d is served by %d ranges", s, served[s]);
        }
    }
    /* each master has its own replica */
    for (int m = 0; m < c->masters; m++) {
        assert_int_not_equal(replica_of[m], 0);
        for (int other = 0; other < m; other++) {
            assert_int_not_equal(replica_of[m], replica_of[other]);
        }
    }
    assert_int_equal(harness_cluster_seed(c, seed, sizeof(seed)), 0);
    snprintf(want, sizeof(want), "cluster://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", c->ports[0],
             c->ports[1], c->ports[2]);
    assert_string_equal(seed, want);
    assert_int_equal(harness_cluster_seed(c, seed, 10), -1);
}

static void test_cluster_harness__moved_leads_to_the_master_of_the_slot(void **state)
{
    struct fixture *f = *state;
    int first = f->c.ports[0], owner, slot, moved_port;
    struct slot_range range;
    char key[32];
    redisReply *rep;

    /* a key the first node does not serve, so that it answers MOVED */
    for (int i = 0;; i++) {
        snprintf(key, sizeof(key), "moved-%d", i);
        range = key_range(first, key);
        if (range.master != first) {
            break;
        }
    }
    owner = range.master;
    rep = node_command(first, "SET %s %s", key, "v1");
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    assert_int_equal(sscanf(rep->str, "MOVED %d 127.0.0.1:%d", &slot, &moved_port), 2);
    assert_int_equal(moved_port, owner);
    freeReplyObject(rep);

    rep = node_command(owner, "SET %s %s", key, "v1");
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    assert_string_equal(rep->str, "OK");
    freeReplyObject(rep);
    rep = node_command(owner, "GET %s", key);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "v1");
    freeReplyObject(rep);
}

static void test_cluster_harness__flushall_empties_every_master(void **state)
{
    struct fixture *f = *state;
    struct harness_cluster *c = &f->c;
    char key[32];
    redisReply *rep;

    /* a key on every master: 30 keys spread over 3 masters reach each in practice */
    for (int i = 0; i < 30; i++) {
        snprintf(key, sizeof(key), "flush-%d", i);
        rep = node_command(key_range(c->ports[0], key).master, "SET %s %s", key, "x");
        assert_int_equal(rep->type, REDIS_REPLY_STATUS);
        freeReplyObject(rep);
    }
    for (int m = 0; m < c->masters; m++) {
        rep = node_command(c->ports[m], "DBSIZE");
        assert_true(rep->integer > 0);
        freeReplyObject(rep);
    }
    assert_int_equal(harness_cluster_flushall(c), 0);
    for (int m = 0; m < c->masters; m++) {
        rep = node_command(c->ports[m], "DBSIZE");
        assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
        assert_int_equal(rep->integer, 0);
        freeReplyObject(rep);
    }
}

static void test_cluster_harness__failover_keeps_acknowledged_writes(void **state)
{
    struct fixture *f = *state;
    struct harness_cluster *c = &f->c;
    const char *key = "failover-key";
    struct slot_range before = key_range(c->ports[0], key), after;
    redisContext *ctx = node_connect(before.master);
    redisReply *rep;
    long long start;
    int killed = 0;

    rep = redisCommand(ctx, "SET %s %s", key, "kept");
    assert_non_null(rep);
    assert_string_equal(rep->str, "OK");
    freeReplyObject(rep);
    /* bounded rather than WAIT 1 0 (forever): the replica has it once this says 1 */
    rep = redisCommand(ctx, "WAIT 1 5000");
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    redisFree(ctx);

    assert_int_equal(harness_cluster_kill_master_of(c, key, &killed), 0);
    assert_int_equal(killed, before.master);
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        assert_true(c->ports[i] != killed || c->pids[i] == 0);
    }
    start = harness_now_ms();
    assert_int_equal(harness_cluster_await_ok(c, FAILOVER_MS), 0);
    print_message("failover in %lld ms after the kill\n", harness_now_ms() - start);

    /* the replica took over the slot, with the write, in every live node's view */
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (c->pids[i] > 0) {
            after = key_range(c->ports[i], key);
            assert_int_equal(after.master, before.replica);
        }
    }
    rep = node_command(before.replica, "GET %s", key);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_string_equal(rep->str, "kept");
    freeReplyObject(rep);
}

static void test_cluster_harness__stop_leaves_nothing_running(void **state)
{
    struct fixture *f = *state;
    struct stat st;

    assert_int_equal(harness_cluster_stop(&f->c), 0);
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        assert_int_equal(f->c.pids[i], 0);
        /* gone and reaped: no such process, not even a zombie */
        assert_int_equal(kill(f->started[i], 0), -1);
        assert_int_equal(errno, ESRCH);
    }
    assert_int_equal(stat(f->dir, &st), -1);
    assert_int_equal(errno, ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_harness__three_masters_with_a_replica_each_cover_every_slot),
        cmocka_unit_test(test_cluster_harness__moved_leads_to_the_master_of_the_slot),
        cmocka_unit_test(test_cluster_harness__flushall_empties_every_master),
        cmocka_unit_test(test_cluster_harness__failover_keeps_acknowledged_writes),
        cmocka_unit_test(test_cluster_harness__stop_leaves_nothing_running),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
