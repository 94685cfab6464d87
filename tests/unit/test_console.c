/*
 * test_console.c - the console's table of embedded files: which names find a
 * file (only the embedded ones, byte for byte), and that every file carries a
 * content type and an ETag.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "services/console/console_internal.h"

static void test_console__empty_path_is_the_index(void **state)
{
    const struct console_file *f = console_file_find("");

    (void)state;
    assert_non_null(f);
    assert_string_equal(f->path, "index.html");
    assert_ptr_equal(console_file_find("index.html"), f);
    assert_string_equal(f->content_type, "text/html; charset=utf-8");
}

static void test_console__only_embedded_names_find_a_file(void **state)
{
    static const char *const refused[] = {
        "../index.html", "./index.html", "/index.html", "index.html/", "INDEX.HTML",
        "index.html?x",  "%2e%2e/x",     "..",          "www/app.js",  "app.js.map",
    };

    (void)state;
    assert_null(console_file_find(NULL));
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_null(console_file_find(refused[i]));
    assert_non_null(console_file_find("app.js"));
    assert_non_null(console_file_find("console.css"));
}

static void test_console__every_file_has_a_type_and_an_etag(void **state)
{
    (void)state;
    assert_true(console_nfiles > 0);
    for (size_t i = 0; i < console_nfiles; i++) {
        const struct console_file *f = &console_files[i];
        const char *dot = strrchr(f->path, '.');
        size_t tag = strlen(f->etag);

        assert_non_null(dot);
        assert_true(f->len > 0);
        if (strcmp(dot, ".js") == 0)
            assert_string_equal(f->content_type, "text/javascript; charset=utf-8");
        else if (strcmp(dot, ".css") == 0)
            assert_string_equal(f->content_type, "text/css; charset=utf-8");
        assert_true(tag > 2);
        assert_int_equal(f->etag[0], '"');
        assert_int_equal(f->etag[tag - 1], '"');
        assert_int_equal(strspn(f->etag + 1, "0123456789abcdef"), tag - 2);
        assert_ptr_equal(console_file_find(f->path), f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console__empty_path_is_the_index),
        cmocka_unit_test(test_console__only_embedded_names_find_a_file),
        cmocka_unit_test(test_console__every_file_has_a_type_and_an_etag),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
