// Peer "express 5 + express-session + connect-redis": what a user of
// express-session picks to share sessions between hosts, on the official
// `redis` client, set up as connect-redis's README shows (one client,
// connected before listening) with the app every express peer shares
// (bench/lib/express-peer.mjs).
//
// PORT (default 0), REDIS_URL (the bench's redis-server); prints its URL on one line.
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { servePeer } from '../lib/express-peer.mjs';

const client = createClient({ url: process.env.REDIS_URL });
client.on('error', (error) => console.error(`redis: ${error.message}`));
await client.connect();

servePeer('express-redis', new RedisStore({ client, prefix: 'express-session:' }));
