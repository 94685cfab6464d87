-- erase_resv.lua: take a customer off the reservations of one partition
-- (DELETE /v1/customers/{id}), by the index that record.lua keeps.
--
-- KEYS[1] {pNN}:custresv:<customer>  KEYS[2] {pNN}:events
-- KEYS[3] {pNN}:custidem:<customer>
-- ARGV 1 the customer id
-- Each record keeps its lines, status and times but no longer names the
-- customer; its whole-reservation events (reservation.committed and
-- order.placed), which name the customer, leave the event log. The records
-- are the inventory's ({pNN}:resv:<id>, services/inventory/lua/record.lua),
-- in the same partition as the index. The idempotency records of answers
-- that named the customer (common/http.c lists them in KEYS[3]) are deleted:
-- a retry with such a key runs again, and finds the reservation as it now is.
-- Returns how many records were changed.

local prefix = (string.gsub(KEYS[1], ':custresv:.*$', ':resv:'))
local changed = 0
for _, rid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = prefix .. rid
  local raw = redis.call('HGET', key, 'body')
  if raw then
    -- The member taken out where it stands: the rest keeps its order (the daemon answers
    -- the body as it is). Customer ids are identifiers, written without escapes.
    local at, to = string.find(raw, ',"customer":"' .. ARGV[1] .. '"', 1, true)
    if not at then -- a body written before its order was kept may have it first
      at, to = string.find(raw, '"customer":"' .. ARGV[1] .. '",', 1, true)
    end
    if at then
      redis.call('HSET', key, 'body', string.sub(raw, 1, at - 1) .. string.sub(raw, to + 1))
      changed = changed + 1
    end
    local events = redis.call('HGET', key, 'events')
    if events then
      for sid in string.gmatch(events, '%S+') do redis.call('XDEL', KEYS[2], sid) end
      redis.call('HDEL', key, 'events')
    end
  end
end
redis.call('DEL', KEYS[1])
for _, key in ipairs(redis.call('SMEMBERS', KEYS[3])) do redis.call('DEL', key) end
redis.call('DEL', KEYS[3])
return changed
