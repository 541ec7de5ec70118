/**
 * POST /run_async, GET /result/{id} and GET /request/{id}: a run started in the background
 * answers its id at once, and its record can be read or waited for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, getRecord, REQUEST_ID, startAsync, type Json } from './api-helpers.js';

const PENDING = ['queued', 'running'];

describe('POST /run_async, GET /result, GET /request', () => {
  let s: TestServer;
  /** The answer to starting a slow run, which stays unfinished for the whole file. */
  let started: Response;
  let longRun: string;
  before(async () => {
    s = await startTestServer({ resultDefaultWaitSeconds: 0.5, shutdownGraceSeconds: 1 });
    // Two warm workers of `slow`: one for the long run, one for the short runs below, so that a
    // worker's cold start on a loaded machine does not eat the short waits the tests use.
    await Promise.all([1, 2].map(async () => expectJson(await s.fetch('/run/slow', { json: { seconds: 0.3, interval: 0.1 } }))));
    started = await s.fetch('/run_async/slow', { json: { seconds: 8, interval: 0.5 } });
    longRun = started.headers.get('x-request-id')!;
  });
  after(() => s.close());

  test('run_async answers {request_id} at once, while the run is still going', async () => {
    assert.ok(started.status >= 200 && started.status < 300, `2xx, got ${started.status}`);
    assert.match(started.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await started.json()) as Json;
    assert.deepEqual(Object.keys(body), ['request_id']);
    assert.match(String(body.request_id), REQUEST_ID);
    assert.equal(started.headers.get('x-request-id'), body.request_id);
    const record = await getRecord(s, String(body.request_id));
    assert.ok(PENDING.includes(String(record.status)), `still going: ${record.status}`);
    assert.equal(record.mode, 'async');
    assert.equal(record.serviceId, 'slow');
    assert.equal(record.completedAt, null);
    assert.equal(record.responseStatus, null);
  });

  test('/result without timeout waits the short default, then answers 408 RUN_RESULT_PENDING with the record so far', async () => {
    const res = await s.fetch(`/result/${longRun}`);
    const body = await expectRuntimeError(res, 408, 'RUN_RESULT_PENDING');
    assert.equal(body.request_id, longRun);
    const record = body.record as Json;
    assert.equal(record.id, longRun);
    assert.equal(record.serviceId, 'slow');
    assert.ok(PENDING.includes(String(record.status)), String(record.status));
    assert.equal(record.completedAt, null);
  });

  test('a /result whose caller hangs up stops waiting', async () => {
    const bus = s.server.runtime.bus;
    // Once the run is on its worker, the engine's own listeners on it stay put until it ends.
    await waitFor(async () => ((await getRecord(s, longRun)).status === 'running' ? true : undefined), 10_000, 'the long run to start');
    const settled = async () => {
      const n = bus.listenersOf(longRun);
      await new Promise((r) => setTimeout(r, 100));
      return bus.listenersOf(longRun) === n ? n : undefined;
    };
    const before = await waitFor(settled, 5000, "the engine's listeners to settle");
    const caller = new AbortController();
    const waiting = s.fetch(`/result/${longRun}?timeout=30`, { signal: caller.signal }).catch(() => 'hung up');
    await waitFor(async () => (bus.listenersOf(longRun) === before + 1 ? true : undefined), 5000, 'the long-poll to wait');
    caller.abort();
    assert.equal(await waiting, 'hung up');
    await waitFor(async () => (bus.listenersOf(longRun) === before ? true : undefined), 5000, 'the long-poll to stop waiting');
  });

  test('/result?timeout=0 answers 408 at once; a timeout above 1800 is milliseconds', async () => {
    await expectRuntimeError(await s.fetch(`/result/${longRun}?timeout=0`), 408, 'RUN_RESULT_PENDING');
    // Read as seconds this would wait half an hour (and the test would time out): it is 1.9 s.
    await expectRuntimeError(await s.fetch(`/result/${longRun}?timeout=1900`), 408, 'RUN_RESULT_PENDING');
  });

  for (const timeout of ['5', '5000']) {
    test(`/result?timeout=${timeout} waits for the end and answers 200 with the whole record`, async () => {
      const id = await startAsync(s, 'slow', { seconds: 1, interval: 0.2 }, { headers: { 'x-correlation-id': `corr-${timeout}` } });
      const polledAt = Date.now();
      const record = await expectJson<Json>(await s.fetch(`/result/${id}?timeout=${timeout}`));
      assert.ok(Date.parse(String(record.completedAt)) >= polledAt - 1, 'the run ended after the poll began: the poll waited for it');
      assert.equal(record.id, id);
      assert.equal(record.serviceId, 'slow');
      assert.equal(record.path, '');
      assert.equal(record.mode, 'async');
      assert.equal(record.status, 'completed');
      const [created, started, completed] = ['createdAt', 'startedAt', 'completedAt'].map((f) => {
        assert.match(String(record[f]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, f);
        return Date.parse(String(record[f]));
      });
      assert.ok(created! <= started! && started! <= completed!, 'createdAt <= startedAt <= completedAt');
      assert.equal(record.responseStatus, 200);
      assert.deepEqual(record.responseJson, { slept: 1 });
      assert.equal(record.responseContent, null, 'a JSON answer is in responseJson, not responseContent');
      assert.equal(record.error, null);
      assert.equal(record.correlationId, `corr-${timeout}`);
      // Once ended, /result answers at once and /request says the same.
      assert.deepEqual(await expectJson(await s.fetch(`/result/${id}`)), record);
      assert.deepEqual(await getRecord(s, id), record);
    });
  }

  test('/request shows the run running, then completed', async () => {
    const id = await startAsync(s, 'slow', { seconds: 1, interval: 0.2 });
    const running = await waitFor(async () => {
      const r = await getRecord(s, id);
      assert.ok(['queued', 'running'].includes(String(r.status)), `not ended yet: ${r.status}`);
      return r.status === 'running' ? r : undefined;
    }, 10_000, 'the run to be running');
    assert.notEqual(running.startedAt, null);
    assert.equal(running.completedAt, null);
    assert.equal(running.responseJson, undefined);
    const done = await expectJson<Json>(await s.fetch(`/result/${id}?timeout=30`));
    assert.equal(done.status, 'completed');
    const now = await getRecord(s, id);
    assert.equal(now.status, 'completed');
    assert.equal(now.startedAt, running.startedAt);
    assert.deepEqual(now.responseJson, { slept: 1 });
  });

  test('an async run gets the body, sub-path and query as a sync one does', async () => {
    const id = await startAsync(s, 'echo/x/y?k=v', { a: 1 }, { headers: { 'x-correlation-id': 'c-1' } });
    const record = await expectJson<Json>(await s.fetch(`/result/${id}?timeout=30`));
    assert.equal(record.path, 'x/y');
    const answer = record.responseJson as Json;
    assert.deepEqual(answer.input, { a: 1 });
    assert.equal(answer.path, 'x/y');
    assert.deepEqual(answer.query, { k: 'v' });
    assert.equal(answer.requestId, id);
    assert.equal(answer.correlationId, 'c-1');
  });

  test("a service's error answer completes the run; a crashed worker fails it", async () => {
    const teapot = await startAsync(s, 'status', { status: 418, message: 'short and stout' });
    const served = await expectJson<Json>(await s.fetch(`/result/${teapot}?timeout=30`));
    assert.equal(served.status, 'completed');
    assert.equal(served.responseStatus, 418);
    assert.deepEqual(served.responseJson, { error: 'short and stout' });
    assert.equal(served.error, null);

    const crash = await startAsync(s, 'exit-mid-call', {});
    const failed = await expectJson<Json>(await s.fetch(`/result/${crash}?timeout=30`));
    assert.equal(failed.status, 'failed', '/result answers 200 for a run that ended, whichever way');
    assert.equal(failed.errorCode, 'WORKER_CRASHED');
    assert.equal(typeof failed.error, 'string');
    assert.equal(failed.responseStatus, null);
  });

  test('a non-JSON answer is kept as text in responseContent', async () => {
    const res = await s.fetch('/run_async/raw-echo', { method: 'POST', body: 'a,b\n1,2\n', headers: { 'content-type': 'text/csv' } });
    const { request_id } = await expectJson<{ request_id: string }>(res);
    const record = await expectJson<Json>(await s.fetch(`/result/${request_id}?timeout=30`));
    assert.equal(record.responseStatus, 201);
    assert.equal(record.responseContentType, 'text/csv');
    assert.equal(record.responseContent, 'a,b\n1,2\n');
    assert.equal(record.responseJson, undefined);
  });
});

describe('an async run and a free worker', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ maxWorkersPerService: 1, shutdownGraceSeconds: 1 });
  });
  after(() => s.close());

  test('a run that finds a worker free starts as it is recorded, unclaimed; with runs of its service waiting it queues behind them', async () => {
    const { store, registry } = s.server.runtime;
    const { pool } = registry.get('slow');
    await expectJson(await s.fetch('/run/slow', { json: { seconds: 0 } })); // the one worker is warm
    const claims: string[] = [];
    // While `gate` is set, claims wait for it: a worker is then free while runs are known to wait.
    let gate: Promise<void> | undefined;
    const claimQueuedRuns = store.claimQueuedRuns.bind(store);
    store.claimQueuedRuns = async (claim) => {
      claims.push(claim.serviceId);
      await gate;
      return claimQueuedRuns(claim);
    };
    try {
      // Once the node has looked for runs queued before it started, a run may skip the queue.
      await waitFor(async () => {
        const id = await startAsync(s, 'slow', { seconds: 0 });
        const done = await expectJson<Json>(await s.fetch(`/result/${id}?timeout=30`));
        assert.equal(done.status, 'completed');
        return done.startedAt === done.createdAt || undefined;
      }, 10_000, 'a run started as it was recorded');
      claims.length = 0;
      const direct = await startAsync(s, 'slow', { seconds: 0 });
      const record = await expectJson<Json>(await s.fetch(`/result/${direct}?timeout=30`));
      assert.deepEqual([record.status, record.startedAt], ['completed', record.createdAt]);
      assert.deepEqual(claims, [], 'nothing was claimed from the queue for it');

      // The worker taken: runs queue. Freed while the claim for them is on its way, the worker
      // is idle; a run sent then still waits its turn behind them.
      const accountId = (await store.defaultAccount()).id;
      const held = pool.tryAcquire(accountId);
      assert.ok(held, 'the warm worker was idle');
      const queued = [];
      for (let i = 0; i < 3; i++) queued.push(await startAsync(s, 'slow', { seconds: 0.05 }));
      for (const id of queued) assert.equal((await getRecord(s, id)).status, 'queued');
      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      claims.length = 0;
      held.release(true);
      await waitFor(() => claims.length > 0, 10_000, 'the freed worker to claim');
      assert.equal(pool.stats.idle, 1);
      const late = await startAsync(s, 'slow', { seconds: 0.05 });
      assert.equal((await getRecord(s, late)).status, 'queued', 'the late run did not pass the waiting ones');
      gate = undefined;
      open();
      const ends = [];
      for (const id of [...queued, late]) ends.push(await expectJson<Json>(await s.fetch(`/result/${id}?timeout=30`)));
      assert.deepEqual(ends.map((r) => r.status), ['completed', 'completed', 'completed', 'completed']);
      for (let i = 1; i < ends.length; i++) {
        assert.ok(Date.parse(String(ends[i]!.startedAt)) >= Date.parse(String(ends[i - 1]!.completedAt)), `run ${i} started after run ${i - 1} ended`);
      }
      assert.ok(claims.length > 0, 'the queued runs were claimed');
    } finally {
      store.claimQueuedRuns = claimQueuedRuns;
    }
  });
});
