/*
 * config.h - the daemon's configuration: defaults < config file < environment
 * < flags, validated once at start-up and then passed around as
 * `const struct config *`.
 */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include <limits.h>
#include <stddef.h>

#include "proto/proto.h"

enum role {
    ROLE_STOREFRONT = 1,
    ROLE_STORE = 2,
    ROLE_AGENT = 4,
    ROLE_ADMIN = 8,
};
#define ROLE_ANY (ROLE_STOREFRONT | ROLE_STORE | ROLE_AGENT | ROLE_ADMIN)

/* role_name - "storefront", "store", "agent" or "admin". */
const char *role_name(enum role r);

#define CONFIG_ORIGIN_SIZE 256 /* "https://host:port", and its NUL */
#define CONFIG_ORIGINS_MAX 32

struct api_key {
    char name[PROTO_ID_SIZE];
    enum role role;
    char location[PROTO_ID_SIZE]; /* store keys only; "" otherwise */
    unsigned char sha256[32];     /* the key itself is never kept */
};

enum module {
    MODULE_INVENTORY = 1,
    MODULE_RECOMMEND = 2,
};

struct config {
    char listen_host[256];
    int listen_port;
    char redis_url[1024]; /* "embedded" or a redis:// or unix:// URL */
    char config_path[PATH_MAX];
    char data_dir[PATH_MAX];
    unsigned modules; /* MODULE_* bits */

    struct api_key *keys; /* owned */
    size_t nkeys;
    char dev_key[65]; /* the generated admin key when there is no config file, else "" */

    unsigned partitions;        /* SKU partitions, fixed at install (default 16) */
    long long redis_timeout_ms; /* per command */
    long long events_maxlen;    /* events kept per partition stream (approximate) */
    long long history_maxlen;   /* ledger entries kept per SKU */

    long long default_ttl_seconds;
    long long max_ttl_seconds;

    int max_items;
    double max_price_ratio;
    long long min_co_orders;
    double min_llr;
    long long claim_after_ms;  /* orders another daemon read and left this long are taken over */
    long long answer_cache_ms; /* anonymous answers kept this long at most; 0: none kept */
    char (*sensitive_categories)[PROTO_ID_SIZE]; /* owned */
    size_t nsensitive;

    long long low_stock;

    /* Limits */
    double rate_per_second;          /* requests each API key may make a second; 0 = no limit */
    double rate_burst;               /* requests a key may make at once (the bucket's size) */
    long long request_timeout_secs;  /* a connection idle this long mid-request is closed */
    long long request_deadline_secs; /* a request must be in whole this long after it may start */
    size_t max_connections;          /* open at once; more are closed on arrival */
    long long idem_pending_secs;     /* an Idempotency-Key's first request counts as running */

    /* The read cache of stock levels and products (common/rcache.h); 0 entries: none */
    size_t read_cache_entries;
    long long read_cache_max_age_ms; /* a copy older than this is read again; 0: no limit */

    /* Other origins whose browser pages may call the API (CORS); none by default. */
    char (*cors_origins)[CONFIG_ORIGIN_SIZE]; /* owned */
    size_t ncors;

    /* Server-Sent Events streams */
    long long stream_max_clients;  /* open streams at once; more get 503 */
    long long stream_buffer_bytes; /* unsent bytes a client may lag before it is dropped */
    long long stream_heartbeat_ms; /* a comment line when nothing else was sent */
};

/*
 * config_load - build the configuration from defaults, the config file, the
 * environment (OMNISTOCK_*) and the command line, in that order of strength.
 * @err: receives one line naming the problem.
 * @return 0, 1 when --help was asked (usage printed), or -1 on error.
 */
int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);

/* config_release - free what config_load allocated. Accepts a zeroed struct. */
void config_release(struct config *cfg);

/*
 * config_find_key - the API key whose SHA-256 matches @key, comparing every
 * configured hash in constant time. @return a borrowed pointer or NULL.
 */
const struct api_key *config_find_key(const struct config *cfg, const char *key, size_t len);

#endif
