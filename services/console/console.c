/*
 * console.c - serve the web console's files at /console/.
 *
 * The files are a table compiled in at build time (console_internal.h). A
 * request names one by its path under /console/, compared byte for byte with
 * the names in the table, so nothing else can ever be served: there is no
 * filesystem access and no path to traverse ("/console/../x" names no file).
 * Every answer carries the same security headers; the Content-Security-Policy
 * lets the console load its own files and call its own origin, nothing more
 * (no inline script or style, no other site, no frames).
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/http.h"
#include "services/console/console.h"
#include "services/console/console_internal.h"

#define CONSOLE_CSP                                                                                \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "                    \
    "form-action 'self'; frame-ancestors 'none'"

const struct console_file *console_file_find(const char *path)
{
    if (path == NULL)
        return NULL;
    if (path[0] == '\0')
        path = "index.html";
    for (size_t i = 0; i < console_nfiles; i++) {
        if (strcmp(console_files[i].path, path) == 0)
            return &console_files[i];
    }
    return NULL;
}

static void add_security_headers(struct evhttp_request *ev)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(ev);

    evhttp_add_header(out, "Content-Security-Policy", CONSOLE_CSP);
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(out, "X-Frame-Options", "DENY");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
}

/* Whether If-None-Match (@header, may be NULL) names @etag, or is "*". */
static int etag_matches(const char *header, const char *etag)
{
    if (header == NULL)
        return 0;
    header += strspn(header, " \t");
    if (strcmp(header, "*") == 0)
        return 1;
    /* Our tags are quoted hex, so finding one in the list is matching it. */
    return strstr(header, etag) != NULL;
}

static void console_file_get(struct request *r)
{
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "If-None-Match");
    const struct console_file *f = console_file_find(r->params[0]);
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    struct evbuffer *buf;

    add_security_headers(r->ev);
    if (f == NULL) {
        request_reply_problem(r, PROBLEM_NOT_FOUND, NULL, NULL, "the console has no such file");
        return;
    }
    evhttp_add_header(out, "Cache-Control", "no-cache");
    evhttp_add_header(out, "ETag", f->etag);
    buf = evbuffer_new();
    if (buf == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    if (etag_matches(inm, f->etag)) {
        request_reply_raw(r, 304, NULL, buf);
        return;
    }
    /* The bytes are static: the buffer refers to them rather than copying. */
    if (evbuffer_add_reference(buf, f->data, f->len, NULL, NULL) != 0) {
        evbuffer_free(buf);
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    request_reply_raw(r, 200, f->content_type, buf);
}

/* GET /console: the console's relative links need the trailing slash. */
static void console_redirect(struct request *r)
{
    struct evbuffer *buf = evbuffer_new();

    add_security_headers(r->ev);
    if (buf == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Location", "/console/");
    evbuffer_add_printf(buf, "The console is at /console/\n");
    request_reply_raw(r, 301, "text/plain; charset=utf-8", buf);
}

static const struct route console_route_table[] = {
    {EVHTTP_REQ_GET, "/console", "console_redirect", 0, ROUTE_PUBLIC | ROUTE_RAW, console_redirect},
    {EVHTTP_REQ_GET, "/console/{*}", "console", 0, ROUTE_PUBLIC | ROUTE_RAW, console_file_get},
};

int console_routes(struct http_server *srv)
{
    return http_server_route(srv, console_route_table,
                             sizeof(console_route_table) / sizeof(console_route_table[0]), NULL);
}
