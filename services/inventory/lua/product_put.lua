-- product_put.lua: create or replace a product and its stock hash together.
--
-- KEYS[1] {pNN}:prod:<sku>  the product's description
-- KEYS[2] {pNN}:sku:<sku>   its stock hash (levels, ':s' safety stock, ':v' version)
-- KEYS[3] {pNN}:skus        the SKUs of the partition
-- ARGV    sku, name, category, price amount, currency, safety stock
-- Returns 1 when the product is new, 0 when it was replaced.
local created = redis.call('EXISTS', KEYS[1]) == 0
redis.call('HSET', KEYS[1], 'name', ARGV[2], 'category', ARGV[3], 'amount', ARGV[4],
           'currency', ARGV[5], 'safety_stock', ARGV[6])
-- Safety stock changes what every channel may promise: a new version.
redis.call('HSET', KEYS[2], ':s', ARGV[6])
redis.call('HINCRBY', KEYS[2], ':v', 1)
redis.call('SADD', KEYS[3], ARGV[1])
if created then return 1 end
return 0
