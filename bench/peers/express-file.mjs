// Peer "express 5 + express-session + session-file-store": what someone who
// wants Cloakroom's property — sessions as files on disk that survive a
// restart — would install instead. session-file-store implements `touch`, so
// express-session rewrites the session file (write-file-atomic: temp file,
// fsync, rename) on every request just to slide its expiry; issue 7 measures
// how much that costs.
//
// Set up as the two READMEs suggest: `new FileStore(options)` passed as
// express-session's `store`, with `path` set to SESSIONS_DIR (default: a
// fresh temp dir) and every other option left at its default, and the app
// every express peer shares (bench/lib/express-peer.mjs).
//
// PORT (default 0); prints its URL on one line.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import session from 'express-session';
import sessionFileStore from 'session-file-store';
import { servePeer } from '../lib/express-peer.mjs';

const FileStore = sessionFileStore(session);
const SESSIONS_DIR = process.env.SESSIONS_DIR ?? mkdtempSync(path.join(tmpdir(), 'bench-express-file-'));

servePeer('express-file', new FileStore({ path: SESSIONS_DIR }));
