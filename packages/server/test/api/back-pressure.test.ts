/**
 * Back-pressure: per-account limits on queued and running runs (across every service), and a
 * per-key request rate. Over a limit the call is 429 with Retry-After and a code naming the
 * limit, records no run, and other accounts and keys go on unaffected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey } from '../../src/keys/key-admin.js';
import { startTestServer, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, startAsync, type Json } from './api-helpers.js';

async function expectLimit(res: Response, code: string): Promise<void> {
  const body = await expectRuntimeError(res, 429, code);
  assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/, 'Retry-After is a whole number of seconds');
  assert.equal(res.headers.get('x-request-id'), null, 'a refused call records no run');
  assert.equal(body.request_id, undefined);
}

describe('account limits', () => {
  let s: TestServer;
  let otherKey: string;
  before(async () => {
    s = await startTestServer({ maxWorkersPerService: 1, maxQueuedPerAccount: 2, maxConcurrentPerAccount: 1, shutdownGraceSeconds: 1 });
    const other = await s.server.runtime.store.createAccount('other');
    otherKey = (await createKey(s.server.runtime.store, other.id, 'standard', 'test')).key;
  });
  after(() => s.close());

  const counts = async () => s.server.runtime.store.countAccountRuns((await s.server.runtime.store.defaultAccount()).id);

  test('a sync call over the running limit is ACCOUNT_CONCURRENCY_LIMIT; past the queued limit every call is ACCOUNT_QUEUE_FULL', async () => {
    const busy = await startAsync(s, 'slow', { seconds: 2, interval: 0.5 });
    await waitFor(async () => (await counts()).running === 1, 20_000, 'the first run to start');

    await expectLimit(await s.fetch('/run/echo', { json: {} }), 'ACCOUNT_CONCURRENCY_LIMIT');
    // Async runs are queued rather than refused for running ones, up to the queued limit.
    const queued = [await startAsync(s, 'slow', { seconds: 0 }), await startAsync(s, 'slow', { seconds: 0 })];
    assert.deepEqual(await counts(), { queued: 2, running: 1 });
    await expectLimit(await s.fetch('/run_async/echo', { json: {} }), 'ACCOUNT_QUEUE_FULL');
    await expectLimit(await s.fetch('/run/echo', { json: {} }), 'ACCOUNT_QUEUE_FULL');
    assert.deepEqual(await counts(), { queued: 2, running: 1 }, 'the refused calls recorded nothing');

    // Another account is not held back by this one.
    const theirs = await expectJson<Json>(await s.fetch('/run/echo', { json: { mine: false }, key: otherKey }));
    assert.deepEqual(theirs.input, { mine: false });

    // Once the work drains, calls are taken again.
    for (const id of [busy, ...queued]) assert.equal((await expectJson<Json>(await s.fetch(`/result/${id}?timeout=60`))).status, 'completed');
    assert.deepEqual((await expectJson<Json>(await s.fetch('/run/echo', { json: { again: true } }))).input, { again: true });
  });
});

describe('account running limit for async runs', () => {
  let s: TestServer;
  let otherKey: string;
  before(async () => {
    s = await startTestServer({ maxConcurrentPerAccount: 1 });
    const other = await s.server.runtime.store.createAccount('other');
    otherKey = (await createKey(s.server.runtime.store, other.id, 'standard', 'test')).key;
  });
  after(() => s.close());

  test("an account's async runs wait for its running one, whatever their service; another account's run meanwhile", async () => {
    // Long enough to outlast a cold start of the other account's worker on a loaded machine; cancelled below.
    const slow = await startAsync(s, 'slow', { seconds: 60, interval: 0.5 });
    await waitFor(async () => ((await expectJson<Json>(await s.fetch(`/request/${slow}`))).status === 'running' ? true : undefined), 20_000, 'the slow run to start');
    const waiting = await startAsync(s, 'echo', { waits: true });
    const theirs = await startAsync(s, 'echo', { theirs: true }, { key: otherKey });
    const other = await expectJson<Json>(await s.fetch(`/result/${theirs}?timeout=30`, { key: otherKey }));
    assert.equal(other.status, 'completed');
    assert.equal((await expectJson<Json>(await s.fetch(`/request/${waiting}`))).status, 'queued', 'still waiting while the slow run runs');
    assert.equal((await s.fetch(`/cancel/${slow}`, { method: 'POST' })).status, 200);
    const first = await expectJson<Json>(await s.fetch(`/result/${slow}?timeout=30`));
    assert.equal(first.status, 'cancelled');
    const second = await expectJson<Json>(await s.fetch(`/result/${waiting}?timeout=30`));
    assert.equal(second.status, 'completed');
    // A claimed run's startedAt is when its claim was asked: on PostgreSQL a claim asked just
    // before the cancel can wait for the cancel's commit and then take the run, a few ms
    // "before" the first run's end. The queued state seen above is what shows it waited.
    const overlapMs = Date.parse(first.completedAt as string) - Date.parse(second.startedAt as string);
    assert.ok(overlapMs <= 50, `it started only once the first had ended (its start is ${overlapMs} ms before the first's end)`);
  });
});

describe('account running limit under a burst', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ maxConcurrentPerAccount: 3, maxWorkersPerService: 3 });
  });
  after(() => s.close());

  test('every run of a burst completes; the ends that free places look for queued runs one at a time, not one look each at once', async () => {
    // A slow look (a store far away, or a long queue) is when ends pile up behind it.
    const store = s.server.runtime.store;
    const look = store.servicesWithQueuedRuns.bind(store);
    let looking = 0;
    let mostAtOnce = 0;
    let looks = 0;
    store.servicesWithQueuedRuns = async () => {
      looks++;
      mostAtOnce = Math.max(mostAtOnce, ++looking);
      try {
        await new Promise((r) => setTimeout(r, 30));
        return await look();
      } finally {
        looking--;
      }
    };
    try {
      const ids = await Promise.all(Array.from({ length: 24 }, (_, i) => startAsync(s, 'echo', { i })));
      for (const id of ids) assert.equal((await expectJson<Json>(await s.fetch(`/result/${id}?timeout=60`))).status, 'completed', id);
      assert.equal(mostAtOnce, 1, 'one look at a time');
      assert.ok(looks < ids.length, `fewer looks (${looks}) than runs that ended (${ids.length})`);
    } finally {
      store.servicesWithQueuedRuns = look;
    }
  });
});

describe('key rate limits', () => {
  let s: TestServer;
  before(async () => {
    // One request per 100 s, three at once: the fourth call of a burst is always refused.
    s = await startTestServer({ keyRateLimit: 0.01, keyRateBurst: 3 });
  });
  after(() => s.close());

  test('past its burst a key is KEY_RATE_LIMITED on any call; another key is not', async () => {
    const key = await s.newKey();
    for (let i = 0; i < 3; i++) assert.equal((await s.fetch('/services', { key })).status, 200);
    const refused = await s.fetch('/run_async/echo', { key, json: {} });
    await expectLimit(refused, 'KEY_RATE_LIMITED');
    assert.ok(Number(refused.headers.get('retry-after')) >= 60, 'the next token is about 100 s away');
    await expectLimit(await s.fetch('/services', { key }), 'KEY_RATE_LIMITED');
    const other = await s.newKey();
    assert.equal((await s.fetch('/services', { key: other })).status, 200);
  });
});
