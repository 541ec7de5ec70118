/** PostgreSQL's group commit: calls made while a batch is written go together in the next one. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batcher } from '../../src/store/postgres/batcher.js';

/** A batcher whose writes wait until the test lets them finish, recording every batch it was given. */
function gated(fail: (item: number) => boolean = () => false) {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const batcher = new Batcher<number, string>(
    async (items) => {
      batches.push([...items]);
      await new Promise<void>((open) => gates.push(open));
      if (items.some(fail)) throw new Error(`bad item in ${items.join(',')}`);
      return items.map((i) => `out ${i}`);
    },
    { maxSize: 3 },
  );
  const openAll = async () => {
    while (gates.length > 0) {
      gates.splice(0).forEach((open) => open());
      await new Promise((r) => setImmediate(r));
    }
  };
  return { batcher, batches, openAll };
}

test('the first call goes at once; calls made while it is written go together next, at most maxSize a batch', async () => {
  const { batcher, batches, openAll } = gated();
  const outs = [1, 2, 3, 4, 5].map((i) => batcher.submit(i));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(batches, [[1]], 'one batch in flight at a time');
  await openAll();
  assert.deepEqual(await Promise.all(outs), ['out 1', 'out 2', 'out 3', 'out 4', 'out 5'], 'each caller gets its own output');
  assert.deepEqual(batches, [[1], [2, 3, 4], [5]]);
});

test('a failed batch is written again item by item: only the bad item fails', async () => {
  const { batcher, batches, openAll } = gated((i) => i === 3);
  const outs = [1, 2, 3, 4].map((i) => batcher.submit(i).catch((err: Error) => err.message));
  await openAll();
  assert.deepEqual(await Promise.all(outs), ['out 1', 'out 2', 'bad item in 3', 'out 4']);
  assert.deepEqual(batches, [[1], [2, 3, 4], [2], [3], [4]]);
});

test('items with the same key never share a batch', async () => {
  const batches: string[][] = [];
  const batcher = new Batcher<string, string>(
    async (items) => {
      batches.push([...items]);
      await new Promise((r) => setTimeout(r, 5));
      return items.map((i) => i.toUpperCase());
    },
    { keyOf: (item) => item.slice(0, 1) },
  );
  const outs = ['a1', 'b1', 'a2', 'c1', 'a3'].map((i) => batcher.submit(i));
  assert.deepEqual(await Promise.all(outs), ['A1', 'B1', 'A2', 'C1', 'A3']);
  assert.deepEqual(batches, [['a1'], ['b1', 'a2', 'c1'], ['a3']]);
});
