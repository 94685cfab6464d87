-- movement.lua: apply one stock movement atomically: check it, change the
-- levels, bump the SKU's version, record the events and remember the answer
-- under the request's idempotency key.
--
-- KEYS[1] {pNN}:sku:<sku>    stock hash: <location> = "on_hand:reserved:last_count_ms",
--                            ':s' safety stock, ':v' version
-- KEYS[2] {pNN}:locs         the locations known to this partition
-- KEYS[3] {pNN}:events       the partition's event stream
-- KEYS[4] {pNN}:hist:<sku>   the SKU's ledger, newest first
-- KEYS[5] {pNN}:idem:<scope> the idempotency record
-- KEYS[6] {pNN}:holdsof:<sku> the reservations holding this SKU (for shortfalls)
-- ARGV  1 partition  2 sku  3 type  4 location  5 quantity  6 to_location ('' if none)
--       7 as_of_ms ('' = now)  8 reason  9 reference  10 low-stock threshold
--       11 events kept  12 ledger entries kept  13 fingerprint ('' = no key)  14 record TTL
--       15 the partition's hold key prefix, "{pNN}:hold:"
-- Returns {answer, replayed}: answer is JSON, {"status": 201, ...} on success or
-- {"status": 4xx, "problem": "<code>", "field", "detail", ...}.

local sku, mtype, loc = ARGV[2], ARGV[3], ARGV[4]
local qty = tonumber(ARGV[5])
local to_loc = ARGV[6]
local low = tonumber(ARGV[10])
local fp = ARGV[13]

local replay = lib.idem_replay(KEYS[5], fp)
if replay then return replay end

local function finish(answer)
  local json = cjson.encode(answer)
  lib.idem_store(KEYS[5], fp, json, ARGV[14])
  return {json, 0}
end

local function problem(status, code, field, detail, extra)
  local p = {status = status, problem = code, field = field, detail = detail}
  for k, v in pairs(extra or {}) do p[k] = v end
  return finish(p)
end

if redis.call('EXISTS', KEYS[1]) == 0 then
  return problem(422, 'unknown-reference', 'sku', 'no product ' .. sku)
end
if redis.call('HEXISTS', KEYS[2], loc) == 0 then
  return problem(422, 'unknown-reference', 'location', 'no location ' .. loc)
end
if to_loc ~= '' and redis.call('HEXISTS', KEYS[2], to_loc) == 0 then
  return problem(422, 'unknown-reference', 'to_location', 'no location ' .. to_loc)
end

local safety = tonumber(redis.call('HGET', KEYS[1], ':s') or '0')
local now = lib.now_ms()
local h, r, c = lib.level(KEYS[1], loc)
local h0 = h
local th, tr, tc, th0
local as_of = now
if ARGV[7] ~= '' then as_of = tonumber(ARGV[7]) end

if mtype == 'receipt' or mtype == 'return' then
  h = h + qty
elseif mtype == 'sale' or mtype == 'transfer' or mtype == 'adjustment' then
  local delta = qty
  if mtype ~= 'adjustment' then delta = -qty end
  if h + delta < 0 then
    return problem(409, 'insufficient-stock', 'quantity',
                   loc .. ' has ' .. h .. ' on hand of ' .. sku, {on_hand = h})
  end
  h = h + delta
elseif mtype == 'count' then
  if as_of < c then
    return problem(409, 'stale-count', 'as_of',
                   'a later count of ' .. sku .. ' at ' .. loc .. ' was applied already')
  end
  h = qty
  c = as_of
end

local ctx = {part = ARGV[1], stream = KEYS[3], maxlen = ARGV[11], hist = KEYS[4],
             histmax = tonumber(ARGV[12]), sku = sku, safety = safety, at = lib.iso(now)}
ctx.version = redis.call('HINCRBY', KEYS[1], ':v', 1)
lib.set_level(KEYS[1], loc, h, r, c)
if mtype == 'transfer' then
  th, tr, tc = lib.level(KEYS[1], to_loc)
  th0 = th
  th = th + qty
  lib.set_level(KEYS[1], to_loc, th, tr, tc)
end

-- The reservations at risk when on_hand falls below reserved at a location.
local function at_risk(l)
  local out = {}
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[6])) do
    local held = redis.call('HGET', ARGV[15] .. id, sku .. '|' .. l)
    if held then out[#out + 1] = id end
  end
  table.sort(out)
  return out
end

local movement = {type = mtype, quantity = qty}
if ARGV[8] ~= '' then movement.reason = ARGV[8] end
if ARGV[9] ~= '' then movement.reference = ARGV[9] end
if mtype == 'count' then movement.as_of = lib.iso(as_of) end
local event_id
if mtype == 'transfer' then
  movement.type = 'transfer_out'
  movement.to_location = to_loc
  event_id = lib.emit(ctx, 'stock.changed', loc, h, r, {movement = movement})
  lib.emit(ctx, 'stock.changed', to_loc, th, tr,
           {movement = {type = 'transfer_in', quantity = qty, from_location = loc,
                        reason = movement.reason, reference = movement.reference}})
else
  event_id = lib.emit(ctx, 'stock.changed', loc, h, r, {movement = movement})
end
lib.transitions(ctx, loc, h0, r, h, r, low, h < r and at_risk(loc) or nil)
if mtype == 'transfer' then
  lib.transitions(ctx, to_loc, th0, tr, th, tr, low)
end

local answer = {status = 201, event_id = event_id, sku = sku, location = loc, on_hand = h,
                reserved = r, available = lib.available(h, r, safety), version = ctx.version}
if mtype == 'transfer' then
  answer.to = {location = to_loc, on_hand = th, reserved = tr,
               available = lib.available(th, tr, safety)}
end
return finish(answer)
