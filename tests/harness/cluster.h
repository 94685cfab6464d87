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
 * stderr. One thread at a time per struct harness_cluster, except that
 * harness_cluster_command may be called from several threads at once as long
 * as nothing starts, stops or kills a node meanwhile.
 *
 * With OMNISTOCK_TEST_REDIS=cluster, harness_start() and its kin start one of
 * these for the daemon and point h->redis.cluster at it (harness.h): the
 * harness_redis functions then act on the whole cluster through the functions
 * below.
 */
#ifndef TESTS_HARNESS_CLUSTER_H
#define TESTS_HARNESS_CLUSTER_H

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "tests/harness/harness.h"

#define HARNESS_CLUSTER_NODES   6
#define HARNESS_CLUSTER_MASTERS 3
#define HARNESS_CLUSTER_BUS     10000 /* a node's cluster bus listens on its port + this */
#define HARNESS_CLUSTER_ARGS    32    /* redis-server arguments of a node after the harness's */

struct harness_cluster {
    /* Client ports. redis-cli creates nodes 0..masters-1 as the masters and the others as
     * their replicas; a failover changes that (CLUSTER SLOTS says who serves what). */
    int ports[HARNESS_CLUSTER_NODES];
    int masters;        /* HARNESS_CLUSTER_MASTERS */
    char dir[PATH_MAX]; /* the temp dir: node<i>/ (nodes.conf, redis.log), create.log */
    pid_t pids[HARNESS_CLUSTER_NODES]; /* 0 once the node is stopped or killed */
    /* The processes themselves; ports and pids above are copies kept in step with them. */
    struct harness_redis nodes[HARNESS_CLUSTER_NODES];
    /* Every node's extra_args: the cluster's own, then those given to
     * harness_cluster_start_args (borrowed strings); NULL-terminated. */
    const char *args[HARNESS_CLUSTER_ARGS + 1];
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
 * harness_cluster_start_args - harness_cluster_start, with @redis_args (NULL, or a
 * NULL-terminated list; borrowed, must outlive the cluster) given to every node after
 * the cluster's own arguments, at every start, e.g. a persistence profile
 * {"--include", "deploy/redis/durable.conf", NULL}. Arguments that would undo the
 * cluster (--port, --bind, --dir, --cluster-*, --unixsocket, --replicaof, ...), given
 * here or in a file they --include, are refused.
 * @return 0, or -1 (nothing left running) with why on stderr.
 */
int harness_cluster_start_args(struct harness_cluster *c, const char *const *redis_args);

/*
 * harness_cluster_stop - SIGTERM every node still running, wait (5 s), SIGKILL what is
 * left, and remove the temp dir (kept when OMNISTOCK_KEEP_TMP is set, as harness.h does).
 * Accepts a cluster whose start failed, or that is already stopped.
 * @return 0 if every node still running exited with status 0, else -1.
 */
int harness_cluster_stop(struct harness_cluster *c);

/*
 * harness_cluster_stop_nodes - SIGTERM every node still running, wait (5 s), SIGKILL what
 * is left; ports, dirs and what the nodes persisted (nodes.conf, and data if their
 * arguments ask for persistence) stay for harness_cluster_start_nodes.
 * @return 0 if every node still running exited with status 0, else -1.
 */
int harness_cluster_stop_nodes(struct harness_cluster *c);

/*
 * harness_cluster_kill_nodes - SIGKILL every node still running (a crash of the whole
 * cluster: nothing saved, no shutdown) and reap them; ports and dirs stay.
 * @return 0, or -1 if no node was running.
 */
int harness_cluster_kill_nodes(struct harness_cluster *c);

/*
 * harness_cluster_start_nodes - start every node that is not running again, on its own
 * port and dir (nodes.conf makes it the cluster it was), and wait (30 s at most) as
 * harness_cluster_start does.
 * @return 0, or -1 with the nodes' logs on stderr (the nodes that did start keep running).
 */
int harness_cluster_start_nodes(struct harness_cluster *c);

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

/*
 * harness_cluster_command - one command for the cluster, as a test means it on one Redis
 * (cluster_command.c), each node on a fresh connection:
 * - a command on keys goes to a live node and follows MOVED and ASK (with ASKING), at
 *   most 5 redirects;
 * - KEYS: every master's, merged into one array; DBSIZE and CLIENT KILL: every master's
 *   integers summed; SCAN 0 [options]: every master scanned to the end, one reply with
 *   cursor "0" and every key (any other cursor is refused);
 * - DEBUG DIGEST: one digest of the whole dataset, 40 hex: 40 zeros when every master is
 *   empty, else the first 40 hex of SHA-256 over each master's DEBUG DIGEST, masters in
 *   the order of the first slot they serve; it changes iff the data does;
 * - FLUSHALL, FLUSHDB, CONFIG, SCRIPT, FUNCTION, CLIENT PAUSE/UNPAUSE, DEBUG (others than
 *   DIGEST, OBJECT, DIGEST-VALUE), SAVE, BGSAVE, BGREWRITEAOF: sent to every master at
 *   once (so DEBUG SLEEP and CLIENT PAUSE stall them together); the reply is the first
 *   error if any master answered one, else the reply of the master of slot 0;
 * - anything else (PING, INFO, CLUSTER ...): a live node, MOVED followed.
 * The masters are those CLUSTER SLOTS names on the first live node that answers it.
 * @return a new reply (free with freeReplyObject), or NULL when a node could not be
 * reached or did not answer (an error reply when the harness refuses the command).
 */
redisReply *harness_cluster_command(struct harness_cluster *c, const char *fmt, ...);

/* harness_cluster_vcommand - harness_cluster_command with a va_list. */
redisReply *harness_cluster_vcommand(struct harness_cluster *c, const char *fmt, va_list ap);

#endif
