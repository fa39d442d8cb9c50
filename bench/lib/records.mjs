// Session records in Cloakroom's exact format, for scenarios that fill a
// store with sessions before measuring: other people's, or one user's many.

/** OTHER_USERS: how many other users the signed-in quarter of those sessions belongs to. */
export const OTHER_USERS = 1000;

/**
 * otherSession is the `index`-th of many other sessions, begun at
 * `createdAt` (ISO 8601): three in four are guests with an apple in the
 * cart, one in four belongs to one of OTHER_USERS users. Returns its user
 * (null for a guest) and its record.
 */
export function otherSession(index, createdAt) {
  const user = index % 4 === 0 ? `other${index % OTHER_USERS}` : null;
  const record = {
    version: 1,
    createdAt,
    lastSeenAt: createdAt,
    user,
    generation: user === null ? null : 0,
    data: { cart: ['apple'], theme: null },
    events: [{ at: createdAt, event: user === null ? 'created as guest' : 'created at sign-in' }],
    device: 'Firefox on Linux',
  };
  return { user, record };
}

/**
 * signedInSession is a session of `user`, signed in under the account's
 * password generation `generation`, begun and last used at `at` (ISO 8601):
 * what a sign-in from Firefox on Linux writes, with an empty cart.
 */
export function signedInSession(user, generation, at) {
  return {
    version: 1,
    createdAt: at,
    lastSeenAt: at,
    user,
    generation,
    data: { cart: [], theme: null },
    events: [{ at, event: 'created at sign-in' }],
    device: 'Firefox on Linux',
  };
}
