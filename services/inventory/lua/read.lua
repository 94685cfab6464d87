-- read.lua: the levels of several SKUs of one partition in one round trip.
--
-- KEYS[1]     {pNN}:locs       the locations, as this partition knows them
-- KEYS[2..n]  {pNN}:sku:<sku>  stock hashes (empty when the SKU is unknown)
-- Returns {locs, sku1, sku2, ...}, each a flat HGETALL array.
local out = {redis.call('HGETALL', KEYS[1])}
for i = 2, #KEYS do
  out[i] = redis.call('HGETALL', KEYS[i])
end
return out
