-- reserve.lua: single-line web reservations, each released by the next request on the
-- thread: POST /v1/reservations (a random SKU, quantity 1) answers 201 with the id, which
-- is queued; the thread's next request releases the oldest queued id
-- (POST /v1/reservations/{id}/release, 200). So requests alternate between the two and a
-- pair (reserve + release) is two requests. At the end at most one hold per connection is
-- left held; it stays consistent and expires with its TTL.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local threads = {}
reserves, releases, failures = 0, 0, 0

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  bench.seed()
end

function request()
  return bench.release() or bench.reserve()
end

function response(status, headers, body)
  if status == 201 then
    local id = string.match(body, '"id":"([^"]+)"')
    if id then
      bench.held(id)
      reserves = reserves + 1
      return
    end
  elseif status == 200 then
    releases = releases + 1
    return
  end
  failures = failures + 1
end

function done(summary, latency, requests)
  local r, l, f = 0, 0, 0
  for _, t in ipairs(threads) do
    r = r + (t:get("reserves") or 0)
    l = l + (t:get("releases") or 0)
    f = f + (t:get("failures") or 0)
  end
  io.write(string.format("bench-reserve: reserves=%d releases=%d failures=%d\n", r, l, f))
end
