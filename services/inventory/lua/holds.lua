-- holds.lua: a reservation's holds in one partition: hold, commit, extend,
-- release, expire, fulfil, and the sweep of expired holds.
--
-- A reservation's basket may span partitions; each partition keeps its part:
--   {pNN}:hold:<id>     '<sku>|<location>' = quantity, ':exp' = expiry (ms), ':state'
--   {pNN}:holdexp       held reservations by expiry, for the sweep
--   {pNN}:holds         the reservations holding anything in the partition
--   {pNN}:holdsof:<sku> the reservations holding the SKU
-- A hold is created with the reservation's expiry, so a crash half-way
-- through a basket leaks nothing for longer than the hold's TTL.
--
-- KEYS[1] {pNN}:locs  KEYS[2] {pNN}:hold:<id>  KEYS[3] {pNN}:holdexp  KEYS[4] {pNN}:events
-- KEYS[5] {pNN}:holds; for 'hold', 'plan' and 'hold_create', then per line: {pNN}:sku:<sku>,
--   {pNN}:hist:<sku>, {pNN}:holdsof:<sku>; for 'hold_create', last, {pNN}:resv:<id> and
--   {pNN}:resvexp (record.lua's keys: the id is of this partition)
-- ARGV 1 op  2 reservation id ('' for sweep)  3 partition  4 key prefix "{pNN}:"
--      5 events kept  6 ledger entries kept  7 low-stock threshold
--   hold, plan (hold's checks alone, writing nothing; answers {'ok'} or hold's refusal):
--           8 channel  9 location ('' for web)  10 expires_ms  11.. sku, quantity pairs
--   hold_create (hold, then the record, as record.lua's create makes it; or {'exists', body}
--           without holding when the record is there already): as hold, then the record's
--           body without its lines (JSON) and its partitions ("3")
--   extend: 8 expires_ms
--   sweep:  8 most reservations to expire in one call
-- Returns {outcome, detail...}; see each op.

local op, id, prefix = ARGV[1], ARGV[2], ARGV[4]
local low = tonumber(ARGV[7])
local now = lib.now_ms()
local nlines = (#ARGV - (op == 'hold_create' and 12 or 10)) / 2

local function ctx_for(sku, skukey)
  return {part = ARGV[3], stream = KEYS[4], maxlen = ARGV[5], hist = prefix .. 'hist:' .. sku,
          histmax = tonumber(ARGV[6]), sku = sku, at = lib.iso(now),
          safety = tonumber(redis.call('HGET', skukey, ':s') or '0')}
end

-- Plan one line from the levels in the stock hash.
local function plan_line(rules, channel, loc, skukey, qty)
  local safety = tonumber(redis.call('HGET', skukey, ':s') or '0')
  local levels = {}
  for id in pairs(rules) do
    if loc == '' or id == loc then
      local h, r = lib.level(skukey, id)
      levels[id] = {h, r}
    end
  end
  return lib.allocate(rules, levels, safety, channel, loc, qty)
end

-- The allocations an existing hold made, in the order of the request's lines.
local function existing()
  local out = {}
  local flat = redis.call('HGETALL', KEYS[2])
  for i = 1, nlines do
    local sku = ARGV[9 + 2 * i]
    local line = {sku = sku, quantity = 0, allocations = {}}
    for j = 1, #flat, 2 do
      local s, loc = string.match(flat[j], '^([^|]+)|(.+)$')
      if s == sku then
        local q = tonumber(flat[j + 1])
        line.quantity = line.quantity + q
        line.allocations[#line.allocations + 1] = {location = loc, quantity = q}
      end
    end
    table.sort(line.allocations, function(x, y) return x.location < y.location end)
    out[#out + 1] = line
  end
  return out
end

-- Where each line would be held, or the refusal ({'unknown-location'},
-- {'unknown-sku', sku}, {'short', lines}) as the second value. Writes nothing.
local function plan_all()
  local rules = lib.rules(KEYS[1])
  local channel, loc = lib.CHANNELS[ARGV[8]], ARGV[9]
  if loc ~= '' and not rules[loc] then return nil, {'unknown-location'} end
  local plans, short = {}, {}
  for i = 1, nlines do
    local sku, qty = ARGV[9 + 2 * i], tonumber(ARGV[10 + 2 * i])
    local skukey = KEYS[6 + 3 * (i - 1)]
    if redis.call('EXISTS', skukey) == 0 then return nil, {'unknown-sku', sku} end
    local allocs, available = plan_line(rules, channel, loc, skukey, qty)
    if allocs then
      plans[i] = allocs
    else
      short[#short + 1] = {sku = sku, requested = qty, available = available}
    end
  end
  if #short > 0 then return nil, {'short', cjson.encode(short)} end
  return plans
end

-- Returns the answer, and when held the lines held as a table.
local function hold()
  if redis.call('EXISTS', KEYS[2]) == 1 then
    local lines = existing()
    return {'held', cjson.encode(lines)}, lines
  end
  local plans, refusal = plan_all()
  if not plans then return refusal end
  local exp, n = tonumber(ARGV[10]), nlines
  local out = {}
  for i = 1, n do
    local sku, qty = ARGV[9 + 2 * i], tonumber(ARGV[10 + 2 * i])
    local skukey = KEYS[6 + 3 * (i - 1)]
    local ctx = ctx_for(sku, skukey)
    ctx.hist = KEYS[7 + 3 * (i - 1)]
    ctx.version = redis.call('HINCRBY', skukey, ':v', 1)
    for _, a in ipairs(plans[i]) do
      local h, r, c = lib.level(skukey, a.location)
      lib.set_level(skukey, a.location, h, r + a.quantity, c)
      redis.call('HSET', KEYS[2], sku .. '|' .. a.location, a.quantity)
      lib.emit(ctx, 'reservation.held', a.location, h, r + a.quantity,
               {reservation = id, quantity = a.quantity})
      lib.transitions(ctx, a.location, h, r, h, r + a.quantity, low)
    end
    redis.call('SADD', KEYS[8 + 3 * (i - 1)], id)
    out[#out + 1] = {sku = sku, quantity = qty, allocations = plans[i]}
  end
  redis.call('HSET', KEYS[2], ':exp', exp, ':state', 'held')
  redis.call('ZADD', KEYS[3], exp, id)
  redis.call('SADD', KEYS[5], id)
  return {'held', cjson.encode(out)}, out
end

-- Hold, then create the record beside the holds: one script for a basket of one partition.
local function hold_create()
  local rkey, rexp = KEYS[#KEYS - 1], KEYS[#KEYS]
  if redis.call('EXISTS', rkey) == 1 then
    return {'exists', redis.call('HGET', rkey, 'body')}
  end
  local answer, lines = hold()
  if answer[1] ~= 'held' then return answer end
  local body = cjson.decode(ARGV[#ARGV - 1])
  body.lines = lines
  local json = cjson.encode(body)
  lib.record_create(rkey, rexp, id, json, ARGV[10], ARGV[#ARGV])
  return {'created', json}
end

-- Give back (release, expire) or hand over (fulfil) everything reservation rid holds here.
local function let_go(rid, etype)
  local hkey = prefix .. 'hold:' .. rid
  local flat = redis.call('HGETALL', hkey)
  local lines = 0
  for i = 1, #flat, 2 do
    local sku, loc = string.match(flat[i], '^([^|]+)|(.+)$')
    if sku then
      local q = tonumber(flat[i + 1])
      local skukey = prefix .. 'sku:' .. sku
      local ctx = ctx_for(sku, skukey)
      local h, r, c = lib.level(skukey, loc)
      local nh, nr = h, math.max(0, r - q)
      if etype == 'reservation.fulfilled' then nh = math.max(0, h - q) end
      ctx.version = redis.call('HINCRBY', skukey, ':v', 1)
      lib.set_level(skukey, loc, nh, nr, c)
      lib.emit(ctx, etype, loc, nh, nr, {reservation = rid, quantity = q})
      lib.transitions(ctx, loc, h, r, nh, nr, low)
      redis.call('SREM', prefix .. 'holdsof:' .. sku, rid)
      lines = lines + 1
    end
  end
  redis.call('DEL', hkey)
  redis.call('ZREM', KEYS[3], rid)
  redis.call('SREM', KEYS[5], rid)
  return lines
end

local function state_of()
  if redis.call('EXISTS', KEYS[2]) == 0 then return nil end
  local v = redis.call('HMGET', KEYS[2], ':state', ':exp')
  return v[1], tonumber(v[2])
end

if op == 'hold' then
  return (hold())
elseif op == 'hold_create' then
  return hold_create()
elseif op == 'plan' then
  if redis.call('EXISTS', KEYS[2]) == 1 then return {'ok'} end
  local plans, refusal = plan_all()
  return plans and {'ok'} or refusal
elseif op == 'commit' then
  local state, exp = state_of()
  if not state then return {'gone'} end
  if state == 'committed' then return {'ok'} end
  if exp <= now then return {'expired'} end
  redis.call('HSET', KEYS[2], ':state', 'committed')
  redis.call('ZREM', KEYS[3], id)
  return {'ok'}
elseif op == 'extend' then
  local state, exp = state_of()
  if not state then return {'gone'} end
  if state ~= 'held' then return {'state', state} end
  if exp <= now then return {'expired'} end
  redis.call('HSET', KEYS[2], ':exp', ARGV[8])
  redis.call('ZADD', KEYS[3], ARGV[8], id)
  return {'ok'}
elseif op == 'release' then
  if not state_of() then return {'gone'} end
  return {'ok', let_go(id, 'reservation.released')}
elseif op == 'fulfil' then
  local state = state_of()
  if not state then return {'gone'} end
  if state ~= 'committed' then return {'state', state} end
  return {'ok', let_go(id, 'reservation.fulfilled')}
elseif op == 'expire' then
  if not state_of() then return {'gone'} end
  return {'ok', let_go(id, 'reservation.expired')}
elseif op == 'sweep' then
  local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[8]))
  for _, rid in ipairs(due) do
    let_go(rid, 'reservation.expired')
  end
  return due
end
return redis.error_reply('holds.lua: unknown op ' .. tostring(op))
