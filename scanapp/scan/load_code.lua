-- Load one code's state from its summary row (summary.to_redis) unless another process did
-- it first: a code hash already holding the bucket's epoch is current and is left alone.
-- KEYS as scan_state.lua. ARGV[1] the summary as JSON, ARGV[2] now (ms), ARGV[3] idle time
-- to live (ms; 0 = none), ARGV[4] k and ARGV[5..4+k] the code's offsets in its bucket's
-- membership filter KEYS[7] (k = 0: none). Reply: 1 loaded, 0 already current.
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[1], epoch)
end
-- A loaded code is a known code: its bits make its next miss read the summary again.
for i = 5, 4 + tonumber(ARGV[4] or '0') do
  redis.call('SETBIT', KEYS[7], ARGV[i], 1)
end
if redis.call('HGET', KEYS[2], 'g') == epoch then
  return 0
end
for i = 2, 6 do
  redis.call('DEL', KEYS[i])
end
local s = cjson.decode(ARGV[1])
redis.call('HSET', KEYS[2], 'g', epoch, 'n', s.n, 'e', s.e, 'dn', s.dn, 'wn', s.wn,
           'pc', s.pc, 'pf', s.pf)
if s.first ~= '' then
  redis.call('HSET', KEYS[2], 'first', s.first, 'last', s.last)
end
if #s.recent > 0 then
  redis.call('RPUSH', KEYS[4], unpack(s.recent))
end
for device, ms in pairs(s.devices) do
  redis.call('HSET', KEYS[3], device, ms)
end
for network, n in pairs(s.networks) do
  redis.call('HSET', KEYS[5], network, n)
end
if #s.claimers > 0 then
  redis.call('SADD', KEYS[6], unpack(s.claimers))
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  for i = 2, 6 do
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
