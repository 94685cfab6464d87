/*
 * log.h - one line per event, key=value, on stderr.
 *
 *   log_info("event=listen addr=%s", addr);
 *   -> ts=2026-11-22T10:00:00.123Z level=info event=listen addr=127.0.0.1:8080
 *
 * The macros check the level before evaluating their arguments. Never pass a
 * secret (API keys, passwords) to a log call.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
};

extern enum log_level log_min_level;

/* log_set_level - "debug", "info", "warn" or "error". @return 0, or -1 if unknown. */
int log_set_level(const char *name);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= log_min_level)                                                              \
            log_write((level), __VA_ARGS__);                                                       \
    } while (0)

#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

#endif
