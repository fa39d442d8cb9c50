-- wrk script for Cloakroom's benchmark (bench/run.mjs).
--
-- Why a script at all: wrk alone sends one fixed request. This adds
--   * round-robin over many session cookies (WRK_COOKIES names a file with one
--     `Cookie` header value per line), so the server cannot answer every request
--     from one hot session;
--   * a method and a JSON body (WRK_METHOD, WRK_BODY) for POST /api/cart;
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
elseif #cookies > 1 then
  local next_cookie = 0
  request = function()
    next_cookie = next_cookie % #cookies + 1
    wrk.headers["Cookie"] = cookies[next_cookie]
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
