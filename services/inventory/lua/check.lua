-- check.lua: the consistency of one partition: every level's reserved equals
-- the sum of the active holds of that SKU and location, and nothing is negative.
--
-- KEYS[1] {pNN}:skus  KEYS[2] {pNN}:holds
-- ARGV 1 key prefix "{pNN}:"
-- Returns JSON {"skus", "holds": [ids], "problems": [{kind, sku, location, detail}]}.

local prefix = ARGV[1]
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
local skus = redis.call('SMEMBERS', KEYS[1])
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
for key, q in pairs(held) do
  local sku, loc = string.match(key, '^([^|]+)|(.+)$')
  problems[#problems + 1] = {kind = 'reserved-mismatch', sku = sku, location = loc,
                             detail = 'holds sum to ' .. q .. ' but no level records them'}
end
return cjson.encode({skus = #skus, holds = holds, problems = problems})
