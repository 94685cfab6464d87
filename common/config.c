/*
 * config.c - defaults, config file, environment and flags, in that order.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/config.h"
#include "common/log.h"
#include "common/sha256.h"

static const char usage[] =
    "usage: omnistockd [--listen HOST:PORT] [--redis URL|embedded] [--config FILE]\n"
    "                  [--modules inventory,recommend] [--data DIR] [--log-level LEVEL]\n"
    "\n"
    "  --listen     address to serve HTTP on (default 127.0.0.1:8080)\n"
    "  --redis      redis://[:password@]host:port[/db], unix:///path, or embedded (default)\n"
    "  --config     JSON config file with API keys and policy\n"
    "  --modules    which modules to run (default inventory,recommend)\n"
    "  --data       state directory for the embedded Redis (default ./var)\n"
    "  --log-level  debug, info, warn or error (default info)\n"
    "\n"
    "Environment: OMNISTOCK_LISTEN, OMNISTOCK_REDIS, OMNISTOCK_CONFIG, OMNISTOCK_MODULES,\n"
    "OMNISTOCK_DATA, OMNISTOCK_LOG_LEVEL. Flags win over environment.\n";

const char *role_name(enum role r)
{
    switch (r) {
    case ROLE_STOREFRONT:
        return "storefront";
    case ROLE_STORE:
        return "store";
    case ROLE_AGENT:
        return "agent";
    case ROLE_ADMIN:
        return "admin";
    }
    return "unknown";
}

static int role_parse(const char *s, enum role *out)
{
    static const enum role roles[] = {ROLE_STOREFRONT, ROLE_STORE, ROLE_AGENT, ROLE_ADMIN};

    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (strcmp(s, role_name(roles[i])) == 0) {
            *out = roles[i];
            return 0;
        }
    }
    return -1;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
    cfg->listen_port = 8080;
    snprintf(cfg->redis_url, sizeof(cfg->redis_url), "embedded");
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./var");
    cfg->modules = MODULE_INVENTORY | MODULE_RECOMMEND;
    cfg->partitions = 16;
    cfg->redis_timeout_ms = 2000;
    cfg->events_maxlen = 100000;
    cfg->history_maxlen = 500;
    cfg->default_ttl_seconds = 900;
    cfg->max_ttl_seconds = 14400;
    cfg->max_items = 3;
    cfg->max_price_ratio = 0.5;
    cfg->min_co_orders = 3;
    cfg->min_llr = 10.83;
    cfg->claim_after_ms = 60000;
    cfg->answer_cache_ms = 1000;
    cfg->low_stock = 5;
    cfg->request_timeout_secs = 30;
    cfg->request_deadline_secs = 60;
    cfg->max_connections = 4096;
    cfg->idem_pending_secs = 10;
    cfg->read_cache_entries = 100000;
    cfg->read_cache_max_age_ms = 60000;
    cfg->stream_max_clients = 1000;
    cfg->stream_buffer_bytes = 1024 * 1024;
    cfg->stream_heartbeat_ms = 15000;
}

static int parse_listen(struct config *cfg, const char *s, char *err, size_t errlen)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long port;

    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(cfg->listen_host))
        return fail(err, errlen, "--listen: expected HOST:PORT, got '%s'", s);
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || port < 0 || port > 65535)
        return fail(err, errlen, "--listen: invalid port in '%s'", s);
    memcpy(cfg->listen_host, s, (size_t)(colon - s));
    cfg->listen_host[colon - s] = '\0';
    cfg->listen_port = (int)port;
    return 0;
}

static int parse_modules(struct config *cfg, const char *s, char *err, size_t errlen)
{
    char buf[128];
    char *save = NULL;
    unsigned mods = 0;

    if (strlen(s) >= sizeof(buf))
        return fail(err, errlen, "--modules: too long");
    strcpy(buf, s);
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "inventory") == 0)
            mods |= MODULE_INVENTORY;
        else if (strcmp(tok, "recommend") == 0)
            mods |= MODULE_RECOMMEND;
        else
            return fail(err, errlen, "--modules: unknown module '%s'", tok);
    }
    if (mods == 0)
        return fail(err, errlen, "--modules: name at least one of inventory, recommend");
    cfg->modules = mods;
    return 0;
}

static int hex_decode(const char *hex, unsigned char out[32])
{
    if (strlen(hex) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= (unsigned)(c - 'A' + 10);
            else
                return -1;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int load_key(json_t *obj, size_t i, struct api_key *key, char *err, size_t errlen)
{
    const char *name, *role, *loc = NULL, *hash;

    if (json_unpack(obj, "{s:s, s:s, s:s, s?:s !}", "name", &name, "role", &role, "sha256", &hash,
                    "location", &loc) != 0)
        return fail(err, errlen,
                    "config: api_keys[%zu] needs name, role and sha256 strings (and location for "
                    "a store key), nothing else",
                    i);
    if (!proto_id_valid(name))
        return fail(err, errlen, "config: api_keys[%zu].name is not a valid identifier", i);
    snprintf(key->name, sizeof(key->name), "%s", name);
    if (role_parse(role, &key->role) != 0)
        return fail(err, errlen,
                    "config: api_keys[%zu].role '%s' is not one of storefront, "
                    "store, agent, admin",
                    i, role);
    if (hex_decode(hash, key->sha256) != 0)
        return fail(err, errlen, "config: api_keys[%zu].sha256 must be 64 hex digits", i);
    if (key->role == ROLE_STORE) {
        if (loc == NULL || !proto_id_valid(loc))
            return fail(err, errlen,
                        "config: api_keys[%zu] is a store key and needs a valid "
                        "location",
                        i);
        snprintf(key->location, sizeof(key->location), "%s", loc);
    } else if (loc != NULL) {
        return fail(err, errlen, "config: api_keys[%zu].location is only for store keys", i);
    }
    return 0;
}

static int load_keys(struct config *cfg, json_t *arr, char *err, size_t errlen)
{
    size_t i;
    json_t *v;

    if (!json_is_array(arr))
        return fail(err, errlen, "config: api_keys must be an array");
    cfg->keys = calloc(json_array_size(arr) + 1, sizeof(*cfg->keys));
    if (cfg->keys == NULL)
        return fail(err, errlen, "config: out of memory");
    json_array_foreach(arr, i, v)
    {
        if (load_key(v, i, &cfg->keys[i], err, errlen) != 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->keys[j].name, cfg->keys[i].name) == 0)
                return fail(err, errlen, "config: api key name '%s' appears twice",
                            cfg->keys[i].name);
        }
        cfg->nkeys++;
    }
    return 0;
}

static int load_reservations(struct config *cfg, json_t *obj, char *err, size_t errlen)
{
    json_int_t def = cfg->default_ttl_seconds, max = cfg->max_ttl_seconds;

    if (json_unpack(obj, "{s?I, s?I !}", "default_ttl_seconds", &def, "max_ttl_seconds", &max) != 0)
        return fail(err, errlen,
                    "config: reservations takes integer default_ttl_seconds and "
                    "max_ttl_seconds only");
    if (def < 1 || max < 1 || def > max || max > 7 * 86400)
        return fail(err, errlen,
                    "config: reservations needs 1 <= default_ttl_seconds <= "
                    "max_ttl_seconds <= 604800");
    cfg->default_ttl_seconds = def;
    cfg->max_ttl_seconds = max;
    return 0;
}

static int load_recommendations(struct config *cfg, json_t *obj, char *err, size_t errlen)
{
    json_int_t items = cfg->max_items, co = cfg->min_co_orders, claim = cfg->claim_after_ms;
    json_int_t kept = cfg->answer_cache_ms;
    double ratio = cfg->max_price_ratio, llr = cfg->min_llr;
    json_t *sens = NULL, *v;
    size_t i;

    if (json_unpack(obj, "{s?I, s?F, s?I, s?F, s?o, s?I, s?I !}", "max_items", &items,
                    "max_price_ratio", &ratio, "min_co_orders", &co, "min_llr", &llr,
                    "sensitive_categories", &sens, "claim_after_ms", &claim, "answer_cache_ms",
                    &kept) != 0)
        return fail(err, errlen,
                    "config: recommendations takes max_items, max_price_ratio, "
                    "min_co_orders, min_llr, claim_after_ms, answer_cache_ms and "
                    "sensitive_categories only, as numbers and an array");
    if (claim < 100 || claim > 86400000)
        return fail(err, errlen, "config: recommendations.claim_after_ms must be 100..86400000");
    if (kept < 0 || kept > 60000)
        return fail(err, errlen, "config: recommendations.answer_cache_ms must be 0..60000");
    cfg->claim_after_ms = claim;
    cfg->answer_cache_ms = kept;
    if (items < 0 || items > 10)
        return fail(err, errlen, "config: recommendations.max_items must be 0..10");
    if (!(ratio > 0.0 && ratio <= 10.0))
        return fail(err, errlen, "config: recommendations.max_price_ratio must be in (0, 10]");
    if (co < 1 || !(llr >= 0.0))
        return fail(err, errlen,
                    "config: recommendations needs min_co_orders >= 1 and "
                    "min_llr >= 0");
    cfg->max_items = (int)items;
    cfg->max_price_ratio = ratio;
    cfg->min_co_orders = co;
    cfg->min_llr = llr;
    if (sens == NULL)
        return 0;
    if (!json_is_array(sens))
        return fail(err, errlen, "config: recommendations.sensitive_categories must be an array");
    cfg->sensitive_categories = calloc(json_array_size(sens) + 1, PROTO_ID_SIZE);
    if (cfg->sensitive_categories == NULL)
        return fail(err, errlen, "config: out of memory");
    json_array_foreach(sens, i, v)
    {
        if (!json_is_string(v) || !proto_id_valid(json_string_value(v)))
            return fail(err, errlen, "config: sensitive_categories[%zu] is not a category", i);
        snprintf(cfg->sensitive_categories[i], PROTO_ID_SIZE, "%s", json_string_value(v));
        cfg->nsensitive++;
    }
    return 0;
}

/*
 * "limits": {"requests_per_second", "burst", "request_timeout_seconds",
 * "request_deadline_seconds", "max_connections"}, each optional.
 */
static int load_limits(struct config *cfg, json_t *obj, char *err, size_t errlen)
{
    double rate = 0.0, burst = 0.0;
    json_int_t timeout = cfg->request_timeout_secs, deadline = cfg->request_deadline_secs;
    json_int_t conns = (json_int_t)cfg->max_connections, pending = cfg->idem_pending_secs;

    if (json_unpack(obj, "{s?F, s?F, s?I, s?I, s?I, s?I !}", "requests_per_second", &rate, "burst",
                    &burst, "request_timeout_seconds", &timeout, "request_deadline_seconds",
                    &deadline, "max_connections", &conns, "idempotency_pending_seconds",
                    &pending) != 0)
        return fail(err, errlen,
                    "config: limits takes numbers requests_per_second and burst and integers "
                    "request_timeout_seconds, request_deadline_seconds, max_connections and "
                    "idempotency_pending_seconds only");
    if (!(rate >= 0.0 && rate <= 1e6) || !(burst >= 0.0 && burst <= 1e6) ||
        (burst > 0.0 && burst < 1.0) || (burst > 0.0 && rate == 0.0))
        return fail(err, errlen,
                    "config: limits needs 0 <= requests_per_second <= 1000000 and, with a rate, "
                    "1 <= burst <= 1000000");
    if (timeout < 1 || timeout > 3600)
        return fail(err, errlen, "config: limits.request_timeout_seconds must be 1..3600");
    if (deadline < 1 || deadline > 3600)
        return fail(err, errlen, "config: limits.request_deadline_seconds must be 1..3600");
    if (conns < 1 || conns > 1000000)
        return fail(err, errlen, "config: limits.max_connections must be 1..1000000");
    if (pending < 1 || pending > 3600)
        return fail(err, errlen, "config: limits.idempotency_pending_seconds must be 1..3600");
    cfg->rate_per_second = rate;
    cfg->rate_burst = burst > 0.0 ? burst : rate < 1.0 ? 1.0 : rate;
    cfg->request_timeout_secs = timeout;
    cfg->request_deadline_secs = deadline;
    cfg->max_connections = (size_t)conns;
    cfg->idem_pending_secs = pending;
    return 0;
}

/* "cors": {"allow_origins": ["https://shop.example", ...]}: exact origins, scheme://host[:port]. */
static int load_cors(struct config *cfg, json_t *obj, char *err, size_t errlen)
{
    json_t *list = NULL, *v;
    size_t i;

    if (json_unpack(obj, "{s?o !}", "allow_origins", &list) != 0 ||
        (list != NULL && !json_is_array(list)))
        return fail(err, errlen, "config: cors takes an array allow_origins only");
    if (json_array_size(list) > CONFIG_ORIGINS_MAX)
        return fail(err, errlen, "config: cors.allow_origins holds at most %d origins",
                    CONFIG_ORIGINS_MAX);
    cfg->cors_origins = calloc(json_array_size(list) + 1, sizeof(*cfg->cors_origins));
    if (cfg->cors_origins == NULL)
        return fail(err, errlen, "config: out of memory");
    json_array_foreach(list, i, v)
    {
        const char *o = json_string_value(v);
        const char *host = o != NULL ? strstr(o, "://") : NULL;
        if (o == NULL || strlen(o) >= CONFIG_ORIGIN_SIZE || host == NULL || host[3] == '\0' ||
            strchr(host + 3, '/') != NULL ||
            (strncmp(o, "https://", 8) != 0 && strncmp(o, "http://", 7) != 0))
            return fail(err, errlen,
                        "config: cors.allow_origins[%zu] must be an origin: http(s)://host[:port], "
                        "no path",
                        i);
        snprintf(cfg->cors_origins[cfg->ncors++], CONFIG_ORIGIN_SIZE, "%s", o);
    }
    return 0;
}

static int load_read_cache(struct config *cfg, json_t *obj, char *err, size_t errlen)
{
    json_int_t entries = (json_int_t)cfg->read_cache_entries, age = cfg->read_cache_max_age_ms;

    if (json_unpack(obj, "{s?I, s?I !}", "entries", &entries, "max_age_ms", &age) != 0 ||
        entries < 0 || entries > 10000000 || age < 0 || age > 86400000)
        return fail(err, errlen,
                    "config: read_cache takes integers entries (0..10000000, 0 turns it off) and "
                    "max_age_ms (0..86400000, 0 for no limit)");
    cfg->read_cache_entries = (size_t)entries;
    cfg->read_cache_max_age_ms = age;
    return 0;
}

static int load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *keys = NULL, *resv = NULL, *rec = NULL, *thr = NULL, *ev = NULL, *lim = NULL;
    json_t *cors = NULL, *cache = NULL;
    json_int_t parts = cfg->partitions, low = cfg->low_stock;
    json_int_t clients = cfg->stream_max_clients, buffer = cfg->stream_buffer_bytes;
    json_int_t heartbeat = cfg->stream_heartbeat_ms, kept = cfg->events_maxlen;
    int rc = -1;

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return fail(err, errlen, "config: %s: %s (line %d)", path, jerr.text, jerr.line);
    if (json_unpack_ex(root, &jerr, 0, "{s?o, s?o, s?o, s?o, s?o, s?I, s?o, s?o, s?o !}",
                       "api_keys", &keys, "reservations", &resv, "recommendations", &rec,
                       "thresholds", &thr, "events", &ev, "partitions", &parts, "limits", &lim,
                       "cors", &cors, "read_cache", &cache) != 0) {
        fail(err, errlen, "config: %s: %s", path, jerr.text);
        goto out;
    }
    if (keys != NULL && load_keys(cfg, keys, err, errlen) != 0)
        goto out;
    if (resv != NULL && load_reservations(cfg, resv, err, errlen) != 0)
        goto out;
    if (rec != NULL && load_recommendations(cfg, rec, err, errlen) != 0)
        goto out;
    if (lim != NULL && load_limits(cfg, lim, err, errlen) != 0)
        goto out;
    if (cors != NULL && load_cors(cfg, cors, err, errlen) != 0)
        goto out;
    if (cache != NULL && load_read_cache(cfg, cache, err, errlen) != 0)
        goto out;
    if (thr != NULL && json_unpack(thr, "{s?I !}", "low_stock", &low) != 0) {
        fail(err, errlen, "config: thresholds takes an integer low_stock only");
        goto out;
    }
    if (low < 0 || parts < 1 || parts > 1024) {
        fail(err, errlen, "config: needs thresholds.low_stock >= 0 and 1 <= partitions <= 1024");
        goto out;
    }
    if (ev != NULL && (json_unpack(ev, "{s?I, s?I, s?I, s?I !}", "kept_per_partition", &kept,
                                   "stream_max_clients", &clients, "stream_buffer_bytes", &buffer,
                                   "stream_heartbeat_ms", &heartbeat) != 0 ||
                       kept < 1000 || clients < 1 || buffer < 4096 || heartbeat < 100)) {
        fail(err, errlen,
             "config: events takes integers kept_per_partition (>= 1000), stream_max_clients "
             "(>= 1), stream_buffer_bytes (>= 4096) and stream_heartbeat_ms (>= 100)");
        goto out;
    }
    cfg->low_stock = low;
    cfg->partitions = (unsigned)parts;
    cfg->events_maxlen = kept;
    cfg->stream_max_clients = clients;
    cfg->stream_buffer_bytes = buffer;
    cfg->stream_heartbeat_ms = heartbeat;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* A random key for development when there is no config file; printed once. */
static int make_dev_key(struct config *cfg, char *err, size_t errlen)
{
    unsigned char raw[24];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, raw, sizeof(raw));
    char hex[65];

    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof(raw))
        return fail(err, errlen, "cannot read /dev/urandom for a development key");
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(cfg->dev_key + 2 * i, 3, "%02x", raw[i]);
    cfg->keys = calloc(1, sizeof(*cfg->keys));
    if (cfg->keys == NULL)
        return fail(err, errlen, "out of memory");
    snprintf(cfg->keys[0].name, sizeof(cfg->keys[0].name), "dev-admin");
    cfg->keys[0].role = ROLE_ADMIN;
    sha256_hex(cfg->dev_key, strlen(cfg->dev_key), hex);
    hex_decode(hex, cfg->keys[0].sha256);
    cfg->nkeys = 1;
    return 0;
}

enum { OPT_LISTEN = 1, OPT_REDIS, OPT_CONFIG, OPT_MODULES, OPT_DATA, OPT_LOG_LEVEL, OPT_HELP };

struct settings {
    const char *listen, *redis, *config, *modules, *data, *log_level;
};

static void settings_from_env(struct settings *s)
{
    s->listen = getenv("OMNISTOCK_LISTEN");
    s->redis = getenv("OMNISTOCK_REDIS");
    s->config = getenv("OMNISTOCK_CONFIG");
    s->modules = getenv("OMNISTOCK_MODULES");
    s->data = getenv("OMNISTOCK_DATA");
    s->log_level = getenv("OMNISTOCK_LOG_LEVEL");
}

static int settings_from_flags(struct settings *s, int argc, char **argv, char *err, size_t errlen)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"modules", required_argument, NULL, OPT_MODULES},
        {"data", required_argument, NULL, OPT_DATA},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN:
            s->listen = optarg;
            break;
        case OPT_REDIS:
            s->redis = optarg;
            break;
        case OPT_CONFIG:
            s->config = optarg;
            break;
        case OPT_MODULES:
            s->modules = optarg;
            break;
        case OPT_DATA:
            s->data = optarg;
            break;
        case OPT_LOG_LEVEL:
            s->log_level = optarg;
            break;
        case 'h':
        case OPT_HELP:
            fputs(usage, stdout);
            return 1;
        default:
            return fail(err, errlen, "unknown or incomplete option '%s' (see --help)",
                        argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail(err, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
    return 0;
}

int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    struct settings s;
    int rc;

    config_defaults(cfg);
    settings_from_env(&s);
    rc = settings_from_flags(&s, argc, argv, err, errlen);
    if (rc != 0)
        return rc;
    if (s.config != NULL) {
        if (snprintf(cfg->config_path, sizeof(cfg->config_path), "%s", s.config) >=
            (int)sizeof(cfg->config_path))
            return fail(err, errlen, "--config: path too long");
        if (load_file(cfg, s.config, err, errlen) != 0)
            return -1;
    }
    if (s.listen != NULL && parse_listen(cfg, s.listen, err, errlen) != 0)
        return -1;
    if (s.redis != NULL) {
        if (*s.redis == '\0' || strlen(s.redis) >= sizeof(cfg->redis_url))
            return fail(err, errlen, "--redis: empty or too long");
        snprintf(cfg->redis_url, sizeof(cfg->redis_url), "%s", s.redis);
    }
    if (s.modules != NULL && parse_modules(cfg, s.modules, err, errlen) != 0)
        return -1;
    if (s.data != NULL) {
        if (*s.data == '\0' || strlen(s.data) >= sizeof(cfg->data_dir) - 64)
            return fail(err, errlen, "--data: empty or too long");
        snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", s.data);
    }
    if (s.log_level != NULL && log_set_level(s.log_level) != 0)
        return fail(err, errlen, "--log-level: '%s' is not debug, info, warn or error",
                    s.log_level);
    if (s.config == NULL)
        return make_dev_key(cfg, err, errlen);
    return 0;
}

void config_release(struct config *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->keys);
    free(cfg->sensitive_categories);
    free(cfg->cors_origins);
    cfg->keys = NULL;
    cfg->sensitive_categories = NULL;
    cfg->cors_origins = NULL;
    cfg->nkeys = cfg->nsensitive = cfg->ncors = 0;
}

const struct api_key *config_find_key(const struct config *cfg, const char *key, size_t len)
{
    struct sha256 h;
    unsigned char digest[32];
    const struct api_key *found = NULL;

    sha256_init(&h);
    sha256_update(&h, key, len);
    sha256_final(&h, digest);
    /* Compare against every key so the time taken says nothing about which matched. */
    for (size_t i = 0; i < cfg->nkeys; i++) {
        if (sha256_equal(digest, cfg->keys[i].sha256))
            found = &cfg->keys[i];
    }
    return found;
}
