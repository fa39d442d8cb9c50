// The fallback load generator, run as its own process (pinned to the load
// generator's core) so that it never shares a core or an event loop with the
// runner. Takes one JSON argument (url, method, body, cookieFile, seconds,
// connections, timeout) and prints one "BENCH_JSON {...}" line in the same
// shape as lib/load.mjs makes from wrk's output.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const options = JSON.parse(process.argv[2]);
const cookies = options.cookieFile
  ? readFileSync(options.cookieFile, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
  : [];
const headers = options.body ? { 'content-type': 'application/json' } : {};
if (cookies.length === 1) headers.cookie = cookies[0];

let nextCookie = 0;
const rotate = (request) => {
  nextCookie = (nextCookie + 1) % cookies.length;
  return { ...request, headers: { ...request.headers, cookie: cookies[nextCookie] } };
};

const result = await autocannon({
  url: options.url,
  method: options.method,
  body: options.body,
  headers,
  connections: options.connections,
  duration: options.seconds,
  timeout: options.timeout,
  requests: cookies.length > 1 ? [{ setupRequest: rotate }] : undefined,
});

const seconds = result.duration;
process.stdout.write(
  `BENCH_JSON ${JSON.stringify({
    requests: result.requests.total,
    seconds,
    rps: result.requests.total / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    non2xx: result.non2xx,
    socketErrors: result.errors,
  })}\n`,
);
