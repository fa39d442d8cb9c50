// Session records in Cloakroom's exact format, for scenarios that fill a
// store with other people's sessions before measuring.

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
