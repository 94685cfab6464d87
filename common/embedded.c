/*
 * embedded.c - start, supervise and stop a private redis-server.
 *
 * The child is put in its own process group, so a Ctrl-C at the terminal
 * reaches only the daemon, which then finishes its requests before stopping
 * Redis; and it is asked to die with its parent, so a killed daemon does not
 * leave a server holding the data directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/embedded.h"
#include "common/log.h"

struct embedded_redis {
    struct event_base *base;
    char binary[PATH_MAX];
    char dir[PATH_MAX];
    char socket[108];
    pid_t pid;
    int stopping;
    struct event *sigchld;
    struct event *restart;
};

static int find_binary(const char *name, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char buf[4096];
    char *save = NULL;

    if (path == NULL || strlen(path) >= sizeof(buf))
        return -1;
    strcpy(buf, path);
    for (char *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        if ((size_t)snprintf(out, outlen, "%s/%s", *dir ? dir : ".", name) >= outlen)
            continue;
        if (access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];

    if (strlen(path) >= sizeof(buf))
        return -1;
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static pid_t spawn(struct embedded_redis *e)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    /* Child. */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)
        _exit(1);
    {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
    }
    execl(e->binary, "redis-server", "--port", "0", "--unixsocket", e->socket, "--unixsocketperm",
          "700", "--dir", e->dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
          "--daemonize", "no", "--logfile", "redis.log", "--pidfile", "redis.pid", (char *)NULL);
    _exit(127);
}

static int socket_accepts(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok;

    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* Wait up to 10 s for the socket; @return 0, or -1 if the child died or never came up. */
static int wait_ready(struct embedded_redis *e, char *err, size_t errlen)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    int status;

    for (int i = 0; i < 500; i++) {
        if (socket_accepts(e->socket))
            return 0;
        if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
            e->pid = 0;
            snprintf(err, errlen, "redis-server exited at start (status %d); see %s/redis.log",
                     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), e->dir);
            return -1;
        }
        nanosleep(&pause, NULL);
    }
    snprintf(err, errlen, "redis-server did not open %s within 10 s; see %s/redis.log", e->socket,
             e->dir);
    return -1;
}

/* A server left behind by a daemon that was killed: stop it before starting ours. */
static void stop_leftover(struct embedded_redis *e)
{
    char path[PATH_MAX + 16], cmdline[256] = "";
    FILE *f;
    long pid = 0;

    snprintf(path, sizeof(path), "%s/redis.pid", e->dir);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid <= 1)
        return;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fgets(cmdline, sizeof(cmdline), f) == NULL)
        cmdline[0] = '\0';
    fclose(f);
    if (strstr(cmdline, "redis-server") == NULL)
        return;
    log_warn("event=embedded_leftover pid=%ld action=stop", pid);
    kill((pid_t)pid, SIGTERM);
    for (int i = 0; i < 500 && kill((pid_t)pid, 0) == 0; i++) {
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

static void on_restart(evutil_socket_t fd, short what, void *arg)
{
    struct embedded_redis *e = arg;

    (void)fd;
    (void)what;
    if (e->stopping || e->pid != 0)
        return;
    e->pid = spawn(e);
    if (e->pid < 0) {
        struct timeval again = {1, 0};
        e->pid = 0;
        evtimer_add(e->restart, &again);
        return;
    }
    log_info("event=embedded_restarted pid=%ld", (long)e->pid);
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
    struct embedded_redis *e = arg;
    struct timeval later = {1, 0};
    int status;

    (void)fd;
    (void)what;
    if (e->pid == 0 || waitpid(e->pid, &status, WNOHANG) != e->pid)
        return;
    e->pid = 0;
    if (e->stopping)
        return;
    log_error("event=embedded_exited status=%d action=restart_in_1s",
              WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    evtimer_add(e->restart, &later);
}

struct embedded_redis *embedded_start(struct event_base *base, const char *data_dir,
                                      char *socket_path, size_t socket_path_size, char *err,
                                      size_t errlen)
{
    struct embedded_redis *e = calloc(1, sizeof(*e));

    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->base = base;
    if (find_binary("redis-server", e->binary, sizeof(e->binary)) != 0) {
        snprintf(err, errlen,
                 "redis-server not found on PATH: install it (Debian: apt-get "
                 "install redis-server) or pass --redis URL");
        goto err;
    }
    if (mkdir_p(data_dir) != 0 || realpath(data_dir, e->dir) == NULL) {
        snprintf(err, errlen, "cannot create state directory %s: %s", data_dir, strerror(errno));
        goto err;
    }
    if ((size_t)snprintf(e->socket, sizeof(e->socket), "%s/redis.sock", e->dir) >=
        sizeof(e->socket)) {
        snprintf(err, errlen, "state directory path too long for a unix socket: %s", e->dir);
        goto err;
    }
    stop_leftover(e);
    e->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, e);
    e->restart = evtimer_new(base, on_restart, e);
    if (e->sigchld == NULL || e->restart == NULL || evsignal_add(e->sigchld, NULL) != 0) {
        snprintf(err, errlen, "cannot watch SIGCHLD");
        goto err;
    }
    e->pid = spawn(e);
    if (e->pid < 0) {
        e->pid = 0;
        snprintf(err, errlen, "cannot start redis-server: %s", strerror(errno));
        goto err;
    }
    if (wait_ready(e, err, errlen) != 0)
        goto err;
    snprintf(socket_path, socket_path_size, "%s", e->socket);
    log_info("event=embedded_started pid=%ld socket=%s dir=%s", (long)e->pid, e->socket, e->dir);
    return e;
err:
    embedded_stop(e);
    return NULL;
}

void embedded_stop(struct embedded_redis *e)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    int status;

    if (e == NULL)
        return;
    e->stopping = 1;
    if (e->pid > 0) {
        kill(e->pid, SIGTERM);
        for (int i = 0; i < 500; i++) {
            if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
                e->pid = 0;
                break;
            }
            nanosleep(&pause, NULL);
        }
        if (e->pid > 0) {
            kill(e->pid, SIGKILL);
            waitpid(e->pid, &status, 0);
        }
        log_info("event=embedded_stopped");
    }
    if (e->sigchld)
        event_free(e->sigchld);
    if (e->restart)
        event_free(e->restart);
    free(e);
}
