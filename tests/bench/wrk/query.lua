-- query.lua: POST /v1/stock/query with BENCH_QUERY_SKUS (default 50) random SKUs, web channel.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local per = tonumber(os.getenv("BENCH_QUERY_SKUS") or "50")

function init(args)
  bench.seed()
end

function request()
  local skus = {}
  for i = 1, per do
    skus[i] = '"' .. bench.sku() .. '"'
  end
  return wrk.format("POST", "/v1/stock/query", nil,
                    '{"skus":[' .. table.concat(skus, ",") .. '],"channel":"web"}')
end
