/**
 * POST /cancel/{id} (and DELETE /request/{id}): a queued run never starts, a running one has
 * its worker stopped, readers and a waiting sync caller see the end at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey } from '../../src/keys/key-admin.js';
import { isAlive, readNdjson, startTestServer, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, getRecord, startAsync, type Json } from './api-helpers.js';

describe('cancel', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ maxWorkersPerService: 1 });
  });
  after(() => s.close());

  const hangPool = () => s.server.runtime.registry.get('hang').pool;
  const cancel = (id: string, init: { key?: string } = {}) => s.fetch(`/cancel/${id}`, { method: 'POST', ...init });
  /** A run of `hang` that holds the only worker, and that worker's pid. */
  const runningHang = async () => {
    const id = await startAsync(s, 'hang', {});
    await waitFor(async () => (await getRecord(s, id)).status === 'running' || undefined, 60_000, 'the hang run to start');
    const pid = await waitFor(() => hangPool().workers()[0]?.pid, 60_000, 'its worker');
    return { id, pid };
  };

  test('a running run: its worker is stopped, readers see the end at once, the record says who and when', async () => {
    const { id, pid } = await runningHang();
    const result = s.fetch(`/result/${id}?timeout=60`);
    const logs = s.fetch(`/logs/${id}`);
    const cancelled = await expectJson<Json>(await cancel(id));
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.errorCode, 'RUN_CANCELLED');
    assert.match(String(cancelled.error), /^Cancelled by key cwk-\S+ at \d{4}-\d\d-\d\dT/);
    const record = await expectJson<Json>(await result);
    assert.equal(record.status, 'cancelled');
    // The live stream ends with the run, whole: the runtime's note of the stop comes last.
    const last = (await readNdjson(await logs)).at(-1)!;
    assert.deepEqual([last.source, last.message], ['runtime', 'The run was cancelled.']);
    await waitFor(() => !isAlive(pid) || undefined, 10_000, 'the worker process to be gone');
  });

  test('a queued run never starts; cancelling again answers the record again; DELETE /request does the same', async () => {
    const busy = await runningHang();
    const queued = await startAsync(s, 'hang', {});
    const first = await expectJson<Json>(await cancel(queued));
    assert.equal(first.status, 'cancelled');
    assert.equal(first.startedAt, null);
    assert.deepEqual(await expectJson<Json>(await cancel(queued)), first, 'idempotent');
    const logs = await readNdjson(await s.fetch(`/logs/${queued}`));
    assert.deepEqual(logs.map((l) => l.message), ['The run was cancelled before it started.']);
    // Freeing the only worker must not start the cancelled run.
    assert.equal((await expectJson<Json>(await s.fetch(`/request/${busy.id}`, { method: 'DELETE' }))).status, 'cancelled');
    await waitFor(() => !isAlive(busy.pid) || undefined, 10_000, 'the busy worker to be gone');
    const again = await startAsync(s, 'echo', {});
    await expectJson(await s.fetch(`/result/${again}?timeout=60`));
    assert.equal((await getRecord(s, queued)).startedAt, null, 'never started');
  });

  test('a sync caller waiting on the run gets 409 RUN_CANCELLED with its request id', async () => {
    const { request_id: id } = await expectJson<{ request_id: string }>(await s.fetch('/provision-request', { method: 'POST' }));
    const call = s.fetch('/run/hang', { json: {}, headers: { 'x-provisioned-request-id': id } });
    await waitFor(async () => (await getRecord(s, id)).status === 'running' || undefined, 60_000, 'the sync run to start');
    await expectJson(await cancel(id));
    const body = await expectRuntimeError(await call, 409, 'RUN_CANCELLED');
    assert.equal(body.request_id, id);
  });

  test('a provisioned id cancelled before use can start nothing', async () => {
    const { request_id: id } = await expectJson<{ request_id: string }>(await s.fetch('/provision-request', { method: 'POST' }));
    assert.equal((await expectJson<Json>(await cancel(id))).status, 'cancelled');
    await expectRuntimeError(await s.fetch('/run/echo', { json: {}, headers: { 'x-provisioned-request-id': id } }), 409, 'PROVISION_USED');
  });

  test('a run that has ended otherwise: 409 RUN_ALREADY_ENDED with its status; another account: 404', async () => {
    const res = await s.fetch('/run/echo', { json: {} });
    await res.arrayBuffer();
    const id = res.headers.get('x-request-id')!;
    const body = await expectRuntimeError(await cancel(id), 409, 'RUN_ALREADY_ENDED');
    assert.deepEqual(body.details, { status: 'completed' });
    const account = await s.server.runtime.store.createAccount('other');
    const otherKey = (await createKey(s.server.runtime.store, account.id, 'standard', 'x')).key;
    const running = await startAsync(s, 'slow', { seconds: 1 });
    await expectRuntimeError(await cancel(running, { key: otherKey }), 404, 'RUN_NOT_FOUND');
    await expectRuntimeError(await cancel('req_doesnotexist'), 404, 'RUN_NOT_FOUND');
    assert.notEqual((await getRecord(s, running)).status, 'cancelled');
  });
});
