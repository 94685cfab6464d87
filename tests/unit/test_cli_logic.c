/*
 * test_cli_logic.c - the command-line client's pure helpers: argument
 * parsing, exit codes, tables, the CSV reader, API keys (checked against the
 * daemon's own config loader) and the progress line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/sha256.h"
#include "services/cli/cli_logic.h"

/* ---- helpers ---- */

struct capture {
    char *text;
    size_t len;
    FILE *f;
};

static void capture_start(struct capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->f = open_memstream(&c->text, &c->len);
    assert_non_null(c->f);
}

static char *capture_end(struct capture *c)
{
    fclose(c->f);
    return c->text;
}

/* ---- arguments ---- */

static void test_cli_logic__options_values_flags_and_positionals(void **state)
{
    struct cli_opt opts[] = {{"location", 1, NULL, 0},
                             {"json", 0, NULL, 0},
                             {"limit", 1, NULL, 0},
                             {"help", 0, NULL, 0},
                             {NULL, 0, NULL, 0}};
    char *argv[] = {"MUG-01",    "--location", "store-leeds", "--json",
                    "--limit=5", "-",          "--",          "--not-an-option"};
    struct cli_args args;
    char err[128];

    (void)state;
    assert_int_equal(cli_args_parse(8, argv, opts, &args, err, sizeof(err)), 0);
    assert_string_equal(cli_opt_get(opts, "location"), "store-leeds");
    assert_string_equal(cli_opt_get(opts, "json"), "1");
    assert_string_equal(cli_opt_get(opts, "limit"), "5");
    assert_null(cli_opt_get(opts, "help"));
    assert_int_equal(args.npos, 3);
    assert_string_equal(args.pos[0], "MUG-01");
    assert_string_equal(args.pos[1], "-");
    assert_string_equal(args.pos[2], "--not-an-option");
}

static void test_cli_logic__bad_options_are_named(void **state)
{
    struct cli_opt opts[] = {{"limit", 1, NULL, 0}, {"json", 0, NULL, 0}, {NULL, 0, NULL, 0}};
    char *unknown[] = {"--limt", "5"};
    char *missing[] = {"--limit"};
    char *flag_value[] = {"--json=yes"};
    char *short_opt[] = {"-x"};
    struct cli_args args;
    char err[128];

    (void)state;
    assert_int_equal(cli_args_parse(2, unknown, opts, &args, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "--limt"));
    assert_int_equal(cli_args_parse(1, missing, opts, &args, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_equal(cli_args_parse(1, flag_value, opts, &args, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "takes no value"));
    assert_int_equal(cli_args_parse(1, short_opt, opts, &args, err, sizeof(err)), -1);
}

static void test_cli_logic__integers_are_whole_and_in_range(void **state)
{
    long long v;

    (void)state;
    assert_int_equal(cli_parse_int("42", 1, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cli_parse_int("-3", -10, 10, &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(cli_parse_int("0", 1, 100, &v), -1);
    assert_int_equal(cli_parse_int("101", 1, 100, &v), -1);
    assert_int_equal(cli_parse_int("1.5", 1, 100, &v), -1);
    assert_int_equal(cli_parse_int("12abc", 1, 100, &v), -1);
    assert_int_equal(cli_parse_int(" 1", 1, 100, &v), -1);
    assert_int_equal(cli_parse_int("+1", 1, 100, &v), -1);
    assert_int_equal(cli_parse_int("", 1, 100, &v), -1);
    assert_int_equal(cli_parse_int("99999999999999999999", 1, 100, &v), -1);
}

static void test_cli_logic__line_specs_default_to_one(void **state)
{
    char sku[65], err[128];
    long long q;

    (void)state;
    assert_int_equal(cli_parse_line_spec("MUG-01", sku, &q, err, sizeof(err)), 0);
    assert_string_equal(sku, "MUG-01");
    assert_int_equal(q, 1);
    assert_int_equal(cli_parse_line_spec("TEA.1_x:12", sku, &q, err, sizeof(err)), 0);
    assert_string_equal(sku, "TEA.1_x");
    assert_int_equal(q, 12);
    assert_int_equal(cli_parse_line_spec("MUG-01:0", sku, &q, err, sizeof(err)), -1);
    assert_int_equal(cli_parse_line_spec("MUG-01:two", sku, &q, err, sizeof(err)), -1);
    assert_int_equal(cli_parse_line_spec(":2", sku, &q, err, sizeof(err)), -1);
    assert_int_equal(cli_parse_line_spec("MUG 01:2", sku, &q, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "MUG 01"));
}

static void test_cli_logic__exit_codes_follow_the_status(void **state)
{
    (void)state;
    assert_int_equal(cli_exit_for_status(200), CLI_EXIT_OK);
    assert_int_equal(cli_exit_for_status(201), CLI_EXIT_OK);
    assert_int_equal(cli_exit_for_status(404), CLI_EXIT_REJECTED);
    assert_int_equal(cli_exit_for_status(409), CLI_EXIT_REJECTED);
    assert_int_equal(cli_exit_for_status(401), CLI_EXIT_AUTH);
    assert_int_equal(cli_exit_for_status(403), CLI_EXIT_AUTH);
    assert_int_equal(cli_exit_for_status(503), CLI_EXIT_UNAVAILABLE);
    assert_int_equal(cli_exit_for_status(0), CLI_EXIT_UNAVAILABLE);
    assert_true(cli_id_valid("store-leeds"));
    assert_false(cli_id_valid(""));
    assert_false(cli_id_valid("../admin"));
    assert_true(cli_channel_valid("click_collect"));
    assert_false(cli_channel_valid("Web"));
}

/* ---- tables ---- */

static void test_cli_logic__tables_align_columns_by_display_width(void **state)
{
    static const char *const headers[] = {"LOCATION", ">AVAILABLE", "NAME"};
    static const char *const r1[] = {"wh-central", "99", "Café"};
    static const char *const r2[] = {"york", "1234", NULL};
    struct cli_table *t = cli_table_new(3, headers);
    struct capture c;
    char *out;

    (void)state;
    cli_table_add(t, r1);
    cli_table_add(t, r2);
    assert_int_equal(cli_table_rows(t), 2);
    capture_start(&c);
    cli_table_print(t, c.f, 2);
    out = capture_end(&c);
    assert_string_equal(out, "  LOCATION    AVAILABLE  NAME\n"
                             "  wh-central         99  Café\n"
                             "  york             1234  -\n");
    free(out);
    cli_table_free(t);
}

static void test_cli_logic__tables_leave_no_trailing_spaces(void **state)
{
    static const char *const headers[] = {"SKU", "NOTE"};
    static const char *const r1[] = {"A-LONGER-SKU", ""};
    struct cli_table *t = cli_table_new(2, headers);
    struct capture c;
    char *out;

    (void)state;
    cli_table_add(t, r1);
    capture_start(&c);
    cli_table_print(t, c.f, 0);
    out = capture_end(&c);
    assert_string_equal(out, "SKU           NOTE\nA-LONGER-SKU\n");
    free(out);
    cli_table_free(t);
}

/* ---- CSV ---- */

/* Read every record of @text: "line:f1|f2|...;" per record, or "ERR:line;" on an error. */
static char *csv_all(const char *text)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    struct cli_buf out = {0};
    struct cli_csv c;
    char err[128];
    long line;
    enum cli_csv_result r;

    assert_non_null(in);
    cli_csv_init(&c, in);
    while ((r = cli_csv_next(&c, &line, err, sizeof(err))) != CLI_CSV_EOF) {
        if (r == CLI_CSV_ERROR) {
            cli_buf_printf(&out, "ERR:%ld;", line);
            break;
        }
        cli_buf_printf(&out, "%ld:", line);
        for (size_t i = 0; i < c.nfields; i++)
            cli_buf_printf(&out, "%s%s", i ? "|" : "", c.fields[i]);
        cli_buf_add(&out, ";", 1);
    }
    cli_csv_release(&c);
    fclose(in);
    return out.data != NULL ? out.data : strdup("");
}

static void assert_csv(const char *text, const char *want)
{
    char *got = csv_all(text);

    assert_string_equal(got, want);
    free(got);
}

static void test_cli_logic__csv_reads_plain_records_with_line_numbers(void **state)
{
    (void)state;
    assert_csv("a,b,c\n1,2,3\n", "1:a|b|c;2:1|2|3;");
    assert_csv("a,b\n1,2", "1:a|b;2:1|2;");       /* no final newline */
    assert_csv("a,b\r\n1,2\r\n", "1:a|b;2:1|2;"); /* CRLF */
    assert_csv("a,b\n\n\n1,2\n", "1:a|b;4:1|2;"); /* empty lines skipped, counted */
    assert_csv("a,b\n,\n1,2\n", "1:a|b;3:1|2;");  /* a row of empty fields is skipped */
    assert_csv("a,,c\n", "1:a||c;");
    assert_csv("  a , b\t,c \n", "1:a|b|c;"); /* unquoted fields are trimmed */
    assert_csv("", "");
}

static void test_cli_logic__csv_quoted_fields_hold_commas_quotes_and_lines(void **state)
{
    (void)state;
    assert_csv("\"a,b\",c\n", "1:a,b|c;");
    assert_csv("\"say \"\"hi\"\"\",x\n", "1:say \"hi\"|x;");
    assert_csv("\"two\nlines\",x\nnext,y\n", "1:two\nlines|x;3:next|y;");
    assert_csv("\"  kept  \",x\n", "1:  kept  |x;");
    assert_csv(" \"q\" ,x\n", "1:q|x;");
    assert_csv("\"\",x\n", "1:|x;");
    assert_csv("\xEF\xBB\xBFsku,name\n", "1:sku|name;"); /* byte-order mark */
}

static void test_cli_logic__csv_unterminated_quote_is_an_error(void **state)
{
    (void)state;
    assert_csv("a,b\n\"open,2\nmore\n", "1:a|b;ERR:2;");
}

/* ---- keys ---- */

static void test_cli_logic__base64url_matches_rfc4648(void **state)
{
    static const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char out[16];

    (void)state;
    cli_base64url((const unsigned char *)"f", 1, out);
    assert_string_equal(out, "Zg");
    cli_base64url((const unsigned char *)"fo", 2, out);
    assert_string_equal(out, "Zm8");
    cli_base64url((const unsigned char *)"foo", 3, out);
    assert_string_equal(out, "Zm9v");
    cli_base64url((const unsigned char *)"foobar", 6, out);
    assert_string_equal(out, "Zm9vYmFy");
    cli_base64url(bytes, 3, out);
    assert_string_equal(out, "-_-_");
    cli_base64url(bytes, 2, out);
    assert_string_equal(out, "-_8");
}

/* Load @entries as the daemon would and return the key that matches @key, or NULL. */
static const struct api_key *load_config(struct config *cfg, const char *entries, const char *key)
{
    char path[] = "/tmp/omnistock-cli-config-XXXXXX";
    char err[256];
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    char *argv[] = {"omnistockd", "--config", path, NULL};
    int rc;

    assert_non_null(f);
    fprintf(f, "{\"api_keys\": [%s]}\n", entries);
    fclose(f);
    rc = config_load(cfg, 3, argv, err, sizeof(err));
    unlink(path);
    if (rc != 0)
        fail_msg("config_load refused the config line: %s", err);
    return config_find_key(cfg, key, strlen(key));
}

static void test_cli_logic__key_config_line_is_what_the_daemon_loads(void **state)
{
    const char *key = "pAt2oKDK5wEKEix_Q2sKz85P5FsIUXFSgO1nxZSSmVc";
    char err[256], hex[65], *store, *agent, both[1024];
    struct config cfg;
    const struct api_key *k;

    (void)state;
    store = cli_key_config(key, "store", "store-leeds", "leeds-till-2", err, sizeof(err));
    agent = cli_key_config("another-key", "agent", NULL, NULL, err, sizeof(err));
    assert_non_null(store);
    assert_non_null(agent);
    sha256_hex(key, strlen(key), hex);
    assert_non_null(strstr(store, hex));
    assert_null(strchr(store, '\n'));
    assert_null(strstr(store, key)); /* the key itself is never in the config */
    snprintf(both, sizeof(both), "%s, %s", store, agent);

    k = load_config(&cfg, both, key);
    assert_non_null(k);
    assert_string_equal(k->name, "leeds-till-2");
    assert_int_equal(k->role, ROLE_STORE);
    assert_string_equal(k->location, "store-leeds");
    assert_null(config_find_key(&cfg, "wrong", 5));
    k = config_find_key(&cfg, "another-key", 11);
    assert_non_null(k);
    assert_int_equal(k->role, ROLE_AGENT);
    sha256_hex("another-key", 11, hex);
    assert_memory_equal(k->name, "agent-", 6);
    assert_memory_equal(k->name + 6, hex, 8); /* the default name: role and hash prefix */
    config_release(&cfg);
    free(store);
    free(agent);
}

static void test_cli_logic__key_config_refuses_what_the_daemon_would(void **state)
{
    char err[256];

    (void)state;
    assert_null(cli_key_config("k", "root", NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "--role"));
    assert_null(cli_key_config("k", "store", NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "--location"));
    assert_null(cli_key_config("k", "agent", "store-leeds", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "only for store keys"));
    assert_null(cli_key_config("k", "admin", NULL, "two words", err, sizeof(err)));
    assert_non_null(strstr(err, "--name"));
}

/* ---- progress ---- */

static void test_cli_logic__progress_shows_bar_percent_and_counts(void **state)
{
    char line[256];

    (void)state;
    cli_progress_line(line, sizeof(line), 80, 50, 100, 5000, 3);
    assert_non_null(strstr(line, " 50%"));
    assert_non_null(strstr(line, "5000 rows, 3 rejected"));
    assert_non_null(strstr(line, "[####"));
    assert_true(strlen(line) <= 80);
    cli_progress_line(line, sizeof(line), 80, 123, 0, 7, 0); /* a pipe: size unknown */
    assert_string_equal(line, "7 rows, 0 rejected");
    cli_progress_line(line, sizeof(line), 30, 100, 100, 1, 0); /* too narrow for a bar */
    assert_null(strchr(line, '['));
    assert_non_null(strstr(line, "100%"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_logic__options_values_flags_and_positionals),
        cmocka_unit_test(test_cli_logic__bad_options_are_named),
        cmocka_unit_test(test_cli_logic__integers_are_whole_and_in_range),
        cmocka_unit_test(test_cli_logic__line_specs_default_to_one),
        cmocka_unit_test(test_cli_logic__exit_codes_follow_the_status),
        cmocka_unit_test(test_cli_logic__tables_align_columns_by_display_width),
        cmocka_unit_test(test_cli_logic__tables_leave_no_trailing_spaces),
        cmocka_unit_test(test_cli_logic__csv_reads_plain_records_with_line_numbers),
        cmocka_unit_test(test_cli_logic__csv_quoted_fields_hold_commas_quotes_and_lines),
        cmocka_unit_test(test_cli_logic__csv_unterminated_quote_is_an_error),
        cmocka_unit_test(test_cli_logic__base64url_matches_rfc4648),
        cmocka_unit_test(test_cli_logic__key_config_line_is_what_the_daemon_loads),
        cmocka_unit_test(test_cli_logic__key_config_refuses_what_the_daemon_would),
        cmocka_unit_test(test_cli_logic__progress_shows_bar_percent_and_counts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
