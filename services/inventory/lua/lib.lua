-- lib.lua: what every write script shares. Each script is loaded as a Redis
-- function library with this file at its top, run once when the library loads:
-- a call runs only the script's own body, and stays one FCALL touching one
-- partition's slot.

local lib = {}

lib.WEB, lib.STORE, lib.CLICK_COLLECT = 1, 2, 4
lib.CHANNELS = {web = 1, store = 2, click_collect = 4}

function lib.now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Milliseconds since the epoch as RFC 3339 UTC with milliseconds. The last one made is
-- kept, and the last second's text: a call stamps its events and its record with the same
-- time, and calls within a second add only their milliseconds (".mmmZ", all made by the
-- first call: a library being loaded has no string functions).
local iso_ms, iso_text, iso_sec, iso_sec_text
local ISO_MS = {}
function lib.iso(ms)
  if ms == iso_ms then return iso_text end
  if not ISO_MS[0] then
    for i = 0, 999 do ISO_MS[i] = string.format('.%03dZ', i) end
  end
  local secs = math.floor(ms / 1000)
  if secs ~= iso_sec then
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
    iso_sec = secs
    iso_sec_text = string.format('%04d-%02d-%02dT%02d:%02d:%02d', y, m, d,
                                 math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60)
  end
  iso_ms, iso_text = ms, iso_sec_text .. ISO_MS[math.floor(ms % 1000)]
  return iso_text
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

-- What a location rule ("w:5:0": a warehouse or a store, the channels it fulfils as a
-- mask of CHANNELS bits, its store buffer) says for @channel (a CHANNELS bit): whether
-- the location is a store, its buffer, and whether it fulfils the channel; nil when the
-- rule does not parse. The daemon writes one digit for the mask and, mostly, for the
-- buffer: those are read as bytes, anything else with a pattern.
function lib.rule_for(v, channel)
  local kind, c1, f, c2, b = string.byte(v, 1, 5)
  local buffer
  if (kind == 119 or kind == 115) and c1 == 58 and c2 == 58 and #v == 5 and f >= 48
      and f <= 57 and b >= 48 and b <= 57 then
    f, buffer = f - 48, b - 48
  else
    local k, fs, bs = string.match(v, '^(%a):(%d+):(%d+)$')
    if not k then return nil end
    kind, f, buffer = string.byte(k), tonumber(fs), tonumber(bs)
  end
  return kind == 115, buffer, math.floor(f / channel) % 2 == 1
end

-- The partition's locations that fulfil @channel, from its copy of the location rules
-- at @locs_key, in the order the service allocates web baskets from: the warehouses,
-- then the stores that ship. Each group is {ids = {...}, buffers = {...}}; callers only
-- read them. The groups are worked out once for each set of rules and channel and kept
-- while the library is loaded (a handful: rules change seldom, and all partitions hold
-- the same), so a call reads the rules but need not parse them.
local groups_seen, groups_kept = {}, 0
function lib.channel_groups(locs_key, channel)
  local flat = redis.call('HGETALL', locs_key)
  local seen = channel .. '\n' .. table.concat(flat, '\n')
  local groups = groups_seen[seen]
  if groups then return groups end
  local w, s = {ids = {}, buffers = {}}, {ids = {}, buffers = {}}
  for i = 1, #flat, 2 do
    local store, buffer, fulfils = lib.rule_for(flat[i + 1], channel)
    if fulfils then
      local g = store and s or w
      local n = #g.ids + 1
      g.ids[n], g.buffers[n] = flat[i], buffer
    end
  end
  groups = {w, s}
  if groups_kept == 64 then groups_seen, groups_kept = {}, 0 end
  groups_seen[seen], groups_kept = groups, groups_kept + 1
  return groups
end

-- The one location @loc as lib.channel_groups would give it, for a basket held where it
-- names: nil when the partition has no rule for it.
function lib.location_group(locs_key, loc, channel)
  local rule = redis.call('HGET', locs_key, loc)
  if not rule then return nil end
  local store, buffer, fulfils = lib.rule_for(rule, channel)
  if store == nil then return nil end
  if not fulfils then return {{ids = {}, buffers = {}}} end
  return {{ids = {loc}, buffers = {buffer}}}
end

-- What a location may promise in @channel from its level (@h on hand, @r reserved), the
-- SKU's @safety stock and the location's @buffer; store sales see past both.
local function promise(channel, h, r, safety, buffer)
  local a
  if channel == lib.STORE then
    a = h - r
  else
    a = h - r - safety - buffer
  end
  if a < 0 then return 0 end
  return a
end

-- Plan @qty of the SKU whose stock hash is @skukey, from @groups (lib.channel_groups, or
-- the one location asked for) taken in order, within a group the most available first,
-- ties by id; a group is read only when the ones before it fall short. Answers the
-- allocations ({location, quantity, level}: the level as the hash has it), the SKU's
-- version and its safety stock; or nil when the SKU is unknown; or false and what the
-- channel could promise in all.
function lib.plan_line(skukey, groups, channel, qty)
  local allocs, left, total = {}, qty, 0
  local version, safety
  for gi, g in ipairs(groups) do
    local ids, v, off = g.ids, nil, 0
    if gi == 1 then
      v = redis.call('HMGET', skukey, ':v', ':s', unpack(ids))
      if not v[1] then return nil end
      version, safety, off = tonumber(v[1]), tonumber(v[2] or '0'), 2
    elseif left == 0 then
      break
    elseif #ids > 0 then
      v = redis.call('HMGET', skukey, unpack(ids))
    end
    local avail = {}
    for k = 1, #ids do
      local lv, a = v[off + k], 0
      if lv then
        local h, r = string.match(lv, '^(%d+):(%d+):')
        a = promise(channel, tonumber(h), tonumber(r), safety, g.buffers[k])
      end
      avail[k] = a
      total = total + a
    end
    while left > 0 do
      local best
      for k = 1, #ids do
        local a = avail[k]
        if a > 0 and (not best or a > avail[best] or (a == avail[best] and ids[k] < ids[best])) then
          best = k
        end
      end
      if not best then break end
      local take = math.min(left, avail[best])
      allocs[#allocs + 1] = {location = ids[best], quantity = take, level = v[off + best]}
      avail[best] = 0
      left = left - take
    end
  end
  if left > 0 then return false, total end
  return allocs, version, safety
end

-- An event context: where events go and what they say about one SKU.
-- ctx = {part, stream, maxlen, hist, histmax, sku, version, safety, at}
function lib.emit(ctx, etype, loc, h, r, extra)
  local ev = {type = etype, at = ctx.at, sku = ctx.sku, location = loc, version = ctx.version,
              levels = {on_hand = h, reserved = r, available = lib.available(h, r, ctx.safety)}}
  for k, v in pairs(extra or {}) do ev[k] = v end
  return ctx.part .. '-' .. lib.emit_head(ctx, string.sub(cjson.encode(ev), 1, -2))
end

-- Add an event to the stream and to the SKU's ledger; its stream id. @head is the event's
-- JSON object without its closing brace: the stream gets it closed (a stream entry is the
-- event alone, field 'e': readers filter on its JSON, events_store.c, and fields beside it
-- would cost 55 bytes an entry), the ledger with the event's id added. Each is made in one
-- concatenation: in a script every string made costs.
function lib.emit_head(ctx, head)
  local sid = redis.call('XADD', ctx.stream, 'MAXLEN', '~', ctx.maxlen, '*', 'e', head .. '}')
  if ctx.hist then
    local n = redis.call('LPUSH', ctx.hist, head .. ',"id":"' .. ctx.part .. '-' .. sid .. '"}')
    if n > ctx.histmax then redis.call('LTRIM', ctx.hist, '0', ctx.histmax - 1) end
  end
  return sid
end

-- A reservation's event about one location (@q of it held or given back by @rid), as
-- lib.emit would encode it, written directly: every string in it is an identifier
-- ([A-Za-z0-9._-], as the daemon checks them) or a time, none needs escaping.
function lib.emit_resv(ctx, etype, loc, h, r, rid, q)
  lib.emit_head(ctx, string.format(
    '{"type":"%s","at":"%s","sku":"%s","location":"%s","version":%d,"levels":' ..
    '{"on_hand":%d,"reserved":%d,"available":%d},"reservation":"%s","quantity":%d',
    etype, ctx.at, ctx.sku, loc, ctx.version, h, r, lib.available(h, r, ctx.safety), rid, q))
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

-- A reservation's lines as the contract orders them: [{"sku", "quantity", "allocations":
-- [{"location", "quantity"}]}]. SKUs and locations are identifiers: nothing to escape.
function lib.lines_json(lines)
  local out, n = {}, 0
  for i, l in ipairs(lines) do
    n = n + 1
    out[n] = (i > 1 and ',{"sku":"' or '{"sku":"') .. l.sku .. '","quantity":' .. l.quantity ..
             ',"allocations":['
    for j, a in ipairs(l.allocations) do
      n = n + 1
      out[n] = (j > 1 and ',{"location":"' or '{"location":"') .. a.location .. '","quantity":' ..
               a.quantity .. '}'
    end
    n = n + 1
    out[n] = ']}'
  end
  return '[' .. table.concat(out) .. ']'
end

-- A record's body @raw changed where it stands, so that its members stay in the contract's
-- order (id, status, channel, location, customer, reference, created_at, expires_at, the
-- times of what happened to it, lines), which the daemon answers as they are: the status
-- @status; expires_at @expires, or gone when nil; and "<@stamp>": @at added before the
-- lines when @stamp is given. A key is found with its quotes and colon ("status":), which
-- nothing inside a string can look like: a string's own quotes are escaped.
function lib.body_edit(raw, status, expires, stamp, at)
  -- The places found first, then the body made in one concatenation: a body is a few
  -- hundred bytes, and every string made on the way, short or long, is one more to make,
  -- copy and collect (an ',"<stamp>":"<at>"' made apart cost a move 1 % more).
  local _, from = string.find(raw, '"status":"', 1, true)
  local pos = string.find(raw, '"', from + 1, true)
  local kept, new_exp, before, q1, q2, q3 = '', '', '', '', '', ''
  local key, value = string.find(raw, ',"expires_at":"', pos, true)
  if key then
    local vclose = string.find(raw, '"', value + 1, true)
    if expires then
      kept, new_exp, pos = string.sub(raw, pos, value), expires, vclose
    else
      kept, pos = string.sub(raw, pos, key - 1), vclose + 1
    end
  end
  if stamp then
    local lines = string.find(raw, ',"lines":', pos, true) or #raw
    before, pos = string.sub(raw, pos, lines - 1), lines
    q1, q2, q3 = ',"', '":"', '"'
  else
    stamp, at = '', ''
  end
  return string.sub(raw, 1, from) .. status .. kept .. new_exp .. before .. q1 .. stamp .. q2 ..
         at .. q3 .. string.sub(raw, pos)
end

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
-- its expiry marked expired first; nil when there is none. The fourth value, the body
-- decoded, is nil: callers decode it when they need it.
function lib.record_fetch(rec)
  local v = redis.call('HMGET', rec.key, 'body', 'status', 'exp', 'parts')
  local raw, status, exp = v[1], v[2], tonumber(v[3] or '0')
  if not raw then return nil end
  if status ~= 'held' or exp > rec.now then return raw, status, v[4], nil end
  raw = lib.body_edit(raw, 'expired', nil, 'expired_at', lib.iso(exp))
  redis.call('HSET', rec.key, 'status', 'expired', 'body', raw)
  redis.call('EXPIRE', rec.key, lib.RECORD_FINAL_KEEP_S)
  redis.call('ZREM', rec.exp, rec.id)
  return raw, 'expired', v[4], nil
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
  return redis.call('XADD', rec.events, 'MAXLEN', '~', rec.maxlen, '*', 'e',
                    cjson.encode(ev))
end

-- Move the record (in @status, body @raw, decoded @body or nil) to @target; extending
-- (target 'held') sets its expiry to @exp_ms. Answers {'ok', body}, or the refusal.
function lib.record_move(rec, status, raw, body, target, exp_ms)
  local refusal = lib.record_refusal(status, raw, target)
  if refusal then return refusal end
  if target == 'held' then
    local json = lib.body_edit(raw, 'held', lib.iso(tonumber(exp_ms)))
    redis.call('HSET', rec.key, 'exp', exp_ms, 'body', json)
    redis.call('ZADD', rec.exp, exp_ms, rec.id)
    return {'ok', json}
  end
  local json = lib.body_edit(raw, target, nil, STAMP[target], lib.iso(rec.now))
  redis.call('HSET', rec.key, 'status', target, 'body', json)
  redis.call('HDEL', rec.key, 'exp')
  redis.call('ZREM', rec.exp, rec.id)
  if target ~= 'committed' then redis.call('EXPIRE', rec.key, lib.RECORD_FINAL_KEEP_S) end
  if target == 'committed' then
    body = body or cjson.decode(raw)
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

