-- erase_orders.lua: take a customer off the orders of one partition that are
-- still waiting to be counted (DELETE /v1/customers/{id}).
--
-- KEYS[1] {pNN}:orders
-- ARGV 1 the customer id  2 the consumer group
-- An entry that names the customer is replaced by a copy with customer '':
-- the order keeps its id, so it still counts once, anonymously, and counting
-- it no longer records the customer's purchases after the erasure. The
-- original is acknowledged (whoever had read it) and deleted.
-- Returns how many entries were replaced.

local replaced, start = 0, '-'
while true do
  local batch = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 500)
  for _, entry in ipairs(batch) do
    local f, named = entry[2], false
    for j = 1, #f - 1, 2 do
      if f[j] == 'customer' and f[j + 1] == ARGV[1] then
        f[j + 1] = ''
        named = true
      end
    end
    if named then
      redis.call('XADD', KEYS[1], '*', unpack(f))
      redis.call('XACK', KEYS[1], ARGV[2], entry[1])
      redis.call('XDEL', KEYS[1], entry[1])
      replaced = replaced + 1
    end
  end
  if #batch < 500 then break end
  start = '(' .. batch[#batch][1]
end
return replaced
