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

-- The requests the scripts share.
function bench.query(per)
  local skus = {}
  for i = 1, per do
    skus[i] = '"' .. bench.sku() .. '"'
  end
  return wrk.format("POST", "/v1/stock/query", nil,
                    '{"skus":[' .. table.concat(skus, ",") .. '],"channel":"web"}')
end

function bench.recommend(primaries)
  return wrk.format("GET", "/v1/recommendations?channel=web&sku=" .. bench.sku(primaries))
end

-- Reserve then release: a reservation of one unit of a random SKU, web; the ids answered
-- (bench.held) wait in the thread's queue, and bench.release() is the release of the oldest,
-- or nil when none waits.
queue, head, tail = {}, 1, 0

function bench.reserve()
  return wrk.format("POST", "/v1/reservations", nil,
                    '{"channel":"web","lines":[{"sku":"' .. bench.sku() .. '","quantity":1}]}')
end

function bench.held(id)
  tail = tail + 1
  queue[tail] = id
end

function bench.release()
  local id = queue[head]
  if not id then
    return nil
  end
  queue[head] = nil
  head = head + 1
  return wrk.format("POST", "/v1/reservations/" .. id .. "/release", nil, "")
end
