import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { newRequestId } from '../../src/ids.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { freshDatabase } from '../helpers.js';
import { runStoreConformance } from './conformance.js';
import { newRunOf } from './new-run.js';

// One fresh database for this file; each test opens its own store (pool, migrations) on it.
const database = freshDatabase();
after(async () => (await database).drop());

runStoreConformance(
  'postgres',
  async () => {
    const store = await PostgresStore.open((await database).url);
    return { store, close: () => store.close() };
  },
  // A database of its own, for tests of what is server-wide (users, settings).
  async () => {
    const own = await freshDatabase();
    const store = await PostgresStore.open(own.url);
    return { store, close: async () => (await store.close(), await own.drop()) };
  },
);

describe('postgres: prepared statements', () => {
  test('a run is still read after another node adds a column to runs (a rolling upgrade)', async () => {
    const own = await freshDatabase();
    // One connection, so the statement prepared by the first read is the one the second meets.
    const store = await PostgresStore.open(own.url, { max: 1 });
    try {
      const account = await store.defaultAccount();
      const run = await store.createRun(newRunOf(account.id));
      assert.equal((await store.getRun(run.id))?.id, run.id);
      await store.pool.query('ALTER TABLE runs ADD COLUMN added_by_a_newer_node INTEGER');
      assert.equal((await store.getRun(run.id))?.id, run.id, 'the read outside a transaction is retried');
      assert.equal((await store.getRunRecord(run.id))?.run.id, run.id, 'other statements are prepared afresh');
      await store.pool.query('ALTER TABLE runs DROP COLUMN added_by_a_newer_node');
      // Inside a transaction the stale plan fails the transaction once; the caller's retry succeeds.
      const provision = { id: newRequestId(), accountId: account.id, keyId: null, createdAt: Date.now(), expiresAt: Date.now() + 60_000, nodeId: 'node-a' };
      const attempt = () => store.provisionRun({ ...provision, id: newRequestId() });
      await attempt(); // prepares the insert on the one connection
      await store.pool.query('ALTER TABLE runs ADD COLUMN added_by_a_newer_node INTEGER');
      const first = await attempt().then(() => 'ok', (err: Error) => err.message);
      assert.ok(first === 'ok' || /cached plan must not change result type/.test(first), first);
      assert.equal((await attempt()).status, 'provisioned');
    } finally {
      await store.close();
      await own.drop();
    }
  });

  test('reads and writes give the same answers when a statement is prepared once and run many times', async () => {
    const own = await freshDatabase();
    const store = await PostgresStore.open(own.url, { max: 2 });
    try {
      const account = await store.defaultAccount();
      // PostgreSQL switches a prepared statement to a generic plan after five runs: go past that.
      const runs = await Promise.all(Array.from({ length: 12 }, () => store.createRun(newRunOf(account.id))));
      for (const run of runs) assert.equal((await store.getRun(run.id))?.input?.toString(), '{}');
      const claimed = await store.claimQueuedRuns('svc', 5, 'node-a', Date.now(), Date.now() + 30_000);
      assert.equal(new Set(claimed.map((r) => r.id)).size, 5);
      assert.ok(claimed.every((r) => r.status === 'running' && r.nodeId === 'node-a' && runs.some((x) => x.id === r.id)));
      assert.equal(await store.countQueuedRuns('svc'), 7);
    } finally {
      await store.close();
      await own.drop();
    }
  });
});
