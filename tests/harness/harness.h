/*
 * harness.h - the integration-test harness: a real redis-server and a real
 * omnistockd, started on free loopback ports in a temporary directory, and a
 * blocking HTTP/1.1 client to talk to the daemon.
 *
 * Everything the harness starts is stopped by harness_stop(), by an atexit
 * handler if a test exits early, and by the kernel (PR_SET_PDEATHSIG) if the
 * test process is killed.
 *
 * Environment: OMNISTOCKD, the daemon binary to run (default: the one built
 * beside the tests; may be a wrapper script that execs it, e.g. under valgrind).
 * OMNISTOCK_TEST_SLOW, a whole factor (1..100, default 1) that stretches the
 * harness's own waits for the daemon (ready 10 s, stop 10 s, HTTP timeout 10 s
 * per exchange): for a daemon slowed down by valgrind. It changes no assertion.
 * OMNISTOCK_TEST_REDIS, the Redis that harness_start() and its kin start for the
 * daemon: unset, empty or "standalone", one redis-server; "cluster", a Redis Cluster
 * of 3 masters and 3 replicas (cluster.h) given to the daemon as --redis
 * cluster://..., which h->redis then stands for (see struct harness_redis). Any other
 * value fails the start.
 *
 * Ownership: every struct harness_response is new and freed by
 * harness_response_free(); json_t pointers returned by lookups are borrowed.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#define HARNESS_DIR_SIZE 128 /* temp dirs are short: unix socket paths must fit in 108 */

/* ---- redis-server ---- */

struct harness_cluster;

/*
 * One redis-server, or (when @cluster is set) a whole cluster that the functions below
 * act on as on one Redis: start, stop and kill reach all six nodes, commands reach the
 * node of their key or every master (harness_cluster_command in cluster.h says which),
 * the digest covers every master. What a cluster cannot be is refused with a line on
 * stderr: use_unix, and redis-server arguments that would undo the cluster.
 */
struct harness_redis {
    pid_t pid;                  /* 0 when not running; on a cluster, node 0's (see below) */
    int port;                   /* chosen at the first start, kept across restarts */
    int use_unix;               /* set before the first start: also listen on sock_path */
    char dir[HARNESS_DIR_SIZE]; /* data dir and redis.log */
    char sock_path[PATH_MAX];   /* dir/redis.sock when use_unix */
    /* NULL, or more redis-server arguments (NULL-terminated, borrowed, at most 32), given
     * after the harness's own at every start, e.g. {"--appendonly", "yes", NULL}; on a
     * cluster, to every node after the cluster's own. */
    const char *const *extra_args;
    /*
     * NULL, or the cluster this Redis is: set before the first start. harness_start() and
     * its kin set it (new) when OMNISTOCK_TEST_REDIS=cluster, and harness_stop() frees it;
     * the functions below only borrow it. port and pid are then those of node 0, the first
     * master as created: a signal sent to pid reaches that one node (its slots) only.
     */
    struct harness_cluster *cluster;
};

/*
 * harness_redis_start - start redis-server in @dir (created with mkdtemp when
 * @r->dir is empty) on @r->port (a free port when 0) and wait until it answers
 * PING (5 s). Starting again after harness_redis_stop() reuses port and dir.
 * On a cluster: the first time, harness_cluster_start_args() with @r->extra_args;
 * after a stop or kill, every node again on its port and dir, and wait (30 s) until
 * the cluster is whole.
 * @return 0, or -1 with a line on stderr (and the redis log).
 */
int harness_redis_start(struct harness_redis *r);

/*
 * harness_redis_stop - SIGTERM, wait (5 s), then SIGKILL (on a cluster: every node at once).
 * @return 0 if it exited cleanly.
 */
int harness_redis_stop(struct harness_redis *r);

/*
 * harness_redis_kill - SIGKILL the server (a crash: nothing saved, no shutdown) and reap it.
 * Port, dir and what the server persisted stay for harness_redis_start. On a cluster: every
 * node. @return 0, or -1 if it was not running.
 */
int harness_redis_kill(struct harness_redis *r);

/*
 * harness_redis_signal - send @sig to the server (on a cluster: every node running), e.g.
 * SIGSTOP to freeze Redis and SIGCONT to thaw it. @return 0, or -1 if none was running.
 */
int harness_redis_signal(struct harness_redis *r, int sig);

/*
 * harness_redis_release - stop the server and remove its dir (and what is in it); on a
 * cluster, harness_cluster_stop() (@r->cluster itself is not freed).
 */
void harness_redis_release(struct harness_redis *r);

/*
 * harness_redis_command - one command on a fresh connection; on a cluster, as
 * harness_cluster_command() (cluster.h) carries it out. @return a new reply or NULL.
 */
redisReply *harness_redis_command(struct harness_redis *r, const char *fmt, ...);

/*
 * harness_redis_digest - DEBUG DIGEST of the whole dataset (40 hex), once the daemon has
 * counted every order placed so far (up to 5 s). On a cluster, one digest of every
 * master's (harness_cluster_command). @return 0 or -1.
 */
int harness_redis_digest(struct harness_redis *r, char out[41]);

/* harness_redis_flushall - empty every database (on a cluster: every master). @return 0 or -1. */
int harness_redis_flushall(struct harness_redis *r);

/* ---- small things the harness and tests share ---- */

/* harness_now_ms - CLOCK_MONOTONIC in milliseconds. */
long long harness_now_ms(void);

/* harness_sleep_ms - sleep @ms milliseconds. */
void harness_sleep_ms(int ms);

/* harness_free_port - a port the kernel just gave to a socket bound to 127.0.0.1:0. */
int harness_free_port(void);

/*
 * harness_spawn - fork and exec @argv with stdout and stderr appended to @log_path
 * (or /dev/null). The child dies with the test process (PR_SET_PDEATHSIG), and
 * is killed at exit if still running. @env: NULL or a NULL-terminated list of
 * "NAME=value" to set in the child. @return its pid, or -1.
 */
pid_t harness_spawn(char *const argv[], const char *log_path, char *const env[]);

/* harness_wait_exit - the wait status of @pid (from harness_spawn) within @ms, or -1 after
 * killing it when it takes longer. */
int harness_wait_exit(pid_t pid, int ms);

/* harness_remove_tree - remove @dir and all below it, unless OMNISTOCK_KEEP_TMP is set. */
void harness_remove_tree(const char *dir);

/* harness_print_file_tail - the last @max_bytes of the file at @path on stderr, framed by @label.
 */
void harness_print_file_tail(const char *label, const char *path, size_t max_bytes);

/* ---- omnistockd ---- */

/* The API keys the harness configures, one per role (and a second store). */
enum harness_role {
    HARNESS_STOREFRONT = 0,
    HARNESS_STORE_LEEDS, /* role store, location "store-leeds" */
    HARNESS_STORE_YORK,  /* role store, location "store-york" */
    HARNESS_AGENT,
    HARNESS_ADMIN,
    HARNESS_NROLES
};

#define HARNESS_KEY_SIZE 49 /* 48 hex characters and a NUL */

struct harness {
    struct harness_redis redis;
    pid_t daemon_pid;
    int port;
    char dir[HARNESS_DIR_SIZE]; /* temp dir: config.json, omnistockd.log, redis data */
    char config_path[PATH_MAX];
    char log_path[PATH_MAX];
    char keys[HARNESS_NROLES][HARNESS_KEY_SIZE];
    int timeout_ms; /* HTTP client timeout per exchange, default 10000 (x OMNISTOCK_TEST_SLOW) */
    char redis_url[1024]; /* set by harness_start_url: the daemon's Redis is not ours */
};

/*
 * harness_start - redis-server (or a cluster: OMNISTOCK_TEST_REDIS above), a config
 * file with one key per role, and omnistockd, ready (GET /readyz answered 200 within 10 s).
 * @return a new harness, or NULL (everything started is stopped again).
 */
struct harness *harness_start(void);

/*
 * harness_start_config - the same, with @extra_config (a JSON object's text,
 * or NULL) merged into the config file's top level, e.g.
 * "{\"events\": {\"stream_heartbeat_ms\": 200}}".
 */
struct harness *harness_start_config(const char *extra_config);

/*
 * harness_start_redis_args - harness_start_config, with @redis_args (see
 * harness_redis.extra_args; borrowed, must outlive the harness) given to
 * redis-server at every start, e.g. a persistence profile. On a cluster, to every
 * node; the start fails (with why on stderr) if they would undo the cluster.
 */
struct harness *harness_start_redis_args(const char *extra_config, const char *const *redis_args);

/*
 * harness_start_standalone - harness_start_config on one redis-server whatever
 * OMNISTOCK_TEST_REDIS says: for what only a Redis with databases can do (SWAPDB).
 */
struct harness *harness_start_standalone(const char *extra_config);

/*
 * harness_start_url - a config file and omnistockd on the Redis at @redis_url
 * (e.g. a cluster's "cluster://..."), started by the caller: h->redis is not
 * started, and harness_stop leaves that Redis alone. @extra_config as above.
 */
struct harness *harness_start_url(const char *redis_url, const char *extra_config);

/*
 * harness_start_peer - a second omnistockd with @h's config file and keys on
 * @h's Redis (several daemons behind a load balancer share nothing else).
 * Stop it with harness_stop, which leaves the Redis alone; before @h.
 */
struct harness *harness_start_peer(const struct harness *h);

/*
 * harness_start_beside - omnistockd with a config of its own (@extra_config as
 * in harness_start_config; keys of its own) on @h's Redis: harness_start_url
 * with the Redis @h's daemon is given. Tests of what a config does share one
 * Redis this way (a cluster takes seconds to start). Stop it with harness_stop,
 * which leaves the Redis alone; before @h.
 */
struct harness *harness_start_beside(const struct harness *h, const char *extra_config);

/*
 * harness_stop - stop the daemon (SIGTERM) and redis, remove the temp dir.
 * Prints the daemon log when the daemon did not exit with status 0.
 * @return 0 if the daemon exited with status 0 within 10 s, else -1. Accepts NULL.
 */
int harness_stop(struct harness *h);

/*
 * harness_daemon_kill - SIGKILL the daemon (no graceful shutdown: a crash) and
 * reap it; h->daemon_pid becomes 0. Redis and the temp dir stay.
 * @return 0, or -1 if no daemon was running.
 */
int harness_daemon_kill(struct harness *h);

/*
 * harness_daemon_restart - start omnistockd again on the same Redis with the
 * same config and keys, after harness_daemon_kill() (a daemon still running
 * is stopped with SIGTERM first), and wait until GET /readyz answers 200.
 * The daemon may listen on another port: h->port is updated, so no other
 * thread may be using @h meanwhile.
 * @return 0, or -1 (h->daemon_pid is then 0).
 */
int harness_daemon_restart(struct harness *h);

/* harness_daemon_log - print the last @max_bytes of the daemon's log on stderr. */
void harness_daemon_log(const struct harness *h, size_t max_bytes);

/* ---- HTTP client ---- */

struct harness_header {
    char *name;
    char *value;
};

struct harness_response {
    int status; /* 0 when no complete response arrived (timeout, reset) */
    struct harness_header *headers;
    size_t nheaders;
    char *body; /* NUL-terminated, body_len bytes before the NUL */
    size_t body_len;
    json_t *json;   /* the body parsed when Content-Type is JSON, else NULL */
    double seconds; /* time from connect to the end of the response */
};

/*
 * harness_http - one request on a new connection, with Connection: close.
 * The client keeps no state of its own: threads may call it (and the
 * shorthands below) at the same time on one harness, as long as nothing
 * changes @h meanwhile. The assertions below are for the main thread only.
 * @headers: NULL or a NULL-terminated list of "Name: value" lines.
 * @key: NULL, or sent as "Authorization: Bearer <key>".
 * Content-Length is added when @body is not NULL.
 * @return a new response (never NULL; status 0 when none came).
 */
struct harness_response *harness_http(const struct harness *h, const char *method, const char *path,
                                      const char *key, const char *const *headers, const char *body,
                                      size_t len);

/*
 * harness_connect - a TCP connection to the daemon, with @bytes (NULL or a
 * string) sent on it. @return the socket, or -1 with errno set.
 */
int harness_connect(const struct harness *h, const char *bytes);

/*
 * harness_closed_by_daemon - whether the daemon closed @fd (EOF or reset,
 * after whatever it sent) within @seconds: a bound to wait for the daemon's
 * own timers, not an assertion on how long they took.
 */
int harness_closed_by_daemon(int fd, int seconds);

/*
 * harness_metric_value - the value of the first sample of @name in the
 * Prometheus text @text (any labels), or -1 when there is none.
 */
double harness_metric_value(const char *text, const char *name);

/* harness_metric - the value of metric @name in the daemon's GET /metrics, or -1. */
double harness_metric(const struct harness *h, const char *name);

/* harness_raw - send @len bytes as they are and read what comes back until EOF. */
struct harness_response *harness_raw(const struct harness *h, const void *bytes, size_t len);

/* Shorthands: JSON bodies are sent with Content-Type: application/json. */
struct harness_response *harness_get(const struct harness *h, const char *key, const char *path);
struct harness_response *harness_delete(const struct harness *h, const char *key, const char *path);
struct harness_response *harness_post_json(const struct harness *h, const char *key,
                                           const char *path, const char *json_text);
struct harness_response *harness_put_json(const struct harness *h, const char *key,
                                          const char *path, const char *json_text);

/* harness_header - the value of header @name (case-insensitive), or NULL. Borrowed. */
const char *harness_header(const struct harness_response *r, const char *name);

void harness_response_free(struct harness_response *r);

/* ---- JSON lookups ---- */

/*
 * harness_jget - the value at @path in @root: keys separated by '/', array
 * indices as numbers, e.g. "channels/store/store-leeds/available" or
 * "items/3/sku". @return borrowed, or NULL when absent.
 */
json_t *harness_jget(json_t *root, const char *path);

/* harness_jint - the integer at @path, or LLONG_MIN when absent or not an integer. */
long long harness_jint(json_t *root, const char *path);

/* harness_jstr - the string at @path, or NULL. Borrowed. */
const char *harness_jstr(json_t *root, const char *path);

/* ---- test data ---- */

/* harness_data_path - @name under $OMNISTOCK_TEST_DATA/integration into @out. */
void harness_data_path(const char *name, char *out, size_t size);

/* harness_load_data - the JSON file @name under the test data. @return new; fails the test if bad.
 */
json_t *harness_load_data(const char *name);

/*
 * harness_send_case - send the request a data-driven case describes:
 * {"method", "path", "body": <JSON value> | "raw": "<text>" | "hex": "<bytes>",
 *  "content_type"?: default application/json when there is a body, "" for none}.
 * @key: NULL or the API key. @return a new response.
 */
struct harness_response *harness_send_case(const struct harness *h, json_t *c, const char *key);

/* ---- cmocka assertions that show the response (and the daemon log) when they fail ---- */

/* harness_context - a line printed first when an assertion fails (e.g. a case name); NULL clears.
 */
void harness_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void harness_assert_status_(const struct harness_response *r, int status, const char *file,
                            int line);
void harness_assert_problem_(const struct harness_response *r, int status, const char *code,
                             const char *field, const char *file, int line);
void harness_assert_unchanged_(struct harness *h, const char *before, const char *file, int line);
void harness_assert_jint_(const struct harness_response *r, const char *path, long long want,
                          const char *file, int line);
void harness_assert_jstr_(const struct harness_response *r, const char *path, const char *want,
                          const char *file, int line);

void harness_admin_put_(const struct harness *h, const char *path, const char *json_text,
                        const char *file, int line);

void harness_receipt_(const struct harness *h, const char *sku, const char *location, int quantity,
                      const char *file, int line);

void harness_catalogue_(const struct harness *h, const char *const *skus, size_t n,
                        const char *file, int line);

/*
 * A small catalogue, as the admin: wh-1 (a warehouse fulfilling web), store-leeds (a store
 * fulfilling every channel, store_buffer 1) and a product for each of @skus (n of them, a
 * kitchen mug at 8.99 GBP), no stock. Fails the test unless every PUT succeeds.
 */
#define harness_catalogue(h, skus, n) harness_catalogue_((h), (skus), (n), __FILE__, __LINE__)

/* A receipt of @quantity @sku at @location, as the admin; fails the test unless 201. */
#define harness_receipt(h, sku, location, quantity)                                                \
    harness_receipt_((h), (sku), (location), (quantity), __FILE__, __LINE__)

/* PUT @json_text to @path with the admin key; fails the test unless 200 or 201. */
#define harness_admin_put(h, path, json_text)                                                      \
    harness_admin_put_((h), (path), (json_text), __FILE__, __LINE__)

/* The response has this status. */
#define harness_assert_status(r, status) harness_assert_status_((r), (status), __FILE__, __LINE__)

/*
 * The response is problem details: @status, Content-Type application/problem+json,
 * type "/problems/<code>", status in the body, and field == @field unless @field is NULL.
 */
#define harness_assert_problem(r, status, code, field)                                             \
    harness_assert_problem_((r), (status), (code), (field), __FILE__, __LINE__)

/* The Redis dataset still has DEBUG DIGEST @before. */
#define harness_assert_unchanged(h, before)                                                        \
    harness_assert_unchanged_((h), (before), __FILE__, __LINE__)

/* The integer (or string) at @path of the response's JSON body equals @want. */
#define harness_assert_jint(r, path, want)                                                         \
    harness_assert_jint_((r), (path), (want), __FILE__, __LINE__)
#define harness_assert_jstr(r, path, want)                                                         \
    harness_assert_jstr_((r), (path), (want), __FILE__, __LINE__)

#endif
