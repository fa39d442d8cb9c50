import { startApp, stopOnSignals } from './lib/app.ts';
import { isPrimaryOfWorkers, runPrimary, tellPrimary } from './lib/cluster.ts';
import { ConfigError, loadConfig } from './lib/config.ts';
import { startupSummary } from './lib/log.ts';
import { stopWhenNpmStartEnds } from './lib/parent-watch.ts';

/**
 * The entry point: read the configuration, start the app (or, with WORKERS
 * above 1, the workers that each run it), print where it listens, and stop
 * cleanly on SIGINT (Ctrl-C) or SIGTERM. Everything else lives in lib/.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  stopWhenNpmStartEnds(process.env);
  if (isPrimaryOfWorkers(config)) {
    const url = await runPrimary(config, { out: (line) => process.stdout.write(`${line}\n`) });
    process.stdout.write(`Cloakroom listening on ${url} (${config.workers} worker processes)\n${startupSummary(config).join('\n')}\n`);
    return;
  }
  const app = await startApp(config);
  stopOnSignals(app, (line) => process.stdout.write(`${line}\n`));
  // Printed only once the signal handlers are in place: whoever waits for this line may stop us at once.
  tellPrimary(app.url);
  if (config.workers === 1) process.stdout.write(`Cloakroom listening on ${app.url}\n${startupSummary(config).join('\n')}\n`);
}

main().catch((error: unknown) => {
  // A configuration problem is one line naming the variable; anything else is a start-up failure.
  process.stderr.write(
    error instanceof ConfigError ? `${error.message}\n` : `cannot start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
