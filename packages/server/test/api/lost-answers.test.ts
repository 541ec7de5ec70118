/**
 * Writes whose answer is lost: the store committed (on PostgreSQL a COMMIT can land just as its
 * connection drops), but the node was told the write failed.
 *
 * - A claim: the runs it took are `running` on a live node that never heard of them. They must
 *   still run, once, rather than wait out their lease and end as orphans (RUNTIME_RESTARTED)
 *   without ever being called.
 * - A run's recording: its caller was answered 503 and told to retry. Under an idempotency key
 *   the retry is answered that very run, which must then run, once; without one the retry starts
 *   a run of its own, so the lost one must not run at all.
 *
 * The store commits for real here; only the answer is dropped, with the error node-postgres
 * raises for a connection lost mid-query, since the moment between a commit and its answer
 * cannot be hit from outside the process.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startTestServer, TEST_STORE, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, getRecord, startAsync, type Json } from './api-helpers.js';

let s: TestServer;
before(async () => (s = await startTestServer({ leaseSeconds: 2, maxWorkersPerService: 1 })));
after(() => s.close());

const connectionLost = () => new Error('Connection terminated unexpectedly');

test(`runs taken by a claim whose answer was lost are started once, even past their lease (${TEST_STORE})`, async () => {
  const { store, registry } = s.server.runtime;
  const tally = path.join(s.dataDir, 'tally.txt');
  writeFileSync(tally, '');
  await expectJson(await s.fetch('/run/tally', { json: { seconds: 0, file: path.join(s.dataDir, 'warm.txt') } }));
  // The one worker taken: the async runs queue, and are claimed once it is free.
  const held = registry.get('tally').pool.tryAcquire((await store.defaultAccount()).id);
  assert.ok(held, 'the warm worker was idle');
  const ids = [await startAsync(s, 'tally', { seconds: 0, file: tally }), await startAsync(s, 'tally', { seconds: 0, file: tally })];
  for (const id of ids) assert.equal((await getRecord(s, id)).status, 'queued');

  const claim = store.claimQueuedRuns.bind(store);
  const take = store.takeClaimedRuns.bind(store);
  let lost: string[] = [];
  let refusedLookups = 0;
  let lookupsFrom = Infinity;
  // The first claim commits, and its answer is lost.
  store.claimQueuedRuns = async (c) => {
    const runs = await claim(c);
    if (lost.length > 0 || runs.length === 0) return runs;
    lost = runs.map((r) => r.id);
    lookupsFrom = Date.now() + 3000;
    throw connectionLost();
  };
  // The store stays out of reach for the lookup longer than the runs' lease (2 s).
  store.takeClaimedRuns = async (...args) => {
    if (Date.now() < lookupsFrom) {
      refusedLookups++;
      throw connectionLost();
    }
    return take(...args);
  };
  try {
    held.release(true);
    const ends = [];
    for (const id of ids) ends.push(await expectJson<Json>(await s.fetch(`/result/${id}?timeout=30`)));
    assert.deepEqual(lost, ids.slice(0, 1), "the claim for the one free worker took the oldest run, and its answer was lost");
    assert.deepEqual(
      ends.map((r) => [r.status, r.errorCode]),
      ids.map(() => ['completed', null]),
      'both ran, neither ended as an orphan',
    );
    assert.ok(refusedLookups >= 2, `the lookup was refused and tried again (${refusedLookups} times)`);
    // Each ran exactly once, past a lease that had lapsed while the store was away.
    assert.deepEqual(readFileSync(tally, 'utf8').trim().split('\n').sort(), [...ids].sort());
    const [late] = ends;
    assert.ok(Date.parse(String(late!.completedAt)) - Date.parse(String(late!.startedAt)) > 2000, 'the lost claim\'s run ran after its first lease lapsed');
    // And nothing else took them meanwhile: no attempt but the one.
    for (const id of ids) assert.equal((await store.getRun(id))!.attempt, 1);
  } finally {
    store.claimQueuedRuns = claim;
    store.takeClaimedRuns = take;
  }
  await waitFor(() => registry.get('tally').pool.stats.idle === 1, 10_000, 'the worker to be idle again');
});

for (const mode of ['sync', 'async'] as const) {
  for (const keyed of [true, false]) {
    const what = keyed ? 'runs once, and its retry is answered it' : 'is cancelled without running, and its retry runs';
    test(`${mode === 'sync' ? 'a sync' : 'an async'} run whose recording's answer was lost ${what} (${TEST_STORE})`, async () => {
      const { store } = s.server.runtime;
      const tally = path.join(s.dataDir, `tally-${mode}-${keyed}.txt`);
      writeFileSync(tally, '');
      // A warm idle worker: an unkeyed run is then recorded as started, on it.
      await expectJson(await s.fetch('/run/tally', { json: { seconds: 0, file: path.join(s.dataDir, 'warm.txt') } }));
      const create = store.createRun.bind(store);
      let lost: string | undefined;
      store.createRun = async (run, options) => {
        const recorded = await create(run, options);
        if (lost || run.serviceId !== 'tally') return recorded;
        lost = recorded.id;
        throw connectionLost();
      };
      const send = () =>
        s.fetch(mode === 'sync' ? '/run/tally' : '/run_async/tally', {
          json: { seconds: 0, file: tally },
          headers: keyed ? { 'idempotency-key': `lost-${mode}` } : {},
        });
      let retried: Response;
      try {
        await expectRuntimeError(await send(), 503, 'STORE_UNAVAILABLE');
        assert.ok(lost, 'the run was recorded all the same');
        retried = await send();
      } finally {
        store.createRun = create;
      }
      const ran = () => readFileSync(tally, 'utf8').trim().split('\n').filter(Boolean);
      if (keyed) {
        assert.equal(retried.headers.get('idempotent-replayed'), 'true', 'the retry was answered the lost run');
        const id = mode === 'sync' ? retried.headers.get('x-request-id') : (await expectJson<{ request_id: string }>(retried)).request_id;
        assert.equal(id, lost);
        if (mode === 'sync') assert.deepEqual(await expectJson(retried), { slept: 0 });
        const record = await expectJson<Json>(await s.fetch(`/result/${lost}?timeout=30`));
        assert.deepEqual([record.status, record.errorCode], ['completed', null]);
        assert.deepEqual(ran(), [lost], 'it ran exactly once');
      } else {
        const id = mode === 'sync' ? retried.headers.get('x-request-id') : (await expectJson<{ request_id: string }>(retried)).request_id;
        assert.notEqual(id, lost, 'the retry is a run of its own');
        const record = await expectJson<Json>(await s.fetch(`/result/${lost}?timeout=30`));
        assert.deepEqual([record.status, record.errorCode], ['cancelled', 'RUN_CANCELLED']);
        assert.match(String(record.error), /told to retry.*it was not run/);
        await waitFor(async () => (await getRecord(s, id!)).status === 'completed', 30_000, 'the retry to complete');
        assert.deepEqual(ran(), [id], 'only the retry ran');
      }
    });
  }
}

