-- record.lua: a reservation's record, in the partition of its id: create it,
-- move it from one status to another, and find the held ones past expiry.
--
--   {pNN}:resv:<id>  'body' = the reservation as the API shows it (JSON),
--                    'status', 'exp' (ms, while held), 'parts' (its SKUs' partitions)
--   {pNN}:resvexp    held reservations by expiry
--   {pNN}:orders     the orders placed (committed), for the recommend module's
--                    consumer group: 'id', 'customer', 'channel', 'at' (ms),
--                    'skus' (comma-separated, distinct)
--   {pNN}:custresv:<customer>  the ids of the partition's reservations that
--                    name the customer, so that erasing the customer finds
--                    them (services/recommend/lua/erase_resv.lua); a record
--                    that names one also keeps 'events', the stream ids of its
--                    events that name the customer
--
-- KEYS[1] {pNN}:resv:<id>  KEYS[2] {pNN}:resvexp  KEYS[3] {pNN}:events  KEYS[4] {pNN}:orders
-- ARGV 1 op  2 id  3 partition  4 events kept
--   create:     5 body (JSON, status held)  6 expires_ms  7 parts ("3,9")
--   transition: 5 target status  6 expires_ms (extend only)
--   sweep:      5 most records to expire in one call
-- Statuses: held -> committed | released | expired; committed -> released | fulfilled.

local op, id = ARGV[1], ARGV[2]
local now = lib.now_ms()
-- A record that can change no more (released, expired, fulfilled) is kept
-- this long for reads and repeated transitions, then dropped.
local FINAL_KEEP_S = 7 * 24 * 3600

local allowed = {
  held = {committed = true, released = true, expired = true, held = true},
  committed = {released = true, fulfilled = true},
}

local stamp = {committed = 'committed_at', released = 'released_at', expired = 'expired_at',
               fulfilled = 'fulfilled_at'}

local function emit_whole(etype, body, extra)
  local ev = {type = etype, at = lib.iso(now), reservation = id, channel = body.channel,
              location = body.location, customer = body.customer, reference = body.reference}
  for k, v in pairs(extra or {}) do ev[k] = v end
  return redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'type', etype, 'e',
                    cjson.encode(ev))
end

-- The record's body (JSON), status, expiry and partitions, in one read; nil when none.
local function fetch()
  local v = redis.call('HMGET', KEYS[1], 'body', 'status', 'exp', 'parts')
  if not v[1] then return nil end
  return v[1], v[2], tonumber(v[3] or '0'), v[4]
end

-- Mark a held record past its expiry as expired. Returns the status and the body (JSON),
-- and @body decoded when it was (nil otherwise: most reads need not decode it).
local function settle(raw, status, exp)
  if status == 'held' and exp <= now then
    local body = cjson.decode(raw)
    body.status = 'expired'
    body.expired_at = lib.iso(exp)
    body.expires_at = nil
    raw = cjson.encode(body)
    redis.call('HSET', KEYS[1], 'status', 'expired', 'body', raw)
    redis.call('EXPIRE', KEYS[1], FINAL_KEEP_S)
    redis.call('ZREM', KEYS[2], id)
    return 'expired', raw, body
  end
  return status, raw, nil
end

if op == 'create' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return {'exists', redis.call('HGET', KEYS[1], 'body')}
  end
  lib.record_create(KEYS[1], KEYS[2], id, ARGV[5], ARGV[6], ARGV[7])
  return {'created', ARGV[5]}
elseif op == 'get' then
  local raw, status, exp, parts = fetch()
  if not raw then return {'none'} end
  status, raw = settle(raw, status, exp)
  return {status, raw, parts}
elseif op == 'transition' then
  local target = ARGV[5]
  local raw, status, exp = fetch()
  if not raw then return {'none'} end
  local body
  status, raw, body = settle(raw, status, exp)
  if status == target and target ~= 'held' then
    return {'same', raw}
  end
  if not allowed[status] or not allowed[status][target] then
    return {'invalid', status}
  end
  body = body or cjson.decode(raw)
  if target == 'held' then
    -- extend
    body.expires_at = lib.iso(tonumber(ARGV[6]))
    redis.call('HSET', KEYS[1], 'exp', ARGV[6], 'body', cjson.encode(body))
    redis.call('ZADD', KEYS[2], ARGV[6], id)
    return {'ok', cjson.encode(body)}
  end
  body.status = target
  body[stamp[target]] = lib.iso(now)
  body.expires_at = nil
  local json = cjson.encode(body)
  redis.call('HSET', KEYS[1], 'status', target, 'body', json)
  redis.call('HDEL', KEYS[1], 'exp')
  redis.call('ZREM', KEYS[2], id)
  if target ~= 'committed' then redis.call('EXPIRE', KEYS[1], FINAL_KEEP_S) end
  if target == 'committed' then
    local lines = {}
    for i, l in ipairs(body.lines) do lines[i] = {sku = l.sku, quantity = l.quantity} end
    local committed = emit_whole('reservation.committed', body)
    local placed = emit_whole('order.placed', body, {lines = lines})
    if body.customer then redis.call('HSET', KEYS[1], 'events', committed .. ' ' .. placed) end
    local skus = {}
    for i, l in ipairs(body.lines) do skus[i] = l.sku end
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'id', id, 'customer',
               body.customer or '', 'channel', body.channel, 'at', now, 'skus',
               table.concat(skus, ','))
  end
  return {'ok', json}
elseif op == 'sweep' then
  local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
  local out = {}
  for _, rid in ipairs(due) do
    local key = string.gsub(KEYS[1], ':resv:.*$', ':resv:') .. rid
    local raw = redis.call('HGET', key, 'body')
    redis.call('ZREM', KEYS[2], rid)
    if raw and redis.call('HGET', key, 'status') == 'held' then
      local body = cjson.decode(raw)
      body.status = 'expired'
      body.expired_at = lib.iso(tonumber(redis.call('HGET', key, 'exp') or now))
      body.expires_at = nil
      redis.call('HSET', key, 'status', 'expired', 'body', cjson.encode(body))
      redis.call('HDEL', key, 'exp')
      redis.call('EXPIRE', key, FINAL_KEEP_S)
      out[#out + 1] = rid
      out[#out + 1] = redis.call('HGET', key, 'parts') or ''
    end
  end
  return out
end
return redis.error_reply('record.lua: unknown op ' .. tostring(op))
