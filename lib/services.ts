import type { PasswordHasher } from './auth/passwords.ts';
import type { LoginThrottle } from './auth/throttle.ts';
import type { AccountStore } from './auth/users.ts';
import type { Config } from './config.ts';
import type { Pages } from './pages.ts';
import type { AddressLimit } from './rate-limit.ts';
import type { RevocationDeps } from './sessions/revocation.ts';
import type { Storage } from './storage/storage.ts';

/** Services are the long-lived parts the routes share, made once by lib/app.ts. */
export interface Services {
  config: Config;
  users: AccountStore;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  /** registrations is REGISTRATIONS_PER_ADDRESS: how many accounts one address may create per window. */
  registrations: AddressLimit;
  pages: Pages;
  /** sessions is the session store and its lock, for the routes that list and end a user's other sessions. */
  sessions: RevocationDeps;
  /** storage is all of it together, for what only the storage can tell (where a session lives, its time to live). */
  storage: Storage;
}
