/**
 * The per-service bound: past `maxWorkersPerService` calls wait, past `maxQueuedPerService`
 * waiting calls the next sync caller gets 429 QUEUE_FULL with Retry-After, and nothing is lost.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, type Json } from './api-helpers.js';

describe('queue limits', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ maxWorkersPerService: 1, maxQueuedPerService: 1, shutdownGraceSeconds: 1 });
  });
  after(() => s.close());

  test('one call in flight, one waiting: the next sync call is 429 QUEUE_FULL with Retry-After; the others still finish', async () => {
    const pool = s.server.runtime.registry.get('slow').pool;
    const busy = s.fetch('/run/slow', { json: { seconds: 2, interval: 0.5 } });
    // Busy, not merely starting: a call sent while the first worker starts waits with the first
    // call for that worker (to learn the service's schema), and either may take it then.
    await waitFor(() => pool.stats.busy === 1, 20_000, 'the only worker to be taken');
    const waiting = s.fetch('/run/slow', { json: { seconds: 0 } });
    await waitFor(() => pool.stats.waiting === 1, 10_000, 'the second call to wait');

    const refused = await s.fetch('/run/slow', { json: { seconds: 0 } });
    const body = await expectRuntimeError(refused, 429, 'QUEUE_FULL');
    const retryAfter = refused.headers.get('retry-after');
    assert.match(retryAfter ?? '', /^\d+$/, 'Retry-After is a number of seconds');
    assert.ok(Number(retryAfter) >= 1);
    assert.equal(refused.headers.get('x-request-id'), null, 'a refused call records no run');
    assert.equal(body.request_id, undefined);

    // The bound is per service, and async runs wait in the store rather than in the queue.
    assert.equal((await s.fetch('/run/echo', { json: {} })).status, 200, 'another service is unaffected');
    const queued = await expectJson<{ request_id: string }>(await s.fetch('/run_async/slow', { json: { seconds: 0 } }));

    const first = await expectJson<Json>(await busy);
    assert.deepEqual(first, { slept: 2 });
    assert.deepEqual(await expectJson<Json>(await waiting), { slept: 0 });
    const later = await expectJson<Json>(await s.fetch(`/result/${queued.request_id}?timeout=30`));
    assert.equal(later.status, 'completed');
    assert.deepEqual(later.responseJson, { slept: 0 });

    // Once the queue has drained, calls are taken again.
    assert.deepEqual(await expectJson<Json>(await s.fetch('/run/slow', { json: { seconds: 0 } })), { slept: 0 });
    assert.equal(pool.stats.waiting, 0);
  });
});
