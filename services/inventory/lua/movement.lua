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
-- ARGV  1 partition  2 sku  3 type  4 location  5 quantity  6 to_location ('' if none)
--       7 as_of_ms ('' = now)  8 reason  9 reference  10 low-stock threshold
--       11 events kept  12 ledger entries kept  13 fingerprint ('' = no key)  14 record TTL
-- Returns {answer, replayed}: answer is JSON, {"status": 201, ...} on success or
-- {"status": 4xx, "problem": "<code>", "field", "detail", ...}.

local part, sku, mtype, loc = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local qty = tonumber(ARGV[5])
local to_loc = ARGV[6]
local low = tonumber(ARGV[10])
local fp = ARGV[13]

if fp ~= '' then
  local prev = redis.call('GET', KEYS[5])
  if prev then
    if string.sub(prev, 1, 64) ~= fp then
      return {cjson.encode({status = 422, problem = 'idempotency-key-reused',
                            field = 'Idempotency-Key',
                            detail = 'this Idempotency-Key was used for a different request'}), 0}
    end
    return {string.sub(prev, 65), 1}
  end
end

local function finish(answer)
  local json = cjson.encode(answer)
  if fp ~= '' then
    redis.call('SET', KEYS[5], fp .. json, 'EX', ARGV[14])
  end
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

local function level(l)
  local v = redis.call('HGET', KEYS[1], l)
  if not v then return 0, 0, -1 end
  local h, r, c = string.match(v, '^(%d+):(%d+):(%-?%d+)$')
  return tonumber(h), tonumber(r), tonumber(c)
end

local function available(h, r)
  local a = h - r - safety
  if a < 0 then return 0 end
  return a
end

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function iso(ms)
  local secs = math.floor(ms / 1000)
  local z = math.floor(secs / 86400) + 719468
  local rem = secs % 86400
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                          - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rem / 3600),
                       math.floor(rem % 3600 / 60), rem % 60, ms % 1000)
end

local h, r, c = level(loc)
local h0, r0 = h, r
local th, tr, tc, th0
local as_of = now_ms
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

local version = redis.call('HINCRBY', KEYS[1], ':v', 1)
if c < 0 then c = 0 end
redis.call('HSET', KEYS[1], loc, h .. ':' .. r .. ':' .. c)
if mtype == 'transfer' then
  th, tr, tc = level(to_loc)
  th0 = th
  if tc < 0 then tc = 0 end
  th = th + qty
  redis.call('HSET', KEYS[1], to_loc, th .. ':' .. tr .. ':' .. tc)
end

local at = iso(now_ms)

local function emit(etype, l, lh, lr, extra)
  local ev = {type = etype, at = at, sku = sku, location = l, version = version,
              levels = {on_hand = lh, reserved = lr, available = available(lh, lr)}}
  for k, v in pairs(extra or {}) do ev[k] = v end
  local sid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[11], '*', 'sku', sku, 'loc', l,
                         'type', etype, 'e', cjson.encode(ev))
  ev.id = part .. '-' .. sid
  redis.call('LPUSH', KEYS[4], cjson.encode(ev))
  return ev.id
end

-- The threshold events that follow from one location's change.
local function transitions(l, bh, br, ah, ar)
  local before, after = available(bh, br), available(ah, ar)
  if after == 0 and before > 0 then
    emit('stock.out', l, ah, ar)
  elseif after > 0 and before == 0 then
    emit('stock.back', l, ah, ar)
  end
  if after > 0 and after <= low and before > low then
    emit('stock.low', l, ah, ar)
  end
  if ah < ar and ah < bh then
    emit('stock.shortfall', l, ah, ar, {shortfall = ar - ah})
  end
end

local movement = {type = mtype, quantity = qty}
if ARGV[8] ~= '' then movement.reason = ARGV[8] end
if ARGV[9] ~= '' then movement.reference = ARGV[9] end
if mtype == 'count' then movement.as_of = iso(as_of) end
local event_id
if mtype == 'transfer' then
  movement.type = 'transfer_out'
  movement.to_location = to_loc
  event_id = emit('stock.changed', loc, h, r, {movement = movement})
  local incoming = {type = 'transfer_in', quantity = qty, from_location = loc,
                    reason = movement.reason, reference = movement.reference}
  emit('stock.changed', to_loc, th, tr, {movement = incoming})
else
  event_id = emit('stock.changed', loc, h, r, {movement = movement})
end
transitions(loc, h0, r0, h, r)
if mtype == 'transfer' then
  transitions(to_loc, th0, tr, th, tr)
end
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[12]) - 1)

local answer = {status = 201, event_id = event_id, sku = sku, location = loc, on_hand = h,
                reserved = r, available = available(h, r), version = version}
if mtype == 'transfer' then
  answer.to = {location = to_loc, on_hand = th, reserved = tr, available = available(th, tr)}
end
return finish(answer)
