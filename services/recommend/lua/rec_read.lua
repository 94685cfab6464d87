-- rec_read.lua: what the model and the customer's choices say about one primary.
--
-- KEYS[1] {rec}:n  KEYS[2] {rec}:co:<primary>  KEYS[3] {rec}:cust:<id>
-- KEYS[4] {rec}:cust:<id>:bought  KEYS[5] {rec}:cust:<id>:dismiss
-- KEYS[6] {rec}:sess:<id>:dismiss  (customer and session keys are {rec}:absent when none)
-- ARGV 1 primary  2 today's dismissal field '<yyyymmdd>|<primary>'  3 most candidates
-- Returns {total, primary orders, {b, together, b orders, ...}, preferences (flat),
--          bought SKUs (only with personalisation consent), dismissals today}.
-- Candidates beyond ARGV[3] are cut by orders together, most first.

local absent = '{rec}:absent'

local total = tonumber(redis.call('HGET', KEYS[1], ':total') or '0')
local norders = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local co = redis.call('HGETALL', KEYS[2])
local limit = tonumber(ARGV[3])
local pairs_ = {}
for j = 1, #co, 2 do pairs_[#pairs_ + 1] = {co[j], tonumber(co[j + 1])} end
if #pairs_ > limit then
  table.sort(pairs_, function(x, y)
    if x[2] ~= y[2] then return x[2] > y[2] end
    return x[1] < y[1]
  end)
end
local cands, skus = {}, {}
for j = 1, math.min(#pairs_, limit) do skus[j] = pairs_[j][1] end
local counts = #skus > 0 and redis.call('HMGET', KEYS[1], unpack(skus)) or {}
for j = 1, #skus do
  cands[#cands + 1] = skus[j]
  cands[#cands + 1] = pairs_[j][2]
  cands[#cands + 1] = tonumber(counts[j] or '0')
end

local prefs, bought, dismissed = {}, {}, 0
if KEYS[3] ~= absent then
  prefs = redis.call('HGETALL', KEYS[3])
  if redis.call('HGET', KEYS[3], 'personalisation_consent') == 'true' then
    bought = redis.call('ZRANGE', KEYS[4], 0, -1)
  end
  dismissed = tonumber(redis.call('HGET', KEYS[5], ARGV[2]) or '0')
end
if KEYS[6] ~= absent then
  dismissed = math.max(dismissed, tonumber(redis.call('HGET', KEYS[6], ARGV[2]) or '0'))
end
return {total, norders, cands, prefs, bought, dismissed}
