import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunletError } from '../../src/errors.js';
import { KeyRateLimits } from '../../src/engine/back-pressure.js';

const limited = (err: unknown) => err instanceof RunletError && err.code === 'KEY_RATE_LIMITED';

test('a token bucket per key: the burst at once, then the rate; Retry-After says when the next token comes', () => {
  const rates = new KeyRateLimits(2, 4);
  const t0 = 1_000_000;
  for (let i = 0; i < 4; i++) rates.take('k', t0);
  assert.throws(() => rates.take('k', t0), (err: unknown) => limited(err) && (err as RunletError).extra.headers?.['retry-after'] === '1');
  rates.take('other', t0);
  rates.take('k', t0 + 500); // half a second at 2/s: one token back
  assert.throws(() => rates.take('k', t0 + 500), limited);
  for (let i = 0; i < 4; i++) rates.take('k', t0 + 60_000); // refilled to the burst, never beyond
  assert.throws(() => rates.take('k', t0 + 60_000), limited);
});

test('rate 0 is no limit; burst 0 is one second of the rate', () => {
  const off = new KeyRateLimits(0, 0);
  for (let i = 0; i < 1000; i++) off.take('k', 0);
  const oneSecond = new KeyRateLimits(3, 0);
  for (let i = 0; i < 3; i++) oneSecond.take('k', 0);
  assert.throws(() => oneSecond.take('k', 0), limited);
});
