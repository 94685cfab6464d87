/*
 * fuzz_config.c - the config loader: the input is written to a temporary
 * file and read by config_load("--config", file), as omnistockd does at
 * start-up; config_release frees whatever it built, success or not.
 */
#include <unistd.h>

#include "common/config.h"
#include "tests/fuzz/fuzz.h"

static char path[64];
static int fd = -1;

static void remove_file(void)
{
    unlink(path);
}

/* The file, made once; and no OMNISTOCK_* setting of the caller's gets in the way. */
static void setup(void)
{
    static const char *const vars[] = {"OMNISTOCK_LISTEN", "OMNISTOCK_REDIS",
                                       "OMNISTOCK_CONFIG", "OMNISTOCK_MODULES",
                                       "OMNISTOCK_DATA",   "OMNISTOCK_LOG_LEVEL"};

    /* In memory when there is a /dev/shm: a file per input is the slow part of this harness. */
    snprintf(path, sizeof(path), "%s/omnistock-fuzz-config-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    fd = mkstemp(path);
    FUZZ_CHECK(fd >= 0);
    atexit(remove_file);
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        unsetenv(vars[i]);
    }
}

static void check_config(const struct config *cfg)
{
    FUZZ_CHECK(cfg->partitions >= 1 && cfg->partitions <= 1024);
    FUZZ_CHECK(cfg->default_ttl_seconds >= 1 && cfg->default_ttl_seconds <= cfg->max_ttl_seconds);
    FUZZ_CHECK(cfg->max_items >= 0 && cfg->max_items <= 10);
    FUZZ_CHECK(cfg->low_stock >= 0);
    FUZZ_CHECK(cfg->rate_per_second >= 0.0 && cfg->rate_per_second <= 1e6);
    FUZZ_CHECK(cfg->rate_per_second == 0.0 || cfg->rate_burst >= 1.0);
    FUZZ_CHECK(cfg->request_timeout_secs >= 1 && cfg->request_timeout_secs <= 3600);
    FUZZ_CHECK(cfg->request_deadline_secs >= 1 && cfg->request_deadline_secs <= 3600);
    FUZZ_CHECK(cfg->max_connections >= 1 && cfg->max_connections <= 1000000);
    FUZZ_CHECK(cfg->claim_after_ms >= 100 && cfg->claim_after_ms <= 86400000);
    for (size_t i = 0; i < cfg->nkeys; i++) {
        fuzz_check_id(cfg->keys[i].name);
        FUZZ_CHECK(strcmp(role_name(cfg->keys[i].role), "unknown") != 0);
        FUZZ_CHECK((cfg->keys[i].role == ROLE_STORE) == (cfg->keys[i].location[0] != '\0'));
    }
    for (size_t i = 0; i < cfg->nsensitive; i++) {
        FUZZ_CHECK(memchr(cfg->sensitive_categories[i], '\0', PROTO_ID_SIZE) != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[] = {"omnistockd", "--config", path, NULL};
    struct config cfg;
    char err[256];

    if (fd < 0) {
        setup();
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
    err[0] = '\0';
    if (config_load(&cfg, 3, argv, err, sizeof(err)) == 0) {
        check_config(&cfg);
    } else {
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
    }
    config_release(&cfg);
    return 0;
}
