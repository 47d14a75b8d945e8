-- wrk script for scripts/bench.py: an optional JSON body from BENCH_BODY, sent with
-- BENCH_METHOD (POST when unset); with BENCH_BODY_ALT too, each connection's requests
-- alternate between the two bodies. One JSON line of results (requests, errors, latency
-- percentiles in microseconds) when the run ends.
local body = os.getenv("BENCH_BODY")
local alt = os.getenv("BENCH_BODY_ALT")
if body ~= nil and body ~= "" then
  local method = os.getenv("BENCH_METHOD")
  wrk.method = (method ~= nil and method ~= "") and method or "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  if alt ~= nil and alt ~= "" then
    local sent = 0
    request = function()
      sent = sent + 1
      return wrk.format(nil, nil, nil, sent % 2 == 0 and body or alt)
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "socket_errors": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, "non_2xx": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
