-- prefs.lua: set or clear some of a customer's preferences.
--
-- KEYS[1] {rec}:cust:<id>  'recommendations', 'personalisation_consent',
--         'preferred_store', 'preferred_channel', 'notes'
-- ARGV field, value pairs; an empty value clears the field.
-- Returns the preferences, flat.

for i = 1, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return redis.call('HGETALL', KEYS[1])
