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
-- Statuses and transitions: lib.RECORD_ALLOWED.

local op, id = ARGV[1], ARGV[2]
local now = lib.now_ms()
local rec = {key = KEYS[1], exp = KEYS[2], events = KEYS[3], orders = KEYS[4], id = id,
             maxlen = ARGV[4], now = now}

if op == 'create' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return {'exists', redis.call('HGET', KEYS[1], 'body')}
  end
  lib.record_create(KEYS[1], KEYS[2], id, ARGV[5], ARGV[6], ARGV[7])
  return {'created', ARGV[5]}
elseif op == 'get' then
  local raw, status, parts = lib.record_fetch(rec)
  if not raw then return {'none'} end
  return {status, raw, parts}
elseif op == 'transition' then
  local raw, status, _, body = lib.record_fetch(rec)
  if not raw then return {'none'} end
  return lib.record_move(rec, status, raw, body, ARGV[5], ARGV[6])
elseif op == 'sweep' then
  local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
  local out = {}
  for _, rid in ipairs(due) do
    local key = string.gsub(KEYS[1], ':resv:.*$', ':resv:') .. rid
    local raw = redis.call('HGET', key, 'body')
    redis.call('ZREM', KEYS[2], rid)
    if raw and redis.call('HGET', key, 'status') == 'held' then
      local at = lib.iso(tonumber(redis.call('HGET', key, 'exp') or now))
      redis.call('HSET', key, 'status', 'expired', 'body',
                 lib.body_edit(raw, 'expired', nil, 'expired_at', at))
      redis.call('HDEL', key, 'exp')
      redis.call('EXPIRE', key, lib.RECORD_FINAL_KEEP_S)
      out[#out + 1] = rid
      out[#out + 1] = redis.call('HGET', key, 'parts') or ''
    end
  end
  return out
end
return redis.error_reply('record.lua: unknown op ' .. tostring(op))
