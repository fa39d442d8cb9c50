// Turns a run's raw results into the Markdown report: first the targets of
// issue 7 with PASS/MISS, then one section per scenario with every figure the
// verdicts rest on, so a reader can check each verdict against its numbers.
// Ratios compare servers measured in the same round; a verdict on a ratio
// uses the mean over rounds and the report shows the range beside it.
import { DISTURBED_PCT } from './load.mjs';
import { labelOf, SERVERS } from './servers.mjs';

export const TARGETS = {
  ratioToRaw: 0.5,
  vsFileStore: 20,
  vsMemoryStore: 4,
  p99Ms: 10,
  creationVsFileStore: 3,
  sweepThroughput: 0.7,
  sweepRssGrowthMb: 30,
  rssMb: 100,
  signInP99Ms: 20,
  devicesP99Ms: 20,
  vsConnectRedis: 2,
  // Within 20 % of node:http, at any number of sessions: the peers below are
  // raw node:http doing only what Cloakroom cannot avoid (the same headers;
  // one atomic file write per new session).
  ratioToSameHeaders: 0.8,
  strictP99Ms: 5,
  creationVsReadFile: 0.8,
  // Many sessions may cost more than one, but not more than half.
  scaleRatio: 0.5,
  scaleRssMb: 150,
};
/** The session counts the scale targets are set at: the ratio at each of these, the RSS at the largest. */
const SCALE_RATIO_SESSIONS = [20_000, 100_000];
const SCALE_RSS_SESSIONS = 100_000;

const verdict = (ok) => (ok ? '**PASS**' : '**MISS**');
const int = (n) => Math.round(n).toLocaleString('en-US');
const ms = (n) => n.toFixed(2);
const x = (n) => `${n.toFixed(2)}×`;
const mb = (n) => `${n.toFixed(1)} MB`;
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
const pct = (n) => (n === null || n === undefined ? '–' : `${Math.round(n)}%`);
/** "server / others / steal" shares of the server's core, and the load generator's core. */
const cpuCell = (cpu) =>
  `${pct(cpu.serverPct)} / ${pct(cpu.othersPct)} / ${pct(cpu.stealPct)} · ${pct(cpu.loadgenPct)} · io ${pct(cpu.ioStallPct)}`;
const CPU_NOTE =
  "CPU: share of the server's core used by the server / by anything else (other processes, interrupts) / stolen by the hypervisor · how busy the load generator's core was · I/O pressure (share of time some task on the machine waited for the disk, /proc/pressure/io). A server well below 100 % was not the bottleneck of that figure; high I/O pressure slows the scenarios that write files.";
const retryNote = `A measurement with more than ${DISTURBED_PCT} % of the server's core taken by others (or stolen) is run again on the same server, up to the retry limit; "try N" marks a figure that is the least disturbed of N tries.`;
const triesNote = (load) => (load.tries > 1 ? ` (try ${load.tries})` : '');
const range = (values) => (values.length > 1 ? ` (${x(Math.min(...values))}–${x(Math.max(...values))})` : '');
/** Thousands apart by a space, as the README writes them. */
const spaced = (n) => int(n).replaceAll(',', ' ');

export function buildReport(meta, results) {
  const summary = [];
  const sections = [];
  for (const [name, section] of [
    ['me', meSection],
    ['touch', touchSection],
    ['create', createSection],
    ['sweep', sweepSection],
    ['sign-in', signInSection],
    ['workers', workersSection],
    ['devices', devicesSection],
    ['redis', redisSection],
    ['sqlite', sqliteSection],
    ['scale', scaleSection],
  ]) {
    const result = results[name];
    if (result === undefined) continue;
    if (result.error) {
      sections.push(`## ${name}\n\nThis scenario failed: \`${result.error}\`\n`);
      summary.push([name, 'scenario failed', result.error.split('\n')[0], '**MISS**']);
      continue;
    }
    const { rows, text } = section(result);
    summary.push(...rows);
    sections.push(text);
  }
  return [
    `# Cloakroom benchmark — ${meta.date}`,
    '',
    machineTable(meta),
    '',
    '## Targets (issue 7)',
    '',
    '| # | target | measured | result |',
    '| --- | --- | --- | --- |',
    ...summary.map(([id, target, measured, result]) => `| ${id} | ${target} | ${measured} | ${result} |`),
    '',
    ...sections,
  ].join('\n');
}

function machineTable(meta) {
  const lines = [
    '| | |',
    '| --- | --- |',
    `| date | ${meta.date} |`,
    `| machine | ${meta.nproc} cores (${meta.cpuModel}), ${meta.memoryGb.toFixed(1)} GB memory, Linux ${meta.kernel} |`,
    `| Node | ${meta.node} |`,
    `| Cloakroom | commit ${meta.commit} |`,
    `| peers | express ${meta.versions.express}, express-session ${meta.versions['express-session']}, session-file-store ${meta.versions['session-file-store']}, connect-redis ${meta.versions['connect-redis']}, redis ${meta.versions.redis} |`,
    `| load generator | ${meta.loadGenerator} |`,
    `| pinning | ${meta.pinning} |`,
    `| load | ${meta.connections} connections; ${meta.seconds} s per measurement after ${meta.warmup} s of warm-up; ${meta.rounds} round(s), servers fresh per round and interleaved; up to ${meta.retries} extra tries for a measurement disturbed by other work on the server\'s core |`,
    `| machine load | 1-minute load average ${meta.loadAverageAtStart} at the start, ${meta.loadAverageAtEnd} at the end (2 cores; the machine is shared); run took ${meta.minutes} min |`,
    `| Cloakroom settings | LOG=silent, fresh temp SESSIONS_DIR and USERS_FILE per start, SCRYPT_COST=1024 except in the sign-in scenario (default cost) |`,
  ];
  return lines.join('\n');
}

/** Groups rows by round and returns {round: {key: row}} for one filter. */
function byRound(rows, filter = () => true) {
  const rounds = {};
  for (const row of rows.filter(filter)) (rounds[row.round] ??= {})[row.key] = row;
  return Object.values(rounds);
}

function loadTable(rows, { withRss = false, withFiles = false } = {}) {
  const withSameHeaders = rows.some((row) => row.key === 'raw-same-headers');
  const header = ['round', 'server', 'req/s', 'p99 ms', 'non-2xx', 'socket errors', '× raw node:http'];
  if (withSameHeaders) header.push('× same headers');
  header.push('CPU');
  if (withRss) header.push('RSS peak / end');
  if (withFiles) header.push('session files created');
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- |').join('')}`];
  for (const round of byRound(rows)) {
    const raw = round['raw-http'].load.rps;
    for (const { key } of SERVERS) {
      const row = round[key];
      if (!row) continue;
      const cells = [
        row.round,
        labelOf(key),
        `${int(row.load.rps)}${triesNote(row.load)}`,
        ms(row.load.p99Ms),
        row.load.non2xx,
        row.load.socketErrors,
        x(row.load.rps / raw),
      ];
      if (withSameHeaders) cells.push(x(row.load.rps / round['raw-same-headers'].load.rps));
      cells.push(cpuCell(row.load.cpu));
      if (withRss) cells.push(`${mb(row.rss.peakMb)} / ${mb(row.rss.lastMb)}`);
      if (withFiles) cells.push(row.filesCreated === null ? '–' : `${int(row.filesCreated)} (for ${int(row.load.requests)} answers)`);
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** microsPerRequest is a server's CPU time per answer in µs: its share of its core over its rate; null when the CPU was not read. */
function microsPerRequest(load) {
  const pctOfCore = load.cpu?.serverPct;
  return pctOfCore === null || pctOfCore === undefined ? null : (pctOfCore / 100) * (1_000_000 / load.rps);
}

/**
 * budgetParagraph says what the 0.8× target leaves Cloakroom per request,
 * from this run: at that ratio, a request may take 1 ÷ 0.8 = 1.25 times
 * the CPU of the same-headers peer, so 0.25 of the peer's time on top of
 * node:http's own work. The two stat() calls of a signed-in request come
 * out of that first; the rest is all there is for everything else.
 */
function budgetParagraph(rows, statUs) {
  const peer = rows.filter((r) => r.key === 'raw-same-headers' && r.sessions === 1).map((r) => microsPerRequest(r.load));
  const cloak = rows.filter((r) => r.key === 'cloakroom' && r.sessions === 1).map((r) => microsPerRequest(r.load));
  if (peer.includes(null) || cloak.includes(null) || peer.length === 0)
    return `One stat() of a small file costs ${statUs.toFixed(2)} µs here.`;
  const us = (n) => `${n.toFixed(1)} µs`;
  const peerUs = mean(peer);
  const budget = (1 / TARGETS.ratioToSameHeaders - 1) * peerUs;
  const stats = 2 * statUs;
  return [
    `The budget of a request, from this run (one session, mean over rounds): the same-headers peer takes ${us(peerUs)} of CPU per answer (${peer.map(us).join(', ')}), Cloakroom ${us(mean(cloak))} (${cloak.map(us).join(', ')}).`,
    `At ${x(TARGETS.ratioToSameHeaders)} of the peer, Cloakroom may take ${x(1 / TARGETS.ratioToSameHeaders)} its time: ${us(budget)} per request on top of what node:http itself does.`,
    `The two stat() calls every signed-in request makes (its session file, and the accounts file, so that another process's change is seen at once) take ${us(stats)} of that (one costs ${statUs.toFixed(2)} µs here: the least of 3 runs of 200 000 statSync calls), which leaves ${us(budget - stats)} for reading the cookie, finding the session, checking its expiry and its account, and writing the answer.`,
  ].join(' ');
}

/** Per-round ratios of Cloakroom to another server. */
function ratios(rounds, key) {
  return rounds.map((round) => round.cloakroom.load.rps / round[key].load.rps);
}

function meSection({ rows, headerProblems, statUs }) {
  const summary = [];
  const text = ['## 1. Signed-in GET /api/me', ''];
  text.push(
    'One session cookie on every request, then 1000 session cookies round-robin (1000 real sign-ins each). "raw node:http, same headers" answers with exactly the headers and body shape Cloakroom sends and keeps no session: Cloakroom\'s ratio to it is the cost of sessions alone.',
    '',
  );
  text.push(
    headerProblems.length === 0
      ? "Cloakroom's answer carried every header it must send (checked before timing)."
      : `Cloakroom\'s answer lacked headers it must send: ${headerProblems.join('; ')}.`,
    '',
  );
  summary.push([
    '1',
    'answers carry all their headers',
    headerProblems.length === 0 ? 'all present' : headerProblems.join('; '),
    verdict(headerProblems.length === 0),
  ]);
  for (const sessions of [...new Set(rows.map((r) => r.sessions))]) {
    const subset = rows.filter((r) => r.sessions === sessions);
    const rounds = byRound(subset);
    const toRaw = ratios(rounds, 'raw-http');
    const toSameHeaders = ratios(rounds, 'raw-same-headers');
    const vsFile = ratios(rounds, 'express-file');
    const vsMemory = ratios(rounds, 'express-memory');
    const cloak = rounds.map((r) => r.cloakroom);
    const worstP99 = Math.max(...cloak.map((r) => r.load.p99Ms));
    const bad = cloak.reduce((sum, r) => sum + r.load.non2xx + r.load.socketErrors, 0);
    const peakRss = Math.max(...cloak.map((r) => r.rss.peakMb));
    const tag = sessions === 1 ? '1 session' : `${sessions} sessions`;
    const cloakRps = int(mean(cloak.map((r) => r.load.rps)));
    summary.push(
      [
        `1 (${tag})`,
        `/api/me ≥ ${x(TARGETS.ratioToRaw)} raw node:http`,
        `${x(mean(toRaw))}${range(toRaw)}, ${cloakRps} req/s`,
        verdict(mean(toRaw) >= TARGETS.ratioToRaw),
      ],
      [
        `10 (${tag})`,
        `/api/me ≥ ${x(TARGETS.ratioToSameHeaders)} raw node:http, same headers`,
        `${x(mean(toSameHeaders))}${range(toSameHeaders)}, ${cloakRps} req/s`,
        verdict(mean(toSameHeaders) >= TARGETS.ratioToSameHeaders),
      ],
      [
        `1 (${tag})`,
        `≥ ${x(TARGETS.vsFileStore)} express-session + session-file-store`,
        `${x(mean(vsFile))}${range(vsFile)}`,
        verdict(mean(vsFile) >= TARGETS.vsFileStore),
      ],
      [
        `1 (${tag})`,
        `≥ ${x(TARGETS.vsMemoryStore)} express-session + MemoryStore`,
        `${x(mean(vsMemory))}${range(vsMemory)}`,
        verdict(mean(vsMemory) >= TARGETS.vsMemoryStore),
      ],
      [`1 (${tag})`, `p99 ≤ ${TARGETS.p99Ms} ms`, `${ms(worstP99)} ms (worst round)`, verdict(worstP99 <= TARGETS.p99Ms)],
      [`10 (${tag})`, `p99 ≤ ${TARGETS.strictP99Ms} ms`, `${ms(worstP99)} ms (worst round)`, verdict(worstP99 <= TARGETS.strictP99Ms)],
      // One row for two targets: the same figure, the same threshold.
      [`1, 10 (${tag})`, 'zero non-2xx (and no socket errors)', String(bad), verdict(bad === 0)],
    );
    if (sessions > 1) {
      const endRss = Math.max(...cloak.map((r) => r.rss.lastMb));
      summary.push([
        '5, 10',
        `RSS ≤ ${TARGETS.rssMb} MB under the ${sessions}-session load`,
        `${mb(endRss)} at the end, ${mb(peakRss)} peak`,
        verdict(peakRss <= TARGETS.rssMb),
      ]);
    }
    text.push(`### ${tag}`, '', loadTable(subset, { withRss: true }), '');
    text.push(
      `Cloakroom, mean over rounds (range): ${x(mean(toRaw))}${range(toRaw)} raw node:http, ${x(mean(toSameHeaders))}${range(toSameHeaders)} raw node:http with the same headers, ${x(mean(vsFile))}${range(vsFile)} express-session + session-file-store, ${x(mean(vsMemory))}${range(vsMemory)} express-session + MemoryStore. Its RSS peak during this load: ${mb(peakRss)}.`,
      '',
    );
  }
  if (statUs !== undefined) text.push(budgetParagraph(rows, statUs), '');
  text.push(
    'non-2xx: wrk counts responses with a status ≥ 400 (no route here redirects). RSS: VmRSS from /proc/<pid>/status, sampled during the measured load; "end" is just after it.',
    '',
    CPU_NOTE,
    retryNote,
    '',
  );
  return { rows: summary, text: text.join('\n') };
}

function touchSection(rows) {
  const summary = [];
  const text = ['## 2. Sliding expiry: file rewrites under load on one session', ''];
  text.push(
    "Method: fs.watch (inotify) on the sessions directory counts `rename` events for the session's file name (an atomic write renames a temp file onto it); `change` events for that name would be in-place writes. Independently, the file's inode is sampled every 5 ms (each atomic rewrite gives the name a new inode). Allowed by the touch rule (lib/sessions/record.ts touchIntervalMs): ceil(load seconds / touch interval) + 1, touch interval = min(idle / 10, 60 s).",
    '',
  );
  text.push(
    '| SESSION_IDLE_TIMEOUT | touch interval | load | requests (non-2xx) | renames (fs.watch) | inode changes | in-place writes | allowed | lastSeenAt slid by | result |',
  );
  text.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const rewrites = Math.max(r.renames, r.inodeChanges);
    const mustSlide = r.interval < r.seconds;
    const ok = rewrites <= r.allowed && r.changes === 0 && r.non2xx === 0 && (!mustSlide || r.slidBySeconds > 0);
    text.push(
      `| ${r.idle} s | ${r.interval} s | ${r.seconds.toFixed(1)} s | ${int(r.requests)} (${r.non2xx}) | ${r.renames} | ${r.inodeChanges} | ${r.changes} | ${r.allowed} | ${r.slidBySeconds.toFixed(1)} s | ${verdict(ok)} |`,
    );
    summary.push([
      '2',
      `idle ${r.idle} s: ≤ ${r.allowed} rewrites in ${r.seconds.toFixed(0)} s${mustSlide ? ', and expiry slides' : ''}`,
      `${rewrites} rewrite(s), lastSeenAt +${r.slidBySeconds.toFixed(1)} s`,
      verdict(ok),
    ]);
  }
  text.push(
    '',
    'A verdict also needs zero in-place writes, zero non-2xx and, when the interval is shorter than the load, a lastSeenAt that moved.',
    '',
  );
  return { rows: summary, text: text.join('\n') };
}

function createSection(rows) {
  const rounds = byRound(rows);
  const vsFile = ratios(rounds, 'express-file');
  const vsMemory = ratios(rounds, 'express-memory');
  const vsReadFile = ratios(rounds, 'raw-readfile');
  const cloak = rounds.map((r) => r.cloakroom);
  const bad = cloak.reduce((sum, r) => sum + r.load.non2xx + r.load.socketErrors, 0);
  const text = ['## 3. Session creation: guest POST /api/cart with no cookie', ''];
  text.push(
    'Every request creates a session (a file, except for MemoryStore; raw node:http stores nothing and is the ceiling). raw node:http + readFile writes each new session as Cloakroom does, to a temp file renamed onto its name, and nothing else: the floor for a crash-safe file store. Every request claims a client address of its own (X-Forwarded-For; Cloakroom runs with TRUST_PROXY=true), so Cloakroom counts each new guest session against that address at its default limit, as it would for many real guests behind a proxy.',
    '',
  );
  text.push(loadTable(rows, { withFiles: true }), '');
  text.push(
    `Cloakroom, mean over rounds: ${x(mean(vsReadFile))}${range(vsReadFile)} raw node:http + readFile, ${x(mean(vsFile))}${range(vsFile)} express-session + session-file-store, ${x(mean(vsMemory))}${range(vsMemory)} express-session + MemoryStore. Non-2xx + socket errors for Cloakroom: ${bad}.`,
    '',
    CPU_NOTE,
    retryNote,
    '',
  );
  return {
    rows: [
      [
        '3',
        `session creation ≥ ${x(TARGETS.creationVsFileStore)} express-session + session-file-store`,
        `${x(mean(vsFile))}${range(vsFile)}, ${int(mean(cloak.map((r) => r.load.rps)))} req/s`,
        verdict(mean(vsFile) >= TARGETS.creationVsFileStore && bad === 0),
      ],
      [
        '10',
        `session creation ≥ ${x(TARGETS.creationVsReadFile)} raw node:http writing one file per request (temp file, then rename)`,
        `${x(mean(vsReadFile))}${range(vsReadFile)}`,
        verdict(mean(vsReadFile) >= TARGETS.creationVsReadFile && bad === 0),
      ],
    ],
    text: text.join('\n'),
  };
}

function sweepSection(r) {
  const ratio = r.during ? r.during.rps / r.after.rps : null;
  const growth = r.peakDuringMb - r.rssAtStartMb;
  const controlGrowth = r.control.peakMb - r.control.rssAtStartMb;
  const liveOk = r.checks.live.every((s) => s === 200);
  const expiredOk = r.checks.expired.every((s) => s === 401);
  const text = [`## 4. Sweeper: ${int(r.total)} session files, half expired`, ''];
  text.push(
    '| | |',
    '| --- | --- |',
    `| files | ${int(r.total)} (${int(r.expired)} expired by idle time, mtimes in the past; ${int(r.live)} live), written in ${r.writeSeconds.toFixed(1)} s |`,
    `| start-up (spawn → listening) | ${int(r.startMs)} ms (empty directory: ${int(r.control.startMs)} ms) |`,
    `| expired files left at the first poll after listening | ${int(r.expiredAtListen ?? 0)} |`,
    `| sweep duration (listening → no expired file left; polled every ${r.pollIntervalMs} ms) | ${r.sweepDone ? `${r.sweepSeconds.toFixed(2)} s` : 'did not finish'} |`,
    `| /api/me during the sweep (${r.duringSource}) | ${r.during ? `${int(r.during.rps)} req/s, p99 ${ms(r.during.p99Ms)} ms (worst slice ${ms(r.during.worstP99Ms)}), non-2xx ${r.during.non2xx}; CPU ${cpuCell(r.during.cpu)}` : 'not measured'} |`,
    `| /api/me after the sweep (same server, same load) | ${int(r.after.rps)} req/s, p99 ${ms(r.after.p99Ms)} ms (worst slice ${ms(r.after.worstP99Ms)}), non-2xx ${r.after.non2xx}; CPU ${cpuCell(r.after.cpu)} |`,
    `| /api/me on a fresh server with an empty directory (control, from a cold start) | ${int(r.control.rps)} req/s, p99 ${ms(r.control.p99Ms)} ms (worst slice ${ms(r.control.worstP99Ms)}); CPU ${cpuCell(r.control.cpu)} |`,
    `| RSS at listening → peak during the sweep | ${mb(r.rssAtStartMb)} → ${mb(r.peakDuringMb)} (+${mb(growth)}); after: ${mb(r.rssAfterMb)} |`,
    `| the same sweep with no load (fresh directory, fresh server) | ${r.alone.sweepDone ? `${r.alone.sweepSeconds.toFixed(2)} s` : 'did not finish'}; RSS ${mb(r.alone.rssAtStartMb)} → peak ${mb(r.alone.peakMb)} (+${mb(r.alone.peakMb - r.alone.rssAtStartMb)}) |`,
    `| RSS growth of the control under the same load | ${mb(r.control.rssAtStartMb)} → ${mb(r.control.peakMb)} (+${mb(controlGrowth)}) |`,
    `| after the sweep | ${int(r.jsonFilesLeft)} session files left (${int(r.live)} live + the bench's own sign-ins), ${r.tempFilesLeft} temp files |`,
    `| surviving sessions (GET /api/session) | live IDs → ${r.checks.live.join(', ')} (want 200); expired IDs → ${r.checks.expired.join(', ')} (want 401) |`,
    '',
  );
  text.push(
    'The load runs in 1 s wrk slices so that "during" covers only the sweep (p99: the median slice\'s); the first slice (a cold process) is left out of "during" when there are two or more. RSS growth counts everything from the listening line to the sweep\'s end, the load\'s own growth included (see the control).',
    '',
    CPU_NOTE,
    '',
  );
  return {
    rows: [
      [
        '4',
        'sweep duration (report only)',
        r.sweepDone
          ? `${r.sweepSeconds.toFixed(2)} s under load, ${r.alone.sweepDone ? `${r.alone.sweepSeconds.toFixed(2)} s` : 'unfinished'} without, for ${int(r.expired)} expired of ${int(r.total)}`
          : 'did not finish',
        r.sweepDone ? 'info' : '**MISS**',
      ],
      [
        '4',
        `/api/me during the sweep ≥ ${x(TARGETS.sweepThroughput)} of after`,
        ratio === null ? 'not measured' : `${x(ratio)} (${int(r.during.rps)} vs ${int(r.after.rps)} req/s)`,
        verdict(ratio !== null && ratio >= TARGETS.sweepThroughput),
      ],
      [
        '4',
        `RSS growth during the sweep ≤ ${TARGETS.sweepRssGrowthMb} MB`,
        `+${mb(growth)} under load (load alone: +${mb(controlGrowth)}; sweep alone: +${mb(r.alone.peakMb - r.alone.rssAtStartMb)})`,
        verdict(growth <= TARGETS.sweepRssGrowthMb),
      ],
      [
        '4',
        'sweep keeps live sessions, removes expired ones',
        `live → ${r.checks.live.join('/')}, expired → ${r.checks.expired.join('/')}`,
        verdict(liveOk && expiredOk && r.tempFilesLeft === 0),
      ],
    ],
    text: text.join('\n'),
  };
}

function signInSection(r) {
  const text = ['## 5. Sign-in at the default SCRYPT_COST', ''];
  const statuses = (s) =>
    Object.entries(s)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
  text.push(
    '| | |',
    '| --- | --- |',
    `| sign-ins/s, ${r.concurrency} in flight | ${r.signIns.perSecond.toFixed(2)}/s (${r.signIns.ok} in ${r.signIns.seconds.toFixed(1)} s, mean ${r.signIns.meanMs === null ? '–' : int(r.signIns.meanMs)} ms each; answers ${statuses(r.signIns.statuses)}) |`,
    `| /api/me alone | ${int(r.quiet.rps)}${triesNote(r.quiet)} req/s, p99 ${ms(r.quiet.p99Ms)} ms, non-2xx ${r.quiet.non2xx}; CPU ${cpuCell(r.quiet.cpu)} |`,
    `| /api/me with ${r.inFlight} sign-ins in flight | ${int(r.duringSignIns.rps)} req/s, p99 ${ms(r.duringSignIns.p99Ms)} ms, non-2xx ${r.duringSignIns.non2xx}; CPU ${cpuCell(r.duringSignIns.cpu)} |`,
    `| sign-ins meanwhile | ${r.concurrent.ok} succeeded (${r.concurrent.perSecond.toFixed(2)}/s); answers ${statuses(r.concurrent.statuses)} |`,
    `| ${r.probe.count} correct sign-ins at once for one account | answers ${statuses(r.probe.statuses)}; Retry-After ${r.probe.retryAfter.length > 0 ? `${r.probe.retryAfter.join(', ')} s` : 'none'} |`,
    '',
    `Each of the ${r.inFlight} sign-ins in flight is a different user. A 503 is the bounded hash queue saying it is full (allowed); after a 503 or 429 the client waits 50 ms before trying again.`,
    '',
    CPU_NOTE,
    retryNote,
    '',
  );
  return {
    rows: [
      [
        '6',
        'sign-ins per second at the default cost (report only)',
        `${r.signIns.perSecond.toFixed(2)}/s with ${r.concurrency} in flight`,
        'info',
      ],
      ['6', `${r.probe.count} correct sign-ins at once for one account (report only)`, statuses(r.probe.statuses), 'info'],
      [
        '6',
        `/api/me p99 ≤ ${TARGETS.signInP99Ms} ms while ${r.inFlight} sign-ins run`,
        `${ms(r.duringSignIns.p99Ms)} ms (alone: ${ms(r.quiet.p99Ms)} ms), non-2xx ${r.duringSignIns.non2xx}`,
        verdict(r.duringSignIns.p99Ms <= TARGETS.signInP99Ms && r.duringSignIns.non2xx === 0),
      ],
    ],
    text: text.join('\n'),
  };
}

function workersSection({ rows }) {
  const text = ['## 6. WORKERS=1 and WORKERS=2 on one port', ''];
  text.push(
    'Signed-in GET /api/me. The servers are not pinned here (each may use both cores); the load generator keeps its core, so on a 2-core machine the workers share the cores with it.',
    '',
    '| round | sessions | WORKERS=1 req/s (p99) | WORKERS=2 req/s (p99) | 2 ÷ 1 |',
    '| --- | --- | --- | --- | --- |',
  );
  const ratios = [];
  for (const round of [...new Set(rows.map((r) => r.round))]) {
    for (const sessions of [...new Set(rows.map((r) => r.sessions))]) {
      const one = rows.find((r) => r.round === round && r.sessions === sessions && r.workers === '1');
      const two = rows.find((r) => r.round === round && r.sessions === sessions && r.workers === '2');
      if (one === undefined || two === undefined) continue;
      ratios.push(two.load.rps / one.load.rps);
      text.push(
        `| ${round} | ${sessions} | ${int(one.load.rps)} (${ms(one.load.p99Ms)} ms) | ${int(two.load.rps)} (${ms(two.load.p99Ms)} ms) | ${x(two.load.rps / one.load.rps)} |`,
      );
    }
  }
  text.push('');
  const measured = ratios.length === 0 ? 'no figures' : `${x(mean(ratios))}${range(ratios)}`;
  return { rows: [['7', 'WORKERS=2 ÷ WORKERS=1, /api/me (report only)', measured, 'info']], text: text.join('\n') };
}

function devicesSection(r) {
  const text = [`## 7. GET /api/sessions: ${r.userSessions} sessions of one user among ${int(r.others)} others`, ''];
  text.push(
    '| | |',
    '| --- | --- |',
    `| other session files | ${int(r.others)} (a quarter of them other users', indexed), written in ${r.writeSeconds.toFixed(1)} s; start-up sweep ${r.sweepSeconds.toFixed(1)} s, before the load |`,
    `| GET /api/sessions, ${r.connections} connections | ${int(r.load.rps)}${triesNote(r.load)} req/s, p50 ${ms(r.load.p50Ms)} ms, p99 ${ms(r.load.p99Ms)} ms, non-2xx ${r.load.non2xx}; CPU ${cpuCell(r.load.cpu)} |`,
    '',
    "Each answer reads the user's folder of the index and the 20 session files it names; the 100 000 others are never listed.",
    '',
    CPU_NOTE,
    retryNote,
    '',
  );
  return {
    rows: [
      [
        '8',
        `GET /api/sessions p99 ≤ ${TARGETS.devicesP99Ms} ms, ${r.userSessions} sessions among ${int(r.others)}`,
        `${ms(r.load.p99Ms)} ms at ${int(r.load.rps)} req/s, non-2xx ${r.load.non2xx}`,
        verdict(r.load.p99Ms <= TARGETS.devicesP99Ms && r.load.non2xx === 0),
      ],
    ],
    text: text.join('\n'),
  };
}

function redisSection({ rows }) {
  const text = ['## 8. Sessions in Redis: Cloakroom against connect-redis', ''];
  text.push(
    "Signed-in GET /api/me, every session in one redis-server (on the load generator's core, emptied between servers): Cloakroom with STORE=redis and its own client, against express 5 + express-session + connect-redis on the official `redis` client.",
    '',
    '| round | sessions | Cloakroom req/s (p99) | connect-redis req/s (p99) | Cloakroom ÷ connect-redis |',
    '| --- | --- | --- | --- | --- |',
  );
  const ratios = [];
  const p99s = [];
  for (const round of [...new Set(rows.map((r) => r.round))]) {
    for (const sessions of [...new Set(rows.map((r) => r.sessions))]) {
      const ours = rows.find((r) => r.round === round && r.sessions === sessions && r.key === 'cloakroom');
      const theirs = rows.find((r) => r.round === round && r.sessions === sessions && r.key === 'express-redis');
      if (ours === undefined || theirs === undefined) continue;
      ratios.push(ours.load.rps / theirs.load.rps);
      p99s.push(ours.load.p99Ms);
      text.push(
        `| ${round} | ${sessions} | ${int(ours.load.rps)}${triesNote(ours.load)} (${ms(ours.load.p99Ms)} ms) | ${int(theirs.load.rps)}${triesNote(theirs.load)} (${ms(theirs.load.p99Ms)} ms) | ${x(ours.load.rps / theirs.load.rps)} |`,
      );
    }
  }
  text.push('', retryNote, '');
  const worstP99 = p99s.length === 0 ? Number.POSITIVE_INFINITY : Math.max(...p99s);
  const non2xx = rows.reduce((sum, r) => sum + r.load.non2xx, 0);
  return {
    rows: [
      [
        '9',
        `Redis: Cloakroom ≥ ${TARGETS.vsConnectRedis}× connect-redis, /api/me`,
        ratios.length === 0 ? 'no figures' : `${x(mean(ratios))}${range(ratios)}`,
        verdict(ratios.length > 0 && mean(ratios) >= TARGETS.vsConnectRedis && non2xx === 0),
      ],
      ['9', `Redis: Cloakroom p99 ≤ ${TARGETS.p99Ms} ms, /api/me`, `${ms(worstP99)} ms (worst)`, verdict(worstP99 <= TARGETS.p99Ms)],
    ],
    text: text.join('\n'),
  };
}

function sqliteSection(r) {
  if (r.unavailable !== undefined) {
    return {
      rows: [['9', `STORE=sqlite /api/me p99 ≤ ${TARGETS.p99Ms} ms`, r.unavailable, 'not run']],
      text: `## 9. STORE=sqlite\n\nNot run: ${r.unavailable}.\n`,
    };
  }
  const text = [`## 9. Signed-in GET /api/me with STORE=sqlite, ${int(r.others)} other sessions in the table`, ''];
  text.push(
    `The other rows were inserted in one transaction in ${r.fillSeconds.toFixed(1)} s (last round). STORE=files runs in the same rounds without them (its per-request cost is one \`stat\` of the session file, whatever the directory holds). ${r.connections} connections.`,
    '',
    '| round | sessions | STORE=files req/s (p99) | STORE=sqlite req/s (p99) | sqlite ÷ files | sqlite non-2xx |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  const ratios = [];
  for (const round of [...new Set(r.rows.map((row) => row.round))]) {
    for (const sessions of [...new Set(r.rows.map((row) => row.sessions))]) {
      const files = r.rows.find((row) => row.round === round && row.sessions === sessions && row.store === 'files');
      const sqlite = r.rows.find((row) => row.round === round && row.sessions === sessions && row.store === 'sqlite');
      if (files === undefined || sqlite === undefined) continue;
      ratios.push(sqlite.load.rps / files.load.rps);
      text.push(
        `| ${round} | ${sessions} | ${int(files.load.rps)} (${ms(files.load.p99Ms)} ms) | ${int(sqlite.load.rps)}${triesNote(sqlite.load)} (${ms(sqlite.load.p99Ms)} ms) | ${x(sqlite.load.rps / files.load.rps)} | ${sqlite.load.non2xx} |`,
      );
    }
  }
  if (r.statements !== null) {
    text.push(
      '',
      `Outside the load, the statements of one signed-in request (the session row by its key, a random one of ${int(r.others)} each time, its JSON parsed, and the account row), timed ${int(r.statements.samples)} times: p50 ${r.statements.p50Us.toFixed(0)} µs, p99 ${r.statements.p99Us.toFixed(0)} µs.`,
    );
  }
  text.push('', retryNote, '');
  const sqliteRows = r.rows.filter((row) => row.store === 'sqlite');
  const worstP99 = Math.max(...sqliteRows.map((row) => row.load.p99Ms));
  const bad = sqliteRows.reduce((sum, row) => sum + row.load.non2xx + row.load.socketErrors, 0);
  return {
    rows: [
      [
        '9',
        `STORE=sqlite /api/me p99 ≤ ${TARGETS.p99Ms} ms, ${int(r.others)} sessions in the table`,
        `${ms(worstP99)} ms (worst), non-2xx ${bad}`,
        verdict(worstP99 <= TARGETS.p99Ms && bad === 0),
      ],
      ['9', 'STORE=sqlite ÷ STORE=files, /api/me req/s (report only)', `${x(mean(ratios))}${range(ratios)}`, 'info'],
    ],
    text: text.join('\n'),
  };
}

/** Cloakroom's figures at one session count, over rounds: ratios to the peer, means, the worst p99 and the peak RSS. */
function scaleFigures(rows, sessions) {
  const subset = rows.filter((r) => r.sessions === sessions);
  if (subset.length === 0) return null;
  const cloak = subset.map((r) => r.cloakroom);
  return {
    ratios: subset.map((r) => r.cloakroom.load.rps / r.peer.load.rps),
    cloakRps: mean(cloak.map((r) => r.load.rps)),
    peerRps: mean(subset.map((r) => r.peer.load.rps)),
    worstP99: Math.max(...cloak.map((r) => r.load.p99Ms)),
    bad: cloak.reduce((sum, r) => sum + r.load.non2xx + r.load.socketErrors, 0),
    peakRss: Math.max(...cloak.map((r) => r.rss.peakMb)),
  };
}

function scaleSection({ rows, touchIntervalSeconds }) {
  const counts = [...new Set(rows.map((r) => r.sessions))];
  const text = [`## 10. Signed-in GET /api/me over ${counts.map(int).join(', ')} sessions`, ''];
  text.push(
    "Each count has a fresh Cloakroom (SWEEP_INTERVAL=3600, so no sweep walks the files mid-measurement) with one user registered for real and the other sessions written straight into SESSIONS_DIR in Cloakroom's format (file and user-index marker, lastSeenAt a minute ahead so that no touch falls due), and a fresh raw node:http that sends exactly Cloakroom's headers, sent the same cookies round-robin in the same round. The first, the last and some random cookies answered 200 before timing, and every session was asked for once before the warm-up: the figures are the steady state of sessions in use, not the first read of each file.",
    '',
    '| round | sessions | Cloakroom req/s | raw same-headers req/s | ratio | p99 ms | non-2xx | socket errors | RSS peak | files written in | CPU, Cloakroom | CPU, raw same-headers |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of rows) {
    const { load, rss } = r.cloakroom;
    text.push(
      `| ${r.round} | ${int(r.sessions)} | ${int(load.rps)}${triesNote(load)} | ${int(r.peer.load.rps)}${triesNote(r.peer.load)} | ${x(load.rps / r.peer.load.rps)} | ${ms(load.p99Ms)} | ${load.non2xx} | ${load.socketErrors} | ${mb(rss.peakMb)} | ${r.writeSeconds.toFixed(1)} s | ${cpuCell(load.cpu)} | ${cpuCell(r.peer.load.cpu)} |`,
    );
  }
  const late = rows.filter((r) => r.recordAgeSeconds >= touchIntervalSeconds);
  text.push(
    '',
    late.length === 0
      ? `Every Cloakroom measurement ended within ${Math.ceil(Math.max(...rows.map((r) => r.recordAgeSeconds)))} s of its records being written, before a touch was due (${touchIntervalSeconds} s after they were written): no request rewrote a file.`
      : `${late.length} Cloakroom measurement(s) ended more than ${touchIntervalSeconds} s after the records were written (${late.map((r) => `round ${r.round}, ${int(r.sessions)} sessions`).join('; ')}), so they also timed the rewrite of lastSeenAt.`,
    '',
    "With more than one session, wrk runs a Lua call per request to pick the cookie, for both servers alike; when the load generator's core is near 100 % for the raw peer, its figure is the load generator's ceiling, and the ratio flatters Cloakroom.",
    '',
    '### For the README',
    '',
    `Means over ${Math.max(...rows.map((r) => r.round))} round(s); p99 is Cloakroom's worst round, RSS its peak.`,
    '',
    '| sessions | Cloakroom req/s | raw same-headers req/s | ratio | p99 | RSS |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const sessions of counts) {
    const f = scaleFigures(rows, sessions);
    text.push(
      `| ${spaced(sessions)} | ${spaced(f.cloakRps)} | ${spaced(f.peerRps)} | ${x(mean(f.ratios))} | ${f.worstP99.toFixed(1)} ms | ${Math.round(f.peakRss)} MB |`,
    );
  }
  text.push('', CPU_NOTE, retryNote, '');

  const summary = SCALE_RATIO_SESSIONS.map((sessions) => {
    const f = scaleFigures(rows, sessions);
    const target = `scale: /api/me ≥ ${x(TARGETS.scaleRatio)} raw node:http, same headers`;
    if (f === null) return [`10 (${int(sessions)} sessions)`, target, 'not measured (not in BENCH_SCALE_COUNTS)', 'not run'];
    return [
      `10 (${int(sessions)} sessions)`,
      target,
      `${x(mean(f.ratios))}${range(f.ratios)}, ${int(f.cloakRps)} req/s, non-2xx ${f.bad}`,
      verdict(mean(f.ratios) >= TARGETS.scaleRatio && f.bad === 0),
    ];
  });
  const big = scaleFigures(rows, SCALE_RSS_SESSIONS);
  summary.push([
    `10 (${int(SCALE_RSS_SESSIONS)} sessions)`,
    `scale: RSS ≤ ${TARGETS.scaleRssMb} MB`,
    big === null ? 'not measured (not in BENCH_SCALE_COUNTS)' : `${mb(big.peakRss)} peak`,
    big === null ? 'not run' : verdict(big.peakRss <= TARGETS.scaleRssMb),
  ]);
  summary.push([
    '10',
    'scale: Cloakroom ÷ raw node:http, same headers, at each count (report only)',
    counts.map((sessions) => `${int(sessions)}: ${x(mean(scaleFigures(rows, sessions).ratios))}`).join(', '),
    'info',
  ]);
  return { rows: summary, text: text.join('\n') };
}
