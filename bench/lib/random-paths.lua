-- wrk script: each request asks for a random path from a file of paths (one per line), given after `--`.
-- At the end it prints one line, WRK_RESULT {json}, that bench/lib/wrk.ts parses.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local requests = {}

function init(args)
  local file = assert(io.open(args[1], "r"))
  for path in file:lines() do
    -- Formatted once here, so the load generator spends nothing per request on building it.
    requests[#requests + 1] = wrk.format("GET", path)
  end
  file:close()
  assert(#requests > 0, "no paths in " .. args[1])
  math.randomseed(id * 7919)
end

function request()
  return requests[math.random(#requests)]
end

function done(summary, latency, _requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"durationUs":%d,"bytes":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
