-- learn.lua: count orders into the co-purchase model, each order once.
--
-- The model lives in one slot, {rec}:
--   {rec}:n                 '<sku>' = orders with the SKU, ':total' = all orders
--   {rec}:co:<a>            '<b>' = orders with both a and b (kept both ways)
--   {rec}:seen              the ids of the orders counted
--   {rec}:cust:<id>:bought  the customer's SKUs, scored by the last order's time
--
-- KEYS[1] {rec}:n  KEYS[2] {rec}:seen
-- ARGV 1 key prefix "{rec}:"  2 most SKUs of an order whose pairs are counted
--      then per order: id, customer ('' for none), at (ms), n, then n distinct SKUs
-- Returns {accepted, duplicates}.
--
-- An order's every SKU counts in {rec}:n; pairs only among its first ARGV[2]
-- SKUs, which bounds one order's work to cap*(cap-1) increments.

local prefix, cap = ARGV[1], tonumber(ARGV[2])
local accepted, duplicates = 0, 0
local i = 3
while i <= #ARGV do
  local id, customer, at, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local first = i + 4
  i = first + n
  if redis.call('SADD', KEYS[2], id) == 0 then
    duplicates = duplicates + 1
  else
    accepted = accepted + 1
    redis.call('HINCRBY', KEYS[1], ':total', 1)
    local bought = customer ~= '' and (prefix .. 'cust:' .. customer .. ':bought') or nil
    for j = first, first + n - 1 do
      redis.call('HINCRBY', KEYS[1], ARGV[j], 1)
      if bought then redis.call('ZADD', bought, 'GT', at, ARGV[j]) end
    end
    local last = first + math.min(n, cap) - 1
    for a = first, last do
      local co = prefix .. 'co:' .. ARGV[a]
      for b = first, last do
        if a ~= b then redis.call('HINCRBY', co, ARGV[b], 1) end
      end
    end
  end
end
return {accepted, duplicates}
