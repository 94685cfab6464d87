-- mixed.lua: the soak's load (tests/bench/soak), a weighted random choice per request:
--   40  GET /v1/stock/{sku}
--   15  POST /v1/stock/query, BENCH_QUERY_SKUS (default 20) SKUs, web channel
--   15  reserve-then-release, as reserve.lua: POST /v1/reservations (one line, quantity 1);
--       the id is queued and the thread's next request releases it, whatever was drawn
--   10  POST /v1/movements: a receipt of 1 and a sale of 1 at one location, in one batch,
--       so that levels stay where they are
--   10  GET /v1/recommendations for one of the BENCH_PRIMARIES popular SKUs
--   10  GET /v1/events?limit=50
-- BENCH_KEY must be an admin key (movements need it). Besides wrk's own non-2xx count it
-- counts what a 2xx can hide: a movement batch with an item that was not applied, and a
-- reservation answer without an id. The done() line is "soak-mixed: k=v ...".
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local per = tonumber(os.getenv("BENCH_QUERY_SKUS") or "20")
local primaries = tonumber(os.getenv("BENCH_PRIMARIES") or "1000")
local locs = {"wh-01", "wh-02", "st-01", "st-02", "st-03", "st-04", "st-05", "st-06", "st-07",
              "st-08"}

local threads = {}
reserves, releases, moves, move_failures, non2xx, other_failures = 0, 0, 0, 0, 0, 0

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  bench.seed()
end

local function movement()
  local sku, loc = bench.sku(), locs[math.random(#locs)]
  local one = '{"sku":"' .. sku .. '","location":"' .. loc .. '","type":"%s","quantity":1}'
  return wrk.format("POST", "/v1/movements", nil, '{"movements":[' .. string.format(one, "receipt")
                    .. "," .. string.format(one, "sale") .. "]}")
end

function request()
  local release = bench.release()
  if release then
    return release
  end
  local x = math.random(100)
  if x <= 40 then
    return wrk.format("GET", "/v1/stock/" .. bench.sku())
  elseif x <= 55 then
    return bench.query(per)
  elseif x <= 70 then
    return bench.reserve()
  elseif x <= 80 then
    return movement()
  elseif x <= 90 then
    return bench.recommend(primaries)
  end
  return wrk.format("GET", "/v1/events?limit=50")
end

-- Responses are told apart by their bodies (wrk does not say which request they answer).
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    return
  end
  if status == 201 then -- only a reservation answers 201 here
    local id = string.match(body, '"id":"(r%-[^"]+)"')
    if id then
      bench.held(id)
      reserves = reserves + 1
    else
      other_failures = other_failures + 1
    end
  elseif string.find(body, '"results":', 1, true) then
    local _, applied = string.gsub(body, '"status":201', "")
    moves = moves + 1
    if applied ~= 2 then
      move_failures = move_failures + 1
    end
  elseif string.find(body, '"status":"released"', 1, true) then
    releases = releases + 1
  end
end

function done(summary, latency, requests)
  local t = {reserves = 0, releases = 0, moves = 0, move_failures = 0, non2xx = 0,
             other_failures = 0}
  for _, th in ipairs(threads) do
    for k in pairs(t) do
      t[k] = t[k] + (th:get(k) or 0)
    end
  end
  io.write(string.format("soak-mixed: reserves=%d releases=%d moves=%d move_failures=%d " ..
                         "non2xx=%d other_failures=%d\n", t.reserves, t.releases, t.moves,
                         t.move_failures, t.non2xx, t.other_failures))
end
