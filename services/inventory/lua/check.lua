-- check.lua: the consistency of one slice of a partition's SKUs: every
-- level's reserved equals the sum of the active holds of that SKU and
-- location, and nothing is negative. A slice is checked in one step, so it
-- is consistent in itself; slices keep Redis free for other clients between
-- them.
--
-- KEYS[1] {pNN}:skus  KEYS[2] {pNN}:holds
-- ARGV 1 key prefix "{pNN}:"  2 SSCAN cursor ("0" for the first slice)  3 SKUs per slice
-- Returns JSON {"skus", "cursor" (the next slice's, "0" after the last),
-- "holds": [ids] (first slice only), "problems": [{kind, sku, location, detail}]}.

local prefix, first = ARGV[1], ARGV[2] == '0'
local held, problems = {}, {}
local holds = redis.call('SMEMBERS', KEYS[2])
for _, rid in ipairs(holds) do
  local flat = redis.call('HGETALL', prefix .. 'hold:' .. rid)
  if #flat == 0 then
    problems[#problems + 1] = {kind = 'dangling-hold', reservation = rid,
                               detail = 'listed as holding but holds nothing'}
  end
  for i = 1, #flat, 2 do
    if string.sub(flat[i], 1, 1) ~= ':' then
      held[flat[i]] = (held[flat[i]] or 0) + tonumber(flat[i + 1])
    end
  end
end
local scan = redis.call('SSCAN', KEYS[1], ARGV[2], 'COUNT', tonumber(ARGV[3]))
local skus, in_slice = scan[2], {}
for _, sku in ipairs(skus) do
  in_slice[sku] = true
end
for _, sku in ipairs(skus) do
  local flat = redis.call('HGETALL', prefix .. 'sku:' .. sku)
  for i = 1, #flat, 2 do
    local loc = flat[i]
    if string.sub(loc, 1, 1) ~= ':' then
      local h, r = string.match(flat[i + 1], '^(%-?%d+):(%-?%d+):')
      h, r = tonumber(h), tonumber(r)
      local key = sku .. '|' .. loc
      local want = held[key] or 0
      held[key] = nil
      if not h or h < 0 or r < 0 then
        problems[#problems + 1] = {kind = 'negative', sku = sku, location = loc,
                                   detail = 'level ' .. flat[i + 1]}
      elseif r ~= want then
        problems[#problems + 1] = {kind = 'reserved-mismatch', sku = sku, location = loc,
                                   detail = 'reserved ' .. r .. ' but holds sum to ' .. want}
      end
    end
  end
end
-- Holds no level records: of this slice's SKUs, or (once) of SKUs with no levels at all.
for key, q in pairs(held) do
  local sku, loc = string.match(key, '^([^|]+)|(.+)$')
  if in_slice[sku] or (first and redis.call('SISMEMBER', KEYS[1], sku) == 0) then
    problems[#problems + 1] = {kind = 'reserved-mismatch', sku = sku, location = loc,
                               detail = 'holds sum to ' .. q .. ' but no level records them'}
  end
end
if not first then holds = {} end
return cjson.encode({skus = #skus, cursor = scan[1], holds = holds, problems = problems})
