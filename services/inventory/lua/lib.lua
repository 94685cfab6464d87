-- lib.lua: what every write script shares. The build prepends this file to
-- each script, so a script stays one EVALSHA touching one partition's slot.

local lib = {}

lib.WEB, lib.STORE, lib.CLICK_COLLECT = 1, 2, 4
lib.CHANNELS = {web = 1, store = 2, click_collect = 4}

function lib.now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Milliseconds since the epoch as RFC 3339 UTC with milliseconds.
function lib.iso(ms)
  local secs = math.floor(ms / 1000)
  local z = math.floor(secs / 86400) + 719468
  local rem = secs % 86400
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                          - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rem / 3600),
                       math.floor(rem % 3600 / 60), rem % 60, ms % 1000)
end

-- A level as a stock hash keeps it ("on_hand:reserved:last_count", or none): on_hand,
-- reserved, last count (-1: never).
function lib.parse_level(v)
  if not v then return 0, 0, -1 end
  local h, r, c = string.match(v, '^(%d+):(%d+):(%-?%d+)$')
  return tonumber(h), tonumber(r), tonumber(c)
end

-- A location's level in a stock hash.
function lib.level(key, loc)
  return lib.parse_level(redis.call('HGET', key, loc))
end

function lib.set_level(key, loc, h, r, c)
  if c < 0 then c = 0 end
  redis.call('HSET', key, loc, h .. ':' .. r .. ':' .. c)
end

function lib.available(h, r, safety)
  local a = h - r - safety
  if a < 0 then return 0 end
  return a
end

-- The partition's copy of the location rules: id -> {store, fulfils, buffer}.
function lib.rules(locs_key)
  local flat = redis.call('HGETALL', locs_key)
  local rules = {}
  for i = 1, #flat, 2 do
    local kind, fulfils, buffer = string.match(flat[i + 1], '^(%a):(%d+):(%d+)$')
    if kind then
      rules[flat[i]] = {id = flat[i], store = kind == 's', fulfils = tonumber(fulfils),
                        buffer = tonumber(buffer)}
    end
  end
  return rules
end

-- Does the rule's fulfils mask include channel (a CHANNELS bit)?
function lib.fulfils(rule, channel)
  return math.floor(rule.fulfils / channel) % 2 == 1
end

-- What location rule may promise in channel (a CHANNELS bit); -1 if it does not fulfil it.
function lib.channel_at(channel, rule, h, r, safety)
  if not lib.fulfils(rule, channel) then return -1 end
  local a
  if channel == lib.STORE then
    a = h - r
  else
    a = h - r - safety - rule.buffer
  end
  if a < 0 then return 0 end
  return a
end

-- Plan one line of a basket: {allocations}, or nil and what the channel could promise.
-- rules: id -> rule; levels: id -> {h, r} (missing: nothing there); channel: a CHANNELS
-- bit; loc: the store for click_collect and store, '' for web, where the service chooses:
-- warehouses first, then stores that ship; most available first; ties by id.
function lib.allocate(rules, levels, safety, channel, loc, qty)
  local function promise(id)
    local lv = levels[id] or {0, 0}
    return lib.channel_at(channel, rules[id], lv[1], lv[2], safety)
  end
  if loc ~= '' then
    local a = rules[loc] and promise(loc) or -1
    if a < qty then return nil, math.max(a, 0) end
    return {{location = loc, quantity = qty}}
  end
  local cands = {}
  for id, rule in pairs(rules) do
    local a = promise(id)
    if a > 0 then cands[#cands + 1] = {id = id, store = rule.store, available = a} end
  end
  table.sort(cands, function(x, y)
    if x.store ~= y.store then return not x.store end
    if x.available ~= y.available then return x.available > y.available end
    return x.id < y.id
  end)
  local allocs, left, total = {}, qty, 0
  for _, c in ipairs(cands) do
    total = total + c.available
    if left > 0 then
      local take = math.min(left, c.available)
      allocs[#allocs + 1] = {location = c.id, quantity = take}
      left = left - take
    end
  end
  if left > 0 then return nil, total end
  return allocs
end

-- An event context: where events go and what they say about one SKU.
-- ctx = {part, stream, maxlen, hist, histmax, sku, version, safety, at}
function lib.emit(ctx, etype, loc, h, r, extra)
  local ev = {type = etype, at = ctx.at, sku = ctx.sku, location = loc, version = ctx.version,
              levels = {on_hand = h, reserved = r, available = lib.available(h, r, ctx.safety)}}
  for k, v in pairs(extra or {}) do ev[k] = v end
  local json = cjson.encode(ev)
  local sid = redis.call('XADD', ctx.stream, 'MAXLEN', '~', ctx.maxlen, '*', 'sku', ctx.sku,
                         'loc', loc, 'type', etype, 'e', json)
  local eid = ctx.part .. '-' .. sid
  if ctx.hist then
    -- The ledger's entry is the event with its id: added to the JSON, not encoded again.
    redis.call('LPUSH', ctx.hist, string.sub(json, 1, -2) .. ',"id":"' .. eid .. '"}')
    redis.call('LTRIM', ctx.hist, 0, ctx.histmax - 1)
  end
  return eid
end

-- The threshold events that follow from one location's change of level.
function lib.transitions(ctx, loc, bh, br, ah, ar, low, at_risk)
  local before = lib.available(bh, br, ctx.safety)
  local after = lib.available(ah, ar, ctx.safety)
  if after == 0 and before > 0 then
    lib.emit(ctx, 'stock.out', loc, ah, ar)
  elseif after > 0 and before == 0 then
    lib.emit(ctx, 'stock.back', loc, ah, ar)
  end
  if after > 0 and after <= low and before > low then
    lib.emit(ctx, 'stock.low', loc, ah, ar)
  end
  if ah < ar and ah < bh then
    local extra = {shortfall = ar - ah}
    if at_risk and #at_risk > 0 then extra.reservations = at_risk end
    lib.emit(ctx, 'stock.shortfall', loc, ah, ar, extra)
  end
end

-- A reservation's record (record.lua): rec = {key = {pNN}:resv:<id>, exp = {pNN}:resvexp,
-- events = {pNN}:events, orders = {pNN}:orders, id, maxlen = events kept, now = ms}.
-- Statuses: held -> committed | released | expired; committed -> released | fulfilled.
lib.RECORD_ALLOWED = {
  held = {committed = true, released = true, expired = true, held = true},
  committed = {released = true, fulfilled = true},
}
-- A record that can change no more (released, expired, fulfilled) is kept
-- this long for reads and repeated transitions, then dropped.
lib.RECORD_FINAL_KEEP_S = 7 * 24 * 3600
local STAMP = {committed = 'committed_at', released = 'released_at', expired = 'expired_at',
               fulfilled = 'fulfilled_at'}

-- Create reservation @id's record at @rkey: @json its body, held until @exp (ms) and listed by
-- expiry in @rexp, @parts its holds' partitions ("3,9"); listed under its customer when it names
-- one, so that erasing the customer finds it.
function lib.record_create(rkey, rexp, id, json, exp, parts)
  redis.call('HSET', rkey, 'body', json, 'status', 'held', 'exp', exp, 'parts', parts)
  redis.call('ZADD', rexp, exp, id)
  -- Only a body that names a customer is decoded.
  if string.find(json, '"customer":', 1, true) then
    local customer = cjson.decode(json).customer
    if type(customer) == 'string' then
      redis.call('SADD', (string.gsub(rkey, ':resv:.*$', ':custresv:')) .. customer, id)
    end
  end
end

-- The record's body (JSON), status, expiry and partitions, in one read, a held record past
-- its expiry marked expired first; nil when there is none. Also the body decoded when it
-- was (most reads need not decode it).
function lib.record_fetch(rec)
  local v = redis.call('HMGET', rec.key, 'body', 'status', 'exp', 'parts')
  local raw, status, exp = v[1], v[2], tonumber(v[3] or '0')
  if not raw then return nil end
  if status ~= 'held' or exp > rec.now then return raw, status, v[4], nil end
  local body = cjson.decode(raw)
  body.status = 'expired'
  body.expired_at = lib.iso(exp)
  body.expires_at = nil
  raw = cjson.encode(body)
  redis.call('HSET', rec.key, 'status', 'expired', 'body', raw)
  redis.call('EXPIRE', rec.key, lib.RECORD_FINAL_KEEP_S)
  redis.call('ZREM', rec.exp, rec.id)
  return raw, 'expired', v[4], body
end

-- May the record in @status go to @target? nil if so, else the answer: {'same', raw}
-- (the transition just made, repeated) or {'invalid', status}.
function lib.record_refusal(status, raw, target)
  if status == target and target ~= 'held' then return {'same', raw} end
  if not lib.RECORD_ALLOWED[status] or not lib.RECORD_ALLOWED[status][target] then
    return {'invalid', status}
  end
  return nil
end

-- One event about the whole reservation (@body decoded), with @extra's fields.
local function emit_whole(rec, etype, body, extra)
  local ev = {type = etype, at = lib.iso(rec.now), reservation = rec.id, channel = body.channel,
              location = body.location, customer = body.customer, reference = body.reference}
  for k, v in pairs(extra or {}) do ev[k] = v end
  return redis.call('XADD', rec.events, 'MAXLEN', '~', rec.maxlen, '*', 'type', etype, 'e',
                    cjson.encode(ev))
end

-- Move the record (in @status, body @raw, decoded @body or nil) to @target; extending
-- (target 'held') sets its expiry to @exp_ms. Answers {'ok', body}, or the refusal.
function lib.record_move(rec, status, raw, body, target, exp_ms)
  local refusal = lib.record_refusal(status, raw, target)
  if refusal then return refusal end
  body = body or cjson.decode(raw)
  if target == 'held' then
    body.expires_at = lib.iso(tonumber(exp_ms))
    local json = cjson.encode(body)
    redis.call('HSET', rec.key, 'exp', exp_ms, 'body', json)
    redis.call('ZADD', rec.exp, exp_ms, rec.id)
    return {'ok', json}
  end
  body.status = target
  body[STAMP[target]] = lib.iso(rec.now)
  body.expires_at = nil
  local json = cjson.encode(body)
  redis.call('HSET', rec.key, 'status', target, 'body', json)
  redis.call('HDEL', rec.key, 'exp')
  redis.call('ZREM', rec.exp, rec.id)
  if target ~= 'committed' then redis.call('EXPIRE', rec.key, lib.RECORD_FINAL_KEEP_S) end
  if target == 'committed' then
    local lines, skus = {}, {}
    for i, l in ipairs(body.lines) do
      lines[i] = {sku = l.sku, quantity = l.quantity}
      skus[i] = l.sku
    end
    local committed = emit_whole(rec, 'reservation.committed', body)
    local placed = emit_whole(rec, 'order.placed', body, {lines = lines})
    if body.customer then redis.call('HSET', rec.key, 'events', committed .. ' ' .. placed) end
    redis.call('XADD', rec.orders, 'MAXLEN', '~', rec.maxlen, '*', 'id', rec.id, 'customer',
               body.customer or '', 'channel', body.channel, 'at', rec.now, 'skus',
               table.concat(skus, ','))
  end
  return {'ok', json}
end

-- The idempotency record: the stored answer if this request was made before.
function lib.idem_replay(key, fp)
  if fp == '' then return nil end
  local prev = redis.call('GET', key)
  if not prev then return nil end
  if string.sub(prev, 1, 64) ~= fp then
    return {cjson.encode({status = 422, problem = 'idempotency-key-reused',
                          field = 'Idempotency-Key',
                          detail = 'this Idempotency-Key was used for a different request'}), 0}
  end
  return {string.sub(prev, 65), 1}
end

function lib.idem_store(key, fp, json, ttl)
  if fp ~= '' then redis.call('SET', key, fp .. json, 'EX', ttl) end
end

