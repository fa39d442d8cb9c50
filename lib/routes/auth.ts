import { HasherBusyError } from '../auth/passwords.ts';
import type { UserRecord } from '../auth/users.ts';
import { readBody } from '../body.ts';
import type { BodyKind } from '../body.ts';
import { redirect, send, sendHtml, sendJson, wantsJson } from '../context.ts';
import type { Context, Handler } from '../context.ts';
import { HttpError } from '../http-error.ts';
import { ERROR_MESSAGES, throttledMessage } from '../pages.ts';
import type { PageName } from '../pages.ts';
import { retryAfter } from '../rate-limit.ts';
import type { Route } from '../router.ts';
import { safeNext } from '../safe-redirect.ts';
import type { Theme } from '../sessions/record.ts';
import type { Services } from '../services.ts';
import { isValidPassword, isValidUsername } from '../validation.ts';

/**
 * authRoutes are register, login and logout. HTML forms get 303 redirects
 * (so Reload never re-posts a password); JSON clients get status codes.
 */
export function authRoutes(services: Services): Array<Route<Handler>> {
  const { users, hasher, throttle, registrations, pages } = services;

  const register = async (ctx: Context): Promise<void> => {
    const { kind, fields } = await readBody(ctx.req);
    const fail = (code: 'username' | 'password' | 'taken', status = 400): void =>
      kind === 'json' ? sendJson(ctx, status, { error: code, message: ERROR_MESSAGES[code] }) : redirect(ctx, `/register?error=${code}`);
    const { username, password } = fields;
    if (!isValidUsername(username)) return fail('username');
    if (!isValidPassword(password)) return fail('password');
    if ((await users.find(username)) !== null) return fail('taken', 409);
    // A registration flood: each one costs a full scrypt hash, so one address may make only so many.
    const retryAfterMs = await registrations.hit(ctx.address, ctx.now);
    if (retryAfterMs > 0) {
      ctx.log.step('limit', 'too many registrations from this address: refused before hashing');
      if (kind === 'json')
        return sendJson(ctx, 429, { error: 'too_many_registrations', message: ERROR_MESSAGES.registrations }, retryAfter(retryAfterMs));
      const page = pages.render('register', { theme: themeOf(ctx), session: ctx.session.id !== null, error: 'registrations' });
      return sendHtml(ctx, 429, page, retryAfter(retryAfterMs));
    }
    const hash = await hashOrAnswerBusy(ctx, kind, 'register', services, () => hasher.hash(password, 'registration'));
    if (hash === null) return;
    const user: UserRecord = { username, displayName: username, createdAt: new Date(ctx.now).toISOString(), generation: 0, password: hash };
    // Checked again after the slow hash: a parallel registration may have won the name.
    if (!(await users.add(user))) return fail('taken', 409);
    ctx.log.step('user', `registered ${username}; password stored as an scrypt hash`);
    await ctx.session.signIn(user.username, user.generation, 'registration');
    return kind === 'json' ? sendJson(ctx, 201, { username }) : redirect(ctx, '/dashboard');
  };

  const login = async (ctx: Context): Promise<void> => {
    const { kind, fields } = await readBody(ctx.req);
    const next = safeNext(fields.next);
    const { username, password } = fields;
    if (typeof username !== 'string' || typeof password !== 'string') {
      if (kind === 'json') throw new HttpError(400, 'malformed', 'Send a username and a password.');
      return redirect(ctx, loginPage('invalid', next));
    }
    // Counted as a failure before hashing, so parallel guesses cannot all slip in under the limit.
    const retryAfterMs = await throttle.attempt(username, ctx.address, ctx.now);
    if (retryAfterMs > 0) {
      ctx.log.step('throttle', 'too many recent failures for this account or address: refused before hashing');
      const headers = retryAfter(retryAfterMs);
      const retryAfterSeconds = Number(headers['Retry-After']);
      if (kind === 'json') return sendJson(ctx, 429, { error: 'throttled', message: throttledMessage(retryAfterSeconds) }, headers);
      return sendHtml(
        ctx,
        429,
        pages.render('login', {
          theme: themeOf(ctx),
          session: ctx.session.id !== null,
          error: 'throttled',
          retryAfterSeconds,
          next: fields.next === undefined ? '' : next,
        }),
        headers,
      );
    }
    const user = await users.find(username);
    const ok = await hashOrAnswerBusy(ctx, kind, 'login', services, () => hasher.verify(password, user?.password ?? null));
    if (ok === null) return;
    if (!ok || user === null) {
      // One answer for "no such user" and "wrong password": no enumeration.
      ctx.log.step('password', 'no match (unknown user or wrong password; both cost one scrypt hash)');
      if (kind === 'json') return sendJson(ctx, 401, { error: 'invalid_credentials', message: ERROR_MESSAGES.invalid });
      return redirect(ctx, loginPage('invalid', fields.next === undefined ? null : next));
    }
    await throttle.succeeded(username, ctx.address, ctx.now);
    ctx.log.step('password', 'scrypt hash matches');
    const current = await upgradeHash(services, user, password);
    await ctx.session.signIn(current.username, current.generation);
    return kind === 'json' ? sendJson(ctx, 200, { username: current.username }) : redirect(ctx, next);
  };

  const logout = async (ctx: Context): Promise<void> => {
    // Nothing in the body is needed, but the body rules of readBody (413, 415, 400) hold here too.
    await readBody(ctx.req);
    await ctx.session.signOut();
    return wantsJson(ctx.req)
      ? send(ctx, 204, { 'Cache-Control': 'no-store' }, null)
      : redirect(ctx, ctx.session.ended === null ? '/login' : `/login?reason=${ctx.session.ended}`);
  };

  return [
    ['POST', '/register', register],
    ['POST', '/login', login],
    ['POST', '/logout', logout],
  ];
}

/** upgradeHash re-hashes a password whose stored parameters differ from the configured ones (the cost was raised). */
async function upgradeHash(services: Services, user: UserRecord, password: string): Promise<UserRecord> {
  if (!services.hasher.needsRehash(user.password)) return user;
  const hash = await services.hasher.hash(password);
  // The hash is slow: a password change may have landed meanwhile. Writing the
  // stale copy back would restore the old password and revive the sessions the
  // change ended, so keep the change; this sign-in keeps its stale generation
  // and so ends at its next request.
  const upgraded = await services.users.update(user.username, (current) => {
    const changedMeanwhile = current.generation !== user.generation || current.password.hash !== user.password.hash;
    return changedMeanwhile ? current : { ...current, password: hash };
  });
  return upgraded !== null && upgraded.password === hash ? upgraded : user;
}

/**
 * hashOrAnswerBusy runs a password hash and returns its result. When the
 * hasher is busy (HasherBusyError, 503), an HTML form gets its own page
 * back with a readable message and the result is null: the answer has been
 * sent. A JSON client gets the 503 itself.
 */
async function hashOrAnswerBusy<T>(
  ctx: Context,
  kind: BodyKind,
  page: PageName,
  services: Services,
  task: () => Promise<T>,
): Promise<T | null> {
  try {
    return await task();
  } catch (error) {
    if (kind === 'json' || !(error instanceof HasherBusyError)) throw error;
    sendHtml(
      ctx,
      error.status,
      services.pages.render(page, { theme: themeOf(ctx), session: ctx.session.id !== null, error: 'busy' }),
      error.headers,
    );
    return null;
  }
}

function loginPage(error: string, next: string | null): string {
  const query = new URLSearchParams({ error });
  if (next !== null) query.set('next', next);
  return `/login?${query.toString()}`;
}

function themeOf(ctx: Context): Theme {
  return ctx.session.record?.data.theme ?? 'light';
}
