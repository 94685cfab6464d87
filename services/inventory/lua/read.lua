-- read.lua: the levels (and, when asked, the products) of several SKUs of one
-- partition in one round trip.
--
-- KEYS[1]     {pNN}:locs                   the locations, as this partition knows them
-- KEYS[2..n]  {pNN}:sku:<sku>, or for each SKU {pNN}:sku:<sku> then {pNN}:prod:<sku>:
--             stock hashes and product descriptions (empty when the SKU is unknown)
-- Returns {locs, hash2, hash3, ...}, each a flat HGETALL array.
local out = {redis.call('HGETALL', KEYS[1])}
for i = 2, #KEYS do
  out[i] = redis.call('HGETALL', KEYS[i])
end
return out
