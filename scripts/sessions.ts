import { ConfigError, loadConfig } from '../lib/config.ts';
import { runSessionsCommand } from '../lib/sessions/admin.ts';

// `npm run sessions -- COMMAND`: the sessions directory from the terminal
// (lib/sessions/admin.ts), with the same variables as `npm start`.

const output = {
  out: (line: string) => process.stdout.write(`${line}\n`),
  err: (line: string) => process.stderr.write(`${line}\n`),
};

try {
  process.exitCode = await runSessionsCommand(process.argv.slice(2), loadConfig(process.env), output);
} catch (error) {
  output.err(
    error instanceof ConfigError ? error.message : `sessions: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  process.exitCode = 1;
}
