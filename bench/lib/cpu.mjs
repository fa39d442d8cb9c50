// CPU accounting for one measurement, from /proc: how busy the server was,
// and whether anything else ran on its core. The machine is shared, so a
// figure that looks off can be checked against these: a server below ~95 %
// CPU was not the bottleneck (it waited for the client or was descheduled),
// and time taken by other processes or by the hypervisor (steal) on the
// server's core came out of the server's share. I/O pressure (the kernel's
// PSI: the share of time some task waited for the disk) shows a busy disk,
// which slows the scenarios that write session files.
import { readFileSync } from 'node:fs';

/** A snapshot of every core's tick counters and, with `pid`, that process's CPU ticks (all threads). */
export function cpuSnapshot(pid) {
  const cores = {};
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = match[2].trim().split(/\s+/).map(Number);
    const busy = user + nice + system + irq + softirq;
    cores[match[1]] = { busy, steal, total: busy + idle + iowait + steal };
  }
  return { at: performance.now(), cores, ioStallUs: ioStallMicroseconds(), processTicks: pid === undefined ? null : processTicks(pid) };
}

/** Total microseconds during which some task waited for I/O (/proc/pressure/io), or null without PSI. */
function ioStallMicroseconds() {
  try {
    const match = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/io', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

function processTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/**
 * Percentages of one core's time between two snapshots: {serverPct, othersPct,
 * stealPct} on `serverCore`, `loadgenPct` (all work) on `loadgenCore`, and
 * `ioStallPct`, the machine's I/O pressure.
 */
export function cpuUsage(before, after, serverCore, loadgenCore) {
  const share = (core, field) => {
    const total = after.cores[core].total - before.cores[core].total;
    return total > 0 ? (100 * (after.cores[core][field] - before.cores[core][field])) / total : null;
  };
  const coreTicks = after.cores[serverCore].total - before.cores[serverCore].total;
  const serverPct =
    before.processTicks !== null && after.processTicks !== null && coreTicks > 0
      ? (100 * (after.processTicks - before.processTicks)) / coreTicks
      : null;
  const coreBusyPct = share(serverCore, 'busy');
  return {
    serverPct,
    othersPct: serverPct === null || coreBusyPct === null ? null : Math.max(0, coreBusyPct - serverPct),
    stealPct: share(serverCore, 'steal'),
    loadgenPct: share(loadgenCore, 'busy'),
    ioStallPct:
      before.ioStallUs === null || after.ioStallUs === null
        ? null
        : (100 * (after.ioStallUs - before.ioStallUs)) / ((after.at - before.at) * 1000),
  };
}
