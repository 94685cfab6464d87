/*
 * nginx.c - see nginx.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/harness.h"
#include "tests/harness/nginx.h"

#ifndef OMNISTOCK_TEST_DATA_DIR
#define OMNISTOCK_TEST_DATA_DIR "tests/data"
#endif

#define READY_MS 10000
#define STOP_MS  5000

/* The shipped file, as omnistock.conf in @dir with the test's three ports in place of its own. */
static int write_site(const char *dir, int listen, int port_a, int port_b)
{
    static const struct {
        const char *from;
        int which; /* 0 listen, 1 and 2 the daemons */
    } swaps[] = {{"127.0.0.1:8080", 0}, {"127.0.0.1:8081", 1}, {"127.0.0.1:8082", 2}};
    char src[PATH_MAX], dst[PATH_MAX + 32], line[1024];
    int ports[3] = {listen, port_a, port_b}, found = 0;
    FILE *in, *out;

    snprintf(src, sizeof(src), "%s/../../deploy/nginx/omnistock.conf", OMNISTOCK_TEST_DATA_DIR);
    snprintf(dst, sizeof(dst), "%s/omnistock.conf", dir);
    in = fopen(src, "r");
    out = fopen(dst, "w");
    if (in == NULL || out == NULL) {
        fprintf(stderr, "harness: nginx: cannot read %s or write %s\n", src, dst);
        if (in != NULL)
            fclose(in);
        if (out != NULL)
            fclose(out);
        return -1;
    }
    while (fgets(line, sizeof(line), in) != NULL) {
        const size_t nswaps = sizeof(swaps) / sizeof(swaps[0]);
        char *hit = NULL;
        size_t i;

        for (i = 0; i < nswaps && line[strspn(line, " ")] != '#'; i++) {
            if ((hit = strstr(line, swaps[i].from)) != NULL)
                break;
        }
        if (hit != NULL) {
            fprintf(out, "%.*s127.0.0.1:%d%s", (int)(hit - line), line, ports[swaps[i].which],
                    hit + strlen(swaps[i].from));
            found |= 1 << swaps[i].which;
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    fclose(out);
    if (found != 7) {
        fprintf(stderr, "harness: nginx: %s no longer has the ports 8080, 8081 and 8082\n", src);
        return -1;
    }
    return 0;
}

/* The main config: a foreground nginx of one worker with everything in @dir. */
static int write_main(const char *dir)
{
    char path[PATH_MAX + 32];
    FILE *f;

    snprintf(path, sizeof(path), "%s/nginx.conf", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "daemon off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n  access_log off;\n"
            "  client_body_temp_path %s/tmp-body;\n  proxy_temp_path %s/tmp-proxy;\n"
            "  fastcgi_temp_path %s/tmp-fastcgi;\n  uwsgi_temp_path %s/tmp-uwsgi;\n"
            "  scgi_temp_path %s/tmp-scgi;\n  include %s/omnistock.conf;\n}\n",
            dir, dir, dir, dir, dir, dir, dir, dir);
    return fclose(f);
}

/* Whether GET /healthz through nginx answers 200. */
static int healthy(int port)
{
    struct harness probe = {.port = port, .timeout_ms = 1000};
    struct harness_response *r = harness_get(&probe, NULL, "/healthz");
    int ok = r->status == 200;

    harness_response_free(r);
    return ok;
}

int harness_nginx_start(struct harness_nginx *n, int port_a, int port_b)
{
    char conf[PATH_MAX + 32], log[PATH_MAX + 32];
    long long deadline;
    pid_t parent = getpid();

    memset(n, 0, sizeof(*n));
    snprintf(n->dir, sizeof(n->dir), "/tmp/omnistock-nginx-XXXXXX");
    if (mkdtemp(n->dir) == NULL) {
        fprintf(stderr, "harness: nginx: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    n->port = harness_free_port();
    snprintf(conf, sizeof(conf), "%s/nginx.conf", n->dir);
    snprintf(log, sizeof(log), "%s/error.log", n->dir);
    if (n->port < 0 || write_site(n->dir, n->port, port_a, port_b) != 0 || write_main(n->dir) != 0)
        goto fail;
    n->pid = fork();
    if (n->pid == 0) {
        char *argv[] = {"nginx", "-p", n->dir, "-c", conf, "-e", log, NULL};
        int null = open("/dev/null", O_RDWR);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent || null < 0)
            _exit(127);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execvp("nginx", argv);
        execv("/usr/sbin/nginx", argv);
        _exit(127);
    }
    if (n->pid < 0)
        goto fail;
    deadline = harness_now_ms() + READY_MS;
    while (harness_now_ms() < deadline) {
        if (waitpid(n->pid, NULL, WNOHANG) == n->pid) {
            fprintf(stderr, "harness: nginx exited at start-up\n");
            n->pid = 0;
            goto fail;
        }
        if (healthy(n->port))
            return 0;
        harness_sleep_ms(50);
    }
    fprintf(stderr, "harness: nginx not answering on %d in %d ms\n", n->port, READY_MS);
fail:
    harness_print_file_tail("nginx error log", log, 2000);
    harness_nginx_stop(n);
    return -1;
}

int harness_nginx_stop(struct harness_nginx *n)
{
    int rc = 0;

    if (n->pid > 0) {
        long long deadline = harness_now_ms() + STOP_MS;
        int gone = 0;

        kill(n->pid, SIGQUIT);
        while (!gone && harness_now_ms() < deadline) {
            gone = waitpid(n->pid, NULL, WNOHANG) == n->pid;
            if (!gone)
                harness_sleep_ms(20);
        }
        if (!gone) {
            kill(n->pid, SIGKILL);
            waitpid(n->pid, NULL, 0);
            rc = -1;
        }
        n->pid = 0;
    }
    harness_remove_tree(n->dir);
    return rc;
}
