// Peer "express 5 + express-session + session-file-store": what someone who
// wants Cloakroom's property — sessions as files on disk that survive a
// restart — would install instead. session-file-store implements `touch`, so
// express-session rewrites the session file (write-file-atomic: temp file,
// fsync, rename) on every request just to slide its expiry; issue 7 measures
// how much that costs.
//
// Set up as the two READMEs suggest: `new FileStore(options)` passed as
// express-session's `store`, with `path` set to SESSIONS_DIR (default: a
// fresh temp dir) and every other option left at its default, and
// express-session configured as in express-memory.mjs.
//
// Routes: POST /login {username}, GET /api/me, POST /api/cart {item}.
// PORT (default 0); prints its URL on one line.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import session from 'express-session';
import sessionFileStore from 'session-file-store';

const FileStore = sessionFileStore(session);
const SESSIONS_DIR = process.env.SESSIONS_DIR ?? mkdtempSync(path.join(tmpdir(), 'bench-express-file-'));

const app = express();
app.use(express.json());
app.use(
  session({
    store: new FileStore({ path: SESSIONS_DIR }),
    secret: 'cloakroom bench secret',
    resave: false,
    saveUninitialized: false,
  }),
);

app.post('/login', (req, res, next) => {
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.username = req.body.username;
    req.session.createdAt = new Date().toISOString();
    req.session.save((saveErr) => {
      if (saveErr) return next(saveErr);
      res.json({ username: req.session.username });
    });
  });
});

app.get('/api/me', (req, res) => {
  if (!req.session.username) return res.status(401).json({ error: 'not signed in' });
  res.set('Cache-Control', 'no-store');
  res.json({ username: req.session.username, displayName: req.session.username, createdAt: req.session.createdAt });
});

app.post('/api/cart', (req, res) => {
  req.session.cart = [...(req.session.cart ?? []), req.body.item];
  res.json({ cart: req.session.cart });
});

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`express-file listening on http://127.0.0.1:${server.address().port}`);
});
