import path from 'node:path';
import type { AccountStore, UserRecord } from '../auth/users.ts';
import { readBody } from '../body.ts';
import { sendJson } from '../context.ts';
import type { Context, Handler } from '../context.ts';
import { HttpError } from '../http-error.ts';
import { tooManyRequests } from '../rate-limit.ts';
import type { Route } from '../router.ts';
import { timeoutsOf } from '../config.ts';
import { expiryTimes, idleTimeoutOf, MAX_CART_ITEM_LENGTH, MAX_CART_ITEMS, touchIntervalMs } from '../sessions/record.ts';
import type { SessionRecord, Theme } from '../sessions/record.ts';
import { endingMessage } from '../sessions/endings.ts';
import type { Ending } from '../sessions/endings.ts';
import { describeSessionCookie } from '../sessions/session-cookie.ts';
import type { SessionCookie } from '../sessions/session-cookie.ts';
import { idPrefix, storageKey } from '../sessions/session-id.ts';
import type { StoredView, StoreKind } from '../storage/storage.ts';
import type { Services } from '../services.ts';
import { DISPLAY_NAME_MAX, isValidPassword, requireText } from '../validation.ts';

const MS_PER_SECOND = 1000;
const THEMES: readonly Theme[] = ['light', 'dark'];

/** apiRoutes are the JSON endpoints (README, Routes). Every answer is JSON with Cache-Control: no-store. */
export function apiRoutes(services: Services): Array<Route<Handler>> {
  const { users, hasher, config } = services;

  const showAccount = async (ctx: Context): Promise<void> => sendJson(ctx, 200, publicUser(requireUser(ctx)));

  const changeDisplayName = async (ctx: Context): Promise<void> => {
    const user = requireUser(ctx);
    const { fields } = await readBody(ctx.req);
    // Stored with the user, not the session: it follows the account into every session.
    const displayName = requireText(fields, 'displayName', 1, DISPLAY_NAME_MAX);
    const updated = await stillCurrent(users, user, (current) => ({ ...current, displayName }));
    ctx.log.step('user', `display name changed in ${path.basename(config.usersFile)} (not in the session)`);
    sendJson(ctx, 200, publicUser(updated));
  };

  const changePassword = async (ctx: Context): Promise<void> => {
    const user = requireUser(ctx);
    const { fields } = await readBody(ctx.req);
    const { currentPassword, newPassword } = fields;
    if (typeof currentPassword !== 'string') throw new HttpError(400, 'invalid_currentPassword', 'currentPassword is required.');
    if (!isValidPassword(newPassword)) throw new HttpError(400, 'invalid_newPassword', 'newPassword must be 8 to 1024 characters.');
    await verifyCurrentPassword(ctx, services, user, currentPassword);
    // A new generation ends every other session of this user at their next request, in O(1).
    const hash = await hasher.hash(newPassword);
    const updated = await stillCurrent(users, user, (current) => ({ ...current, generation: current.generation + 1, password: hash }));
    ctx.user = updated;
    await ctx.session.renew(updated.generation, 'password change');
    sendJson(ctx, 200, { username: updated.username });
  };

  const inspectSession = async (ctx: Context): Promise<void> => {
    const { id, record, cookie, fileLabel } = ctx.session;
    if (id === null || record === null || fileLabel === null)
      throw new HttpError(401, 'no_session', 'There is no session: nothing is stored for you.');
    // Only the storage knows whether it keeps a time to live of its own (Redis does); the record says the rest.
    const stored = await services.storage.view(storageKey(id));
    sendJson(ctx, 200, { ...inspectorView({ id, record, cookie, fileLabel }, config, ctx.now), storage: storageFacts(services, stored) });
  };

  const addToCart = async (ctx: Context): Promise<void> => {
    const { fields } = await readBody(ctx.req);
    const item = requireText(fields, 'item', 1, MAX_CART_ITEM_LENGTH);
    if ((ctx.session.record?.data.cart.length ?? 0) >= MAX_CART_ITEMS) throw cartFull();
    const data = await ctx.session.modify({ narrate: `cart: added an item (${item.length} characters)` }, (current) => {
      // Checked again on the fresh record: a parallel request may have filled the cart.
      if (current.cart.length >= MAX_CART_ITEMS) throw cartFull();
      return { ...current, cart: [...current.cart, item] };
    });
    sendJson(ctx, 200, { cart: data.cart, ...endedBefore(ctx, config) });
  };

  const emptyCart = async (ctx: Context): Promise<void> => {
    // Nothing in the body is needed, but the body rules of readBody (413, 415, 400) hold here too.
    await readBody(ctx.req);
    // Emptying a cart that does not exist has nothing to keep, so no session is created.
    if (ctx.session.id === null) return sendJson(ctx, 200, { cart: [] });
    const data = await ctx.session.modify({ narrate: 'cart: emptied' }, (current) => ({ ...current, cart: [] }));
    sendJson(ctx, 200, { cart: data.cart });
  };

  const removeFromCart = async (ctx: Context): Promise<void> => {
    const { fields } = await readBody(ctx.req);
    const { index, item } = fields;
    if (!Number.isSafeInteger(index) || (index as number) < 0 || typeof item !== 'string') {
      throw new HttpError(400, 'invalid_item', 'Send the index of the item to remove and the item itself.');
    }
    const at = index as number;
    // No session, no cart: nothing to remove, and nothing worth creating a session for.
    if (ctx.session.id === null) throw cartChanged();
    const data = await ctx.session.modify({ narrate: `cart: removed item ${at + 1}` }, (current) => {
      // The item is named as well as its place: if another tab changed the cart meanwhile, nothing wrong is removed.
      if (current.cart[at] !== item) throw cartChanged();
      return { ...current, cart: current.cart.filter((_, i) => i !== at) };
    });
    sendJson(ctx, 200, { cart: data.cart });
  };

  const setTheme = async (ctx: Context): Promise<void> => {
    const { fields } = await readBody(ctx.req);
    const theme = fields.theme;
    if (!THEMES.includes(theme as Theme)) throw new HttpError(400, 'invalid_theme', 'theme must be "light" or "dark".');
    const data = await ctx.session.modify({ narrate: `theme: ${theme as Theme}`, event: `theme set to ${theme as Theme}` }, (current) => ({
      ...current,
      theme: theme as Theme,
    }));
    sendJson(ctx, 200, { theme: data.theme, ...endedBefore(ctx, config) });
  };

  return [
    ['GET', '/api/me', showAccount],
    ['PATCH', '/api/profile', changeDisplayName],
    ['POST', '/api/password', changePassword],
    ['GET', '/api/session', inspectSession],
    ['POST', '/api/cart', addToCart],
    ['DELETE', '/api/cart', emptyCart],
    ['POST', '/api/cart/remove', removeFromCart],
    ['PUT', '/api/preferences', setTheme],
  ];
}

/**
 * endedBefore is `{ ended: { reason, message } }` when this request started
 * a new guest session because the session its cookie named had ended (and
 * why is known): a page that thought it was signed in can then say so,
 * instead of quietly carrying on as a guest.
 */
function endedBefore(ctx: Context, config: Services['config']): { ended?: { reason: Ending; message: string } } {
  const { status, ended } = ctx.session;
  if (status !== 'created' || ended === null) return {};
  return {
    ended: { reason: ended, message: endingMessage(ended, timeoutsOf(config)) },
  };
}

/**
 * verifyCurrentPassword makes the signed-in user prove it is them before a
 * change that matters (a new password, signing out every other device):
 * 403 when the password is wrong. It is a password guess like any other,
 * so it is throttled the same way as login (429 with Retry-After).
 */
export async function verifyCurrentPassword(ctx: Context, services: Services, user: UserRecord, password: string): Promise<void> {
  const { throttle, hasher } = services;
  // The current password is a password guess like any other: throttled the same way as login.
  const retryAfterMs = await throttle.attempt(user.username, ctx.address, ctx.now);
  if (retryAfterMs > 0) {
    throw tooManyRequests('throttled', 'Too many wrong passwords. Try again later.', retryAfterMs);
  }
  if (!(await hasher.verify(password, user.password))) {
    throw new HttpError(403, 'wrong_password', 'The current password is not correct.');
  }
  await throttle.succeeded(user.username, ctx.address, ctx.now);
}

/** requireUser is the signed-in account, or 401 for a visitor or a guest. */
export function requireUser(ctx: Context): UserRecord {
  if (ctx.user === null) throw new HttpError(401, 'not_signed_in', 'Sign in first.');
  return ctx.user;
}

/**
 * stillCurrent applies `change` to the signed-in account as stored now, after
 * a slow step (a trickled body, a hash), and saves it. Writing back the copy
 * taken when the request began would undo a password change made meanwhile,
 * here or in another process: the old password would work again and the
 * sessions the change ended (a thief's among them) would come back. A new
 * generation means this session ended while it waited: 401, nothing saved.
 */
async function stillCurrent(users: AccountStore, user: UserRecord, change: (current: UserRecord) => UserRecord): Promise<UserRecord> {
  const updated = await users.update(user.username, (current) => {
    if (current.generation !== user.generation) throw notSignedIn();
    return change(current);
  });
  if (updated === null) throw notSignedIn();
  return updated;
}

function notSignedIn(): HttpError {
  return new HttpError(401, 'not_signed_in', 'Sign in first.');
}

function publicUser(user: UserRecord): { username: string; displayName: string; createdAt: string } {
  return { username: user.username, displayName: user.displayName, createdAt: user.createdAt };
}

function cartChanged(): HttpError {
  return new HttpError(
    409,
    'cart_changed',
    'That item is no longer at that place in the cart (changed in another tab?). Nothing was removed.',
  );
}

function cartFull(): HttpError {
  return new HttpError(400, 'cart_full', `A cart holds at most ${MAX_CART_ITEMS} items.`);
}

/** storageFacts is what the inspector says of the storage: which one (STORE), and the time to live it keeps for this session, if any. */
function storageFacts(services: Services, stored: StoredView): { kind: StoreKind; ttlSeconds: number | null } {
  return { kind: services.storage.kind, ttlSeconds: stored.ttlMs === null ? null : Math.round(stored.ttlMs / MS_PER_SECOND) };
}

/** InspectedSession is a live session as the inspector needs it. */
interface InspectedSession {
  id: string;
  record: SessionRecord;
  cookie: SessionCookie;
  fileLabel: string;
}

/**
 * inspectorView is what the dashboard's session inspector shows: where the
 * session lives, its deadlines and its data. The ID appears only as a
 * prefix; the file name is its SHA-256, which cannot be turned back into it.
 */
function inspectorView(session: InspectedSession, config: Services['config'], now: number) {
  const { id, record, cookie, fileLabel } = session;
  const timeouts = timeoutsOf(config);
  const { idle, absolute } = expiryTimes(record, timeouts);
  const idleMs = idleTimeoutOf(record, timeouts);
  return {
    id: idPrefix(id),
    file: fileLabel,
    createdAt: record.createdAt,
    lastSeenAt: record.lastSeenAt,
    idleExpiresAt: new Date(idle).toISOString(),
    absoluteExpiresAt: new Date(absolute).toISOString(),
    user: record.user,
    // The password generation it signed in under: a password change raises the account's, and older sessions end.
    generation: record.generation,
    data: { cart: record.data.cart, theme: record.data.theme },
    cookie: describeSessionCookie(cookie),
    events: record.events,
    // Each ID replacement as data, oldest first: the inspector shows the sign-in one without reading the events' prose.
    rotations: record.events.flatMap(({ at, rotation }) => (rotation === undefined ? [] : [{ at, ...rotation }])),
    stored: record,
    serverTime: new Date(now).toISOString(),
    // This session's own idle timeout: GUEST_IDLE_TIMEOUT for a guest, SESSION_IDLE_TIMEOUT once signed in.
    idleTimeoutSeconds: idleMs / MS_PER_SECOND,
    absoluteTimeoutSeconds: config.absoluteTimeoutMs / MS_PER_SECOND,
    touchIntervalSeconds: touchIntervalMs(idleMs) / MS_PER_SECOND,
  };
}
