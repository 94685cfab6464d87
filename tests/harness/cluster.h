/*
 * cluster.h - a real Redis Cluster for the integration tests: 3 masters and 3
 * replicas, six redis-server processes on free loopback ports, in one
 * temporary directory, joined with `redis-cli --cluster create`.
 *
 * The nodes are started with harness_redis_start() (harness.h), so they die
 * with the test process like the harness's own redis-server: at exit, or by
 * PR_SET_PDEATHSIG if the test is killed. Each node runs with
 * cluster-node-timeout 2000, repl-ping-replica-period 1, no persistence, and
 * listens on its port and on port + 10000 (the cluster bus), both on 127.0.0.1.
 *
 * Every wait is bounded and polled. Every function that fails says why on
 * stderr. One thread at a time per struct harness_cluster.
 */
#ifndef TESTS_HARNESS_CLUSTER_H
#define TESTS_HARNESS_CLUSTER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "tests/harness/harness.h"

#define HARNESS_CLUSTER_NODES   6
#define HARNESS_CLUSTER_MASTERS 3
#define HARNESS_CLUSTER_BUS     10000 /* a node's cluster bus listens on its port + this */

struct harness_cluster {
    /* Client ports. redis-cli creates nodes 0..masters-1 as the masters and the others as
     * their replicas; a failover changes that (CLUSTER SLOTS says who serves what). */
    int ports[HARNESS_CLUSTER_NODES];
    int masters;        /* HARNESS_CLUSTER_MASTERS */
    char dir[PATH_MAX]; /* the temp dir: node<i>/ (nodes.conf, redis.log), create.log */
    pid_t pids[HARNESS_CLUSTER_NODES]; /* 0 once the node is stopped or killed */
    /* The processes themselves; ports and pids above are copies kept in step with them. */
    struct harness_redis nodes[HARNESS_CLUSTER_NODES];
};

/*
 * harness_cluster_start - start the six nodes on free ports (each port and its bus port
 * bind-probed first, each process checked to be ours), create the cluster, and wait
 * (30 s at most) until harness_cluster_await_ok() holds and, in every node's CLUSTER
 * SLOTS, each range lists its replica (Redis lists a replica only once its replication
 * offset has moved from 0).
 * @c: filled in; what it held before is ignored.
 * @return 0, or -1: everything started is stopped and removed again, after the nodes'
 * logs and redis-cli's output are printed on stderr.
 */
int harness_cluster_start(struct harness_cluster *c);

/*
 * harness_cluster_stop - SIGTERM every node still running, wait (5 s), SIGKILL what is
 * left, and remove the temp dir (kept when OMNISTOCK_KEEP_TMP is set, as harness.h does).
 * Accepts a cluster whose start failed, or that is already stopped.
 * @return 0 if every node still running exited with status 0, else -1.
 */
int harness_cluster_stop(struct harness_cluster *c);

/*
 * harness_cluster_seed - the address of the masters as created, for omnistock's config:
 * "cluster://127.0.0.1:p0,127.0.0.1:p1,127.0.0.1:p2" into @out (@len bytes).
 * @return 0, or -1 if it does not fit.
 */
int harness_cluster_seed(const struct harness_cluster *c, char *out, size_t len);

/*
 * harness_cluster_kill_master_of - SIGKILL (a crash: no shutdown) the master that serves
 * the slot of @key (CLUSTER KEYSLOT), as CLUSTER SLOTS on a live node tells, and reap it.
 * Its replica takes over after cluster-node-timeout: wait with harness_cluster_await_ok().
 * @killed_port: set to the port of the node killed. Its dir stays until stop.
 * @return 0, or -1 if that master could not be found or is not one of ours.
 */
int harness_cluster_kill_master_of(struct harness_cluster *c, const char *key, int *killed_port);

/*
 * harness_cluster_await_ok - wait (@timeout_ms at most, polling) until every live node
 * says cluster_state:ok, its CLUSTER SLOTS covers all 16384 slots with every range served
 * by a live master (so after a kill: once a replica has taken over), and every live
 * replica says master_link_status:up.
 * @return 0, or -1 with what was still wrong, and CLUSTER NODES, on stderr.
 */
int harness_cluster_await_ok(struct harness_cluster *c, int timeout_ms);

/*
 * harness_cluster_flushall - FLUSHALL on every live master; their replicas follow
 * asynchronously. @return 0, or -1 if a master did not answer OK.
 */
int harness_cluster_flushall(struct harness_cluster *c);

#endif
