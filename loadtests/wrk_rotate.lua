-- wrk script shared by the baseline and the scan runs, so both use the same generator.
-- Usage: wrk -tT ... -s loadtests/wrk_rotate.lua URL -- PATH T [BODIES_FILE]
-- Without BODIES_FILE every request is a GET of PATH (the do-nothing baseline). With it,
-- every request is a POST of the next line of the file; wrk thread k of T sends lines
-- k, k+T, k+2T, ..., so no two requests of a run share a body. A run that needs more
-- bodies than the file holds wraps around and says so ("wrapped": 1).
-- done() prints one line "WRKJSON {...}" that loadtests/bench.py parses.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  path = args[1] or "/"
  nthreads = tonumber(args[2]) or 1
  bodies = {}
  if args[3] then
    for line in io.lines(args[3]) do
      bodies[#bodies + 1] = line
    end
  end
  nbodies = #bodies
  idx = tid
  sent = 0
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  sent = sent + 1
  if nbodies == 0 then
    return wrk.format("GET", path)
  end
  local body = bodies[(idx % nbodies) + 1]
  idx = idx + nthreads
  return wrk.format("POST", path, nil, body)
end

function done(summary, latency, requests)
  local wrapped = 0
  for _, t in ipairs(threads) do
    local n = t:get("nbodies") or 0
    if n > 0 and (t:get("sent") or 0) * #threads > n then
      wrapped = 1
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"non_2xx_3xx":%d,"timeouts":%d,"p50_us":%d,"p95_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"wrapped":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    wrapped))
end
