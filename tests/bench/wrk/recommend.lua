-- recommend.lua: GET /v1/recommendations for a random primary among the BENCH_PRIMARIES
-- (default 1000) SKUs the generated order history makes popular, web channel.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local primaries = tonumber(os.getenv("BENCH_PRIMARIES") or "1000")

function init(args)
  bench.seed()
end

function request()
  return bench.recommend(primaries)
end
