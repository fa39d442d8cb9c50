import { isKey, shortKey } from './keys.ts';

/**
 * OPTION_WORDS are the arguments the explain log shows as they are: the
 * words that say how a command works (`NX`, `PX`, …), which are the lesson.
 */
const OPTION_WORDS = new Set(['NX', 'XX', 'PX', 'EX', 'KEEPTTL', 'GET', 'MATCH', 'COUNT', 'LIMIT', 'WITHSCORES', '-inf', '+inf']);
/** A number short enough to be a TTL, a count or a time is shown; anything longer may be a token. */
const SHOWN_NUMBER = /^-?\d{1,15}$/;
/** Commands whose arguments are secrets from the first to the last. */
const SECRET_COMMANDS = new Set(['AUTH', 'HELLO']);

/**
 * describeCommand is a command as the explain log shows it: the command,
 * keys shortened (shortKey), option words and short numbers as they are,
 * and every other argument, which is a value (a record, an account, a
 * token), as `…`. A password never appears.
 *
 *   SET cloakroom:session:3f2a… … NX PX 1800000
 */
export function describeCommand(args: readonly string[]): string {
  const [command = '', ...rest] = args;
  if (SECRET_COMMANDS.has(command.toUpperCase())) return `${command} …`;
  return [command, ...rest.map(describeArgument)].join(' ');
}

function describeArgument(arg: string): string {
  if (isKey(arg)) return shortKey(arg);
  if (OPTION_WORDS.has(arg) || SHOWN_NUMBER.test(arg)) return arg;
  return '…';
}
