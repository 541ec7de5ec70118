/**
 * The account queue limit counts an account's queue only near the limit: far from it a node
 * goes on its last count plus the calls it let through, and it refuses only on an exact count.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import { AccountLimits } from '../../src/engine/back-pressure.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newRunOf } from '../store/new-run.js';
import { tempDirs } from '../helpers.js';

const tempDir = tempDirs();

test('far from the limit a node counts once a second; near it, before every call; it refuses only on an exact count', async () => {
  const store = new SqliteStore(path.join(tempDir('runlet-estimates-'), 'runlet.db'));
  let counted = 0;
  const count = store.countAccountRuns.bind(store);
  store.countAccountRuns = async (accountId) => (counted++, count(accountId));
  const accountId = (await store.defaultAccount()).id;
  try {
    const far = new AccountLimits({ maxQueuedPerAccount: 1000, maxConcurrentPerAccount: 0 }, store);
    for (let i = 0; i < 20; i++) await far.check(accountId, 'async');
    assert.equal(counted, 1, 'one count serves the calls of the next second');

    counted = 0;
    const tight = new AccountLimits({ maxQueuedPerAccount: 10, maxConcurrentPerAccount: 0 }, store);
    for (let i = 0; i < 8; i++) await store.createRun(newRunOf(accountId, { serviceId: 'svc' }));
    await tight.check(accountId, 'async'); // 8 queued: admitted on an exact count
    await tight.check(accountId, 'async'); // 9 by the estimate: near, so counted again (still 8): admitted
    assert.equal(counted, 2);
    for (let i = 0; i < 2; i++) await store.createRun(newRunOf(accountId, { serviceId: 'svc' }));
    await assert.rejects(tight.check(accountId, 'async'), (err: { code?: string }) => err.code === 'ACCOUNT_QUEUE_FULL');
    assert.equal(counted, 3, 'the refusal came from a count, not the estimate');
  } finally {
    await store.close();
  }
});
