// npm run reset: a clean slate for the README's walkthrough. It deletes the
// accounts and the session files where `npm start` would look for them (the
// same SESSIONS_DIR and USERS_FILE variables), asks nothing, and prints what
// it removed. lib/reset.ts says exactly which files.

import { ConfigError, loadConfig } from '../lib/config.ts';
import { describeReset, resetState } from '../lib/reset.ts';

try {
  const config = loadConfig(process.env);
  const report = await resetState(config);
  process.stdout.write(`${describeReset(report, config).join('\n')}\n`);
} catch (error) {
  process.stderr.write(
    error instanceof ConfigError ? `${error.message}\n` : `reset failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
}
