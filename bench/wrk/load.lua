-- wrk script for Cloakroom's benchmark (bench/run.mjs).
--
-- Why a script at all: wrk alone sends one fixed request. This adds
--   * round-robin over many session cookies (WRK_COOKIES names a file with one
--     `Cookie` header value per line), so the server cannot answer every request
--     from one hot session;
--   * a method and a JSON body (WRK_METHOD, WRK_BODY) for POST /api/cart;
--   * a client address of its own for every request (WRK_SPREAD_ADDRESSES);
--   * a machine-readable summary on one line starting with "BENCH_JSON ".
-- With one cookie (or none) the request stays static, so wrk pays nothing per request.

local cookies = {}
local cookies_file = os.getenv("WRK_COOKIES")
if cookies_file and cookies_file ~= "" then
  for line in io.lines(cookies_file) do
    if line ~= "" then cookies[#cookies + 1] = line end
  end
end

wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

if #cookies == 1 then
  wrk.headers["Cookie"] = cookies[1]
end

-- WRK_SPREAD_ADDRESSES=1: every request claims another client address
-- (X-Forwarded-For, 10.0.0.1 onwards), for a server that trusts its proxy.
local spread = os.getenv("WRK_SPREAD_ADDRESSES") == "1"
if #cookies > 1 or spread then
  local next_cookie = 0
  local next_address = 0
  request = function()
    if #cookies > 1 then
      next_cookie = next_cookie % #cookies + 1
      wrk.headers["Cookie"] = cookies[next_cookie]
    end
    if spread then
      next_address = next_address % 16777214 + 1
      wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d",
        math.floor(next_address / 65536) % 256, math.floor(next_address / 256) % 256, next_address % 256)
    end
    return wrk.format()
  end
end

-- wrk counts a response as a status error when its status is 400 or more.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
