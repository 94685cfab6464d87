/*
 * test_cli_rows.c - import rows: CSV headers, rows turned into API bodies,
 * the local checks, orders grouped from CSV rows, and the summary a user
 * reads (counts, and each rejected row with its number and reason).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/cli/cli_logic.h"
#include "services/cli/cli_rows.h"

static void columns(enum cli_import_kind kind, const char *header, struct cli_columns *cols)
{
    char *copy = strdup(header), *fields[16], *save = NULL;
    size_t n = 0;
    char err[256];

    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save))
        fields[n++] = t;
    if (cli_columns_parse(kind, fields, n, cols, err, sizeof(err)) != 0)
        fail_msg("header %s: %s", header, err);
    free(copy);
}

/* Split @row on commas (no quoting: enough for these tests) into @fields. */
static size_t split(char *row, char **fields)
{
    size_t n = 0;
    char *p = row;

    for (;;) {
        char *comma = strchr(p, ',');
        fields[n++] = p;
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static void assert_json(json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, 0, NULL);

    assert_non_null(want);
    assert_non_null(got);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT);
        fail_msg("got %s, want %s", g, want_text);
    }
    json_decref(want);
}

static void test_cli_rows__header_names_columns_in_any_order(void **state)
{
    char *ok[] = {"SKU", "quantity", "location"};
    char *missing[] = {"sku", "location"};
    char *unknown[] = {"location", "sku", "qty"};
    char *twice[] = {"location", "sku", "quantity", "sku"};
    struct cli_columns cols;
    char err[256];

    (void)state;
    /* names match without case, in any order */
    assert_int_equal(cli_columns_parse(CLI_IMPORT_STOCK, ok, 3, &cols, err, sizeof(err)), 0);
    assert_int_equal(cols.nfields, 3);
    assert_int_equal(cli_columns_parse(CLI_IMPORT_STOCK, missing, 2, &cols, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no 'quantity' column"));
    assert_int_equal(cli_columns_parse(CLI_IMPORT_STOCK, unknown, 3, &cols, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown column 'qty'"));
    assert_int_equal(cli_columns_parse(CLI_IMPORT_STOCK, twice, 4, &cols, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "twice"));
}

static void test_cli_rows__product_rows_become_put_bodies(void **state)
{
    struct cli_columns cols;
    char row[] = "MUG-01,Stoneware mug,kitchen,1200,GBP,1";
    char row2[] = "MUG-02,Mug two,kitchen,999,GBP,";
    char *f[16], sku[65], err[256];
    json_t *body;

    (void)state;
    columns(CLI_IMPORT_PRODUCTS, "sku,name,category,price,currency,safety_stock", &cols);
    body = cli_product_from_csv(&cols, f, split(row, f), sku, err, sizeof(err));
    assert_string_equal(sku, "MUG-01");
    assert_json(body, "{\"name\": \"Stoneware mug\", \"category\": \"kitchen\", \"price\": "
                      "{\"amount\": 1200, \"currency\": \"GBP\"}, \"safety_stock\": 1}");
    json_decref(body);
    body = cli_product_from_csv(&cols, f, split(row2, f), sku, err, sizeof(err));
    assert_null(json_object_get(body, "safety_stock")); /* empty optional: left out */
    json_decref(body);
}

static void test_cli_rows__product_rows_refused_locally_say_why(void **state)
{
    struct cli_columns cols;
    char price[] = "MUG-01,Mug,kitchen,12.00,GBP";
    char sku_bad[] = "MUG 01,Mug,kitchen,1200,GBP";
    char empty[] = "MUG-01,,kitchen,1200,GBP";
    char short_row[] = "MUG-01,Mug,kitchen";
    char *f[16], sku[65], err[256];

    (void)state;
    columns(CLI_IMPORT_PRODUCTS, "sku,name,category,price,currency", &cols);
    assert_null(cli_product_from_csv(&cols, f, split(price, f), sku, err, sizeof(err)));
    assert_non_null(strstr(err, "price '12.00' is not a whole number of minor units"));
    assert_null(cli_product_from_csv(&cols, f, split(sku_bad, f), sku, err, sizeof(err)));
    assert_non_null(strstr(err, "sku 'MUG 01' is not an identifier"));
    assert_null(cli_product_from_csv(&cols, f, split(empty, f), sku, err, sizeof(err)));
    assert_string_equal(err, "name is empty");
    assert_null(cli_product_from_csv(&cols, f, split(short_row, f), sku, err, sizeof(err)));
    assert_string_equal(err, "expected 5 fields as in the header, found 3");
}

static void test_cli_rows__movement_rows_default_to_receipt(void **state)
{
    struct cli_columns cols;
    char r1[] = "wh-1,MUG-01,,10,,";
    char r2[] = "wh-1,MUG-01,adjustment,-2,damaged,";
    char r3[] = "wh-1,MUG-01,transfer,3,,store-leeds";
    char r4[] = "wh-1,MUG-01,receipt,ten,,";
    char *f[16], err[256];
    json_t *m;

    (void)state;
    columns(CLI_IMPORT_STOCK, "location,sku,type,quantity,reason,to_location", &cols);
    m = cli_movement_from_csv(&cols, f, split(r1, f), err, sizeof(err));
    assert_json(m, "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"receipt\", "
                   "\"quantity\": 10}");
    json_decref(m);
    m = cli_movement_from_csv(&cols, f, split(r2, f), err, sizeof(err));
    assert_json(m, "{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"type\": \"adjustment\", "
                   "\"quantity\": -2, \"reason\": \"damaged\"}");
    json_decref(m);
    m = cli_movement_from_csv(&cols, f, split(r3, f), err, sizeof(err));
    assert_string_equal(json_string_value(json_object_get(m, "to_location")), "store-leeds");
    json_decref(m);
    assert_null(cli_movement_from_csv(&cols, f, split(r4, f), err, sizeof(err)));
    assert_string_equal(err, "quantity 'ten' is not a whole number");
}

static void test_cli_rows__ndjson_lines_become_bodies(void **state)
{
    json_t *p = json_loads("{\"sku\": \"MUG-01\", \"name\": \"Mug\", \"category\": \"k\", "
                           "\"price\": {\"amount\": 1, \"currency\": \"GBP\"}}",
                           0, NULL);
    json_t *nosku = json_loads("{\"name\": \"Mug\"}", 0, NULL);
    json_t *m =
        json_loads("{\"sku\": \"MUG-01\", \"location\": \"wh-1\", \"quantity\": 2}", 0, NULL);
    json_t *arr = json_loads("[1]", 0, NULL);
    char sku[65], err[256];
    json_t *body;

    (void)state;
    body = cli_product_from_json(p, sku, err, sizeof(err));
    assert_string_equal(sku, "MUG-01");
    assert_null(json_object_get(body, "sku"));
    assert_non_null(json_object_get(body, "price"));
    json_decref(body);
    assert_null(cli_product_from_json(nosku, sku, err, sizeof(err)));
    assert_non_null(strstr(err, "no \"sku\""));
    body = cli_movement_from_json(m, err, sizeof(err));
    assert_string_equal(json_string_value(json_object_get(body, "type")), "receipt");
    json_decref(body);
    assert_null(cli_movement_from_json(arr, err, sizeof(err)));
    json_decref(p);
    json_decref(nosku);
    json_decref(m);
    json_decref(arr);
}

static void test_cli_rows__orders_are_checked_as_the_server_does(void **state)
{
    json_t *ok =
        json_loads("{\"id\": \"o-1\", \"lines\": [{\"sku\": \"A\", \"quantity\": 1}]}", 0, NULL);
    json_t *bad = json_loads("{\"id\": \"o-2\", \"lines\": [{\"sku\": \"A\", \"quantity\": 1}, "
                             "{\"sku\": \"B\", \"quantity\": 1.5}]}",
                             0, NULL);
    json_t *extra = json_loads("{\"id\": \"o-3\", \"lines\": [], \"colour\": \"red\"}", 0, NULL);
    char id[65], err[256];

    (void)state;
    assert_int_equal(cli_order_check(ok, id, err, sizeof(err)), 0);
    assert_string_equal(id, "o-1");
    assert_int_equal(cli_order_check(bad, id, err, sizeof(err)), -1);
    assert_memory_equal(err, "lines[1].quantity", 17); /* no "orders[0]." in front */
    assert_int_equal(cli_order_check(extra, id, err, sizeof(err)), -1);
    json_decref(ok);
    json_decref(bad);
    json_decref(extra);
}

/* Feed CSV order rows ("line|row" each) and collect the finished orders as text. */
static char *group(const char *const *rows, size_t n)
{
    struct cli_columns cols;
    struct cli_orders o;
    struct cli_order_done d;
    struct cli_buf out = {0};

    columns(CLI_IMPORT_ORDERS, "order_id,sku,quantity,customer", &cols);
    cli_orders_init(&o, &cols);
    for (size_t i = 0; i <= n; i++) {
        int done;
        if (i < n) {
            char *copy = strdup(rows[i]), *f[16];
            done = cli_orders_add(&o, f, split(copy, f), (long)i + 2, &d);
            free(copy);
        } else {
            done = cli_orders_finish(&o, &d);
        }
        if (!done)
            continue;
        if (d.order != NULL) {
            char *text = json_dumps(d.order, JSON_COMPACT);
            cli_buf_printf(&out, "%ld %s\n", d.line, text);
            free(text);
            json_decref(d.order);
        } else {
            cli_buf_printf(&out, "%ld REJECTED at %ld: %s\n", d.line, d.err_line, d.err);
        }
    }
    cli_orders_release(&o);
    return out.data;
}

static void test_cli_rows__csv_orders_group_consecutive_rows(void **state)
{
    static const char *const rows[] = {"o-1,MUG-01,1,c-1", "o-1,COASTER-4,2,", "o-2,MUG-01,1,"};
    char *got = group(rows, 3);

    (void)state;
    assert_string_equal(got,
                        "2 {\"id\":\"o-1\",\"lines\":[{\"sku\":\"MUG-01\",\"quantity\":1},"
                        "{\"sku\":\"COASTER-4\",\"quantity\":2}],\"customer\":\"c-1\"}\n"
                        "4 {\"id\":\"o-2\",\"lines\":[{\"sku\":\"MUG-01\",\"quantity\":1}]}\n");
    free(got);
}

static void test_cli_rows__csv_orders_reject_whole_orders_naming_the_row(void **state)
{
    static const char *const rows[] = {
        "o-1,MUG-01,1,",    /* 2 */
        "o-1,MUG-02,x,",    /* 3: bad quantity: o-1 rejected at row 3 */
        "o-2,MUG-01,1,c-1", /* 4 */
        "o-2,MUG-02,1,c-2", /* 5: another customer */
        "o-3,A,1,",         /* 6 */
        "o-3,B C,1,",       /* 7: bad SKU, found by the server's rules */
        "o-4,A,1,",         /* 8 */
        "o-1,A,1,",         /* 9: o-1 again after other orders */
    };
    char *got = group(rows, 8);

    (void)state;
    assert_non_null(
        strstr(got, "2 REJECTED at 3: order o-1: quantity 'x' is not a whole number\n"));
    assert_non_null(strstr(got, "4 REJECTED at 5: customer 'c-2' differs from 'c-1'"));
    assert_non_null(strstr(got, "6 REJECTED at 7: order o-3: lines[1].sku"));
    assert_non_null(strstr(got, "8 {\"id\":\"o-4\""));
    assert_non_null(strstr(got, "9 REJECTED at 9: order o-1 continues here after other orders"));
    free(got);
}

static void test_cli_rows__summary_lists_rejections_by_row(void **state)
{
    struct cli_summary s;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    json_t *j;

    (void)state;
    cli_summary_init(&s, CLI_IMPORT_STOCK);
    s.rows = s.items = 10;
    s.accepted = 7;
    s.duplicates = 0;
    cli_summary_reject(&s, 9, "no product NOPE (unknown-reference)");
    cli_summary_reject(&s, 3, "quantity 'abc' is not a whole number");
    cli_summary_reject(&s, 12, "type must be one of receipt, ... (invalid-field)");
    cli_summary_print(&s, f);
    fclose(f);
    assert_non_null(strstr(text, "import stock: 10 rows, 10 movements: 7 accepted, 0 duplicates, "
                                 "3 rejected\n"));
    /* sorted by row, numbers right-aligned */
    assert_non_null(strstr(text, "rejected:\n  ROW  REASON\n"
                                 "    3  quantity 'abc' is not a whole number\n"
                                 "    9  no product NOPE (unknown-reference)\n"
                                 "   12  type must be"));
    j = cli_summary_json(&s);
    assert_int_equal(json_integer_value(json_object_get(j, "rejected")), 3);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(j, "rejections"), 0), "row")),
                     3);
    json_decref(j);
    free(text);
    cli_summary_release(&s);
}

static void test_cli_rows__problem_reasons_drop_the_batch_prefix(void **state)
{
    json_t *p = json_loads("{\"type\": \"/problems/invalid-field\", \"title\": \"Invalid field\", "
                           "\"status\": 400, \"detail\": \"movements[2].type must be one of x\", "
                           "\"field\": \"movements[2].type\"}",
                           0, NULL);
    char out[256];

    (void)state;
    cli_problem_reason(p, 400, out, sizeof(out));
    assert_string_equal(out, "type must be one of x (invalid-field)");
    cli_problem_reason(NULL, 502, out, sizeof(out));
    assert_string_equal(out, "the server answered HTTP 502");
    assert_int_equal(cli_field_index("orders[12].lines[0].sku", "orders"), 12);
    assert_int_equal(cli_field_index("orders", "orders"), -1);
    assert_int_equal(cli_field_index("lines[3]", "orders"), -1);
    json_decref(p);
}

static void test_cli_rows__formats_from_names_and_extensions(void **state)
{
    enum cli_import_kind k;

    (void)state;
    assert_int_equal(cli_format_of_path("/tmp/stock.CSV"), CLI_FORMAT_CSV);
    assert_int_equal(cli_format_of_path("orders.ndjson"), CLI_FORMAT_NDJSON);
    assert_int_equal(cli_format_of_path("orders.jsonl"), CLI_FORMAT_NDJSON);
    assert_int_equal(cli_format_of_path("orders.json"), CLI_FORMAT_UNKNOWN);
    assert_int_equal(cli_format_of_path("dir.csv/file"), CLI_FORMAT_UNKNOWN);
    assert_int_equal(cli_format_parse("jsonl"), CLI_FORMAT_NDJSON);
    assert_int_equal(cli_format_parse("xml"), CLI_FORMAT_UNKNOWN);
    assert_int_equal(cli_import_kind_parse("orders", &k), 0);
    assert_int_equal(k, CLI_IMPORT_ORDERS);
    assert_int_equal(cli_import_kind_parse("customers", &k), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_rows__header_names_columns_in_any_order),
        cmocka_unit_test(test_cli_rows__product_rows_become_put_bodies),
        cmocka_unit_test(test_cli_rows__product_rows_refused_locally_say_why),
        cmocka_unit_test(test_cli_rows__movement_rows_default_to_receipt),
        cmocka_unit_test(test_cli_rows__ndjson_lines_become_bodies),
        cmocka_unit_test(test_cli_rows__orders_are_checked_as_the_server_does),
        cmocka_unit_test(test_cli_rows__csv_orders_group_consecutive_rows),
        cmocka_unit_test(test_cli_rows__csv_orders_reject_whole_orders_naming_the_row),
        cmocka_unit_test(test_cli_rows__summary_lists_rejections_by_row),
        cmocka_unit_test(test_cli_rows__problem_reasons_drop_the_batch_prefix),
        cmocka_unit_test(test_cli_rows__formats_from_names_and_extensions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
