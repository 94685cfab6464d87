/*
 * console_internal.h - the table of embedded files, generated at build time by
 * embed_files.cmake from the files under www/; for console.c and its tests.
 */
#ifndef CONSOLE_CONSOLE_INTERNAL_H
#define CONSOLE_CONSOLE_INTERNAL_H

#include <stddef.h>

struct console_file {
    const char *path;         /* relative to /console/, e.g. "app.js" */
    const char *content_type; /* e.g. "text/javascript; charset=utf-8" */
    const char *etag;         /* a strong ETag, quoted: a hash of the bytes */
    const unsigned char *data;
    size_t len;
};

extern const struct console_file console_files[];
extern const size_t console_nfiles;

/* console_file_find - the embedded file at @path (borrowed), or NULL. */
const struct console_file *console_file_find(const char *path);

#endif
