/** Request ids: the seed's shape, unguessable, and in the order they were made. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newRequestId } from '../../src/ids.js';

const SHAPE = /^req_[0-9a-z]{24}$/;

test('a request id is req_ and 24 base-36 characters', () => {
  for (let i = 0; i < 1000; i++) assert.match(newRequestId(), SHAPE);
});

test('ids sort by the time they were made, across the change of width of the clock in base 36', () => {
  const times = [0, 1, 35, 36, Date.UTC(2026, 10, 29), Date.UTC(2026, 10, 29) + 1, Date.UTC(2059, 0, 1), Date.UTC(2100, 0, 1)];
  const ids = times.map((t) => newRequestId(t));
  assert.deepEqual([...ids].sort(), ids);
  for (const id of ids) assert.match(id, SHAPE);
});

test('ids made in the same millisecond differ', () => {
  const now = Date.now();
  const ids = new Set(Array.from({ length: 10_000 }, () => newRequestId(now)));
  assert.equal(ids.size, 10_000);
});
