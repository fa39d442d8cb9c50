import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  expiryTimes,
  isExpired,
  isTouchDue,
  MAX_CART_ITEM_LENGTH,
  MAX_CART_ITEMS,
  MAX_EVENTS,
  MAX_TOUCH_INTERVAL_MS,
  newRecord,
  parseRecord,
  touchIntervalMs,
  withEvent,
} from '../../lib/sessions/record.ts';
import type { SessionRecord } from '../../lib/sessions/record.ts';
import { T0 } from '../support/clock.ts';

const MINUTE = 60_000;
const timeouts = { idleMs: 30 * MINUTE, absoluteMs: 8 * 60 * MINUTE };

function recordAt(createdAt: number, lastSeenAt: number): SessionRecord {
  return { ...newRecord(createdAt, 'created as guest'), lastSeenAt: new Date(lastSeenAt).toISOString() };
}

describe('newRecord', () => {
  it('starts a guest record at the given time with one event', () => {
    assert.deepEqual(newRecord(T0, 'created as guest'), {
      version: 1,
      createdAt: '2026-11-22T03:10:00.000Z',
      lastSeenAt: '2026-11-22T03:10:00.000Z',
      user: null,
      generation: null,
      data: { cart: [], theme: null },
      events: [{ at: '2026-11-22T03:10:00.000Z', event: 'created as guest' }],
    });
  });

  it('copies the data it is given, so the caller keeps its own cart', () => {
    const cart = ['apple'];
    const record = newRecord(T0, 'x', { cart, theme: 'dark' });
    cart.push('pear');
    assert.deepEqual(record.data, { cart: ['apple'], theme: 'dark' });
  });
});

describe('withEvent', () => {
  it('appends the event at the end with its time', () => {
    const events = withEvent([{ at: 'a', event: 'first' }], T0, 'second');
    assert.deepEqual(events, [
      { at: 'a', event: 'first' },
      { at: '2026-11-22T03:10:00.000Z', event: 'second' },
    ]);
  });

  it(`keeps only the newest ${MAX_EVENTS} events`, () => {
    let events = newRecord(T0, 'event 0').events;
    for (let i = 1; i <= MAX_EVENTS + 5; i++) events = withEvent(events, T0 + i, `event ${i}`);
    assert.equal(events.length, MAX_EVENTS);
    assert.equal(events[0]!.event, 'event 6');
    assert.equal(events.at(-1)!.event, `event ${MAX_EVENTS + 5}`);
  });
});

describe('expiry', () => {
  it('computes the idle deadline from lastSeenAt and the absolute one from createdAt', () => {
    const record = recordAt(T0, T0 + 10 * MINUTE);
    assert.deepEqual(expiryTimes(record, timeouts), { idle: T0 + 40 * MINUTE, absolute: T0 + 8 * 60 * MINUTE });
  });

  const cases = [
    { it: 'is live just before the idle deadline', lastSeen: 0, now: 30 * MINUTE - 1, expired: false },
    { it: 'is expired exactly at the idle deadline', lastSeen: 0, now: 30 * MINUTE, expired: true },
    {
      it: 'is live when recently seen, even hours after creation',
      lastSeen: 8 * 60 * MINUTE - 10 * MINUTE,
      now: 8 * 60 * MINUTE - 1,
      expired: false,
    },
    {
      it: 'is expired at the absolute deadline however recently it was seen',
      lastSeen: 8 * 60 * MINUTE - 1,
      now: 8 * 60 * MINUTE,
      expired: true,
    },
  ];
  for (const c of cases) {
    it(c.it, () => assert.equal(isExpired(recordAt(T0, T0 + c.lastSeen), T0 + c.now, timeouts), c.expired));
  }
});

describe('touch interval', () => {
  const cases = [
    { idleMs: 30 * MINUTE, expected: MAX_TOUCH_INTERVAL_MS },
    { idleMs: 10 * MINUTE, expected: MINUTE },
    { idleMs: 5 * MINUTE, expected: 30_000 },
    { idleMs: 1000, expected: 100 },
  ];
  for (const c of cases) {
    it(`is ${c.expected} ms for an idle timeout of ${c.idleMs} ms (a tenth, at most a minute)`, () => {
      assert.equal(touchIntervalMs(c.idleMs), c.expected);
    });
  }

  it('is not due before the interval has passed since lastSeenAt', () => {
    assert.equal(isTouchDue(recordAt(T0, T0), T0 + MINUTE - 1, 30 * MINUTE), false);
  });

  it('is due once the interval has passed', () => {
    assert.equal(isTouchDue(recordAt(T0, T0), T0 + MINUTE, 30 * MINUTE), true);
  });

  it('uses a tenth of a short idle timeout', () => {
    assert.equal(isTouchDue(recordAt(T0, T0), T0 + 29_999, 5 * MINUTE), false);
    assert.equal(isTouchDue(recordAt(T0, T0), T0 + 30_000, 5 * MINUTE), true);
  });
});

describe('parseRecord', () => {
  const valid = newRecord(T0, 'created as guest', { cart: ['apple'], theme: 'dark' });

  it('reads back a record it was given as JSON', () => {
    assert.deepEqual(parseRecord(JSON.stringify(valid, null, 2)), valid);
  });

  it('reads a signed-in record', () => {
    const signedIn = { ...valid, user: 'alice', generation: 3 };
    assert.deepEqual(parseRecord(JSON.stringify(signedIn)), signedIn);
  });

  it('reads a record with its device label, and one written before records had it', () => {
    const labelled = { ...valid, user: 'alice', generation: 0, device: 'Firefox on Linux' };
    assert.deepEqual(parseRecord(JSON.stringify(labelled)), labelled);
    assert.equal('device' in valid, false);
    assert.deepEqual(parseRecord(JSON.stringify(valid)), valid);
  });

  const rejections: Array<{ it: string; text: string }> = [
    { it: 'rejects text that is not JSON', text: '{"version":1,' },
    { it: 'rejects an empty file', text: '' },
    { it: 'rejects JSON null', text: 'null' },
    { it: 'rejects an array', text: '[]' },
    { it: 'rejects another version', text: JSON.stringify({ ...valid, version: 2 }) },
    { it: 'rejects a missing createdAt', text: JSON.stringify({ ...valid, createdAt: undefined }) },
    { it: 'rejects an impossible date', text: JSON.stringify({ ...valid, lastSeenAt: 'yesterday-ish' }) },
    { it: 'rejects a numeric date', text: JSON.stringify({ ...valid, createdAt: T0 }) },
    { it: 'rejects an empty user name', text: JSON.stringify({ ...valid, user: '' }) },
    { it: 'rejects a user that is not a string', text: JSON.stringify({ ...valid, user: 42 }) },
    { it: 'rejects a fractional generation', text: JSON.stringify({ ...valid, generation: 1.5 }) },
    { it: 'rejects a generation given as text', text: JSON.stringify({ ...valid, generation: '1' }) },
    { it: 'rejects missing data', text: JSON.stringify({ ...valid, data: null }) },
    { it: 'rejects a cart that is not an array', text: JSON.stringify({ ...valid, data: { cart: 'apple', theme: null } }) },
    { it: 'rejects a cart item that is not a string', text: JSON.stringify({ ...valid, data: { cart: [1], theme: null } }) },
    {
      it: `rejects a cart item over ${MAX_CART_ITEM_LENGTH} characters`,
      text: JSON.stringify({ ...valid, data: { cart: ['x'.repeat(MAX_CART_ITEM_LENGTH + 1)], theme: null } }),
    },
    {
      it: `rejects a cart of more than ${MAX_CART_ITEMS} items`,
      text: JSON.stringify({ ...valid, data: { cart: Array(MAX_CART_ITEMS + 1).fill('x'), theme: null } }),
    },
    { it: 'rejects a device label that is not a string', text: JSON.stringify({ ...valid, device: 7 }) },
    { it: 'rejects an empty device label', text: JSON.stringify({ ...valid, device: '' }) },
    { it: 'rejects a device label over 64 characters', text: JSON.stringify({ ...valid, device: 'x'.repeat(65) }) },
    { it: 'rejects a device label with a control character', text: JSON.stringify({ ...valid, device: 'Firefox\non Linux' }) },
    { it: 'rejects an unknown theme', text: JSON.stringify({ ...valid, data: { cart: [], theme: 'neon' } }) },
    { it: 'rejects events that are not an array', text: JSON.stringify({ ...valid, events: {} }) },
    { it: 'rejects an event without a date', text: JSON.stringify({ ...valid, events: [{ event: 'x' }] }) },
    { it: 'rejects an event whose text is not a string', text: JSON.stringify({ ...valid, events: [{ at: valid.createdAt, event: 1 }] }) },
    {
      it: 'rejects an event whose rotation is not one',
      text: JSON.stringify({ ...valid, events: [{ at: valid.createdAt, event: 'x', rotation: 'sign-in' }] }),
    },
    {
      it: 'rejects a rotation without its prefixes',
      text: JSON.stringify({ ...valid, events: [{ at: valid.createdAt, event: 'x', rotation: { reason: 'sign-in', from: 'abc…' } }] }),
    },
  ];
  for (const c of rejections) it(c.it, () => assert.equal(parseRecord(c.text), null));

  it('accepts an event that records an ID replacement as data, and keeps it through withEvent', () => {
    const rotation = { reason: 'sign-in', from: 'abcdef…', to: 'uvwxyz…' };
    const events = withEvent(valid.events, T0, 'ID replaced at sign-in (was abcdef…, now uvwxyz…)', rotation);
    assert.deepEqual(events.at(-1)?.rotation, rotation);
    assert.deepEqual(parseRecord(JSON.stringify({ ...valid, events }))?.events, events);
  });

  it(`accepts a full cart of ${MAX_CART_ITEMS} items of ${MAX_CART_ITEM_LENGTH} characters`, () => {
    const full = { ...valid, data: { cart: Array(MAX_CART_ITEMS).fill('x'.repeat(MAX_CART_ITEM_LENGTH)), theme: 'light' } };
    assert.deepEqual(parseRecord(JSON.stringify(full)), full);
  });
});
