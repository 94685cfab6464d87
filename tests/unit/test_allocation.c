/*
 * test_allocation.c - where a reservation's units come from, as the hold
 * script decides it: the real lib.channel_groups, lib.location_group and
 * lib.plan_line of services/inventory/lua/lib.lua, run in a Lua 5.1
 * interpreter (the language Redis scripts are written in), their reads of the
 * rules and the stock hash answered from plain tables; and lib.body_edit, which
 * moves a reservation's record from status to status, and lib.iso, which stamps
 * events and records. No Redis, no sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#ifndef LIB_LUA_PATH
#error "LIB_LUA_PATH must name services/inventory/lua/lib.lua"
#endif

/*
 * The fixture, in Lua: five locations like the demo's. wh-1 and wh-2 are
 * warehouses (web); leeds ships from store and offers click-and-collect with a
 * buffer of 2; york offers collection and walk-in with a buffer of 1; bath is
 * walk-in only. The rules are as the daemon writes them ("w:1:0"), and the
 * hashes answer HGETALL in whatever order Lua's pairs walks them.
 */
static const char fixture[] =
    "W, S, C = lib.WEB, lib.STORE, lib.CLICK_COLLECT\n"
    "hashes = {locs = {['wh-1'] = 'w:1:0', ['wh-2'] = 'w:1:0', ['store-leeds'] = 's:7:2',\n"
    "                  ['store-york'] = 's:6:1', ['store-bath'] = 's:2:0'}}\n"
    "redis = {call = function(cmd, key, ...)\n"
    "  local h, out = hashes[key] or {}, {}\n"
    "  if cmd == 'HGET' then return h[...] or false end\n"
    "  if cmd == 'HGETALL' then\n"
    "    for f, v in pairs(h) do out[#out + 1] = f; out[#out + 1] = v end\n"
    "  else -- HMGET\n"
    "    for i, f in ipairs({...}) do out[i] = h[f] or false end\n"
    "  end\n"
    "  return out\n"
    "end}\n"
    "-- plan and describe: 'loc:qty,loc:qty' or 'short:<available>'; levels: id -> {h, r}\n"
    "function plan(levels, safety, channel, loc, qty)\n"
    "  local sku = {[':v'] = '7', [':s'] = tostring(safety)}\n"
    "  for id, l in pairs(levels) do sku[id] = l[1] .. ':' .. l[2] .. ':0' end\n"
    "  hashes.sku = sku\n"
    "  local groups\n"
    "  if loc == '' then groups = lib.channel_groups('locs', channel)\n"
    "  else groups = lib.location_group('locs', loc, channel) end\n"
    "  if not groups then return 'unknown-location' end\n"
    "  local allocs, available = lib.plan_line('sku', groups, channel, qty)\n"
    "  if allocs == nil then return 'unknown-sku' end\n"
    "  if not allocs then return 'short:' .. available end\n"
    "  local out = {}\n"
    "  for _, a in ipairs(allocs) do out[#out + 1] = a.location .. ':' .. a.quantity end\n"
    "  return table.concat(out, ',')\n"
    "end\n";

static int setup(void **state)
{
    lua_State *L = luaL_newstate();

    luaL_openlibs(L);
    {
        /* Run lib.lua with "return lib" appended, so the table comes back. */
        FILE *f = fopen(LIB_LUA_PATH, "r");
        static char src[65536];
        size_t n = f ? fread(src, 1, sizeof(src) - 32, f) : 0;
        if (f)
            fclose(f);
        src[n] = '\0';
        strcat(src, "\nreturn lib\n");
        lua_settop(L, 0);
        if (luaL_loadbuffer(L, src, strlen(src), "lib.lua") != 0 || lua_pcall(L, 0, 1, 0) != 0) {
            fprintf(stderr, "%s\n", lua_tostring(L, -1));
            return -1;
        }
        lua_setglobal(L, "lib");
    }
    if (luaL_dostring(L, fixture) != 0) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        return -1;
    }
    *state = L;
    return 0;
}

static int teardown(void **state)
{
    lua_close(*state);
    return 0;
}

/* Evaluate a Lua expression that yields the plan string. */
static const char *eval(lua_State *L, const char *expr)
{
    char chunk[1024];

    snprintf(chunk, sizeof(chunk), "return %s", expr);
    lua_settop(L, 0);
    if (luaL_dostring(L, chunk) != 0)
        fail_msg("lua: %s", lua_tostring(L, -1));
    return lua_tostring(L, -1);
}

static void test_allocation__warehouse_first(void **state)
{
    /* leeds has more, but warehouses come first */
    assert_string_equal(
        eval(*state, "plan({['wh-1'] = {5, 0}, ['store-leeds'] = {50, 0}}, 0, W, '', 3)"),
        "wh-1:3");
}

static void test_allocation__most_available_warehouse_first(void **state)
{
    assert_string_equal(eval(*state, "plan({['wh-1'] = {5, 0}, ['wh-2'] = {9, 0}}, 0, W, '', 4)"),
                        "wh-2:4");
}

static void test_allocation__ties_by_location_id(void **state)
{
    assert_string_equal(eval(*state, "plan({['wh-1'] = {5, 0}, ['wh-2'] = {5, 0}}, 0, W, '', 2)"),
                        "wh-1:2");
}

static void test_allocation__split_across_warehouses_then_stores(void **state)
{
    /* 9 wanted: wh-2 gives 4, wh-1 gives 3, then leeds ships 2 (10 - 2 buffer - 0 = 8 left) */
    assert_string_equal(eval(*state, "plan({['wh-1'] = {3, 0}, ['wh-2'] = {4, 0}, "
                                     "['store-leeds'] = {10, 0}}, 0, W, '', 9)"),
                        "wh-2:4,wh-1:3,store-leeds:2");
}

static void test_allocation__reserved_units_are_not_offered(void **state)
{
    assert_string_equal(eval(*state, "plan({['wh-1'] = {5, 4}, ['wh-2'] = {3, 0}}, 0, W, '', 3)"),
                        "wh-2:3");
    assert_string_equal(eval(*state, "plan({['wh-1'] = {5, 4}, ['wh-2'] = {3, 0}}, 0, W, '', 5)"),
                        "short:4");
}

static void test_allocation__store_buffer_is_kept_from_web(void **state)
{
    /* leeds 4 on hand, buffer 2: ships at most 2 */
    assert_string_equal(eval(*state, "plan({['store-leeds'] = {4, 0}}, 0, W, '', 2)"),
                        "store-leeds:2");
    assert_string_equal(eval(*state, "plan({['store-leeds'] = {4, 0}}, 0, W, '', 3)"), "short:2");
}

static void test_allocation__safety_stock_is_kept_everywhere_but_walk_in(void **state)
{
    /* safety 3: wh-1 offers 2 of 5, leeds 10 - 2 - 3 = 5 */
    assert_string_equal(eval(*state, "plan({['wh-1'] = {5, 0}, ['store-leeds'] = {10, 0}}, 3, W, "
                                     "'', 7)"),
                        "wh-1:2,store-leeds:5");
    assert_string_equal(eval(*state, "plan({['wh-1'] = {5, 0}, ['store-leeds'] = {10, 0}}, 3, W, "
                                     "'', 8)"),
                        "short:7");
    /* walk-in at york ignores safety stock and buffer */
    assert_string_equal(eval(*state, "plan({['store-york'] = {4, 0}}, 3, S, 'store-york', 4)"),
                        "store-york:4");
}

static void test_allocation__stores_that_do_not_ship_never_serve_web(void **state)
{
    assert_string_equal(eval(*state, "plan({['store-york'] = {50, 0}, ['store-bath'] = {50, 0}}, "
                                     "0, W, '', 1)"),
                        "short:0");
}

static void test_allocation__click_and_collect_at_the_named_store_only(void **state)
{
    /* york: 6 on hand, 1 reserved, buffer 1, safety 1 -> 3 collectable */
    assert_string_equal(eval(*state, "plan({['store-york'] = {6, 1}, ['wh-1'] = {99, 0}}, 1, C, "
                                     "'store-york', 3)"),
                        "store-york:3");
    assert_string_equal(eval(*state, "plan({['store-york'] = {6, 1}, ['wh-1'] = {99, 0}}, 1, C, "
                                     "'store-york', 4)"),
                        "short:3");
}

static void test_allocation__store_without_the_channel_promises_nothing(void **state)
{
    /* bath is walk-in only: no click-and-collect however much it has */
    assert_string_equal(eval(*state, "plan({['store-bath'] = {50, 0}}, 0, C, 'store-bath', 1)"),
                        "short:0");
    /* a warehouse is not a store */
    assert_string_equal(eval(*state, "plan({['wh-1'] = {50, 0}}, 0, S, 'wh-1', 1)"), "short:0");
}

static void test_allocation__walk_in_hold_at_the_store(void **state)
{
    assert_string_equal(eval(*state, "plan({['store-bath'] = {2, 1}}, 0, S, 'store-bath', 1)"),
                        "store-bath:1");
    assert_string_equal(eval(*state, "plan({['store-bath'] = {2, 1}}, 0, S, 'store-bath', 2)"),
                        "short:1");
}

static void test_allocation__rules_with_longer_numbers(void **state)
{
    /* a buffer of 12 (two digits) keeps 12 from web; a malformed rule is no location */
    assert_string_equal(eval(*state, "(function() hashes.locs['store-hull'] = 's:7:12' "
                                     "local p = plan({['store-hull'] = {20, 0}}, 0, W, '', 9) "
                                     "hashes.locs['store-hull'] = nil return p end)()"),
                        "short:8");
    assert_string_equal(eval(*state, "(function() hashes.locs['store-hull'] = 's:7' "
                                     "local p = plan({['store-hull'] = {20, 0}}, 0, C, "
                                     "'store-hull', 1) hashes.locs['store-hull'] = nil "
                                     "return p end)()"),
                        "unknown-location");
    assert_string_equal(eval(*state, "plan({}, 0, C, 'store-nowhere', 1)"), "unknown-location");
}

static void test_allocation__a_changed_rule_is_seen_at_once(void **state)
{
    /* the groups are kept for each set of rules: wh-2 stops shipping, and is passed over */
    assert_string_equal(eval(*state, "plan({['wh-1'] = {5, 0}, ['wh-2'] = {9, 0}}, 0, W, '', 4)"),
                        "wh-2:4");
    assert_string_equal(eval(*state, "(function() hashes.locs['wh-2'] = 'w:0:0' "
                                     "local p = plan({['wh-1'] = {5, 0}, ['wh-2'] = {9, 0}}, 0, "
                                     "W, '', 4) hashes.locs['wh-2'] = 'w:1:0' return p end)()"),
                        "wh-1:4");
    assert_string_equal(eval(*state, "plan({['wh-1'] = {5, 0}, ['wh-2'] = {9, 0}}, 0, W, '', 4)"),
                        "wh-2:4");
}

static void test_allocation__unknown_sku(void **state)
{
    /* a stock hash without its version is a SKU nobody created */
    assert_string_equal(eval(*state, "(function() hashes.sku = {} "
                                     "return tostring(lib.plan_line('sku', "
                                     "lib.channel_groups('locs', W), W, 1)) end)()"),
                        "nil");
}

/*
 * A record's body edited where it stands, members kept in the contract's order: the
 * status, expires_at set or dropped, the time of what happened added before the lines.
 * Text inside a string that looks like a key is not one.
 */
static void test_allocation__a_record_body_is_edited_in_place(void **state)
{
    lua_State *L = *state;
    char expr[1024];
    static const char body[] =
        "[["
        "{\"id\":\"r-1\",\"status\":\"held\",\"channel\":\"web\",\"reference\":"
        "\"a\\\",\\\"expires_at\\\":\\\"x\\\",\\\"lines\\\":\",\"created_at\":\""
        "2026-12-03T08:00:00.000Z\",\"expires_at\":\"2026-12-03T08:15:00.000Z\""
        ",\"lines\":[{\"sku\":\"A\",\"quantity\":1,\"allocations\":[]}]}"
        "]]";

    /* extend: held again, a new expiry */
    snprintf(expr, sizeof(expr), "lib.body_edit(%s, 'held', '2026-12-03T08:30:00.000Z')", body);
    assert_string_equal(eval(L, expr),
                        "{\"id\":\"r-1\",\"status\":\"held\",\"channel\":\"web\",\"reference\":"
                        "\"a\\\",\\\"expires_at\\\":\\\"x\\\",\\\"lines\\\":\",\"created_at\":\""
                        "2026-12-03T08:00:00.000Z\",\"expires_at\":\"2026-12-03T08:30:00.000Z\""
                        ",\"lines\":[{\"sku\":\"A\",\"quantity\":1,\"allocations\":[]}]}");
    /* commit: no expiry any more, the time it was committed before the lines */
    snprintf(expr, sizeof(expr),
             "lib.body_edit(%s, 'committed', nil, 'committed_at', '2026-12-03T08:05:00.000Z')",
             body);
    assert_string_equal(
        eval(L, expr), "{\"id\":\"r-1\",\"status\":\"committed\",\"channel\":\"web\",\"reference\":"
                       "\"a\\\",\\\"expires_at\\\":\\\"x\\\",\\\"lines\\\":\",\"created_at\":\""
                       "2026-12-03T08:00:00.000Z\",\"committed_at\":\"2026-12-03T08:05:00.000Z\""
                       ",\"lines\":[{\"sku\":\"A\",\"quantity\":1,\"allocations\":[]}]}");
    /* a body with neither expires_at nor lines: the status, and the time at the end */
    assert_string_equal(eval(L, "lib.body_edit([[{\"status\":\"committed\",\"id\":\"r-2\"}]], "
                                "'released', nil, 'released_at', 'T')"),
                        "{\"status\":\"released\",\"id\":\"r-2\",\"released_at\":\"T\"}");
}

/*
 * Times as RFC 3339 UTC with milliseconds, worked out apart from this code; one after
 * another as calls make them, within a second (the second's text kept) and across
 * seconds, days and leap days; a fraction of a millisecond dropped.
 */
static void test_allocation__times_are_rfc3339_utc(void **state)
{
    static const struct {
        const char *ms, *want;
    } cases[] = {
        {"1796285793123", "2026-12-03T08:16:33.123Z"},
        {"1796285793124", "2026-12-03T08:16:33.124Z"},
        {"1796285793124", "2026-12-03T08:16:33.124Z"},
        {"1796285794000", "2026-12-03T08:16:34.000Z"},
        {"0", "1970-01-01T00:00:00.000Z"},
        {"951782400000", "2000-02-29T00:00:00.000Z"},
        {"1709164800999", "2024-02-29T00:00:00.999Z"},
        {"4102444799999", "2099-12-31T23:59:59.999Z"},
        {"1796285793123", "2026-12-03T08:16:33.123Z"},
        {"1796285793123.7", "2026-12-03T08:16:33.123Z"},
    };
    char expr[64];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(expr, sizeof(expr), "lib.iso(%s)", cases[i].ms);
        assert_string_equal(eval(*state, expr), cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocation__warehouse_first),
        cmocka_unit_test(test_allocation__most_available_warehouse_first),
        cmocka_unit_test(test_allocation__ties_by_location_id),
        cmocka_unit_test(test_allocation__split_across_warehouses_then_stores),
        cmocka_unit_test(test_allocation__reserved_units_are_not_offered),
        cmocka_unit_test(test_allocation__store_buffer_is_kept_from_web),
        cmocka_unit_test(test_allocation__safety_stock_is_kept_everywhere_but_walk_in),
        cmocka_unit_test(test_allocation__stores_that_do_not_ship_never_serve_web),
        cmocka_unit_test(test_allocation__click_and_collect_at_the_named_store_only),
        cmocka_unit_test(test_allocation__store_without_the_channel_promises_nothing),
        cmocka_unit_test(test_allocation__walk_in_hold_at_the_store),
        cmocka_unit_test(test_allocation__rules_with_longer_numbers),
        cmocka_unit_test(test_allocation__a_changed_rule_is_seen_at_once),
        cmocka_unit_test(test_allocation__unknown_sku),
        cmocka_unit_test(test_allocation__a_record_body_is_edited_in_place),
        cmocka_unit_test(test_allocation__times_are_rfc3339_utc),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
