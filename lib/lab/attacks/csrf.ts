import { field } from './agent.ts';
import type { Attack } from './attack.ts';
import { CannotRun, signedInVictim, VICTIM } from './attack.ts';

/** FORGED_ITEM is what the other site's form puts in the victim's cart. */
export const FORGED_ITEM = 'sent by another site';

/**
 * Cross-site request forgery: a page elsewhere submits a form to this
 * server, and the victim's browser attaches the victim's cookie. The page
 * here is another port of the same host, which a browser counts as the
 * same *site*, so SameSite=Lax does not hold the cookie back: only the
 * origin check can tell the request did not come from this origin.
 */
export const csrf: Attack = {
  defence: 'origin-check',
  title: 'Cross-site request forgery',
  async run({ url }, say) {
    const victim = await signedInVictim(url);
    say(`The victim signs in as ${VICTIM.username}, then opens a page on another origin.`);
    const server = new URL(url);
    const otherOrigin = `${server.protocol}//${server.hostname}:${server.port === '8080' ? '8081' : '8080'}`;
    say(
      `That page, at ${otherOrigin}, posts a hidden form to ${url}/api/cart. Same host, so the same site: the browser sends the Lax cookie along, with Origin: ${otherOrigin} and Sec-Fetch-Site: same-site.`,
    );
    const forged = await victim.request('POST', '/api/cart', {
      form: { item: FORGED_ITEM },
      headers: { Origin: otherOrigin, 'Sec-Fetch-Site': 'same-site' },
    });
    say(`The server answers the forged request ${forged.status}${forged.status === 403 ? ' (cross-origin, refused)' : ''}.`);
    const session = await victim.request('GET', '/api/session');
    const data = field(session, 'data');
    if (session.status !== 200 || typeof data !== 'object' || data === null)
      throw new CannotRun("the victim's session could not be read back");
    const cart = (data as { cart?: unknown }).cart;
    const forgedIn = Array.isArray(cart) && cart.includes(FORGED_ITEM);
    say(
      forgedIn
        ? `The victim's cart now holds "${FORGED_ITEM}": the other site changed the victim's session.`
        : `The victim's cart holds no "${FORGED_ITEM}": nothing changed.`,
    );
    return forgedIn;
  },
};
