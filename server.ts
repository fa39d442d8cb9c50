import { startApp } from './lib/app.ts';
import { ConfigError, loadConfig } from './lib/config.ts';

/**
 * The entry point: read the configuration, start the app, print where it
 * listens, and stop cleanly on SIGINT (Ctrl-C) or SIGTERM. Everything else
 * lives in lib/.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const app = await startApp(config);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: finishing in-flight requests, then exiting\n`);
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Printed only once the signal handlers are in place: whoever waits for this line may stop us at once.
  process.stdout.write(`Cloakroom listening on ${app.url}\n`);
}

main().catch((error: unknown) => {
  // A configuration problem is one line naming the variable; anything else is a start-up failure.
  process.stderr.write(error instanceof ConfigError ? `${error.message}\n` : `cannot start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
