import { ConfigError, loadConfig } from '../lib/config.ts';
import { ATTACK_USAGE, parseAttackArgs, runAttackCommand } from '../lib/lab/attack-command.ts';
import { labEnvironment } from '../lib/lab/mode.ts';

// `npm run attack -- NAME`: the attack of one lab switch (or `all`) against
// a running `npm run lab`, narrated (lib/lab/attack-command.ts). It reads
// the same variables as the lab: HOST and PORT for its address (or --url),
// SESSIONS_DIR for the folder the copied-folder attack reads.

const output = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

try {
  const args = parseAttackArgs(process.argv.slice(2));
  if (args === null) {
    output.err(ATTACK_USAGE);
    process.exitCode = 1;
  } else {
    const config = loadConfig(labEnvironment(process.env));
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = args.url ?? `http://${host}:${config.port}`;
    process.exitCode = await runAttackCommand(args.name, { url, sessionsDir: config.sessionsDir }, output);
  }
} catch (error) {
  output.err(
    error instanceof ConfigError ? error.message : `attack: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  process.exitCode = 1;
}
