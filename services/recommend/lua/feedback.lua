-- feedback.lua: count one shown, accepted or dismissed suggestion.
--
-- KEYS[1] {rec}:stats  '<event>' = count
-- KEYS[2] {rec}:cust:<id>:dismiss  KEYS[3] {rec}:sess:<id>:dismiss  ({rec}:absent when none)
--         '<yyyymmdd>|<primary>' = dismissals that day
-- ARGV 1 event  2 today's field '<yyyymmdd>|<primary>'  3 seconds the dismissals are kept
-- Returns the stats hash, flat.

redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if ARGV[1] == 'dismissed' then
  for k = 2, 3 do
    if KEYS[k] ~= '{rec}:absent' then
      redis.call('HINCRBY', KEYS[k], ARGV[2], 1)
      redis.call('EXPIRE', KEYS[k], ARGV[3])
    end
  end
end
return redis.call('HGETALL', KEYS[1])
