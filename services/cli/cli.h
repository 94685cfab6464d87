/*
 * cli.h - what the commands of `omnistock` share: the connection settings,
 * output mode, and the helpers that turn an HTTP answer into output and an
 * exit code. The commands live in cli_main.c and cli_import.c.
 */
#ifndef SERVICES_CLI_CLI_H
#define SERVICES_CLI_CLI_H

#include <stdio.h>

#include "services/cli/cli_http.h"
#include "services/cli/cli_logic.h"

/* The global options, after flags and environment were applied. */
struct cli_ctx {
    const char *url;
    const char *key;
    int json;      /* --json: print the server's JSON for scripts */
    int timeout_s; /* --timeout */
};

/* The global options every command also accepts, in a struct cli_opt list. */
/* clang-format off */
#define CLI_GLOBAL_OPTS                                                                            \
    {"url", 1, NULL, 0}, {"key", 1, NULL, 0}, {"json", 0, NULL, 0}, {"timeout", 1, NULL, 0},       \
    {"help", 0, NULL, 0}
/* clang-format on */

/* cli_usage_error - "omnistock: <msg>" and the command's usage hint on stderr. @return 2. */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * cli_connect - a client for ctx->url with ctx->key. @return new, or NULL
 * after printing why (the URL is unusable: exit code 2).
 */
struct cli_http *cli_connect(const struct cli_ctx *ctx, int nconn);

/*
 * cli_fail - report an answer that is not a success: the problem's title and
 * detail (or why no answer came) on stderr, and with --json the problem
 * JSON on stdout. @return the exit code for it.
 */
int cli_fail(const struct cli_ctx *ctx, const struct cli_http *h, const struct cli_response *res);

/* cli_import_main - `omnistock import KIND FILE`. @return the exit code. */
int cli_import_main(struct cli_ctx *ctx, int argc, char **argv);

#endif
