-- query.lua: POST /v1/stock/query with BENCH_QUERY_SKUS (default 50) random SKUs, web channel.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local per = tonumber(os.getenv("BENCH_QUERY_SKUS") or "50")

function init(args)
  bench.seed()
end

function request()
  return bench.query(per)
end
