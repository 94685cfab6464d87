/*
 * harness.c - start a real redis-server and a real omnistockd for the
 * integration tests, and talk HTTP/1.1 to the daemon over a plain socket.
 *
 * Kept deliberately simple: fork/exec for processes, a poll loop for the
 * client, one fresh connection per request and per Redis command.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/sha256.h"
#include "tests/harness/cluster.h"
#include "tests/harness/harness.h"

#ifndef OMNISTOCKD_PATH
#define OMNISTOCKD_PATH "omnistockd"
#endif
#ifndef OMNISTOCK_TEST_DATA_DIR
#define OMNISTOCK_TEST_DATA_DIR "tests/data"
#endif

#define REDIS_START_MS   5000
#define REDIS_STOP_MS    5000
#define DAEMON_READY_MS  10000
#define DAEMON_STOP_MS   10000
#define DAEMON_ATTEMPTS  3
#define REQUEST_MAX_HEAD 16384
#define MAX_REDIS_EXTRA  32

/* ---- children: killed at exit whatever happens ---- */

#define MAX_CHILDREN 32 /* a cluster is six, a daemon and its peers a few more */
static pid_t children[MAX_CHILDREN];
static int atexit_done;
/* The harness whose daemon log the assertions print on failure. */
static const struct harness *current;

static void kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
    }
}

static void child_add(pid_t pid)
{
    if (!atexit_done) {
        atexit(kill_children);
        atexit_done = 1;
    }
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] == 0) {
            children[i] = pid;
            return;
        }
    }
}

static void child_remove(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] == pid) {
            children[i] = 0;
        }
    }
}

long long harness_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

pid_t harness_spawn(char *const argv[], const char *log_path, char *const env[])
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int out = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                       0600);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || out < 0 || in < 0) {
            _exit(127);
        }
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
            putenv(env[i]);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    child_add(pid);
    return pid;
}

/* reap - the exit status of @pid if it has exited (then forgotten), else -1. */
static int reap(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, WNOHANG) == pid) {
        child_remove(pid);
        return status;
    }
    return -1;
}

int harness_wait_exit(pid_t pid, int ms)
{
    long long deadline = harness_now_ms() + ms;
    int status;

    do {
        if ((status = reap(pid)) != -1) {
            return status;
        }
        harness_sleep_ms(10);
    } while (harness_now_ms() < deadline);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    child_remove(pid);
    return -1;
}

/*
 * stop_child - SIGTERM, wait up to @ms, then SIGKILL.
 * @return the wait status, or -1 if it had to be killed.
 */
static int stop_child(pid_t pid, int ms)
{
    long long deadline = harness_now_ms() + ms;
    int status;

    kill(pid, SIGTERM);
    while (harness_now_ms() < deadline) {
        status = reap(pid);
        if (status != -1) {
            return status;
        }
        harness_sleep_ms(10);
    }
    fprintf(stderr, "harness: pid %d ignored SIGTERM for %d ms, killing it\n", (int)pid, ms);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    child_remove(pid);
    return -1;
}

int harness_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

void harness_print_file_tail(const char *label, const char *path, size_t max_bytes)
{
    FILE *f = fopen(path, "r");
    char buf[4096];
    size_t n;
    long size;

    if (f == NULL) {
        return;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    if (size > (long)max_bytes) {
        fseek(f, size - (long)max_bytes, SEEK_SET);
    } else {
        fseek(f, 0, SEEK_SET);
    }
    fprintf(stderr, "---- %s (%s, last %zu bytes) ----\n", label, path, max_bytes);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        fwrite(buf, 1, n, stderr);
    }
    fprintf(stderr, "---- end of %s ----\n", label);
    fclose(f);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void harness_remove_tree(const char *dir)
{
    if (dir[0] != '\0' && getenv("OMNISTOCK_KEEP_TMP") == NULL) {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* ---- redis-server ---- */

static redisContext *redis_connect(const struct harness_redis *r, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);

    if (c != NULL && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c != NULL) {
        redisSetTimeout(c, (struct timeval){5, 0});
    }
    return c;
}

/* redis_is_ours - the server on r->port answers and is the process we started. */
static int redis_is_ours(const struct harness_redis *r)
{
    redisContext *c = redis_connect(r, 200);
    redisReply *rep;
    const char *p;
    int ours = 0;

    if (c == NULL) {
        return 0;
    }
    rep = redisCommand(c, "INFO server");
    if (rep != NULL && rep->type == REDIS_REPLY_STRING &&
        (p = strstr(rep->str, "process_id:")) != NULL) {
        ours = atoi(p + strlen("process_id:")) == (int)r->pid;
    }
    freeReplyObject(rep);
    redisFree(c);
    return ours;
}

static int redis_launch(struct harness_redis *r);

/*
 * cluster_start - harness_redis_start on a cluster: create it the first time, start its
 * nodes again after that. port and pid follow node 0's.
 */
static int cluster_start(struct harness_redis *r)
{
    struct harness_cluster *c = r->cluster;
    int rc;

    if (r->use_unix) {
        fprintf(stderr, "harness: OMNISTOCK_TEST_REDIS=cluster: a cluster has no unix socket "
                        "(use_unix); this needs one redis-server\n");
        return -1;
    }
    if (c->dir[0] == '\0') {
        rc = harness_cluster_start_args(c, r->extra_args);
    } else {
        rc = harness_cluster_start_nodes(c);
    }
    r->port = c->ports[0];
    r->pid = c->pids[0];
    return rc;
}

int harness_redis_start(struct harness_redis *r)
{
    int rc;

    if (r->cluster != NULL) {
        return cluster_start(r);
    }
    if (r->port != 0) {
        return redis_launch(r);
    }
    /* a port we picked may be taken before redis binds it: pick again */
    for (int attempt = 0; attempt < 3; attempt++) {
        r->port = harness_free_port();
        rc = redis_launch(r);
        if (rc == 0) {
            return 0;
        }
    }
    r->port = 0;
    return rc;
}

static int redis_launch(struct harness_redis *r)
{
    char port[16], log_path[PATH_MAX + 16];
    long long deadline;

    if (r->dir[0] == '\0') {
        snprintf(r->dir, sizeof(r->dir), "/tmp/omnistock-redis-XXXXXX");
        if (mkdtemp(r->dir) == NULL) {
            fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
            r->dir[0] = '\0';
            return -1;
        }
    }
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(log_path, sizeof(log_path), "%s/redis.log", r->dir);
    snprintf(r->sock_path, sizeof(r->sock_path), "%s/redis.sock", r->dir);
    const char *const fixed[] = {
        "redis-server", "--port",      port, "--bind",       "127.0.0.1", "--dir",
        r->dir,         "--save",      "",   "--appendonly", "no",        "--enable-debug-command",
        "yes",          "--daemonize", "no", "--logfile",    log_path};
    char *argv[sizeof(fixed) / sizeof(fixed[0]) + 4 + MAX_REDIS_EXTRA + 1];
    size_t n = 0;

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        argv[n++] = (char *)fixed[i];
    }
    if (r->use_unix) {
        argv[n++] = "--unixsocket";
        argv[n++] = r->sock_path;
        argv[n++] = "--unixsocketperm";
        argv[n++] = "700";
    } else {
        r->sock_path[0] = '\0';
    }
    /* later arguments win: the extra ones can change the harness's own */
    for (size_t i = 0; r->extra_args != NULL && r->extra_args[i] != NULL; i++) {
        if (i == MAX_REDIS_EXTRA) {
            fprintf(stderr, "harness: more than %d extra redis-server arguments\n",
                    MAX_REDIS_EXTRA);
            return -1;
        }
        argv[n++] = (char *)r->extra_args[i];
    }
    argv[n] = NULL;
    r->pid = harness_spawn(argv, NULL, NULL);
    if (r->pid < 0) {
        r->pid = 0;
        return -1;
    }
    deadline = harness_now_ms() + REDIS_START_MS;
    while (harness_now_ms() < deadline) {
        if (reap(r->pid) != -1) {
            fprintf(stderr, "harness: redis-server on port %d exited at start-up\n", r->port);
            harness_print_file_tail("redis log", log_path, 2000);
            r->pid = 0;
            return -1;
        }
        if (redis_is_ours(r)) {
            return 0;
        }
        harness_sleep_ms(20);
    }
    fprintf(stderr, "harness: redis-server on port %d not ready in %d ms\n", r->port,
            REDIS_START_MS);
    harness_print_file_tail("redis log", log_path, 2000);
    harness_redis_stop(r);
    return -1;
}

int harness_redis_stop(struct harness_redis *r)
{
    int status;

    if (r->cluster != NULL) {
        status = harness_cluster_stop_nodes(r->cluster);
        r->pid = r->cluster->pids[0];
        return status;
    }
    if (r->pid <= 0) {
        return 0;
    }
    status = stop_child(r->pid, REDIS_STOP_MS);
    r->pid = 0;
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int harness_redis_kill(struct harness_redis *r)
{
    if (r->cluster != NULL) {
        int rc = harness_cluster_kill_nodes(r->cluster);

        r->pid = r->cluster->pids[0];
        return rc;
    }
    if (r->pid <= 0) {
        return -1;
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    child_remove(r->pid);
    r->pid = 0;
    return 0;
}

int harness_redis_signal(struct harness_redis *r, int sig)
{
    int rc = 0, sent = 0;

    if (r->cluster == NULL)
        return r->pid > 0 ? kill(r->pid, sig) : -1;
    for (int i = 0; i < HARNESS_CLUSTER_NODES; i++) {
        if (r->cluster->pids[i] > 0) {
            rc |= kill(r->cluster->pids[i], sig);
            sent++;
        }
    }
    return sent > 0 ? rc : -1;
}

void harness_redis_release(struct harness_redis *r)
{
    if (r->cluster != NULL) {
        harness_cluster_stop(r->cluster);
        r->pid = 0;
    } else {
        harness_redis_stop(r);
    }
    harness_remove_tree(r->dir);
    r->dir[0] = '\0';
}

redisReply *harness_redis_command(struct harness_redis *r, const char *fmt, ...)
{
    redisContext *c;
    redisReply *rep;
    va_list ap;

    if (r->cluster != NULL) {
        va_start(ap, fmt);
        rep = harness_cluster_vcommand(r->cluster, fmt, ap);
        va_end(ap);
        return rep;
    }
    c = redis_connect(r, 2000);
    if (c == NULL) {
        return NULL;
    }
    va_start(ap, fmt);
    rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return rep;
}

/*
 * Orders placed and not yet counted by the daemon's recommend module: it
 * deletes each {pNN}:orders entry once counted, so what the streams hold
 * is what is left to count.
 */
static long long orders_uncounted(struct harness_redis *r)
{
    redisReply *keys = harness_redis_command(r, "KEYS *:orders");
    long long n = 0;

    for (size_t i = 0; keys != NULL && keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++) {
        redisReply *len = harness_redis_command(r, "XLEN %s", keys->element[i]->str);
        if (len != NULL && len->type == REDIS_REPLY_INTEGER) {
            n += len->integer;
        }
        freeReplyObject(len);
    }
    freeReplyObject(keys);
    return n;
}

int harness_redis_digest(struct harness_redis *r, char out[41])
{
    redisReply *rep;
    int rc = -1;

    /*
     * The daemon counts committed orders in the background: a digest taken
     * before that settles would see a later, unrelated change. Wait (up to
     * 5 s) until every order placed so far has been counted.
     */
    for (int i = 0; i < 250 && orders_uncounted(r) > 0; i++) {
        usleep(20 * 1000);
    }
    rep = harness_redis_command(r, "DEBUG DIGEST");

    out[0] = '\0';
    if (rep != NULL && (rep->type == REDIS_REPLY_STATUS || rep->type == REDIS_REPLY_STRING) &&
        rep->len == 40) {
        memcpy(out, rep->str, 41);
        rc = 0;
    }
    freeReplyObject(rep);
    return rc;
}

int harness_redis_flushall(struct harness_redis *r)
{
    redisReply *rep = harness_redis_command(r, "FLUSHALL");
    int rc = rep != NULL && rep->type == REDIS_REPLY_STATUS ? 0 : -1;

    freeReplyObject(rep);
    return rc;
}

/* ---- omnistockd ---- */

static int random_key(char out[HARNESS_KEY_SIZE])
{
    unsigned char raw[(HARNESS_KEY_SIZE - 1) / 2];
    FILE *f = fopen("/dev/urandom", "r");
    size_t n = f != NULL ? fread(raw, 1, sizeof(raw), f) : 0;

    if (f != NULL) {
        fclose(f);
    }
    if (n != sizeof(raw)) {
        return -1;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    }
    return 0;
}

static int write_config(struct harness *h, const char *extra)
{
    static const struct {
        const char *name, *role, *location;
    } spec[HARNESS_NROLES] = {
        [HARNESS_STOREFRONT] = {"web-backend", "storefront", NULL},
        [HARNESS_STORE_LEEDS] = {"leeds-till", "store", "store-leeds"},
        [HARNESS_STORE_YORK] = {"york-till", "store", "store-york"},
        [HARNESS_AGENT] = {"support", "agent", NULL},
        [HARNESS_ADMIN] = {"ops", "admin", NULL},
    };
    json_t *keys = json_array();
    json_t *root;
    int rc;

    for (int i = 0; i < HARNESS_NROLES; i++) {
        char hex[65];
        json_t *k;

        if (random_key(h->keys[i]) != 0) {
            json_decref(keys);
            return -1;
        }
        sha256_hex(h->keys[i], strlen(h->keys[i]), hex);
        k = json_pack("{s:s, s:s, s:s}", "name", spec[i].name, "role", spec[i].role, "sha256", hex);
        if (spec[i].location != NULL) {
            json_object_set_new(k, "location", json_string(spec[i].location));
        }
        json_array_append_new(keys, k);
    }
    root = json_pack("{s:o}", "api_keys", keys);
    if (extra != NULL) {
        json_t *more = json_loads(extra, 0, NULL);
        if (!json_is_object(more) || json_object_update(root, more) != 0) {
            fprintf(stderr, "harness: the extra config is not a JSON object\n");
            json_decref(more);
            json_decref(root);
            return -1;
        }
        json_decref(more);
    }
    snprintf(h->config_path, sizeof(h->config_path), "%s/config.json", h->dir);
    rc = json_dump_file(root, h->config_path, JSON_INDENT(2));
    json_decref(root);
    return rc;
}

/*
 * slow - OMNISTOCK_TEST_SLOW, a whole factor (1 to 100) by which the harness's own waits for
 * the daemon are stretched: readiness, stop, and the HTTP timeout per exchange. For a daemon
 * run under valgrind (tests/bench/valgrind); the tests' assertions are not changed by it.
 */
static int slow(void)
{
    const char *v = getenv("OMNISTOCK_TEST_SLOW");
    int f = v != NULL ? atoi(v) : 1;

    return f >= 1 && f <= 100 ? f : 1;
}

static const char *daemon_path(void)
{
    const char *p = getenv("OMNISTOCKD");

    return p != NULL && p[0] != '\0' ? p : OMNISTOCKD_PATH;
}

/*
 * daemon_redis_url - the --redis the daemon of @h is given: h->redis_url when set, else
 * its own Redis: the cluster's seeds, or the one redis-server. @return 0 or -1.
 */
static int daemon_redis_url(const struct harness *h, char *out, size_t len)
{
    int n;

    if (h->redis_url[0] != '\0') {
        n = snprintf(out, len, "%s", h->redis_url);
    } else if (h->redis.cluster != NULL) {
        return harness_cluster_seed(h->redis.cluster, out, len);
    } else {
        n = snprintf(out, len, "redis://127.0.0.1:%d", h->redis.port);
    }
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

/*
 * daemon_launch - start omnistockd on a free port and wait for GET /readyz 200.
 * @return 0; 1 if it exited at start-up (maybe the port was taken); -1 otherwise.
 */
static int daemon_launch(struct harness *h)
{
    char listen[64], redis_url[sizeof(h->redis_url)], data_env[PATH_MAX + 32];
    char *env[] = {data_env, NULL};
    long long deadline;
    int timeout = h->timeout_ms;

    h->port = harness_free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", h->port);
    if (daemon_redis_url(h, redis_url, sizeof(redis_url)) != 0) {
        return -1;
    }
    snprintf(data_env, sizeof(data_env), "OMNISTOCK_DATA=%s/data", h->dir);
    char *argv[] = {(char *)daemon_path(), "--listen", listen, "--redis", redis_url, "--config",
                    h->config_path,        NULL};
    h->daemon_pid = harness_spawn(argv, h->log_path, env);
    if (h->daemon_pid < 0) {
        h->daemon_pid = 0;
        return -1;
    }
    h->timeout_ms = 1000 * slow();
    deadline = harness_now_ms() + (long long)DAEMON_READY_MS * slow();
    while (harness_now_ms() < deadline) {
        struct harness_response *r;
        int status = reap(h->daemon_pid);

        if (status != -1) {
            fprintf(stderr, "harness: omnistockd exited at start-up (wait status %d)\n", status);
            harness_daemon_log(h, 4000);
            h->daemon_pid = 0;
            h->timeout_ms = timeout;
            return 1;
        }
        r = harness_get(h, NULL, "/readyz");
        status = r->status;
        harness_response_free(r);
        if (status == 200) {
            h->timeout_ms = timeout;
            return 0;
        }
        harness_sleep_ms(50);
    }
    h->timeout_ms = timeout;
    fprintf(stderr, "harness: omnistockd not ready in %d ms\n", DAEMON_READY_MS * slow());
    harness_daemon_log(h, 4000);
    stop_child(h->daemon_pid, 1000);
    h->daemon_pid = 0;
    return -1;
}

static struct harness *start(const char *redis_url, const char *extra_config,
                             const char *const *redis_args, int cluster);
static int cluster_mode(void);

struct harness *harness_start(void)
{
    return harness_start_config(NULL);
}

struct harness *harness_start_config(const char *extra_config)
{
    return harness_start_redis_args(extra_config, NULL);
}

struct harness *harness_start_redis_args(const char *extra_config, const char *const *redis_args)
{
    return start(NULL, extra_config, redis_args, cluster_mode());
}

struct harness *harness_start_standalone(const char *extra_config)
{
    return start(NULL, extra_config, NULL, 0);
}

struct harness *harness_start_url(const char *redis_url, const char *extra_config)
{
    return start(redis_url, extra_config, NULL, 0);
}

/* cluster_mode - OMNISTOCK_TEST_REDIS: 1 for a cluster, 0 for one redis-server, -1 if unknown. */
static int cluster_mode(void)
{
    const char *v = getenv("OMNISTOCK_TEST_REDIS");

    if (v == NULL || v[0] == '\0' || strcmp(v, "standalone") == 0) {
        return 0;
    }
    if (strcmp(v, "cluster") == 0) {
        return 1;
    }
    fprintf(stderr, "harness: OMNISTOCK_TEST_REDIS=%s: expected cluster, standalone or nothing\n",
            v);
    return -1;
}

/* redis_teardown - stop the harness's own Redis; a cluster is removed and freed too. */
static void redis_teardown(struct harness_redis *r)
{
    if (r->cluster != NULL) {
        harness_cluster_stop(r->cluster);
        free(r->cluster);
        r->cluster = NULL;
        r->pid = 0;
    } else {
        harness_redis_stop(r);
    }
}

/* @cluster: 1 to start a cluster (redis_url NULL), 0 for one redis-server, -1 to fail. */
static struct harness *start(const char *redis_url, const char *extra_config,
                             const char *const *redis_args, int cluster)
{
    struct harness *h = cluster >= 0 ? calloc(1, sizeof(*h)) : NULL;
    int rc = 1;

    if (h == NULL) {
        return NULL;
    }
    if (redis_url != NULL && strlen(redis_url) >= sizeof(h->redis_url)) {
        free(h);
        return NULL;
    }
    snprintf(h->redis_url, sizeof(h->redis_url), "%s", redis_url ? redis_url : "");
    h->redis.extra_args = redis_args;
    h->timeout_ms = 10000 * slow();
    snprintf(h->dir, sizeof(h->dir), "/tmp/omnistock-it-XXXXXX");
    if (mkdtemp(h->dir) == NULL) {
        fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
        free(h);
        return NULL;
    }
    if (cluster && (h->redis.cluster = calloc(1, sizeof(*h->redis.cluster))) == NULL) {
        goto err;
    }
    snprintf(h->redis.dir, sizeof(h->redis.dir), "%.100s/redis", h->dir);
    snprintf(h->log_path, sizeof(h->log_path), "%s/omnistockd.log", h->dir);
    if (mkdir(h->redis.dir, 0700) != 0 ||
        (redis_url == NULL && harness_redis_start(&h->redis) != 0) ||
        write_config(h, extra_config) != 0) {
        goto err;
    }
    for (int i = 0; i < DAEMON_ATTEMPTS && rc == 1; i++) {
        rc = daemon_launch(h);
    }
    if (rc != 0) {
        goto err;
    }
    if (h->redis.cluster != NULL) {
        fprintf(stderr,
                "harness: OMNISTOCK_TEST_REDIS=cluster: the daemon is on a Redis Cluster in %s; "
                "h->redis.pid is node 0's (port %d): a signal to it reaches that node only\n",
                h->redis.cluster->dir, h->redis.port);
    }
    current = h;
    return h;
err:
    fprintf(stderr, "harness: start failed; files in %s\n", h->dir);
    redis_teardown(&h->redis);
    harness_remove_tree(h->dir);
    free(h);
    return NULL;
}

struct harness *harness_start_peer(const struct harness *h)
{
    struct harness *p = calloc(1, sizeof(*p));
    int rc = 1;

    if (p == NULL) {
        return NULL;
    }
    p->timeout_ms = h->timeout_ms;
    memcpy(p->keys, h->keys, sizeof(p->keys));
    snprintf(p->config_path, sizeof(p->config_path), "%s", h->config_path);
    if (daemon_redis_url(h, p->redis_url, sizeof(p->redis_url)) != 0) {
        free(p);
        return NULL;
    }
    snprintf(p->dir, sizeof(p->dir), "/tmp/omnistock-it-XXXXXX");
    if (mkdtemp(p->dir) == NULL) {
        fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
        free(p);
        return NULL;
    }
    snprintf(p->log_path, sizeof(p->log_path), "%s/omnistockd.log", p->dir);
    for (int i = 0; i < DAEMON_ATTEMPTS && rc == 1; i++) {
        rc = daemon_launch(p);
    }
    if (rc != 0) {
        fprintf(stderr, "harness: peer start failed; files in %s\n", p->dir);
        harness_remove_tree(p->dir);
        free(p);
        return NULL;
    }
    return p;
}

struct harness *harness_start_beside(const struct harness *h, const char *extra_config)
{
    char url[sizeof(h->redis_url)];

    if (daemon_redis_url(h, url, sizeof(url)) != 0) {
        return NULL;
    }
    return harness_start_url(url, extra_config);
}

int harness_stop(struct harness *h)
{
    int rc = 0;

    if (h == NULL) {
        return 0;
    }
    if (h->daemon_pid > 0) {
        int status = stop_child(h->daemon_pid, DAEMON_STOP_MS * slow());

        if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr,
                    "harness: omnistockd did not exit with status 0 on SIGTERM "
                    "(wait status %d)\n",
                    status);
            harness_daemon_log(h, 8000);
            rc = -1;
        }
        h->daemon_pid = 0;
    }
    redis_teardown(&h->redis);
    if (current == h) {
        current = NULL;
    }
    harness_remove_tree(h->dir);
    free(h);
    return rc;
}

int harness_daemon_kill(struct harness *h)
{
    if (h == NULL || h->daemon_pid <= 0) {
        return -1;
    }
    kill(h->daemon_pid, SIGKILL);
    waitpid(h->daemon_pid, NULL, 0);
    child_remove(h->daemon_pid);
    h->daemon_pid = 0;
    return 0;
}

int harness_daemon_restart(struct harness *h)
{
    int rc = 1;

    if (h == NULL) {
        return -1;
    }
    if (h->daemon_pid > 0) {
        stop_child(h->daemon_pid, DAEMON_STOP_MS * slow());
        h->daemon_pid = 0;
    }
    for (int i = 0; i < DAEMON_ATTEMPTS && rc == 1; i++) {
        rc = daemon_launch(h);
    }
    if (rc != 0) {
        h->daemon_pid = 0;
        return -1;
    }
    current = h;
    return 0;
}

void harness_daemon_log(const struct harness *h, size_t max_bytes)
{
    if (h != NULL) {
        harness_print_file_tail("omnistockd log", h->log_path, max_bytes);
    }
}

/* ---- HTTP client ---- */

struct buf {
    char *data;
    size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        b->cap = (b->len + len + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (b->data == NULL) {
            abort();
        }
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    char line[REQUEST_MAX_HEAD];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0) {
        buf_add(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    }
}

/* find_header - the value of @name in the raw header block @head (up to @end), or NULL. */
static const char *find_header(const char *head, const char *end, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = strstr(head, "\r\n");

    while (p != NULL && p < end) {
        const char *line = p + 2;
        const char *eol = strstr(line, "\r\n");

        if (eol == NULL || eol > end) {
            break;
        }
        if ((size_t)(eol - line) > nlen && strncasecmp(line, name, nlen) == 0 &&
            line[nlen] == ':') {
            const char *v = line + nlen + 1;

            while (*v == ' ' || *v == '\t') {
                v++;
            }
            *vlen = (size_t)(eol - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}

/* decode_chunked - the body of a chunked message; -1 if incomplete or malformed. */
static int decode_chunked(const char *p, const char *end, struct buf *out)
{
    for (;;) {
        char *next;
        unsigned long size = strtoul(p, &next, 16);
        const char *eol = strstr(next, "\r\n");

        if (next == p || eol == NULL || eol + 2 > end) {
            return -1;
        }
        p = eol + 2;
        if (size == 0) {
            return 0;
        }
        if ((size_t)(end - p) < size + 2) {
            return -1;
        }
        buf_add(out, p, size);
        p += size + 2;
    }
}

/*
 * message_done - 1 when @b holds a complete response: headers, then the body
 * that Content-Length or chunked encoding announces (without either, EOF ends it).
 */
static int message_done(const struct buf *b)
{
    const char *head_end = b->data != NULL ? strstr(b->data, "\r\n\r\n") : NULL;
    const char *v;
    size_t vlen, body_len;
    int status = 0;

    if (head_end == NULL) {
        return 0;
    }
    body_len = b->len - (size_t)(head_end + 4 - b->data);
    if (sscanf(b->data, "HTTP/1.%*d %d", &status) != 1) {
        return 1; /* not HTTP: nothing more will make sense of it */
    }
    if (status == 204 || status == 304 || (status >= 100 && status < 200)) {
        return 1;
    }
    v = find_header(b->data, head_end + 2, "Content-Length", &vlen);
    if (v != NULL) {
        return body_len >= strtoul(v, NULL, 10);
    }
    v = find_header(b->data, head_end + 2, "Transfer-Encoding", &vlen);
    if (v != NULL && strncasecmp(v, "chunked", 7) == 0) {
        struct buf tmp = {0};
        int done = decode_chunked(head_end + 4, b->data + b->len, &tmp) == 0;

        free(tmp.data);
        return done;
    }
    return 0;
}

static void parse_response(struct harness_response *r, const struct buf *b)
{
    const char *head_end = b->data != NULL ? strstr(b->data, "\r\n\r\n") : NULL;
    const char *p, *ct;
    struct buf body = {0};
    int status = 0;

    buf_add(&body, "", 0);
    if (head_end == NULL || sscanf(b->data, "HTTP/1.%*d %d", &status) != 1) {
        r->body = body.data;
        return;
    }
    for (p = strstr(b->data, "\r\n"); p < head_end;) {
        const char *line = p + 2;
        const char *eol = strstr(line, "\r\n");
        const char *colon = memchr(line, ':', (size_t)(eol - line));

        if (colon != NULL) {
            const char *v = colon + 1;

            while (*v == ' ' || *v == '\t') {
                v++;
            }
            r->headers = realloc(r->headers, (r->nheaders + 1) * sizeof(*r->headers));
            r->headers[r->nheaders].name = strndup(line, (size_t)(colon - line));
            r->headers[r->nheaders].value = strndup(v, (size_t)(eol - v));
            r->nheaders++;
        }
        p = eol;
    }
    p = head_end + 4;
    if (harness_header(r, "Transfer-Encoding") != NULL &&
        strncasecmp(harness_header(r, "Transfer-Encoding"), "chunked", 7) == 0) {
        if (decode_chunked(p, b->data + b->len, &body) != 0) {
            status = 0;
        }
    } else if (harness_header(r, "Content-Length") != NULL) {
        size_t want = strtoul(harness_header(r, "Content-Length"), NULL, 10);
        size_t have = b->len - (size_t)(p - b->data);

        buf_add(&body, p, have < want ? have : want);
        if (have < want) {
            status = 0; /* truncated: the user would see a broken response */
        }
    } else {
        buf_add(&body, p, b->len - (size_t)(p - b->data));
    }
    r->status = status;
    r->body = body.data;
    r->body_len = body.len;
    ct = harness_header(r, "Content-Type");
    if (ct != NULL && strstr(ct, "json") != NULL && r->body_len > 0) {
        r->json = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, NULL);
    }
}

int harness_connect(const struct harness *h, const char *bytes)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    size_t len = bytes != NULL ? strlen(bytes) : 0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        (len > 0 && send(fd, bytes, len, MSG_NOSIGNAL) != (ssize_t)len)) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int harness_closed_by_daemon(int fd, int seconds)
{
    for (int waited = 0; waited < seconds * 10; waited++) {
        struct pollfd pfd = {fd, POLLIN, 0};
        char buf[4096];

        if (poll(&pfd, 1, 100) == 1) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                return 1;
            }
        }
    }
    return 0;
}

double harness_metric_value(const char *text, const char *name)
{
    const char *p = text;
    size_t n = strlen(name);

    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && (p[n] == ' ' || p[n] == '{')) {
            const char *v = strchr(p, ' ');

            return v != NULL ? strtod(v + 1, NULL) : -1;
        }
        p += n;
    }
    return -1;
}

double harness_metric(const struct harness *h, const char *name)
{
    struct harness_response *r = harness_get(h, NULL, "/metrics");
    double v = r->status == 200 ? harness_metric_value(r->body, name) : -1;

    harness_response_free(r);
    return v;
}

static struct harness_response *exchange(const struct harness *h, const void *req, size_t len)
{
    struct harness_response *r = calloc(1, sizeof(*r));
    long long start = harness_now_ms(), deadline = start + h->timeout_ms;
    int fd = harness_connect(h, NULL);
    struct buf in = {0};
    size_t sent = 0;

    if (fd < 0) {
        goto out;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while (harness_now_ms() < deadline && !message_done(&in)) {
        struct pollfd pfd = {fd, POLLIN | (sent < len ? POLLOUT : 0), 0};
        char chunk[65536];
        ssize_t n;

        if (poll(&pfd, 1, (int)(deadline - harness_now_ms())) <= 0) {
            continue;
        }
        if ((pfd.revents & POLLOUT) && sent < len) {
            n = send(fd, (const char *)req + sent, len - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += (size_t)n;
            } else if (errno != EAGAIN && errno != EINTR) {
                sent = len; /* the server stopped reading; see what it answered */
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(fd, chunk, sizeof(chunk), 0);
            if (n > 0) {
                buf_add(&in, chunk, (size_t)n);
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                break;
            }
        }
    }
    parse_response(r, &in);
out:
    if (r->body == NULL) {
        r->body = strdup("");
    }
    if (fd >= 0) {
        close(fd);
    }
    free(in.data);
    r->seconds = (double)(harness_now_ms() - start) / 1000.0;
    return r;
}

struct harness_response *harness_http(const struct harness *h, const char *method, const char *path,
                                      const char *key, const char *const *headers, const char *body,
                                      size_t len)
{
    struct harness_response *r;
    struct buf req = {0};

    buf_printf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", method, path,
               h->port);
    if (key != NULL) {
        buf_printf(&req, "Authorization: Bearer %s\r\n", key);
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        buf_printf(&req, "%s\r\n", headers[i]);
    }
    if (body != NULL) {
        buf_printf(&req, "Content-Length: %zu\r\n", len);
    }
    buf_add(&req, "\r\n", 2);
    if (body != NULL) {
        buf_add(&req, body, len);
    }
    r = exchange(h, req.data, req.len);
    free(req.data);
    return r;
}

struct harness_response *harness_raw(const struct harness *h, const void *bytes, size_t len)
{
    return exchange(h, bytes, len);
}

static const char *const json_headers[] = {"Content-Type: application/json", NULL};

struct harness_response *harness_get(const struct harness *h, const char *key, const char *path)
{
    return harness_http(h, "GET", path, key, NULL, NULL, 0);
}

struct harness_response *harness_delete(const struct harness *h, const char *key, const char *path)
{
    return harness_http(h, "DELETE", path, key, NULL, NULL, 0);
}

struct harness_response *harness_post_json(const struct harness *h, const char *key,
                                           const char *path, const char *json_text)
{
    return harness_http(h, "POST", path, key, json_headers, json_text, strlen(json_text));
}

struct harness_response *harness_put_json(const struct harness *h, const char *key,
                                          const char *path, const char *json_text)
{
    return harness_http(h, "PUT", path, key, json_headers, json_text, strlen(json_text));
}

const char *harness_header(const struct harness_response *r, const char *name)
{
    for (size_t i = 0; r != NULL && i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, name) == 0) {
            return r->headers[i].value;
        }
    }
    return NULL;
}

void harness_response_free(struct harness_response *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    json_decref(r->json);
    free(r);
}

/* ---- JSON lookups ---- */

json_t *harness_jget(json_t *root, const char *path)
{
    char seg[256];
    const char *p = path;
    json_t *v = root;

    while (v != NULL && *p != '\0') {
        size_t n = strcspn(p, "/");
        char *end;

        if (n >= sizeof(seg)) {
            return NULL;
        }
        memcpy(seg, p, n);
        seg[n] = '\0';
        p += n + (p[n] == '/');
        if (json_is_array(v)) {
            unsigned long i = strtoul(seg, &end, 10);

            v = *end == '\0' && end != seg ? json_array_get(v, i) : NULL;
        } else {
            v = json_object_get(v, seg);
        }
    }
    return v;
}

long long harness_jint(json_t *root, const char *path)
{
    json_t *v = harness_jget(root, path);

    return json_is_integer(v) ? (long long)json_integer_value(v) : LLONG_MIN;
}

const char *harness_jstr(json_t *root, const char *path)
{
    return json_string_value(harness_jget(root, path));
}

void harness_data_path(const char *name, char *out, size_t size)
{
    const char *dir = getenv("OMNISTOCK_TEST_DATA");

    snprintf(out, size, "%s/integration/%s", dir != NULL ? dir : OMNISTOCK_TEST_DATA_DIR, name);
}

json_t *harness_load_data(const char *name)
{
    char path[PATH_MAX];
    json_error_t jerr;
    json_t *root;

    harness_data_path(name, path, sizeof(path));
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        fprintf(stderr, "harness: %s:%d: %s\n", path, jerr.line, jerr.text);
        fail();
    }
    return root;
}

static void hex_decode(const char *hex, struct buf *out)
{
    for (size_t i = 0; hex[i] != '\0' && hex[i + 1] != '\0'; i += 2) {
        char pair[3] = {hex[i], hex[i + 1], '\0'};
        char byte = (char)strtoul(pair, NULL, 16);

        buf_add(out, &byte, 1);
    }
}

struct harness_response *harness_send_case(const struct harness *h, json_t *c, const char *key)
{
    const char *method = harness_jstr(c, "method");
    const char *ct = harness_jstr(c, "content_type");
    json_t *body = json_object_get(c, "body");
    struct buf payload = {0};
    char ct_line[256];
    const char *headers[] = {ct_line, NULL};
    int has_body = 1;
    struct harness_response *r;

    if (body != NULL) {
        char *text = json_dumps(body, JSON_ENCODE_ANY | JSON_COMPACT);

        buf_add(&payload, text, strlen(text));
        free(text);
    } else if (harness_jstr(c, "raw") != NULL) {
        buf_add(&payload, harness_jstr(c, "raw"), strlen(harness_jstr(c, "raw")));
    } else if (harness_jstr(c, "hex") != NULL) {
        hex_decode(harness_jstr(c, "hex"), &payload);
    } else {
        has_body = 0;
    }
    if (ct == NULL) {
        ct = has_body ? "application/json" : "";
    }
    snprintf(ct_line, sizeof(ct_line), "Content-Type: %s", ct);
    if (payload.data == NULL) {
        buf_add(&payload, "", 0);
    }
    r = harness_http(h, method != NULL ? method : "GET", harness_jstr(c, "path"), key,
                     ct[0] != '\0' ? headers : NULL, has_body ? payload.data : NULL, payload.len);
    free(payload.data);
    return r;
}

/* ---- assertions ---- */

static char context[512];

void harness_context(const char *fmt, ...)
{
    va_list ap;

    context[0] = '\0';
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(context, sizeof(context), fmt, ap);
        va_end(ap);
    }
}

static void dump_response(const struct harness_response *r)
{
    fprintf(stderr, "---- response: status %d in %.3f s ----\n", r->status, r->seconds);
    for (size_t i = 0; i < r->nheaders; i++) {
        fprintf(stderr, "%s: %s\n", r->headers[i].name, r->headers[i].value);
    }
    fprintf(stderr, "\n%.*s\n", r->body_len > 2000 ? 2000 : (int)r->body_len, r->body);
    fprintf(stderr, "---- end of response ----\n");
}

static void fail_with(const struct harness_response *r, const char *file, int line, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5), noreturn));

static void fail_with(const struct harness_response *r, const char *file, int line, const char *fmt,
                      ...)
{
    va_list ap;

    if (context[0] != '\0') {
        fprintf(stderr, "[%s] ", context);
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (r != NULL) {
        dump_response(r);
    }
    harness_daemon_log(current, 3000);
    _fail(file, line);
    abort(); /* not reached: _fail jumps back to cmocka */
}

void harness_admin_put_(const struct harness *h, const char *path, const char *json_text,
                        const char *file, int line)
{
    struct harness_response *r = harness_put_json(h, h->keys[HARNESS_ADMIN], path, json_text);

    if (r->status != 200 && r->status != 201) {
        fail_with(r, file, line, "PUT %s as admin: expected 200 or 201, got %d", path, r->status);
    }
    harness_response_free(r);
}

void harness_receipt_(const struct harness *h, const char *sku, const char *location, int quantity,
                      const char *file, int line)
{
    char body[256];
    struct harness_response *r;

    snprintf(body, sizeof(body),
             "{\"sku\": \"%s\", \"location\": \"%s\", \"type\": \"receipt\", \"quantity\": %d}",
             sku, location, quantity);
    r = harness_post_json(h, h->keys[HARNESS_ADMIN], "/v1/movements", body);
    if (r->status != 201) {
        fail_with(r, file, line, "receipt %s as admin: expected 201, got %d", body, r->status);
    }
    harness_response_free(r);
}

void harness_catalogue_(const struct harness *h, const char *const *skus, size_t n,
                        const char *file, int line)
{
    char path[160];

    harness_admin_put_(h, "/v1/locations/wh-1",
                       "{\"name\": \"Warehouse\", \"type\": \"warehouse\", \"fulfils\": [\"web\"]}",
                       file, line);
    harness_admin_put_(h, "/v1/locations/store-leeds",
                       "{\"name\": \"Leeds\", \"type\": \"store\", \"fulfils\": [\"web\", "
                       "\"store\", \"click_collect\"], \"store_buffer\": 1}",
                       file, line);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/v1/products/%s", skus[i]);
        harness_admin_put_(h, path,
                           "{\"name\": \"Mug\", \"category\": \"kitchen\", \"price\": "
                           "{\"amount\": 899, \"currency\": \"GBP\"}}",
                           file, line);
    }
}

void harness_assert_status_(const struct harness_response *r, int status, const char *file,
                            int line)
{
    if (r->status != status) {
        fail_with(r, file, line, "expected status %d, got %d", status, r->status);
    }
}

void harness_assert_problem_(const struct harness_response *r, int status, const char *code,
                             const char *field, const char *file, int line)
{
    const char *ct = harness_header(r, "Content-Type");
    char type[128];

    snprintf(type, sizeof(type), "/problems/%s", code);
    if (r->status != status) {
        fail_with(r, file, line, "expected status %d (%s), got %d", status, code, r->status);
    }
    if (ct == NULL || strncasecmp(ct, "application/problem+json", 24) != 0) {
        fail_with(r, file, line, "expected Content-Type application/problem+json, got %s",
                  ct != NULL ? ct : "(none)");
    }
    if (!json_is_object(r->json)) {
        fail_with(r, file, line, "problem body is not a JSON object");
    }
    if (harness_jstr(r->json, "type") == NULL || strcmp(harness_jstr(r->json, "type"), type)) {
        fail_with(r, file, line, "expected type \"%s\"", type);
    }
    if (harness_jint(r->json, "status") != status || harness_jstr(r->json, "title") == NULL ||
        harness_jstr(r->json, "detail") == NULL) {
        fail_with(r, file, line, "problem body needs title, detail and status %d", status);
    }
    if (field != NULL &&
        (harness_jstr(r->json, "field") == NULL || strcmp(harness_jstr(r->json, "field"), field))) {
        fail_with(r, file, line, "expected field \"%s\"", field);
    }
}

void harness_assert_unchanged_(struct harness *h, const char *before, const char *file, int line)
{
    char now[41];

    if (harness_redis_digest(&h->redis, now) != 0) {
        fail_with(NULL, file, line, "DEBUG DIGEST failed");
    }
    if (strcmp(now, before) != 0) {
        redisReply *keys = harness_redis_command(&h->redis, "KEYS *");

        fprintf(stderr, "Redis dataset changed (digest %s, was %s); keys now:\n", now, before);
        for (size_t i = 0; keys != NULL && i < keys->elements; i++) {
            fprintf(stderr, "  %s\n", keys->element[i]->str);
        }
        freeReplyObject(keys);
        fail_with(NULL, file, line, "a request that failed changed Redis");
    }
}

void harness_assert_jint_(const struct harness_response *r, const char *path, long long want,
                          const char *file, int line)
{
    long long got = harness_jint(r->json, path);

    if (got != want) {
        if (got == LLONG_MIN) {
            fail_with(r, file, line, "%s: expected %lld, got no integer", path, want);
        }
        fail_with(r, file, line, "%s: expected %lld, got %lld", path, want, got);
    }
}

void harness_assert_jstr_(const struct harness_response *r, const char *path, const char *want,
                          const char *file, int line)
{
    const char *got = harness_jstr(r->json, path);

    if (got == NULL || strcmp(got, want) != 0) {
        fail_with(r, file, line, "%s: expected \"%s\", got %s%s%s", path, want,
                  got != NULL ? "\"" : "", got != NULL ? got : "no string",
                  got != NULL ? "\"" : "");
    }
}
