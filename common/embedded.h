/*
 * embedded.h - the daemon's own redis-server: started on a private unix
 * socket under the state directory, with the append-only file on, restarted
 * if it dies, stopped when the daemon exits.
 */
#ifndef COMMON_EMBEDDED_H
#define COMMON_EMBEDDED_H

#include <stddef.h>

struct event_base;
struct embedded_redis;

/*
 * embedded_start - create @data_dir if needed, start redis-server (found on
 * PATH) on @data_dir/redis.sock and wait until it accepts connections.
 * @socket_path: receives the socket's absolute path.
 * @return a new handle, or NULL with one line in @err (redis-server missing,
 * directory not writable, server failed to start).
 */
struct embedded_redis *embedded_start(struct event_base *base, const char *data_dir,
                                      char *socket_path, size_t socket_path_size, char *err,
                                      size_t errlen);

/* embedded_stop - stop the server (SIGTERM, then SIGKILL after 10 s) and free. Accepts NULL. */
void embedded_stop(struct embedded_redis *e);

#endif
