/** PARENT_CHECK_MS: how often a process started by `npm start` looks whether npm is still there. */
export const PARENT_CHECK_MS = 500;

/**
 * stopWhenNpmStartEnds makes a SIGTERM or SIGINT sent to the `npm start`
 * process stop this server too. npm runs the start script under a shell
 * (`sh -c "node --import tsx server.ts"`) and passes a signal on to that
 * shell only; the shell dies of it without passing it on, and the server
 * would be left serving with no parent (the port still taken). So when npm
 * started this process (`npm_lifecycle_event` is `start`) and its parent
 * goes away, it sends itself SIGTERM, and the usual graceful stop follows.
 * Run any other way (`node --import tsx server.ts`, a service manager), it
 * does nothing.
 */
export function stopWhenNpmStartEnds(env: NodeJS.ProcessEnv, intervalMs = PARENT_CHECK_MS): void {
  if (env.npm_lifecycle_event !== 'start') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, intervalMs).unref();
}
