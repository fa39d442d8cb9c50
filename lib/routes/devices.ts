import path from 'node:path';
import { readBody } from '../body.ts';
import { timeoutsOf } from '../config.ts';
import { send, sendJson } from '../context.ts';
import type { Context, Handler } from '../context.ts';
import { HttpError } from '../http-error.ts';
import type { Route } from '../router.ts';
import { UNKNOWN_DEVICE } from '../sessions/device.ts';
import { expiryTimes } from '../sessions/record.ts';
import type { Timeouts } from '../sessions/record.ts';
import { isFileId, revokeSession } from '../sessions/revocation.ts';
import { storageKey } from '../sessions/session-id.ts';
import type { ListedSession } from '../sessions/store.ts';
import type { Services } from '../services.ts';
import type { UserRecord } from '../auth/users.ts';
import { requireUser, verifyCurrentPassword } from './api.ts';

/** SESSIONS_PATH is the collection of the signed-in user's sessions; one of them is `SESSIONS_PATH/<file id>`. */
const SESSIONS_PATH = '/api/sessions';
/** How much of a file id the log and a session's history show: enough to find the file with `ls`. */
const FILE_ID_PREFIX_LENGTH = 16;

/** DeviceView is one session as the devices page shows it. */
interface DeviceView {
  /** id is the file id (the SHA-256 of the session ID): it names the session without being able to use it. */
  id: string;
  current: boolean;
  device: string;
  createdAt: string;
  lastSeenAt: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
}

/**
 * deviceRoutes let a signed-in user see every session they have and end
 * any of them (README, "Your devices"). A session is named by its file id,
 * never its ID: the list is sent to a page, and an ID there would be a
 * ticket anyone who saw it could use. Someone else's session and one that
 * does not exist answer the same 404, so no file id can be probed.
 */
export function deviceRoutes(services: Services): Array<Route<Handler>> {
  const { sessions, config } = services;
  const timeouts: Timeouts = timeoutsOf(config);
  const dirLabel = path.basename(config.sessionsDir);

  /**
   * sessionsOf lists the user's live sessions. One signed in before the
   * latest password change is over already (it ends at its next request,
   * lib/pipeline.ts `signedInUser`), so it is not shown.
   */
  const sessionsOf = async (user: UserRecord, now: number): Promise<ListedSession[]> =>
    (await sessions.store.listByUser(user.username, now)).filter(({ record }) => record.generation === user.generation);

  const list = async (ctx: Context): Promise<void> => {
    const user = requireUser(ctx);
    const current = currentFileId(ctx);
    const listed = await sessionsOf(user, ctx.now);
    sendJson(ctx, 200, { sessions: listed.map((session) => deviceView(session, current, timeouts)) });
  };

  const revokeOne = async (ctx: Context): Promise<void> => {
    const user = requireUser(ctx);
    const fileId = ctx.path.slice(SESSIONS_PATH.length + 1);
    // Checked before anything is named on disk: 64 lower-case hex and one of this user's, or the one 404.
    const target = isFileId(fileId) ? (await sessionsOf(user, ctx.now)).find((session) => session.fileId === fileId) : undefined;
    if (target === undefined) throw new HttpError(404, 'no_such_session', 'You have no session with that id.');
    if (target.fileId === currentFileId(ctx)) {
      await ctx.session.destroy('signed-out');
    } else {
      await revokeSession(sessions, target.fileId, 'another-device', ctx.now);
      await noteRevoked(ctx, [target], dirLabel);
    }
    send(ctx, 204, { 'Cache-Control': 'no-store' }, null);
  };

  const revokeOthers = async (ctx: Context): Promise<void> => {
    const user = requireUser(ctx);
    const { fields } = await readBody(ctx.req);
    const { currentPassword } = fields;
    if (typeof currentPassword !== 'string') throw new HttpError(400, 'invalid_currentPassword', 'currentPassword is required.');
    // ASVS 3.3.4: signing out every other device asks for the password first.
    await verifyCurrentPassword(ctx, services, user, currentPassword);
    const current = currentFileId(ctx);
    const others = (await sessionsOf(user, ctx.now)).filter((session) => session.fileId !== current);
    for (const other of others) await revokeSession(sessions, other.fileId, 'another-device', ctx.now);
    await noteRevoked(ctx, others, dirLabel);
    send(ctx, 204, { 'Cache-Control': 'no-store' }, null);
  };

  return [
    ['GET', SESSIONS_PATH, list],
    ['POST', `${SESSIONS_PATH}/revoke-others`, revokeOthers],
    ['DELETE', `${SESSIONS_PATH}/:id`, revokeOne],
  ];
}

/** currentFileId is the file id of the request's own session (null without one). */
function currentFileId(ctx: Context): string | null {
  return ctx.session.id === null ? null : storageKey(ctx.session.id);
}

function deviceView({ fileId, record }: ListedSession, current: string | null, timeouts: Timeouts): DeviceView {
  const { idle, absolute } = expiryTimes(record, timeouts);
  return {
    id: fileId,
    current: fileId === current,
    device: record.device ?? UNKNOWN_DEVICE,
    createdAt: record.createdAt,
    lastSeenAt: record.lastSeenAt,
    idleExpiresAt: new Date(idle).toISOString(),
    absoluteExpiresAt: new Date(absolute).toISOString(),
  };
}

/**
 * noteRevoked tells the explain log what was ended, and writes it into the
 * history of the session that did it, so its inspector shows the action.
 */
async function noteRevoked(ctx: Context, revoked: readonly ListedSession[], dirLabel: string): Promise<void> {
  for (const { fileId, record } of revoked) {
    const file = `${dirLabel}/${fileId.slice(0, FILE_ID_PREFIX_LENGTH)}….json`;
    ctx.log.step('revoke', `deleted ${file}, a session of this user on ${record.device ?? UNKNOWN_DEVICE}: it ends at its next request`);
  }
  if (revoked.length === 0) return;
  const what =
    revoked.length === 1 && revoked[0] !== undefined
      ? `${revoked[0].record.device ?? UNKNOWN_DEVICE} (file ${revoked[0].fileId.slice(0, FILE_ID_PREFIX_LENGTH)}…)`
      : `${revoked.length} other sessions`;
  await ctx.session.modify({ narrate: `history: signed out ${what}`, event: `signed out ${what} from this device` }, (data) => data);
}
