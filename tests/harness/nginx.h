/*
 * nginx.h - nginx balancing two daemons, for the scale-out tests, with the
 * project's own deploy/nginx/omnistock.conf: its upstream ports and listen
 * port are replaced with the test's, the rest is used as shipped.
 *
 * nginx runs in the foreground as a child of the test (it dies with it),
 * with its pid file, logs and temp files in its own temporary directory.
 */
#ifndef TESTS_HARNESS_NGINX_H
#define TESTS_HARNESS_NGINX_H

#include <limits.h>
#include <sys/types.h>

struct harness_nginx {
    pid_t pid;
    int port; /* where it listens, on 127.0.0.1 */
    char dir[PATH_MAX];
};

/*
 * harness_nginx_start - nginx in front of the daemons on @port_a and @port_b,
 * ready once GET /healthz through it answers 200 (10 s at most, polled).
 * @return 0, or -1 (its error log printed, everything removed).
 */
int harness_nginx_start(struct harness_nginx *n, int port_a, int port_b);

/* harness_nginx_stop - stop it (SIGQUIT, then SIGKILL after 5 s) and remove its dir. */
int harness_nginx_stop(struct harness_nginx *n);

#endif
