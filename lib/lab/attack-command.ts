import { CannotRun, labStatus, runAttack } from './attacks/attack.ts';
import type { AttackTarget } from './attacks/attack.ts';
import { ATTACKS } from './attacks/index.ts';
import { isSwitchName, SWITCH_NAMES } from './switches.ts';
import type { SwitchName } from './switches.ts';

/**
 * `npm run attack -- NAME` (scripts/attack.ts): one lesson's attack against
 * a running lab server, narrated step by step; `all` runs every one and
 * prints a table. The exit code is 0 whether the attack worked or was
 * stopped (both are results), and 1 only when it could not be run.
 */

export const ATTACK_USAGE = `usage: npm run attack -- NAME [--url URL]
  NAME is a switch of the lab (${SWITCH_NAMES.join(', ')}), or all.
  The lab's address comes from --url, else from HOST and PORT as for npm run lab.`;

/** Output is where the command writes: `out` for the story, `err` for problems. */
export interface AttackOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** AttackArgs is the command line, read: which attack (or all), and the lab's address if given. */
export interface AttackArgs {
  name: SwitchName | 'all';
  url: string | null;
}

/** parseAttackArgs reads `NAME [--url URL]`, or returns null when the command line is not that. */
export function parseAttackArgs(args: readonly string[]): AttackArgs | null {
  let name: string | undefined;
  let url: string | null = null;
  const rest = [...args];
  for (let arg = rest.shift(); arg !== undefined; arg = rest.shift()) {
    if (arg === '--url') {
      url = rest.shift() ?? null;
      if (url === null) return null;
    } else if (name === undefined) {
      name = arg;
    } else {
      return null;
    }
  }
  if (name === undefined || !(name === 'all' || isSwitchName(name))) return null;
  return { name, url };
}

/** runAttackCommand runs the attack(s) named by `args` against `target` and returns the exit code. */
export async function runAttackCommand(name: SwitchName | 'all', target: AttackTarget, output: AttackOutput): Promise<number> {
  try {
    const { switches } = await labStatus(target.url);
    if (name !== 'all') {
      output.out(`${ATTACKS[name].title}, against ${target.url} (${name} is ${switches[name] === false ? 'OFF' : 'ON'}):`);
      let step = 0;
      const report = await runAttack(ATTACKS[name], target, (line) => output.out(`  ${(step += 1)}. ${line}`));
      output.out(report.verdict);
      return 0;
    }
    const rows: string[][] = [];
    for (const each of SWITCH_NAMES) {
      const report = await runAttack(ATTACKS[each], target);
      rows.push([each, switches[each] === false ? 'OFF' : 'ON', ATTACKS[each].title, report.worked ? 'worked' : 'stopped']);
    }
    for (const line of table(['switch', 'defence', 'attack', 'result'], rows)) output.out(line);
    return 0;
  } catch (error) {
    if (!(error instanceof CannotRun)) throw error;
    output.err(`attack: could not run: ${error.message}`);
    return 1;
  }
}

/** table lays out `rows` under `header` in columns as wide as their widest cell. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)];
}
