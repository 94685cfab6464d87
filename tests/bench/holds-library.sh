# holds-library.sh - sourced by tests/bench/run and tests/bench/script-cost (run from the
# project's root).
#
# holds_library FILE: write to FILE the Redis function library the daemon loads for
# holds.lua, byte for byte as rclient_add_script makes it (common/redis.c): lib.lua at the
# top, holds.lua as the body of the one function, both named omnistock_holds_<the first 16
# hex digits of the SHA-256 of lib.lua and holds.lua>. Prints that name.
holds_library() {
    local file="$1" lib=services/inventory/lua/lib.lua body=services/inventory/lua/holds.lua fn
    fn="omnistock_holds_$(cat "$lib" "$body" | sha256sum | cut -c1-16)"
    {
        printf '#!lua name=%s\n' "$fn"
        cat "$lib"
        printf "\nredis.register_function('%s', function(KEYS, ARGV)\n" "$fn"
        cat "$body"
        printf '\nend)\n'
    } >"$file"
    echo "$fn"
}
