/**
 * `Idempotency-Key` on /run, /run_async and /provision-request: a repeated key of the same
 * account answers the run its first call started (the same request_id; for /run the same
 * answer, waited for when the run is still going) and starts nothing; the key with another
 * request is 422 IDEMPOTENCY_KEY_REUSED; concurrent duplicates start exactly one run.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createKey } from '../../src/keys/key-admin.js';
import { startTestServer, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, getRecord, REQUEST_ID, type Json } from './api-helpers.js';

describe('idempotency keys', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  const withKey = (key: string, headers: Record<string, string> = {}) => ({ headers: { 'idempotency-key': key, ...headers } });
  /** The account's runs of `service` (provisioned ids not included). */
  const runsOf = async (service: string) => {
    const account = await s.server.runtime.store.defaultAccount();
    return s.server.runtime.store.listRuns({ accountId: account.id, serviceId: service, limit: 1000 });
  };

  test('sync /run: the repeat answers the same run with its stored answer, and starts nothing', async () => {
    const key = randomUUID();
    const before = (await runsOf('echo')).length;
    const first = await s.fetch('/run/echo/sub?x=1', { json: { n: 1 }, ...withKey(key) });
    const firstBody = await expectJson(first);
    const id = first.headers.get('x-request-id')!;
    assert.match(id, REQUEST_ID);
    assert.equal(first.headers.get('idempotent-replayed'), null);

    const again = await s.fetch('/run/echo/sub?x=1', { json: { n: 1 }, ...withKey(key) });
    assert.deepEqual(await expectJson(again), firstBody, 'the same answer, the same pid and request id in it');
    assert.equal(again.headers.get('x-request-id'), id);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.match(again.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal((await runsOf('echo')).length, before + 1, 'one run in all');
  });

  test("sync /run: a service's own non-2xx answer is repeated as it was", async () => {
    const key = randomUUID();
    const first = await s.fetch('/run/status', { json: { status: 418, message: 'teapot' }, ...withKey(key) });
    assert.equal(first.status, 418);
    const again = await s.fetch('/run/status', { json: { status: 418, message: 'teapot' }, ...withKey(key) });
    assert.equal(again.status, 418);
    assert.equal(again.headers.get('x-runlet-error'), null, "the service's answer, not a runtime error");
    assert.deepEqual(await again.json(), await first.json());
    assert.equal(again.headers.get('x-request-id'), first.headers.get('x-request-id'));
  });

  test('sync /run: a repeat while the first call still runs waits for it, and both get the one answer', async () => {
    const key = randomUUID();
    const before = (await runsOf('slow')).length;
    const sent = Date.now();
    const first = s.fetch('/run/slow', { json: { seconds: 1, interval: 0.2 }, ...withKey(key) });
    const running = await waitFor(async () => (await runsOf('slow')).find((r) => r.status === 'running' && r.createdAt >= sent), 20_000, 'the first run to start');
    const again = await s.fetch('/run/slow', { json: { seconds: 1, interval: 0.2 }, ...withKey(key) });
    assert.deepEqual(await expectJson(again), { slept: 1 });
    assert.equal(again.headers.get('x-request-id'), running.id);
    const firstAnswer = await first;
    assert.deepEqual(await expectJson(firstAnswer), { slept: 1 });
    assert.equal(firstAnswer.headers.get('x-request-id'), running.id);
    assert.equal((await runsOf('slow')).length, before + 1);
  });

  test('sync /run: a run that failed repeats its runtime error, with its request id', async () => {
    const key = randomUUID();
    const first = await s.fetch('/run/exit-mid-call', { json: {}, ...withKey(key) });
    const firstError = await expectRuntimeError(first, 502, 'WORKER_CRASHED');
    const again = await s.fetch('/run/exit-mid-call', { json: {}, ...withKey(key) });
    const error = await expectRuntimeError(again, 502, 'WORKER_CRASHED');
    assert.equal(error.request_id, firstError.request_id);
    assert.equal((await runsOf('exit-mid-call')).length, 1);
  });

  test('/run_async and /provision-request: the repeat answers the same request_id', async () => {
    const key = randomUUID();
    const first = await expectJson<{ request_id: string }>(await s.fetch('/run_async/echo', { json: { a: 1 }, ...withKey(key) }));
    const again = await s.fetch('/run_async/echo', { json: { a: 1 }, ...withKey(key) });
    assert.deepEqual(await expectJson(again), first);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(((await expectJson<Json>(await s.fetch(`/result/${first.request_id}?timeout=30`))).status), 'completed');

    const provisionKey = randomUUID();
    const p1 = await expectJson<{ request_id: string }>(await s.fetch('/provision-request', { method: 'POST', ...withKey(provisionKey) }));
    const p2 = await expectJson<{ request_id: string }>(await s.fetch('/provision-request', { method: 'POST', ...withKey(provisionKey) }));
    assert.equal(p2.request_id, p1.request_id);
    assert.equal((await getRecord(s, p1.request_id)).status, 'provisioned');
  });

  test('a retried run under a provisioned id is answered its run, not PROVISION_USED', async () => {
    const { request_id: id } = await expectJson<{ request_id: string }>(await s.fetch('/provision-request', { method: 'POST' }));
    const key = randomUUID();
    const headers = { 'x-provisioned-request-id': id };
    const first = await s.fetch('/run/echo', { json: { p: 1 }, ...withKey(key, headers) });
    assert.equal((await expectJson<Json>(first)).requestId, id);
    const again = await s.fetch('/run/echo', { json: { p: 1 }, ...withKey(key, headers) });
    assert.equal((await expectJson<Json>(again)).requestId, id);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    // Without the key, the id is used up as before.
    await expectRuntimeError(await s.fetch('/run/echo', { json: { p: 1 }, headers }), 409, 'PROVISION_USED');
  });

  test('the same key with another body, service, path, query, method or endpoint is 422 IDEMPOTENCY_KEY_REUSED and starts nothing', async () => {
    const key = randomUUID();
    const first = await expectJson<{ request_id: string }>(await s.fetch('/run_async/echo/a?q=1', { json: { a: 1 }, ...withKey(key) }));
    const before = (await runsOf('echo')).length;
    const others: [string, RequestInit & { json?: unknown }][] = [
      ['/run_async/echo/a?q=1', { json: { a: 2 } }],
      ['/run_async/noop/a?q=1', { json: { a: 1 } }],
      ['/run_async/echo/b?q=1', { json: { a: 1 } }],
      ['/run_async/echo/a?q=2', { json: { a: 1 } }],
      ['/run_async/echo/a?q=1', { method: 'PUT', body: JSON.stringify({ a: 1 }), headers: { 'content-type': 'application/json' } }],
      ['/run/echo/a?q=1', { json: { a: 1 } }],
      ['/provision-request', { method: 'POST' }],
    ];
    for (const [path, init] of others) {
      const res = await s.fetch(path, { ...init, headers: { ...(init.headers as Record<string, string>), 'idempotency-key': key } });
      const body = await expectRuntimeError(res, 422, 'IDEMPOTENCY_KEY_REUSED');
      assert.equal(body.request_id, undefined, `${init.method ?? 'POST'} ${path}: no run`);
    }
    assert.equal((await runsOf('echo')).length, before, 'nothing started');
    assert.equal((await runsOf('noop')).length, 0);
    // The first request itself is still answered.
    const again = await expectJson<{ request_id: string }>(await s.fetch('/run_async/echo/a?q=1', { json: { a: 1 }, ...withKey(key) }));
    assert.equal(again.request_id, first.request_id);
  });

  test('concurrent duplicates start exactly one run: async and sync', async () => {
    const asyncKey = randomUUID();
    const asyncAnswers = await Promise.all(Array.from({ length: 20 }, () => s.fetch('/run_async/echo', { json: { c: 'async' }, ...withKey(asyncKey) })));
    const ids = await Promise.all(asyncAnswers.map(async (r) => (await expectJson<{ request_id: string }>(r)).request_id));
    assert.equal(new Set(ids).size, 1);
    assert.equal(asyncAnswers.filter((r) => r.headers.get('idempotent-replayed') === null).length, 1, 'one call started it');

    const syncKey = randomUUID();
    const before = (await runsOf('slow')).length;
    const syncAnswers = await Promise.all(Array.from({ length: 10 }, () => s.fetch('/run/slow', { json: { seconds: 0.5, interval: 0.1 }, ...withKey(syncKey) })));
    const bodies = await Promise.all(syncAnswers.map((r) => expectJson(r)));
    for (const body of bodies) assert.deepEqual(body, { slept: 0.5 });
    assert.equal(new Set(syncAnswers.map((r) => r.headers.get('x-request-id'))).size, 1);
    assert.equal((await runsOf('slow')).length, before + 1, 'one run of slow in all');
  });

  test('keys are per account: another account using the same key gets a run of its own', async () => {
    const other = await s.server.runtime.store.createAccount(`other-${randomUUID()}`);
    const otherKey = (await createKey(s.server.runtime.store, other.id, 'standard', 'test')).key;
    const key = randomUUID();
    const mine = await expectJson<{ request_id: string }>(await s.fetch('/run_async/echo', { json: {}, ...withKey(key) }));
    const theirs = await expectJson<{ request_id: string }>(await s.fetch('/run_async/echo', { json: {}, key: otherKey, ...withKey(key) }));
    assert.notEqual(theirs.request_id, mine.request_id);
    // Another key of the same account is the same account: the run comes back.
    const second = await s.newKey();
    const same = await expectJson<{ request_id: string }>(await s.fetch('/run_async/echo', { json: {}, key: second, ...withKey(key) }));
    assert.equal(same.request_id, mine.request_id);
  });

  test('a one-time key: its retried call gets its run back rather than KEY_SPENT', async () => {
    const oneTime = await s.newKey('one_time');
    const key = randomUUID();
    const first = await expectJson<{ request_id: string }>(await s.fetch('/run_async/echo', { json: {}, key: oneTime, ...withKey(key) }));
    const again = await expectJson<{ request_id: string }>(await s.fetch('/run_async/echo', { json: {}, key: oneTime, ...withKey(key) }));
    assert.equal(again.request_id, first.request_id);
    await expectRuntimeError(await s.fetch('/run_async/echo', { json: {}, key: oneTime, ...withKey(randomUUID()) }), 403, 'KEY_SPENT');
  });

  test('a malformed key is 400 INVALID_REQUEST', async () => {
    await expectRuntimeError(await s.fetch('/run_async/echo', { json: {}, ...withKey('x'.repeat(256)) }), 400, 'INVALID_REQUEST');
    await expectRuntimeError(await s.fetch('/run_async/echo', { json: {}, ...withKey('has space') }), 400, 'INVALID_REQUEST');
  });
});
