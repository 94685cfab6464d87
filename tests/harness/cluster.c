/*
 * cluster.c - a Redis Cluster of 3 masters and 3 replicas for the integration
 * tests, so that they can run against the topology production may use.
 *
 * The nodes are plain harness_redis servers (harness.c starts, checks, stops
 * and kills them) with cluster mode switched on; this file picks ports that
 * leave room for the cluster bus, runs `redis-cli --cluster create`, and reads
 * the cluster's own view (CLUSTER INFO, CLUSTER SLOTS, INFO replication) to
 * know when it is usable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness/cluster.h"

#define CLUSTER_SLOTS  16384
#define PORT_ATTEMPTS  50 /* ports the kernel offers until one has a free bus port too */
#define NODE_ATTEMPTS  3  /* a port picked may be taken before redis binds it: pick again */
#define CREATE_MS      30000
#define START_READY_MS 30000
#define POLL_MS        100 /* between looks at the cluster: each look is 18 commands */
#define LOG_TAIL       2000

/* Given to redis-server after the harness's own arguments (see harness_redis.extra_args). */
static const char *const node_args[] = {
    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout",
    "2000", "--protected-mode", "yes",
    /*
     * CLUSTER SLOTS lists a replica only once its replication offset is not 0: at the
     * first write or replication PING. Ping every second rather than every 10 s.
     */
    "--repl-ping-replica-period", "1",
    /* one replica per master: no reason to wait 5 s for more before the first full sync */
    "--repl-diskless-sync-delay", "0", NULL};

/* mirror - copy each node's port and pid into the fields tests read. */
static void mirror(struct harness_cluster *c)
{
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        c->ports[i] = c->nodes[i].port;
        c->pids[i] = c->nodes[i].pid;
    }
}

/* live_node - the index of the running node on @port, or -1. */
static int live_node(const struct harness_cluster *c, long long port)
{
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (c->nodes[i].pid > 0 && c->nodes[i].port == port) {
            return i;
        }
    }
    return -1;
}

/* first_live - the index of the first running node, or -1. */
static int first_live(const struct harness_cluster *c)
{
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (c->nodes[i].pid > 0) {
            return i;
        }
    }
    return -1;
}

/* print_logs - each node's log and redis-cli's output, on stderr. */
static void print_logs(const struct harness_cluster *c)
{
    char path[PATH_MAX + 32], label[64];

    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (c->nodes[i].dir[0] != '\0') {
            snprintf(path, sizeof(path), "%s/redis.log", c->nodes[i].dir);
            snprintf(label, sizeof(label), "node %d (port %d) log", i, c->nodes[i].port);
            harness_print_file_tail(label, path, LOG_TAIL);
        }
    }
    snprintf(path, sizeof(path), "%s/create.log", c->dir);
    harness_print_file_tail("redis-cli --cluster create", path, LOG_TAIL);
}

/* ---- ports ---- */

/* port_free - whether 127.0.0.1:@port can be bound right now. */
static int port_free(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) {
        return 0;
    }
    ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* port_clashes - whether @port or its bus port is a port or bus port of another node than @i. */
static int port_clashes(const struct harness_cluster *c, int i, int port)
{
    for (int j = 0; j < HARNESS_CLUSTER_NODES; j++) {
        int other = c->nodes[j].port;

        if (j != i && other > 0 &&
            (port == other || port == other + HARNESS_CLUSTER_BUS ||
             port + HARNESS_CLUSTER_BUS == other)) {
            return 1;
        }
    }
    return 0;
}

/* pick_port - a free port for node @i whose bus port is free too. @return it, or -1. */
static int pick_port(const struct harness_cluster *c, int i)
{
    for (int attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
        int port = harness_free_port();

        if (port > 0 && port + HARNESS_CLUSTER_BUS <= 65535 && !port_clashes(c, i, port) &&
            port_free(port + HARNESS_CLUSTER_BUS)) {
            return port;
        }
    }
    fprintf(stderr, "harness: no free port with a free bus port in %d tries\n", PORT_ATTEMPTS);
    return -1;
}

/* ---- the cluster's view ---- */

/* range_master_port - the master's port in one entry of CLUSTER SLOTS, or -1 if malformed. */
static long long range_master_port(const redisReply *range)
{
    const redisReply *master;

    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
        range->element[0]->type != REDIS_REPLY_INTEGER ||
        range->element[1]->type != REDIS_REPLY_INTEGER) {
        return -1;
    }
    master = range->element[2];
    if (master->type != REDIS_REPLY_ARRAY || master->elements < 2 ||
        master->element[1]->type != REDIS_REPLY_INTEGER) {
        return -1;
    }
    return master->element[1]->integer;
}

/* slot_master - the port of the master serving @slot, as node @i sees it, or -1. */
static long long slot_master(struct harness_cluster *c, int i, long long slot)
{
    redisReply *rep = harness_redis_command(&c->nodes[i], "CLUSTER SLOTS");
    long long port = -1;

    for (size_t k = 0; rep != NULL && rep->type == REDIS_REPLY_ARRAY && k < rep->elements; k++) {
        const redisReply *range = rep->element[k];

        if (range_master_port(range) > 0 && range->element[0]->integer <= slot &&
            slot <= range->element[1]->integer) {
            port = range_master_port(range);
        }
    }
    freeReplyObject(rep);
    return port;
}

/* node_state_ok - node @i says cluster_state:ok. Else why, in @why. */
static int node_state_ok(struct harness_cluster *c, int i, char *why, size_t len)
{
    redisReply *rep = harness_redis_command(&c->nodes[i], "CLUSTER INFO");
    int ok = rep != NULL && rep->type == REDIS_REPLY_STRING &&
             strstr(rep->str, "cluster_state:ok\r\n") != NULL;

    if (!ok) {
        snprintf(why, len, "port %d does not say cluster_state:ok", c->nodes[i].port);
    }
    freeReplyObject(rep);
    return ok;
}

/* node_linked - node @i is a master, or a replica whose link to its master is up. */
static int node_linked(struct harness_cluster *c, int i, char *why, size_t len)
{
    redisReply *rep = harness_redis_command(&c->nodes[i], "INFO replication");
    int ok = rep != NULL && rep->type == REDIS_REPLY_STRING &&
             (strstr(rep->str, "role:master\r\n") != NULL ||
              strstr(rep->str, "master_link_status:up\r\n") != NULL);

    if (!ok) {
        snprintf(why, len, "port %d is a replica whose master link is not up", c->nodes[i].port);
    }
    freeReplyObject(rep);
    return ok;
}

/*
 * node_slots_ok - node @i's CLUSTER SLOTS covers every slot, each range with a live master,
 * and, when @with_replicas, with a replica too. Else why, in @why.
 */
static int node_slots_ok(struct harness_cluster *c, int i, int with_replicas, char *why, size_t len)
{
    redisReply *rep = harness_redis_command(&c->nodes[i], "CLUSTER SLOTS");
    long long covered = 0;
    int ok = 1;

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        snprintf(why, len, "port %d does not answer CLUSTER SLOTS", c->nodes[i].port);
        freeReplyObject(rep);
        return 0;
    }
    for (size_t k = 0; ok && k < rep->elements; k++) {
        const redisReply *range = rep->element[k];
        long long master = range_master_port(range);

        if (master < 0 || live_node(c, master) < 0) {
            snprintf(why, len, "port %d sees a slot range served by port %lld, which is down",
                     c->nodes[i].port, master);
            ok = 0;
        } else if (with_replicas && range->elements < 4) {
            snprintf(why, len, "port %d lists no replica of port %lld yet", c->nodes[i].port,
                     master);
            ok = 0;
        } else {
            covered += range->element[1]->integer - range->element[0]->integer + 1;
        }
    }
    if (ok && covered != CLUSTER_SLOTS) {
        snprintf(why, len, "port %d sees %lld of %d slots served", c->nodes[i].port, covered,
                 CLUSTER_SLOTS);
        ok = 0;
    }
    freeReplyObject(rep);
    return ok;
}

/* cluster_ok - what cluster_await waits for holds right now. Else why, in @why. */
static int cluster_ok(struct harness_cluster *c, int with_replicas, char *why, size_t len)
{
    if (first_live(c) < 0) {
        snprintf(why, len, "no node is running");
        return 0;
    }
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (c->nodes[i].pid > 0 &&
            (!node_state_ok(c, i, why, len) || !node_slots_ok(c, i, with_replicas, why, len) ||
             !node_linked(c, i, why, len))) {
            return 0;
        }
    }
    return 1;
}

/*
 * cluster_await - wait until harness_cluster_await_ok's conditions hold and, when
 * @with_replicas, every range in every node's CLUSTER SLOTS lists a replica.
 */
static int cluster_await(struct harness_cluster *c, int timeout_ms, int with_replicas)
{
    long long deadline = harness_now_ms() + timeout_ms;
    char why[256] = "";
    redisReply *nodes;

    do {
        if (cluster_ok(c, with_replicas, why, sizeof(why))) {
            return 0;
        }
        harness_sleep_ms(POLL_MS);
    } while (harness_now_ms() < deadline);
    fprintf(stderr, "harness: cluster not ok after %d ms: %s\n", timeout_ms, why);
    if (first_live(c) >= 0) {
        nodes = harness_redis_command(&c->nodes[first_live(c)], "CLUSTER NODES");
        if (nodes != NULL && nodes->type == REDIS_REPLY_STRING) {
            fprintf(stderr, "---- CLUSTER NODES ----\n%s---- end ----\n", nodes->str);
        }
        freeReplyObject(nodes);
    }
    return -1;
}

int harness_cluster_await_ok(struct harness_cluster *c, int timeout_ms)
{
    return cluster_await(c, timeout_ms, 0);
}

/* ---- start ---- */

/* node_start - node @i in c->dir/node<i>, on a port picked for it. @return 0 or -1. */
static int node_start(struct harness_cluster *c, int i)
{
    struct harness_redis *r = &c->nodes[i];
    int n = snprintf(r->dir, sizeof(r->dir), "%s/node%d", c->dir, i);

    if (n < 0 || (size_t)n >= sizeof(r->dir) || mkdir(r->dir, 0700) != 0) {
        fprintf(stderr, "harness: cannot make the dir of node %d under %s\n", i, c->dir);
        r->dir[0] = '\0';
        return -1;
    }
    r->extra_args = c->args;
    for (int attempt = 0; attempt < NODE_ATTEMPTS; attempt++) {
        r->port = pick_port(c, i);
        if (r->port < 0) {
            break;
        }
        /* harness_redis_start checks that the server answering on the port is this process */
        if (harness_redis_start(r) == 0) {
            return 0;
        }
    }
    r->port = 0;
    return -1;
}

/* cluster_create - redis-cli --cluster create, its output in c->dir/create.log. @return 0 or -1. */
static int cluster_create(struct harness_cluster *c)
{
    char addrs[HARNESS_CLUSTER_NODES][32], log_path[PATH_MAX + 16];
    char *argv[HARNESS_CLUSTER_NODES + 8];
    size_t n = 0;
    pid_t pid;
    int status;

    argv[n++] = "redis-cli";
    argv[n++] = "--cluster";
    argv[n++] = "create";
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.1:%d", c->nodes[i].port);
        argv[n++] = addrs[i];
    }
    argv[n++] = "--cluster-replicas";
    argv[n++] = "1";
    argv[n++] = "--cluster-yes";
    argv[n] = NULL;
    snprintf(log_path, sizeof(log_path), "%s/create.log", c->dir);
    pid = harness_spawn(argv, log_path, NULL);
    if (pid < 0) {
        return -1;
    }
    status = harness_wait_exit(pid, CREATE_MS);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "harness: redis-cli --cluster create %s\n",
                status == -1 ? "did not finish in time" : "failed");
        return -1;
    }
    return 0;
}

/*
 * refused_option - whether redis-server option @name (no leading dashes, @len bytes) would
 * undo what makes a node one of this cluster's: its address, dir, logs or cluster mode.
 */
static int refused_option(const char *name, size_t len)
{
    static const char *const refused[] = {"port",
                                          "bind",
                                          "dir",
                                          "logfile",
                                          "daemonize",
                                          "replicaof",
                                          "slaveof",
                                          "unixsocket",
                                          "unixsocketperm",
                                          "cluster-enabled",
                                          "cluster-port",
                                          "cluster-config-file",
                                          "cluster-announce-ip",
                                          "cluster-announce-port",
                                          "cluster-announce-bus-port",
                                          "tls-port",
                                          "tls-cluster",
                                          NULL};

    for (size_t i = 0; refused[i] != NULL; i++) {
        if (strlen(refused[i]) == len && strncasecmp(refused[i], name, len) == 0) {
            return 1;
        }
    }
    return 0;
}

/* included_refused - the first refused directive of the config file @path, into @out; 0 if none. */
static int included_refused(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int found = 0;

    if (f == NULL) {
        return 0; /* redis-server says what is wrong with it */
    }
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        const char *p = line + strspn(line, " \t");
        size_t n = strcspn(p, " \t\r\n");

        if (*p != '#' && n > 0 && refused_option(p, n)) {
            snprintf(out, outlen, "%.*s", (int)n, p);
            found = 1;
        }
    }
    fclose(f);
    return found;
}

/*
 * cluster_args - c->args: the cluster's own node arguments, then @redis_args, unless one of
 * those (or a directive of a file they --include) is refused. @return 0 or -1.
 */
static int cluster_args(struct harness_cluster *c, const char *const *redis_args)
{
    size_t n = 0;
    char directive[64];

    for (size_t i = 0; node_args[i] != NULL; i++) {
        c->args[n++] = node_args[i];
    }
    for (size_t i = 0; redis_args != NULL && redis_args[i] != NULL; i++) {
        const char *a = redis_args[i];

        if (strncmp(a, "--", 2) == 0 && refused_option(a + 2, strlen(a + 2))) {
            fprintf(stderr,
                    "harness: a cluster node cannot take the redis-server argument %s: "
                    "this needs one redis-server, not a cluster\n",
                    a);
            return -1;
        }
        if (strcmp(a, "--include") == 0 && redis_args[i + 1] != NULL &&
            included_refused(redis_args[i + 1], directive, sizeof(directive))) {
            fprintf(stderr,
                    "harness: a cluster node cannot take '%s' (in %s): this needs one "
                    "redis-server, not a cluster\n",
                    directive, redis_args[i + 1]);
            return -1;
        }
        if (n == HARNESS_CLUSTER_ARGS) {
            fprintf(stderr, "harness: more than %d redis-server arguments for a cluster node\n",
                    HARNESS_CLUSTER_ARGS);
            return -1;
        }
        c->args[n++] = a;
    }
    c->args[n] = NULL;
    return 0;
}

int harness_cluster_start(struct harness_cluster *c)
{
    return harness_cluster_start_args(c, NULL);
}

int harness_cluster_start_args(struct harness_cluster *c, const char *const *redis_args)
{
    long long start = harness_now_ms();

    memset(c, 0, sizeof(*c));
    c->masters = HARNESS_CLUSTER_MASTERS;
    if (cluster_args(c, redis_args) != 0) {
        return -1;
    }
    snprintf(c->dir, sizeof(c->dir), "/tmp/omnistock-cluster-XXXXXX");
    if (mkdtemp(c->dir) == NULL) {
        fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
        c->dir[0] = '\0';
        return -1;
    }
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (node_start(c, i) != 0) {
            goto err;
        }
    }
    mirror(c);
    if (cluster_create(c) != 0 ||
        cluster_await(c, START_READY_MS - (int)(harness_now_ms() - start), 1) != 0) {
        goto err;
    }
    return 0;
err:
    fprintf(stderr, "harness: the cluster in %s did not start\n", c->dir);
    print_logs(c);
    harness_cluster_stop(c);
    return -1;
}

int harness_cluster_start_nodes(struct harness_cluster *c)
{
    long long start = harness_now_ms();

    if (c->dir[0] == '\0') {
        fprintf(stderr, "harness: the cluster was never started, or is removed\n");
        return -1;
    }

    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        /* the same port and dir: harness_redis_start reuses both */
        if (c->nodes[i].pid <= 0 && c->nodes[i].port > 0 &&
            harness_redis_start(&c->nodes[i]) != 0) {
            fprintf(stderr, "harness: node %d (port %d) did not start again\n", i,
                    c->nodes[i].port);
            mirror(c);
            print_logs(c);
            return -1;
        }
    }
    mirror(c);
    if (cluster_await(c, START_READY_MS - (int)(harness_now_ms() - start), 1) != 0) {
        fprintf(stderr, "harness: the cluster in %s did not come back\n", c->dir);
        print_logs(c);
        return -1;
    }
    return 0;
}

/* ---- stop ---- */

int harness_cluster_stop_nodes(struct harness_cluster *c)
{
    int rc = 0;

    /* all at once, so that the nodes' shutdowns overlap */
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (c->nodes[i].pid > 0) {
            kill(c->nodes[i].pid, SIGTERM);
        }
    }
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (harness_redis_stop(&c->nodes[i]) != 0) {
            fprintf(stderr, "harness: node %d (port %d) did not exit cleanly\n", i,
                    c->nodes[i].port);
            rc = -1;
        }
    }
    mirror(c);
    return rc;
}

int harness_cluster_kill_nodes(struct harness_cluster *c)
{
    int killed = 0;

    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        killed += harness_redis_kill(&c->nodes[i]) == 0;
    }
    mirror(c);
    return killed > 0 ? 0 : -1;
}

int harness_cluster_stop(struct harness_cluster *c)
{
    char path[PATH_MAX + 16];
    int rc = harness_cluster_stop_nodes(c);

    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        harness_redis_release(&c->nodes[i]); /* removes node<i>/ */
    }
    mirror(c);
    if (c->dir[0] != '\0' && getenv("OMNISTOCK_KEEP_TMP") == NULL) {
        snprintf(path, sizeof(path), "%s/create.log", c->dir);
        unlink(path);
        if (rmdir(c->dir) != 0) {
            fprintf(stderr, "harness: rmdir %s: %s\n", c->dir, strerror(errno));
            rc = -1;
        }
    }
    c->dir[0] = '\0';
    return rc;
}

int harness_cluster_seed(const struct harness_cluster *c, char *out, size_t len)
{
    int n = snprintf(out, len, "cluster://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", c->ports[0],
                     c->ports[1], c->ports[2]);

    return n >= 0 && (size_t)n < len ? 0 : -1;
}

/* ---- faults and data ---- */

int harness_cluster_kill_master_of(struct harness_cluster *c, const char *key, int *killed_port)
{
    int seen_by = first_live(c), victim = -1;
    redisReply *slot = NULL;

    if (seen_by >= 0) {
        slot = harness_redis_command(&c->nodes[seen_by], "CLUSTER KEYSLOT %s", key);
    }
    if (slot != NULL && slot->type == REDIS_REPLY_INTEGER) {
        victim = live_node(c, slot_master(c, seen_by, slot->integer));
    }
    freeReplyObject(slot);
    if (victim < 0) {
        fprintf(stderr, "harness: no live master of ours serves the slot of key %s\n", key);
        return -1;
    }
    *killed_port = c->nodes[victim].port;
    harness_redis_kill(&c->nodes[victim]);
    mirror(c);
    return 0;
}

int harness_cluster_flushall(struct harness_cluster *c)
{
    int rc = 0;

    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        redisReply *role = c->nodes[i].pid > 0 ? harness_redis_command(&c->nodes[i], "ROLE") : NULL;
        int master = role != NULL && role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
                     role->element[0]->type == REDIS_REPLY_STRING &&
                     strcmp(role->element[0]->str, "master") == 0;

        freeReplyObject(role);
        if (master && harness_redis_flushall(&c->nodes[i]) != 0) {
            fprintf(stderr, "harness: FLUSHALL failed on port %d\n", c->nodes[i].port);
            rc = -1;
        }
    }
    return rc;
}
