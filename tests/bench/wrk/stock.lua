-- stock.lua: GET /v1/stock/{sku}, a random SKU of the catalogue per request. The same
-- script drives nginx, which answers every path with the same static body.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function init(args)
  bench.seed()
end

function request()
  return wrk.format("GET", "/v1/stock/" .. bench.sku())
end
