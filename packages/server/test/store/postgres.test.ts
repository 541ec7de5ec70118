import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { newRequestId } from '../../src/ids.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { endRuns } from '../../src/store/postgres/run-batches.js';
import { inTransaction } from '../../src/store/postgres/transaction.js';
import type { RunClaim, RunRow } from '../../src/store/store.js';
import { storeFailureOf } from '../../src/store/store-failure.js';
import pg from 'pg';
import { freshDatabase, POSTGRES_ADMIN_URL, waitFor } from '../helpers.js';
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

/** Runs `fn` with a store on a database of its own, dropped afterwards. */
async function withOwnStore(options: { max?: number }, fn: (store: PostgresStore) => Promise<void>): Promise<void> {
  const own = await freshDatabase();
  const store = await PostgresStore.open(own.url, options);
  try {
    await fn(store);
  } finally {
    await store.close();
    await own.drop();
  }
}

describe('postgres: prepared statements', () => {
  test('a run is still read after another node adds a column to runs (a rolling upgrade)', async () => {
    // One connection, so the statement prepared by the first read is the one the second meets.
    await withOwnStore({ max: 1 }, async (store) => {
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
    });
  });

  test('reads and writes give the same answers when a statement is prepared once and run many times', async () => {
    await withOwnStore({ max: 2 }, async (store) => {
      const account = await store.defaultAccount();
      // PostgreSQL switches a prepared statement to a generic plan after five runs: go past that.
      const runs = await Promise.all(Array.from({ length: 12 }, () => store.createRun(newRunOf(account.id))));
      for (const run of runs) assert.equal((await store.getRun(run.id))?.input?.toString(), '{}');
      const claimed = await store.claimQueuedRuns({ serviceId: 'svc', limit: 5, nodeId: 'node-a', now: Date.now(), leaseExpiresAt: Date.now() + 30_000 });
      assert.equal(new Set(claimed.map((r) => r.id)).size, 5);
      assert.ok(claimed.every((r) => r.status === 'running' && r.nodeId === 'node-a' && runs.some((x) => x.id === r.id)));
      assert.equal(await store.countQueuedRuns('svc'), 7);
    });
  });
});

describe('postgres: batched writes and reads', () => {
  test('runs recorded, ended and read at once share statements, yet each caller gets its own answer', async () => {
    await withOwnStore({}, async (store) => {
      const account = await store.defaultAccount();
      const news = Array.from({ length: 40 }, (_, i) => newRunOf(account.id, { input: Buffer.from(JSON.stringify({ i })) }));
      const existing = await store.createRun(newRunOf(account.id));
      // A duplicate id fails its own insert and no other of its batch.
      const recorded = await Promise.allSettled([...news, { ...newRunOf(account.id), id: existing.id }].map((r) => store.createRun(r)));
      assert.equal(recorded.filter((r) => r.status === 'rejected').length, 1);
      assert.equal((recorded.at(-1) as PromiseRejectedResult).status, 'rejected');
      news.forEach((n, i) => assert.equal((recorded[i] as PromiseFulfilledResult<{ input: Buffer }>).value.input.toString(), JSON.stringify({ i })));

      const end = (id: string, status: 'completed' | 'failed', at: number) =>
        store.completeRun(id, { status, completedAt: at, responseStatus: status === 'completed' ? 200 : 500, responseBody: Buffer.from(id) }, undefined, {
          runId: id, attempt: 1, status, responseStatus: null, error: null, errorCode: null, nodeId: 'node-a', startedAt: null, endedAt: at, retryAt: null,
        });
      const ends = await Promise.all([...news.map((n) => end(n.id, 'completed', 1000)), end(news[5]!.id, 'failed', 2000), end(existing.id, 'failed', 3000)]);
      news.forEach((n, i) => i !== 5 && assert.equal(ends[i]?.responseBody?.toString(), n.id));
      // Two ends of one run (past the first call, so both wait for the same next batch): exactly one ends it, and the stored run is that one's.
      const [first, second] = [ends[5], ends[news.length]];
      assert.equal([first, second].filter(Boolean).length, 1);
      const winner = (first ?? second)!;
      const records = await Promise.all([...news.map((n) => store.getRunRecord(n.id)), store.getRunRecord('req_none')]);
      assert.equal(records[5]!.run.status, winner.status);
      assert.equal(records.at(-1), undefined);
      news.forEach((n, i) => {
        assert.equal(records[i]!.run.id, n.id);
        assert.deepEqual(records[i]!.attempts.map((a) => a.attempt), [1]);
      });
      assert.equal((await store.getRun(existing.id))?.status, 'failed');
    });
  });
});

/**
 * The rows of runs the connection has read so far: take it before and after a statement in one
 * transaction (the count includes earlier transactions not yet reported, so only the difference
 * is the statement's).
 */
async function runsReadSoFar(client: pg.PoolClient): Promise<number> {
  const { rows } = await client.query<{ read: string }>(`SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) AS read FROM pg_stat_xact_user_tables WHERE relname = 'runs'`);
  return Number(rows[0]!.read);
}

describe('postgres: plans that hold as the queue grows', () => {
  test('ending a run reads it by key, however many runs are queued, after the plans were made with few active', async () => {
    // One connection: the plans it keeps are the ones the measured end meets.
    await withOwnStore({ max: 1 }, async (store) => {
      const account = await store.defaultAccount();
      const outcome = { status: 'completed' as const, completedAt: Date.now(), responseStatus: 200, responseBody: Buffer.from('{}') };
      const started = () => store.createRun(newRunOf(account.id, { mode: 'sync', startedAt: Date.now(), leaseExpiresAt: Date.now() + 60_000 }));
      const runAndEnd = async () => store.completeRun((await started()).id, outcome);
      // Many runs, one active at a time: statistics, and then plans, that see a small active set.
      for (let i = 0; i < 40; i++) await runAndEnd();
      await store.pool.query('ANALYZE runs');
      // Past PostgreSQL's five custom plans, when it may keep a generic one.
      for (let i = 0; i < 10; i++) await runAndEnd();
      // Then a backlog arrives.
      await Promise.all(Array.from({ length: 3000 }, () => store.createRun(newRunOf(account.id))));
      const run = await started();
      const client = await store.pool.connect();
      try {
        await client.query('BEGIN');
        const before = await runsReadSoFar(client);
        const [ended] = await endRuns(client, [{ id: run.id, outcome }]);
        const read = (await runsReadSoFar(client)) - before;
        await client.query('COMMIT');
        assert.equal(ended?.status, 'completed');
        assert.ok(read <= 5, `ending one run read ${read} rows of runs`);
      } finally {
        client.release();
      }
    });
  });
});

describe('postgres: claims under account caps', () => {
  test('a claim reads the accounts waiting and their oldest runs, not the whole queue', async () => {
    await withOwnStore({ max: 2 }, async (store) => {
      const account = await store.defaultAccount();
      const other = await store.createAccount('other');
      await Promise.all(Array.from({ length: 3000 }, (_, i) => store.createRun(newRunOf(account.id, { createdAt: Date.now() - 10_000 + i }))));
      const theirs = await store.createRun(newRunOf(other.id));
      await store.pool.query('ANALYZE runs');
      const client = await store.pool.connect();
      try {
        await client.query('BEGIN');
        const before = await runsReadSoFar(client);
        const now = Date.now();
        // The store's own claim statement, on this connection, so that its reads can be counted.
        const claim = (store as unknown as { claim(db: pg.PoolClient, c: RunClaim, limit: number): Promise<RunRow[]> }).claim.bind(store);
        const claimed = await claim(client, { serviceId: 'svc', limit: 4, nodeId: 'node-a', now, leaseExpiresAt: now + 60_000, accountMax: 2 }, 4);
        const read = (await runsReadSoFar(client)) - before;
        await client.query('COMMIT');
        assert.equal(claimed.length, 3, "the account's two places, and the other account's run");
        assert.ok(claimed.some((r) => r.id === theirs.id));
        assert.ok(read <= 40, `the claim read ${read} rows of runs`);
      } finally {
        client.release();
      }
    });
  });

  test("a node's claims wait for the cluster's turn one at a time, holding one connection, not one each", async () => {
    await withOwnStore({ max: 6 }, async (store) => {
      const account = await store.defaultAccount();
      await Promise.all(Array.from({ length: 5 }, () => store.createRun(newRunOf(account.id))));
      // Another node's claim holds the turn.
      const otherNode = new pg.Client({ connectionString: store.pool.options.connectionString });
      await otherNode.connect();
      try {
        await otherNode.query('BEGIN');
        await otherNode.query(`SELECT pg_advisory_xact_lock(hashtext('runlet.account-caps'))`);
        const now = Date.now();
        const claims = Array.from({ length: 5 }, (_, i) => store.claimQueuedRuns({ serviceId: 'svc', limit: 1, nodeId: 'node-a', claimNumber: i + 1, now, leaseExpiresAt: now + 60_000, accountMax: 10 }));
        const waiters = async () =>
          Number((await otherNode.query<{ n: string }>(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).rows[0]!.n);
        await waitFor(async () => ((await waiters()) > 0 ? true : undefined), 5000, 'a claim to wait for the turn');
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(await waiters(), 1, 'one connection waits');
        await otherNode.query('COMMIT');
        const taken = (await Promise.all(claims)).flat();
        assert.equal(new Set(taken.map((r) => r.id)).size, 5, 'then each claim takes its run');
      } finally {
        await otherNode.end();
      }
    });
  });
});

test('a connection PostgreSQL drops in the middle of a transaction fails that transaction, and does not crash the node', async () => {
  const own = await freshDatabase();
  const pool = new pg.Pool({ connectionString: own.url, max: 2 });
  pool.on('error', () => {});
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    let pid = 0;
    let resume!: () => void;
    const paused = new Promise<void>((r) => (resume = r));
    const transaction = inTransaction(pool, async (client) => {
      pid = Number((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
      await paused; // between two statements, the client checked out and idle
      await client.query('SELECT 1');
    });
    while (pid === 0) await new Promise((r) => setTimeout(r, 10));
    const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await admin.end();
    // The dropped connection reaches the client as an 'error' event before the next statement.
    await new Promise((r) => setTimeout(r, 200));
    resume();
    const err = await transaction.then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof Error, 'the transaction failed');
    assert.equal(storeFailureOf(err)?.code, 'STORE_UNAVAILABLE', `answered as the store's failure: ${String(err)}`);
    assert.deepEqual(uncaught, [], 'nothing went uncaught');
    // The broken client was not handed back: the next transaction gets a working one.
    assert.equal(await inTransaction(pool, async (client) => (await client.query('SELECT 2 AS n')).rows[0].n), 2);
  } finally {
    process.removeListener('uncaughtException', onUncaught);
    await pool.end();
    await own.drop();
  }
});
