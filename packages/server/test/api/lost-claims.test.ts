/**
 * A claim whose answer is lost: the store took queued runs for this node (its COMMIT landed),
 * but the connection dropped before the answer came back, so the node takes the claim as failed.
 * Those runs are `running` on a live node that never heard of them. They must still run, once,
 * rather than wait out their lease and end as orphans (RUNTIME_RESTARTED) without ever being
 * called.
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
import { expectJson, getRecord, startAsync, type Json } from './api-helpers.js';

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
