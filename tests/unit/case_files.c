/*
 * case_files.c - the codecs' data-driven cases.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/problem.h"
#include "tests/unit/case_files.h"

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;

    if (f == NULL)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* @return 1 if the case behaved as its first line says, else 0 after printing why. */
static int run_case(const char *dir, const char *path, const char *name, case_codec_fn *codec)
{
    char want_code[64], want_field[64];
    struct proto_error err = {0};
    size_t len;
    char *buf = read_whole(path, &len), *nl = memchr(buf, '\n', len);
    json_t *body;
    int rc = -1, pass;

    if (nl == NULL || sscanf(buf, "%63s %63s", want_code, want_field) != 2) {
        fprintf(stderr, "%s: first line must be \"<code|ok> <field|->\"\n", path);
        free(buf);
        return 0;
    }
    if (strcmp(want_field, "-") == 0)
        want_field[0] = '\0';
    body = proto_json_load(nl + 1, len - (size_t)(nl + 1 - buf), &err);
    if (body != NULL) {
        rc = codec(dir, body, &err);
        json_decref(body);
    }
    if (strcmp(want_code, "ok") == 0)
        pass = rc == 0;
    else
        pass = rc == -1 && strcmp(problem_slug(err.code), want_code) == 0 &&
               strcmp(err.field, want_field) == 0 && err.detail[0] != '\0';
    if (!pass)
        fprintf(stderr, "%s/%s: expected %s \"%s\", got %s \"%s\" (%s)\n", dir, name, want_code,
                want_field, rc == 0 ? "ok" : problem_slug(err.code), err.field, err.detail);
    free(buf);
    return pass;
}

void case_files_run(const char *const *dirs, size_t ndirs, case_codec_fn *codec)
{
    const char *root = getenv("OMNISTOCK_TEST_DATA");
    int run = 0, failed = 0;

    if (root == NULL)
        root = OMNISTOCK_TEST_DATA_DIR;
    for (size_t c = 0; c < ndirs; c++) {
        char dir[1024], path[1536];
        struct dirent *e;
        DIR *d;
        int here = 0;

        snprintf(dir, sizeof(dir), "%s/proto/%s", root, dirs[c]);
        if ((d = opendir(dir)) == NULL)
            fail_msg("cannot open %s", dir);
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            if (n > 5 && strcmp(e->d_name + n - 5, ".case") == 0) {
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                failed += !run_case(dirs[c], path, e->d_name, codec);
                here++;
            }
        }
        closedir(d);
        if (here == 0)
            fail_msg("no cases in %s", dir);
        run += here;
    }
    print_message("%d data cases, %d failed\n", run, failed);
    assert_int_equal(failed, 0);
}
