import { startApp, stopOnSignals } from '../lib/app.ts';
import { ConfigError, loadConfig } from '../lib/config.ts';
import { labEnvironment } from '../lib/lab/mode.ts';

// `npm run lab`: Cloakroom in lab mode, where each defence can be switched
// off at /lab and its attack watched working (lib/lab/). The same
// variables as `npm start`, with the lab's own directories by default
// (lab/sessions, lab/data); a HOST other than a loopback address, WORKERS
// above 1, or a STORE other than files or memory stops it (exit 1).
// Lab mode is this script's doing alone: no variable turns it on.

async function main(): Promise<void> {
  const config = loadConfig(labEnvironment(process.env));
  const app = await startApp(config, { lab: true });
  stopOnSignals(app, (line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`Cloakroom listening on ${app.url} in lab mode: defences can be switched off at ${app.url}/lab\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    error instanceof ConfigError ? `${error.message}\n` : `cannot start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
