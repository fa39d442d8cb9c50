// The one express app every express-session peer runs, so the peers differ
// only in their store. express-session is set up as its README suggests for
// login sessions: `resave: false` (the store needs no re-save of unchanged
// sessions) and `saveUninitialized: false` (no session until there is
// something to keep, the same rule as Cloakroom). Sign-in follows the
// README's login example: regenerate the session (against fixation), set
// the user, save, answer.
//
// Routes: POST /login {username}, GET /api/me, POST /api/cart {item}.
// Listens on PORT (default 0) at 127.0.0.1 and prints its URL on one line.
import express from 'express';
import session from 'express-session';

/** servePeer starts the peer `name` with express-session keeping its sessions in `store` (undefined: the MemoryStore). */
export function servePeer(name, store) {
  const app = express();
  app.use(express.json());
  app.use(session({ store, secret: 'cloakroom bench secret', resave: false, saveUninitialized: false }));

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
    console.log(`${name} listening on http://127.0.0.1:${server.address().port}`);
  });
}
