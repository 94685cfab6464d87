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
--   move (a reservation whose id is of this partition: its record's keys follow, KEYS[6]
--           {pNN}:resv:<id>, KEYS[7] {pNN}:resvexp, KEYS[8] {pNN}:orders): the whole move
--           of one whose holds are all here: 8 target status ('held' to extend)
--           9 expires_ms (extend) 10 who may: '' anyone, 'some' or 'all' of its allocations
--           at 11 the store's location. Answers record.lua's transition's answers, or
--           {'forbidden'}, or {'elsewhere', status, body, parts} (holds in other partitions:
--           nothing moved, the caller goes on partition by partition).
-- Returns {outcome, detail...}; see each op.

local op, id, prefix = ARGV[1], ARGV[2], ARGV[4]
local low = tonumber(ARGV[7])
local now = lib.now_ms()
local nlines = (#ARGV - (op == 'hold_create' and 12 or 10)) / 2

-- The time in events, made once a call.
local at
local function ctx_for(sku, safety)
  at = at or lib.iso(now)
  return {part = ARGV[3], stream = KEYS[4], maxlen = ARGV[5], hist = prefix .. 'hist:' .. sku,
          histmax = tonumber(ARGV[6]), sku = sku, at = at, safety = safety}
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
-- {'unknown-sku', sku}, {'short', lines}) as the second value. Each plan is lib.plan_line's
-- answer: {allocs, version, safety}. Writes nothing.
local function plan_all()
  local channel, loc = lib.CHANNELS[ARGV[8]], ARGV[9]
  local groups
  if loc == '' then
    groups = lib.channel_groups(KEYS[1], channel)
  else
    groups = lib.location_group(KEYS[1], loc, channel)
    if not groups then return nil, {'unknown-location'} end
  end
  local plans, short, seen = {}, {}, {}
  for i = 1, nlines do
    local sku, qty = ARGV[9 + 2 * i], tonumber(ARGV[10 + 2 * i])
    -- Each line is planned from the levels before any is held: one line a SKU.
    if seen[sku] then error('holds.lua: SKU ' .. sku .. ' in two lines') end
    seen[sku] = true
    local plan = {lib.plan_line(KEYS[6 + 3 * (i - 1)], groups, channel, qty)}
    if plan[1] == nil then return nil, {'unknown-sku', sku} end
    if plan[1] then
      plans[i] = plan
    else
      short[#short + 1] = {sku = sku, requested = qty, available = plan[2]}
    end
  end
  if #short > 0 then return nil, {'short', cjson.encode(short)} end
  return plans
end

-- The lines held (a table), or nil and the refusal.
local function hold()
  if redis.call('EXISTS', KEYS[2]) == 1 then return existing() end
  local plans, refusal = plan_all()
  if not plans then return nil, refusal end
  local out, held = {}, {}
  for i = 1, nlines do
    local sku, qty = ARGV[9 + 2 * i], tonumber(ARGV[10 + 2 * i])
    local allocs, version, safety = plans[i][1], plans[i][2], plans[i][3]
    local ctx = ctx_for(sku, safety)
    ctx.hist = KEYS[7 + 3 * (i - 1)]
    ctx.version = version + 1
    -- The levels and the version in one write; then what each allocation says.
    local levels, parsed = {':v', ctx.version}, {}
    for k, a in ipairs(allocs) do
      local h, r, c = string.match(a.level, '^(%d+):(%d+):(%d+)$')
      h, r = tonumber(h), tonumber(r)
      parsed[k] = {h, r}
      levels[#levels + 1] = a.location
      levels[#levels + 1] = h .. ':' .. (r + a.quantity) .. ':' .. c
      held[#held + 1] = sku .. '|' .. a.location
      held[#held + 1] = a.quantity
      a.level = nil
    end
    redis.call('HSET', KEYS[6 + 3 * (i - 1)], unpack(levels))
    for k, a in ipairs(allocs) do
      local h, r = parsed[k][1], parsed[k][2]
      lib.emit_resv(ctx, 'reservation.held', a.location, h, r + a.quantity, id, a.quantity)
      lib.transitions(ctx, a.location, h, r, h, r + a.quantity, low)
    end
    redis.call('SADD', KEYS[8 + 3 * (i - 1)], id)
    out[#out + 1] = {sku = sku, quantity = qty, allocations = allocs}
  end
  held[#held + 1] = ':exp'
  held[#held + 1] = ARGV[10]
  held[#held + 1] = ':state'
  held[#held + 1] = 'held'
  redis.call('HSET', KEYS[2], unpack(held))
  redis.call('ZADD', KEYS[3], ARGV[10], id)
  redis.call('SADD', KEYS[5], id)
  return out
end

-- Hold, then create the record beside the holds: one script for a basket of one partition.
local function hold_create()
  local rkey, rexp = KEYS[#KEYS - 1], KEYS[#KEYS]
  if redis.call('EXISTS', rkey) == 1 then
    return {'exists', redis.call('HGET', rkey, 'body')}
  end
  local lines, refusal = hold()
  if not lines then return refusal end
  -- The body comes as a JSON object without its lines: they go in last, encoded alone.
  local json = string.sub(ARGV[#ARGV - 1], 1, -2) .. ',"lines":' .. lib.lines_json(lines) .. '}'
  lib.record_create(rkey, rexp, id, json, ARGV[10], ARGV[#ARGV])
  return {'created', json}
end

-- Give back (release, expire) or hand over (fulfil) everything reservation rid holds here;
-- @flat: its holds' hash, when the caller has read it.
local function let_go(rid, etype, flat)
  local hkey = prefix .. 'hold:' .. rid
  flat = flat or redis.call('HGETALL', hkey)
  local lines = 0
  for i = 1, #flat, 2 do
    local sku, loc = string.match(flat[i], '^([^|]+)|(.+)$')
    if sku then
      local q = tonumber(flat[i + 1])
      local skukey = prefix .. 'sku:' .. sku
      local v = redis.call('HMGET', skukey, ':v', ':s', loc)
      local ctx = ctx_for(sku, tonumber(v[2] or '0'))
      local h, r, c = lib.parse_level(v[3])
      local nh, nr = h, math.max(0, r - q)
      if etype == 'reservation.fulfilled' then nh = math.max(0, h - q) end
      ctx.version = tonumber(v[1] or '0') + 1
      redis.call('HSET', skukey, ':v', ctx.version, loc, nh .. ':' .. nr .. ':' .. math.max(c, 0))
      lib.emit_resv(ctx, etype, loc, nh, nr, rid, q)
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

-- The value of @name in a hash read with HGETALL (@flat), or nil.
local function field(flat, name)
  for i = 1, #flat, 2 do
    if flat[i] == name then return flat[i + 1] end
  end
  return nil
end

-- The holds' state ('held', 'committed') and expiry; nil when there are none.
local function state_of()
  local v = redis.call('HMGET', KEYS[2], ':state', ':exp')
  if not v[1] then return nil end
  return v[1], tonumber(v[2])
end

-- Does the reservation (@body decoded) have 'some' or 'all' of its allocations at @loc?
local function at_location(body, loc, rule)
  local any, all, seen = false, true, false
  for _, line in ipairs(body.lines or {}) do
    for _, a in ipairs(line.allocations or {}) do
      seen = true
      if a.location == loc then any = true else all = false end
    end
  end
  if rule == 'some' then return any end
  return seen and all
end

local HOLD_OPS = {held = 'extend', committed = 'commit', released = 'release',
                  fulfilled = 'fulfil'}

-- The holds' side of a move to @target: nil when done, else 'expired' (they ran out) or
-- 'state' (they are not in the state the move needs).
local function move_holds(target)
  local hop = HOLD_OPS[target]
  if hop == 'release' or hop == 'fulfil' then
    -- The holds read once: their state, and what they hold.
    local flat = redis.call('HGETALL', KEYS[2])
    if #flat == 0 then return nil end
    if hop == 'fulfil' and field(flat, ':state') ~= 'committed' then return 'state' end
    let_go(id, hop == 'release' and 'reservation.released' or 'reservation.fulfilled', flat)
    return nil
  end
  local state, exp = state_of()
  if not state or (state == 'held' and exp <= now) then
    return 'expired'
  elseif hop == 'commit' then
    if state ~= 'committed' then
      redis.call('HSET', KEYS[2], ':state', 'committed')
      redis.call('ZREM', KEYS[3], id)
    end
  else
    if state ~= 'held' then return 'state' end
    redis.call('HSET', KEYS[2], ':exp', ARGV[9])
    redis.call('ZADD', KEYS[3], ARGV[9], id)
  end
  return nil
end

-- A reservation's whole move in one script, when its holds are all in this partition.
local function move()
  local rec = {key = KEYS[6], exp = KEYS[7], events = KEYS[4], orders = KEYS[8], id = id,
               maxlen = ARGV[5], now = now}
  local target = ARGV[8]
  local raw, status, parts, body = lib.record_fetch(rec)
  if not raw then return {'none'} end
  if parts ~= ARGV[3] then return {'elsewhere', status, raw, parts or ''} end
  if ARGV[10] ~= '' then
    body = body or cjson.decode(raw)
    if not at_location(body, ARGV[11], ARGV[10]) then return {'forbidden'} end
  end
  local refusal = lib.record_refusal(status, raw, target)
  if refusal then return refusal end
  local trouble = move_holds(target)
  if trouble == 'state' then return {'invalid', 'held'} end
  if trouble == 'expired' then
    if state_of() then let_go(id, 'reservation.expired') end
    lib.record_move(rec, status, raw, body, 'expired')
    return {'invalid', 'expired'}
  end
  return lib.record_move(rec, status, raw, body, target, ARGV[9])
end

if op == 'move' then
  return move()
elseif op == 'hold' then
  local lines, refusal = hold()
  if not lines then return refusal end
  return {'held', cjson.encode(lines)}
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
elseif op == 'release' or op == 'expire' then
  local flat = redis.call('HGETALL', KEYS[2])
  if #flat == 0 then return {'gone'} end
  return {'ok', let_go(id, op == 'release' and 'reservation.released' or 'reservation.expired',
                       flat)}
elseif op == 'fulfil' then
  local flat = redis.call('HGETALL', KEYS[2])
  if #flat == 0 then return {'gone'} end
  local state = field(flat, ':state')
  if state ~= 'committed' then return {'state', state} end
  return {'ok', let_go(id, 'reservation.fulfilled', flat)}
elseif op == 'sweep' then
  local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[8]))
  for _, rid in ipairs(due) do
    let_go(rid, 'reservation.expired')
  end
  return due
end
return redis.error_reply('holds.lua: unknown op ' .. tostring(op))
