import { readBody } from '../body.ts';
import { send, sendHtml, sendJson } from '../context.ts';
import type { Context, Handler } from '../context.ts';
import { HttpError } from '../http-error.ts';
import { isCrossOriginRequest } from '../origin-check.ts';
import type { Route } from '../router.ts';
import type { Services } from '../services.ts';
import { CannotRun, runAttack } from './attacks/attack.ts';
import { ATTACKS } from './attacks/index.ts';
import type { Lab } from './mode.ts';
import { defenceSite, defenceSource } from './sites.ts';
import { isSwitchName, SWITCH_NAMES, SwitchesError } from './switches.ts';
import type { SwitchName } from './switches.ts';

const MS_PER_SECOND = 1000;
/** MAX_CLOCK_JUMP_SECONDS: the lab's clock moves at most a year at a time; more is a typo, not a lesson. */
const MAX_CLOCK_JUMP_SECONDS = 365 * 24 * 3600;

/**
 * labRoutes are the lab's page and API, registered only in lab mode
 * (lib/app.ts): the /lab page, its switches (GET and PUT /api/lab), the
 * "try it" of each lesson (POST /api/lab/attacks/<switch>), the clock the
 * `expiry` lesson moves, and the source file each lesson points to.
 */
export function labRoutes(lab: Lab, services: Services): Array<Route<Handler>> {
  const { config, pages } = services;
  // Found once at start-up: a defence that lost its switch fails here, not in front of a student.
  const sites = Object.fromEntries(SWITCH_NAMES.map((name) => [name, defenceSite(name)]));

  const status = (): object => ({
    switches: lab.switches.state(),
    sites,
    store: config.store.kind,
    clockOffsetSeconds: lab.clock.offsetMs / MS_PER_SECOND,
    idleTimeoutSeconds: config.idleTimeoutMs / MS_PER_SECOND,
    absoluteTimeoutSeconds: config.absoluteTimeoutMs / MS_PER_SECOND,
  });

  const page = async (ctx: Context): Promise<void> => {
    sendHtml(ctx, 200, pages.render('lab', { theme: ctx.session.record?.data.theme ?? 'light', session: ctx.session.id !== null }));
  };

  const show = async (ctx: Context): Promise<void> => sendJson(ctx, 200, status());

  const change = async (ctx: Context): Promise<void> => {
    sameOriginOnly(ctx);
    const { fields } = await readBody(ctx.req);
    try {
      lab.switches.set(fields);
    } catch (error) {
      if (error instanceof SwitchesError) throw new HttpError(400, 'invalid_switch', error.message);
      throw error;
    }
    ctx.log.step('lab', `switches: ${SWITCH_NAMES.filter((name) => !lab.switches.defences[name]).join(', ') || 'every defence on'}`);
    sendJson(ctx, 200, status());
  };

  const tryIt = async (ctx: Context): Promise<void> => {
    sameOriginOnly(ctx);
    await readBody(ctx.req);
    const attack = ATTACKS[switchOf(ctx.path, '/api/lab/attacks/')];
    try {
      const report = await runAttack(attack, { url: ownUrl(ctx), sessionsDir: config.sessionsDir });
      sendJson(ctx, 200, report);
    } catch (error) {
      if (error instanceof CannotRun) throw new HttpError(409, 'cannot_run', error.message);
      throw error;
    }
  };

  const advanceClock = async (ctx: Context): Promise<void> => {
    sameOriginOnly(ctx);
    const { fields } = await readBody(ctx.req);
    const seconds = fields.advanceSeconds;
    if (typeof seconds !== 'number' || !(seconds > 0 && seconds <= MAX_CLOCK_JUMP_SECONDS)) {
      throw new HttpError(400, 'invalid_advanceSeconds', `advanceSeconds must be a number of seconds from 0 to ${MAX_CLOCK_JUMP_SECONDS}.`);
    }
    lab.clock.advance(seconds * MS_PER_SECOND);
    ctx.log.step('lab', `clock moved ${seconds} s ahead (now ${lab.clock.offsetMs / MS_PER_SECOND} s ahead of real time)`);
    sendJson(ctx, 200, { clockOffsetSeconds: lab.clock.offsetMs / MS_PER_SECOND });
  };

  const resetClock = async (ctx: Context): Promise<void> => {
    sameOriginOnly(ctx);
    await readBody(ctx.req);
    lab.clock.reset();
    ctx.log.step('lab', 'clock back to real time');
    sendJson(ctx, 200, { clockOffsetSeconds: 0 });
  };

  const source = async (ctx: Context): Promise<void> => {
    const name = switchOf(ctx.path, '/lab/source/');
    send(ctx, 200, { 'Content-Type': 'text/plain; charset=utf-8' }, defenceSource(name));
  };

  return [
    ['GET', '/lab', page],
    ['GET', '/api/lab', show],
    ['PUT', '/api/lab', change],
    ['POST', '/api/lab/attacks/:name', tryIt],
    ['POST', '/api/lab/clock', advanceClock],
    ['DELETE', '/api/lab/clock', resetClock],
    ['GET', '/lab/source/:name', source],
  ];
}

/**
 * sameOriginOnly refuses a request from another origin to the lab's own
 * controls, whatever the `origin-check` switch says: a page elsewhere must
 * never switch a defence off or run an attack.
 */
function sameOriginOnly(ctx: Context): void {
  // CSRF on the lab itself: its switches answer only to its own pages.
  if (isCrossOriginRequest(ctx.req)) throw new HttpError(403, 'cross_origin', 'The lab answers only its own pages.');
}

/** switchOf is the switch named by the last segment of `path` (after `prefix`), or 404. */
function switchOf(path: string, prefix: string): SwitchName {
  const name = path.slice(prefix.length);
  if (!isSwitchName(name)) throw new HttpError(404, 'not_found', 'There is no switch by that name.');
  return name;
}

/** ownUrl is this server's own address, as the request reached it: where "try it" sends the attack. */
function ownUrl(ctx: Context): string {
  const { localAddress = '127.0.0.1', localPort } = ctx.req.socket;
  const host = localAddress.includes(':') ? `[${localAddress}]` : localAddress;
  return `http://${host}:${localPort}`;
}
