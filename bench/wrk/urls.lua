-- wrk script: every request takes the next path of a pre-shuffled list, so each
-- request asks for a different point / bbox / place until the list is used up.
--   wrk ... -s bench/wrk/urls.lua http://127.0.0.1:PORT -- LIST_FILE [START]
-- LIST_FILE holds one path+query per line (written by bench/uncached.py with a fixed
-- seed, so the bare-Starlette ceiling can hold the exact bytes for every line).
-- done() prints one BENCHJSON line (latencies in microseconds).

local paths = {}
local n = 0
local i = 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    if #line > 0 then
      n = n + 1
      paths[n] = line
    end
  end
  file:close()
  i = tonumber(args[2] or "0") % n
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"max_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
