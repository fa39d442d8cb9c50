import { redirect, sendHtml } from '../context.ts';
import type { Context, Handler } from '../context.ts';
import type { PageName } from '../pages.ts';
import type { Route } from '../router.ts';
import { safeNext } from '../safe-redirect.ts';
import type { Config } from '../config.ts';
import { endingMessage, isEnding } from '../sessions/endings.ts';
import type { Services } from '../services.ts';

/**
 * pageRoutes serves the pages. Signed-out visitors of a protected page
 * go to the login page, which remembers where they were going; signed-in
 * visitors of login and register go straight to the dashboard. Viewing a
 * page reads the session (for the theme) but never creates one.
 */
export function pageRoutes(services: Services): Array<Route<Handler>> {
  const render = (ctx: Context, name: PageName): void => {
    const theme = ctx.session.record?.data.theme ?? 'light';
    const next = safeNext(ctx.query.get('next'), '');
    const html = services.pages.render(name, {
      theme,
      session: ctx.session.id !== null,
      error: ctx.query.get('error'),
      notice: name === 'login' ? loginNotice(ctx, next, services.config) : null,
      next,
    });
    sendHtml(ctx, 200, html);
  };
  const publicPage =
    (name: PageName): Handler =>
    async (ctx) => {
      if (ctx.user !== null) return redirect(ctx, '/dashboard');
      render(ctx, name);
    };
  const protectedPage =
    (name: PageName): Handler =>
    async (ctx) => {
      if (ctx.user === null) return redirect(ctx, loginUrl(ctx, ctx.path));
      render(ctx, name);
    };
  return [
    ['GET', '/', async (ctx) => redirect(ctx, ctx.user === null ? loginUrl(ctx, null) : '/dashboard')],
    ['GET', '/login', publicPage('login')],
    ['GET', '/register', publicPage('register')],
    ['GET', '/dashboard', protectedPage('dashboard')],
    ['GET', '/profile', protectedPage('profile')],
    ['GET', '/devices', protectedPage('devices')],
  ];
}

/**
 * loginUrl sends a visitor who is not signed in to the login page, with the
 * page they wanted (`next`) and, when their cookie's session has just been
 * found ended, why (`reason`), so the login page can say it.
 */
function loginUrl(ctx: Context, next: string | null): string {
  const query = new URLSearchParams();
  if (next !== null) query.set('next', next);
  if (ctx.session.ended !== null) query.set('reason', ctx.session.ended);
  const search = query.toString();
  return search === '' ? '/login' : `/login?${search}`;
}

/**
 * loginNotice says why the visitor is on the login page: how their session
 * ended (`?reason=`, one of the fixed endings, worded with today's
 * timeouts), or which page needs them signed in (`?next=`, already checked
 * to be a local path). Nothing else from the URL reaches the page.
 */
function loginNotice(ctx: Context, next: string, config: Config): string | null {
  const reason = ctx.query.get('reason');
  const timeouts = { idleMs: config.idleTimeoutMs, absoluteMs: config.absoluteTimeoutMs };
  const ended = isEnding(reason) ? endingMessage(reason, timeouts) : null;
  const wanted = next === '' ? null : `Sign in to see ${next}.`;
  if (ended === null) return wanted;
  return wanted === null ? ended : `${ended} ${wanted}`;
}
