-- common.lua: what every wrk script of tests/bench/run shares. wrk runs each script's top
-- level once per thread (and once in its main state), so this is loaded by dofile there.
-- BENCH_KEY: the API key (Bearer); BENCH_SKUS: the catalogue's size (SKU-000000 ...).
bench = {}
bench.nskus = tonumber(os.getenv("BENCH_SKUS") or "100000")
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "")
wrk.headers["Content-Type"] = "application/json"

-- A different random stream in each thread: the address of a fresh table differs.
function bench.seed()
  local addr = tonumber(string.match(tostring({}), "0x(%x+)") or "0", 16) or 0
  math.randomseed(os.time() + addr % 1000003)
end

function bench.sku(n)
  return string.format("SKU-%06d", math.random(0, (n or bench.nskus) - 1))
end
