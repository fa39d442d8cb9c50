import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import type { Config } from './config.ts';

/** The first wait before a worker that died is replaced; it doubles while workers keep dying young. */
export const RESPAWN_FIRST_DELAY_MS = 100;
/** The longest wait between two replacements: a crash loop costs one fork every 10 s at most. */
export const RESPAWN_MAX_DELAY_MS = 10_000;
/** A worker that ran this long before dying counts as healthy: the back-off starts again from the first delay. */
export const HEALTHY_UPTIME_MS = 10_000;

/** WorkerMessage is what a worker tells the primary: that it listens, and where. */
export interface WorkerMessage {
  cloakroom: 'listening';
  url: string;
}

export interface PrimaryOptions {
  /** out prints one line (no newline) for the person who started the server. */
  out: (line: string) => void;
  clock?: () => number;
}

/**
 * runPrimary makes this process the primary of `config.workers` workers
 * that share one port (node:cluster hands each new connection to one of
 * them). Each worker is a whole Cloakroom: it reads the same files as the
 * others, so any worker can answer any request.
 *
 * - A worker that dies is replaced, after a delay that doubles while
 *   workers keep dying young, so a crash loop cannot spin.
 * - A worker that exits before it ever listened (a bad HOST, a port in use)
 *   stops the whole server: a replacement would fail the same way.
 * - SIGINT or SIGTERM asks every worker to finish its in-flight requests;
 *   the primary exits 0 once all have exited.
 *
 * It resolves with the URL once every worker listens.
 */
export function runPrimary(config: Config, options: PrimaryOptions): Promise<string> {
  const clock = options.clock ?? Date.now;
  const startedAt = new Map<Worker, number>();
  const listening = new Set<Worker>();
  let nextDelayMs = RESPAWN_FIRST_DELAY_MS;
  let stopping = false;
  // Replacements waiting for their delay: a stop cancels them, so no worker is born after SIGTERM.
  const pending = new Set<NodeJS.Timeout>();

  return new Promise<string>((resolve, reject) => {
    let url: string | null = null;
    const fork = (): void => {
      if (stopping) return;
      const worker = cluster.fork();
      startedAt.set(worker, clock());
      worker.on('message', (message: unknown) => {
        if (!isListening(message)) return;
        listening.add(worker);
        url = message.url;
        if (listening.size === config.workers) resolve(url);
      });
    };

    cluster.on('exit', (worker, code, signal) => {
      const uptime = clock() - (startedAt.get(worker) ?? clock());
      const everListened = listening.delete(worker);
      startedAt.delete(worker);
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
        return;
      }
      if (!everListened && url === null) {
        stopping = true;
        for (const other of Object.values(cluster.workers ?? {})) other?.kill('SIGTERM');
        reject(new Error(`a worker could not start (${howItEnded(code, signal)})`));
        return;
      }
      const delayMs = uptime >= HEALTHY_UPTIME_MS ? RESPAWN_FIRST_DELAY_MS : nextDelayMs;
      nextDelayMs = Math.min(delayMs * 2, RESPAWN_MAX_DELAY_MS);
      options.out(`worker ${String(worker.process.pid)} died (${howItEnded(code, signal)}); starting another in ${String(delayMs)} ms`);
      // Not unref'd: when every worker has died, this timer is what keeps the primary alive to replace them.
      const timer = setTimeout(() => {
        pending.delete(timer);
        fork();
      }, delayMs);
      pending.add(timer);
    });

    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
      options.out(`${signal}: every worker finishes its in-flight requests, then exits`);
      const workers = Object.values(cluster.workers ?? {});
      if (workers.length === 0) process.exit(0);
      for (const worker of workers) worker?.kill('SIGTERM');
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));

    for (let i = 0; i < config.workers; i++) fork();
  });
}

/** tellPrimary lets a worker's primary know it listens (a no-op in a process that is not a worker). */
export function tellPrimary(url: string): void {
  if (!cluster.isWorker || process.send === undefined) return;
  const message: WorkerMessage = { cloakroom: 'listening', url };
  process.send(message);
}

/** isPrimaryOfWorkers: this process should fork workers rather than serve. */
export function isPrimaryOfWorkers(config: Config): boolean {
  return config.workers > 1 && cluster.isPrimary;
}

/** howItEnded says why a worker exited: the signal that killed it, or its exit code (Node passes null for whichever does not apply). */
function howItEnded(code: number | null, signal: string | null): string {
  return signal === null || signal === '' ? `exit code ${String(code)}` : signal;
}

function isListening(message: unknown): message is WorkerMessage {
  return typeof message === 'object' && message !== null && (message as Partial<WorkerMessage>).cloakroom === 'listening';
}
