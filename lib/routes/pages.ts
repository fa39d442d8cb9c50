import { redirect, sendHtml } from '../context.ts';
import type { Context, Handler } from '../context.ts';
import type { PageName } from '../pages.ts';
import type { Route } from '../router.ts';
import { safeNext } from '../safe-redirect.ts';
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
    const html = services.pages.render(name, {
      theme,
      session: ctx.session.id !== null,
      error: ctx.query.get('error'),
      next: safeNext(ctx.query.get('next'), ''),
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
      if (ctx.user === null) return redirect(ctx, `/login?next=${encodeURIComponent(ctx.path)}`);
      render(ctx, name);
    };
  return [
    ['GET', '/', async (ctx) => redirect(ctx, ctx.user === null ? '/login' : '/dashboard')],
    ['GET', '/login', publicPage('login')],
    ['GET', '/register', publicPage('register')],
    ['GET', '/dashboard', protectedPage('dashboard')],
    ['GET', '/profile', protectedPage('profile')],
    ['GET', '/devices', protectedPage('devices')],
  ];
}
