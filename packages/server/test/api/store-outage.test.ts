/**
 * When the store fails (the disk holding SQLite is full, PostgreSQL is out of reach): a call it
 * cannot take is answered 503 STORE_UNAVAILABLE naming the cause, with nothing of it kept, and
 * a run whose end it could not take is written again once it is back, not lost. Each store
 * fails for real: SQLite's file may not grow (`max_page_count`, what a full disk does to it), or
 * may not be written at all (what a file system remounted read-only does); PostgreSQL's
 * database refuses connections and drops those it has.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, TEST_STORE, waitFor, type TestServer } from '../helpers.js';
import { createKey } from '../../src/keys/key-admin.js';
import { storeOutage } from '../store-outage.js';
import { expectJson, expectRuntimeError, startAsync, type Json } from './api-helpers.js';

describe(`when the store fails (${TEST_STORE})`, () => {
  let s: TestServer;
  // A lease that lapses during the outage: the node still on the run must not take it for orphaned.
  before(async () => (s = await startTestServer({ leaseSeconds: 1 })));
  after(() => s.close());

  /**
   * A new account and its key. Its first worker of `service` mints the account's worker key in
   * the store, so the store failing then fails that worker's start. (The service is called once
   * first: its limits known, the new account's call starts no worker before it runs.)
   */
  const newAccountOf = async (service: string) => {
    const { store } = s.server.runtime;
    await expectJson(await s.fetch(`/run/${service}`, { json: {} }));
    const account = await store.createAccount(`outage-${Math.random().toString(36).slice(2, 8)}`);
    return { account, key: (await createKey(store, account.id, 'standard', 'outage')).key };
  };

  const runCount = async () => ((await expectJson<{ runs: Json[] }>(await s.fetch('/runs?limit=100'))).runs).length;

  test('a call the store cannot take is answered 503 STORE_UNAVAILABLE with the cause; nothing of it is kept', async () => {
    await expectJson(await s.fetch('/run/echo', { json: { warm: true } }));
    const before = await runCount();
    const big = { blob: 'y'.repeat(512 * 1024) };
    const outage = await storeOutage(s);
    try {
      for (const url of ['/run/echo', '/run_async/echo']) {
        const res = await s.fetch(url, { json: big });
        const body = await expectRuntimeError(res, 503, 'STORE_UNAVAILABLE');
        assert.match(body.message, outage.cause);
        assert.equal(res.headers.get('retry-after'), '5');
      }
    } finally {
      await outage.end();
    }
    assert.equal(await runCount(), before, 'no run was recorded for the refused calls');
    const answer = await expectJson<{ input: unknown }>(await s.fetch('/run/echo', { json: big }));
    assert.deepEqual(answer.input, big, 'the same call goes through once the store is back');
  });

  test('a run whose end the store cannot take is written again once it is back, with its answer', async () => {
    const { engine } = s.server.runtime;
    const bytes = 1_000_000;
    const id = await startAsync(s, 'late-answer', { ms: 1500, bytes });
    await waitFor(async () => (await expectJson<Json>(await s.fetch(`/request/${id}`))).status === 'running', 30_000, 'the run to start');
    const outage = await storeOutage(s);
    try {
      // The call is over, its end unwritten and still held here, past its 1 s lease.
      await waitFor(() => engine.activeCount === 0 && engine.holds(id), 30_000, 'the call to end during the outage');
      await new Promise((r) => setTimeout(r, 1500));
      if (TEST_STORE === 'sqlite') {
        // Reads still work on a full disk: the run is still in flight as far as the record goes.
        assert.equal((await expectJson<Json>(await s.fetch(`/request/${id}`))).status, 'running');
      }
    } finally {
      await outage.end();
    }
    const record = await expectJson<Json & { responseJson: { pad: string } }>(await s.fetch(`/result/${id}?timeout=30`));
    assert.equal(record.status, 'completed', `the run ended as it did, not as an orphan: ${record.error as string}`);
    assert.equal(record.responseJson.pad.length, bytes, 'with the answer the service gave');
    assert.equal(engine.holds(id), false);
  });

  test("an attempt that fails while the store is away still goes back to the queue under its service's policy", async () => {
    const { engine } = s.server.runtime;
    const id = await startAsync(s, 'late-answer', { ms: 1500, bytes: 10, status: 503 });
    await waitFor(async () => (await expectJson<Json>(await s.fetch(`/request/${id}`))).status === 'running', 30_000, 'the run to start');
    const outage = await storeOutage(s, 'read-only');
    try {
      await waitFor(() => engine.activeCount === 0 && engine.holds(id), 30_000, 'the attempt to end during the outage');
    } finally {
      await outage.end();
    }
    const record = await expectJson<Json & { attempts: Json[] }>(await s.fetch(`/result/${id}?timeout=30`));
    // Not ended after its first attempt for want of a write: requeued, and run again as its policy allows.
    assert.deepEqual(record.attempts.map((a) => [a.attempt, a.responseStatus]), [[1, 503], [2, 503]]);
    assert.equal(record.responseStatus, 503);
  });

  // A sync call waits for a free worker (one only here), or for room under its service's cap
  // across the cluster (`capped` lets two run at once); its start is written when its turn comes.
  const waits = [
    { why: 'a worker', service: 'late-answer', busy: 1, settings: { maxWorkersPerService: 1 }, input: (ms: number) => ({ ms, bytes: 3 }) },
    { why: "room under its service's cap", service: 'capped', busy: 2, settings: {}, input: (ms: number) => ({ ms }) },
  ];
  const cases = [...waits.map((wait) => ({ wait, pastTheLimit: false })), { wait: waits[0]!, pastTheLimit: true }];
  for (const { wait, pastTheLimit } of cases) {
    const what = pastTheLimit
      ? 'until past the sync limit is answered 504, and its run completes once the store is back'
      : 'at first is answered once the store is back';
    test(`a call that waited for ${wait.why}, whose start the store cannot take ${what}`, async () => {
      const one = await startTestServer({ ...wait.settings, ...(pastTheLimit ? { syncTimeoutSeconds: 3 } : {}) });
      try {
        const runsOf = async (status: string) => (await expectJson<{ runs: Json[] }>(await one.fetch(`/runs?service=${wait.service}&status=${status}`))).runs;
        const busy = Array.from({ length: wait.busy }, () => one.fetch(`/run/${wait.service}`, { json: wait.input(1500) }));
        await waitFor(async () => (await runsOf('running')).length === wait.busy || undefined, 30_000, 'the first calls to run');
        const waiting = one.fetch(`/run/${wait.service}`, { json: wait.input(0) });
        const [queued] = await waitFor(async () => { const q = await runsOf('queued'); return q.length === 1 ? q : undefined; }, 30_000, 'the last call to wait');
        const outage = await storeOutage(one, 'read-only');
        let answered = false;
        void waiting.then(() => (answered = true), () => {});
        try {
          for (const res of await Promise.all(busy)) assert.equal(res.status, 200, 'the first callers have their answers');
          await new Promise((r) => setTimeout(r, pastTheLimit ? 3000 : 1000));
          if (!pastTheLimit) assert.equal(answered, false, 'the last caller waits while the store is away');
        } finally {
          await outage.end();
        }
        const res = await waiting;
        assert.equal(res.headers.get('x-request-id'), queued!.id);
        if (pastTheLimit) {
          const body = await expectRuntimeError(res, 504, 'SYNC_TIMEOUT');
          assert.equal(body.request_id, queued!.id);
        } else {
          await expectJson(res);
        }
        // The node is up, and the run ran once, its answer recorded.
        assert.equal((await fetch(`${one.url}/healthz`)).status, 200);
        const record = await expectJson<Json>(await one.fetch(`/result/${queued!.id}?timeout=30`));
        assert.deepEqual([record.status, record.responseStatus, record.attempt], ['completed', 200, 1]);
      } finally {
        await one.close();
      }
    });
  }

  test('a sync call whose new worker cannot start because the store failed waits, and is answered once the store is back', async () => {
    const { store } = s.server.runtime;
    const { account, key } = await newAccountOf('noop');
    const create = store.createRun.bind(store);
    let outage: Awaited<ReturnType<typeof storeOutage>> | undefined;
    // The store fails just after the run is recorded, before its worker starts.
    store.createRun = async (run, options) => {
      const recorded = await create(run, options);
      if (!outage && run.accountId === account.id) outage = await storeOutage(s, 'read-only');
      return recorded;
    };
    let answered = false;
    const call = s.fetch('/run/noop', { json: {}, key });
    void call.then(() => (answered = true), () => {});
    try {
      await waitFor(() => outage, 30_000, 'the run to be recorded');
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(answered, false, 'the caller waits while the store is away');
    } finally {
      store.createRun = create;
      await outage?.end();
    }
    const res = await call;
    assert.equal(res.status, 200);
    const record = await expectJson<Json>(await s.fetch(`/result/${res.headers.get('x-request-id')}?timeout=30`, { key }));
    assert.deepEqual([record.status, record.attempt], ['completed', 1]);
  });

  test("an async run whose worker cannot start because the store failed goes back to the queue, and runs once it is back", async () => {
    const { store } = s.server.runtime;
    const { account, key } = await newAccountOf('noop');
    const claim = store.claimQueuedRuns.bind(store);
    let outage: Awaited<ReturnType<typeof storeOutage>> | undefined;
    // The store fails just after the claim that takes the run, before its worker starts.
    store.claimQueuedRuns = async (c) => {
      const runs = await claim(c);
      if (!outage && runs.some((r) => r.accountId === account.id)) outage = await storeOutage(s, 'read-only');
      return runs;
    };
    let id: string;
    try {
      id = await startAsync(s, 'noop', {}, { key });
      await waitFor(() => outage, 30_000, 'the claim of the run');
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      store.claimQueuedRuns = claim;
      await outage?.end();
    }
    const record = await expectJson<Json>(await s.fetch(`/result/${id}?timeout=30`, { key }));
    assert.deepEqual([record.status, record.errorCode], ['completed', null], 'it ran once the store was back');
    const run = (await store.getRun(id))!;
    assert.equal(run.attempt, 2, 'its first attempt, which never reached a worker, is counted');
    const logs = await (await s.fetch(`/logs/${id}`, { key })).text();
    assert.match(logs, /Attempt 1 failed: The store cannot take this request now.*Attempt 2 in/);
  });

  test('a retry whose log cannot be read back as it starts goes back to the queue and gives its worker back', async () => {
    const { store, registry } = s.server.runtime;
    const claim = store.claimQueuedRuns.bind(store);
    let outage: Awaited<ReturnType<typeof storeOutage>> | undefined;
    // The store fails just after the claim that takes the run's second attempt: a retry reads its
    // log's last line before its call (PostgreSQL refuses that read; SQLite's file still reads).
    let id = '';
    store.claimQueuedRuns = async (c) => {
      const runs = await claim(c);
      if (!outage && runs.some((r) => r.id === id && r.attempt === 2)) outage = await storeOutage(s, 'read-only');
      return runs;
    };
    try {
      id = await startAsync(s, 'flaky-status', { status: 503 });
      await waitFor(() => outage, 30_000, 'the claim of the second attempt');
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      store.claimQueuedRuns = claim;
      await outage?.end();
    }
    const record = await expectJson<Json & { attempts: Json[] }>(await s.fetch(`/result/${id}?timeout=30`));
    // Its policy's three attempts, each ended by the service's 503 or, before its call, by the store: none by a lapsed lease.
    assert.deepEqual(record.attempts.map((a) => a.attempt), [1, 2, 3]);
    assert.deepEqual(record.attempts.filter((a) => a.responseStatus !== 503 && a.errorCode !== 'STORE_UNAVAILABLE'), []);
    assert.deepEqual([record.status, record.responseStatus], ['completed', 503], 'the last attempt had the service\'s answer');
    assert.equal(registry.get('flaky-status').pool.stats.busy, 0, 'no worker is left leased');
  });
});
