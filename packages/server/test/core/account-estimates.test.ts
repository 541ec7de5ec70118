/**
 * The account queue limit counts an account's queue once a second far from the limit, and at
 * most every 20 ms near it: between counts a node goes on its last count plus the calls it let
 * through, so a flood at the limit costs one count per 20 ms, not one per call.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import { AccountLimits } from '../../src/engine/back-pressure.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newRunOf } from '../store/new-run.js';
import { tempDirs } from '../helpers.js';

const tempDir = tempDirs();

test('far from the limit a node counts once a second; near it, every 20 ms; between counts it goes on the last count and the calls it let through', async () => {
  const store = new SqliteStore(path.join(tempDir('runlet-estimates-'), 'runlet.db'));
  let counted = 0;
  const count = store.countAccountRuns.bind(store);
  store.countAccountRuns = async (accountId) => (counted++, count(accountId));
  const accountId = (await store.defaultAccount()).id;
  let now = 1_000_000;
  const clock = () => now;
  const full = (err: { code?: string }) => err.code === 'ACCOUNT_QUEUE_FULL';
  try {
    const far = new AccountLimits({ maxQueuedPerAccount: 1000, maxConcurrentPerAccount: 0 }, store, clock);
    for (let i = 0; i < 20; i++) await far.check(accountId, 'async');
    assert.equal(counted, 1, 'one count serves the calls of the next second');
    now += 1000;
    await far.check(accountId, 'async');
    assert.equal(counted, 2, 'and a second later the queue is counted again');

    counted = 0;
    const tight = new AccountLimits({ maxQueuedPerAccount: 10, maxConcurrentPerAccount: 0 }, store, clock);
    for (let i = 0; i < 8; i++) await store.createRun(newRunOf(accountId, { serviceId: 'svc' }));
    await tight.check(accountId, 'async'); // 8 queued, counted: admitted, and 9 by the estimate
    await tight.check(accountId, 'async'); // near the limit, within 20 ms: 9 by the estimate, admitted, 10 now
    assert.equal(counted, 1, 'near the limit, a count stands for 20 ms');
    await assert.rejects(tight.check(accountId, 'async'), full, 'the calls let through count: 10 by the estimate');
    assert.equal(counted, 1);
    now += 20;
    await tight.check(accountId, 'async'); // counted again: still 8 (the two calls above recorded nothing), admitted
    assert.equal(counted, 2, 'after 20 ms the queue is counted again, and the estimate gives way to it');
    for (let i = 0; i < 2; i++) await store.createRun(newRunOf(accountId, { serviceId: 'svc' }));
    now += 20;
    for (let i = 0; i < 50; i++) await assert.rejects(tight.check(accountId, 'async'), full);
    assert.equal(counted, 3, 'a flood at the limit is refused on one count of the queue, not one each');
  } finally {
    await store.close();
  }
});
