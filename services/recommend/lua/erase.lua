-- erase.lua: forget a customer (DELETE /v1/customers/{id}).
--
-- KEYS[1] {rec}:cust:<id>  KEYS[2] {rec}:cust:<id>:bought  KEYS[3] {rec}:cust:<id>:dismiss
-- KEYS[4] {rec}:audit
-- ARGV 1 the customer id
-- Deletes the preferences, the purchases and the dismissals, and every audit
-- entry that names the customer. The shared counts ({rec}:n, {rec}:co:*) name
-- no one and stay. Returns {keys deleted, audit entries deleted}.

local deleted = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local audits, start = 0, '-'
while true do
  local batch = redis.call('XRANGE', KEYS[4], start, '+', 'COUNT', 500)
  if #batch == 0 then break end
  for _, entry in ipairs(batch) do
    local f = entry[2]
    for j = 1, #f, 2 do
      if f[j] == 'customer' and f[j + 1] == ARGV[1] then
        redis.call('XDEL', KEYS[4], entry[1])
        audits = audits + 1
        break
      end
    end
  end
  if #batch < 500 then break end
  start = '(' .. batch[#batch][1]
end
return {deleted, audits}
