// Peer "express 5 + express-session + MemoryStore": what most tutorials start
// with. Sessions live in the process's memory (lost on restart, unbounded), so
// it shows the cost of express-session's own machinery without any disk I/O.
// The app itself is bench/lib/express-peer.mjs, shared by every express peer.
//
// PORT (default 0); prints its URL on one line.
import { servePeer } from '../lib/express-peer.mjs';

servePeer('express-memory', undefined);
