/*
 * console.h - the web console: static HTML, CSS and JavaScript compiled into
 * the daemon and served at /console/.
 *
 * Only the files embedded at build time are served (no filesystem access), each
 * with its Content-Type, an ETag, Cache-Control: no-cache,
 * X-Content-Type-Options: nosniff and a Content-Security-Policy that allows
 * nothing but the console's own files. The console itself talks to the /v1 API
 * with the API key its user signs in with.
 */
#ifndef CONSOLE_CONSOLE_H
#define CONSOLE_CONSOLE_H

struct http_server;

/*
 * console_routes - register GET /console (a redirect to /console/) and
 * GET /console/{*} (the files; "" is index.html) with @srv, as public routes.
 * Call before listening. @srv: borrowed.
 * @return 0, or -1 (the server has no room for more routes).
 */
int console_routes(struct http_server *srv);

#endif
