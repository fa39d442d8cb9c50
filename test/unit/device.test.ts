import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceLabel, MAX_DEVICE_LABEL_LENGTH, MAX_USER_AGENT_CHARS, UNKNOWN_DEVICE } from '../../lib/sessions/device.ts';

/** Real User-Agent strings, and the label each must get: the browser, then the system. */
const CASES: ReadonlyArray<[userAgent: string | undefined, label: string]> = [
  ['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox on Linux'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'Chrome on Windows'],
  [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87',
    'Edge on Windows',
  ],
  [
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    'Safari on macOS',
  ],
  [
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0',
    'Opera on macOS',
  ],
  [
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    'Safari on iOS',
  ],
  [
    'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1',
    'Chrome on iOS',
  ],
  [
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
    'Chrome on Android',
  ],
  [
    'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
    'Samsung Internet on Android',
  ],
  ['Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'Chrome on ChromeOS'],
  ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36', 'Chrome on Linux'],
  ['curl/8.5.0', 'curl'],
  ['node', 'Node.js'],
  ['Mozilla/5.0 (X11; Linux x86_64) SomethingNew/1.0', 'A browser on Linux'],
  ['<script>alert(1)</script>', UNKNOWN_DEVICE],
  ['', UNKNOWN_DEVICE],
  [undefined, UNKNOWN_DEVICE],
];

describe('deviceLabel', () => {
  for (const [userAgent, label] of CASES) {
    it(`labels ${userAgent === undefined ? 'no User-Agent' : JSON.stringify(userAgent.slice(0, 60))} as "${label}"`, () =>
      assert.equal(deviceLabel(userAgent), label));
  }

  it('never copies anything of the header into the label, and stays short', () => {
    const hostile = `Mozilla/5.0 (X11; Linux x86_64) Firefox/1 ${'x'.repeat(8000)} secret-token-123`;
    const label = deviceLabel(hostile);
    assert.equal(label, 'Firefox on Linux');
    for (const [, known] of CASES) assert.ok(known.length <= MAX_DEVICE_LABEL_LENGTH);
  });

  it('looks only at the first MAX_USER_AGENT_CHARS characters, so a 16 KiB header costs no more than a real one', () => {
    const padding = 'x'.repeat(MAX_USER_AGENT_CHARS);
    assert.equal(deviceLabel(`${padding} Firefox/1 (X11; Linux x86_64)`), UNKNOWN_DEVICE);
    assert.equal(deviceLabel(`Mozilla/5.0 (X11; Linux x86_64) Firefox/1 ${padding}`), 'Firefox on Linux');
  });

  it('recognises Safari without a pattern that backtracks over the whole header', () => {
    const real =
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
    assert.equal(deviceLabel(real), 'Safari on iOS');
    // The shape that made `Version/[\d.]+.*Safari/` backtrack for a quarter of a second: still just unknown.
    assert.equal(deviceLabel(`Mozilla/5.0 Version/${'1'.repeat(16_000)}`), UNKNOWN_DEVICE);
  });
});
