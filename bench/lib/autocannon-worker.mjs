// The fallback load generator, run as its own process (pinned to the load
// generator's core) so that it never shares a core or an event loop with the
// runner. Takes one JSON argument (url, method, body, cookieFile, spreadAddresses,
// seconds, connections, timeout) and prints one "BENCH_JSON {...}" line in the same
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
let nextAddress = 0;
/** rotate gives each request the next cookie (with many) and, with spreadAddresses, an X-Forwarded-For of its own, as bench/wrk/load.lua does. */
const rotate = (request) => {
  const extra = {};
  if (cookies.length > 1) {
    nextCookie = (nextCookie + 1) % cookies.length;
    extra.cookie = cookies[nextCookie];
  }
  if (options.spreadAddresses) {
    nextAddress = (nextAddress % 16777214) + 1;
    extra['x-forwarded-for'] = `10.${(nextAddress >> 16) & 255}.${(nextAddress >> 8) & 255}.${nextAddress & 255}`;
  }
  return { ...request, headers: { ...request.headers, ...extra } };
};

const result = await autocannon({
  url: options.url,
  method: options.method,
  body: options.body,
  headers,
  connections: options.connections,
  duration: options.seconds,
  timeout: options.timeout,
  requests: cookies.length > 1 || options.spreadAddresses ? [{ setupRequest: rotate }] : undefined,
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
