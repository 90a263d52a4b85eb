-- One call per scan of a genuine code: reload window, counters, devices, networks,
-- first/last place, recent places and PIN counts, answered as one CodeHistory. Every key
-- shares the hash tag of the code's bucket, so the script runs on one Redis Cluster slot.
--
-- KEYS[1] bucket epoch: a code's keys are valid only if its hash holds the same epoch
--         (a missing epoch, after a flush, is set afresh; bumping it invalidates a bucket)
-- KEYS[2] code hash: n (scans), e (scans, each network's share capped), dn / wn (distinct
--         devices / networks), first, last (places), pc / pf (PIN claims / failures), g
--         (the epoch it was loaded in)
-- KEYS[3] devices hash: device hash -> last counted scan (ms)
-- KEYS[4] recent places list, newest first, capped
-- KEYS[5] networks hash: network hash -> counted scans from it
-- KEYS[6] PIN claimers set: "device|network"
-- ARGV[1] mode: scan | peek | pin_ok | pin_fail
-- ARGV[2] now (ms)   ARGV[3] device hash or ""   ARGV[4] reload window (ms)
-- ARGV[5] place ("ms|lat|lon|province|device|accuracy|network")   ARGV[6] recent cap
-- ARGV[7] network hash or ""   ARGV[8] one network's cap on e   ARGV[9] claimer or ""
-- ARGV[10] idle time to live of the code's keys (ms; 0 = none), refreshed by every call
-- ARGV[11] k: how many filter offsets follow (0: no membership filter, no KEYS[7])
-- ARGV[12..11+k] the code's bit offsets in KEYS[7], its bucket's membership filter
--         (scan/membership.py; bit 0 = complete)
--
-- Reply: {"miss"} when the code is not loaded (flushed, expired, invalidated, or never
-- scanned but its bucket's filter cannot tell): the caller loads it from its summary row
-- (load_code.lua) and calls again. A code missing here whose bits are not all set in a
-- complete filter has no summary: it starts empty in this same call, no read needed.
-- Otherwise {"ok", repeat (0/1), n, devices, first or "", pc, pf, e, networks, #claimers,
--  claimers..., recent...}.
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[1], epoch)
end
if redis.call('HGET', KEYS[2], 'g') ~= epoch then
  local k = tonumber(ARGV[11] or '0')
  if k == 0 or redis.call('GETBIT', KEYS[7], 0) == 0 then
    return {'miss'}
  end
  for i = 12, 11 + k do
    if redis.call('GETBIT', KEYS[7], ARGV[i]) == 0 then
      k = -1
      break
    end
  end
  if k > 0 then
    return {'miss'}  -- seen before, or a false positive: its summary says which
  end
  -- Never scanned: the state the loader would write from no summary, and its bits.
  for i = 2, 6 do
    redis.call('DEL', KEYS[i])
  end
  redis.call('HSET', KEYS[2], 'g', epoch, 'n', 0, 'e', 0, 'dn', 0, 'wn', 0, 'pc', 0,
             'pf', 0)
  for i = 12, 11 + tonumber(ARGV[11]) do
    redis.call('SETBIT', KEYS[7], ARGV[i], 1)
  end
end

local mode = ARGV[1]
local cap = tonumber(ARGV[6])
local repeat_scan = 0
local recent

if mode == 'scan' then
  local device = ARGV[3]
  if device ~= '' then
    local last = redis.call('HGET', KEYS[3], device)
    if last and (tonumber(ARGV[2]) - tonumber(last)) < tonumber(ARGV[4]) then
      repeat_scan = 1
    end
  end
  if repeat_scan == 1 then
    -- The history excludes the scan being repeated: this device's newest entry. It is not
    -- always the list's newest (a, then b, then a's reload), so find it by its device field
    -- (the 5th of "ms|lat|lon|province|device|accuracy") and keep everyone else's.
    -- (Like the database store it looks at the newest cap entries, so both answer alike.)
    local listed = redis.call('LRANGE', KEYS[4], 0, cap - 1)
    recent = {}
    local dropped = false
    for i = 1, #listed do
      local entry = listed[i]
      local own = false
      if not dropped then
        local fields = {}
        for field in string.gmatch(entry .. '|', '([^|]*)|') do
          fields[#fields + 1] = field
        end
        own = fields[5] == device
      end
      if own then
        dropped = true
      else
        recent[#recent + 1] = entry
      end
    end
  else
    recent = redis.call('LRANGE', KEYS[4], 0, cap - 1)
    local n = redis.call('HINCRBY', KEYS[2], 'n', 1)
    if n == 1 then
      redis.call('HSET', KEYS[2], 'first', ARGV[5])
    end
    redis.call('HSET', KEYS[2], 'last', ARGV[5])
    if device ~= '' then
      if redis.call('HSET', KEYS[3], device, ARGV[2]) == 1 then
        redis.call('HINCRBY', KEYS[2], 'dn', 1)
      end
    end
    local share = 1
    if ARGV[7] ~= '' then
      share = redis.call('HINCRBY', KEYS[5], ARGV[7], 1)
      if share == 1 then
        redis.call('HINCRBY', KEYS[2], 'wn', 1)
      end
    end
    if share <= tonumber(ARGV[8]) then
      redis.call('HINCRBY', KEYS[2], 'e', 1)
    end
    redis.call('LPUSH', KEYS[4], ARGV[5])
    redis.call('LTRIM', KEYS[4], 0, cap - 1)
  end
else
  if mode == 'pin_ok' then
    redis.call('HINCRBY', KEYS[2], 'pc', 1)
    if ARGV[9] ~= '' then
      redis.call('SADD', KEYS[6], ARGV[9])
    end
  elseif mode == 'pin_fail' then
    redis.call('HINCRBY', KEYS[2], 'pf', 1)
  end
  recent = redis.call('LRANGE', KEYS[4], 0, cap - 1)
end

local ttl = tonumber(ARGV[10])
if ttl > 0 then
  for i = 2, 6 do
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
local state = redis.call('HMGET', KEYS[2], 'n', 'first', 'pc', 'pf', 'e', 'dn', 'wn')
local claimers = redis.call('SMEMBERS', KEYS[6])
local reply = {'ok', repeat_scan, tonumber(state[1] or 0), tonumber(state[6] or 0),
               state[2] or '', tonumber(state[3] or 0), tonumber(state[4] or 0),
               tonumber(state[5] or 0), tonumber(state[7] or 0), #claimers}
for i = 1, #claimers do
  reply[#reply + 1] = claimers[i]
end
for i = 1, #recent do
  reply[#reply + 1] = recent[i]
end
return reply
