/**
 * POST /provision-request and X-Provisioned-Request-Id: an id handed out ahead of time is used
 * by exactly one later run, sync or async.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey } from '../../src/keys/key-admin.js';
import { startTestServer, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, getRecord, REQUEST_ID, type Json } from './api-helpers.js';

describe('POST /provision-request', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ resultDefaultWaitSeconds: 0.5 });
  });
  after(() => s.close());

  const provision = async (key?: string): Promise<string> => {
    const body = await expectJson<Json>(await s.fetch('/provision-request', { method: 'POST', key }));
    assert.deepEqual(Object.keys(body), ['request_id']);
    assert.match(String(body.request_id), REQUEST_ID);
    return String(body.request_id);
  };

  test('hands out a fresh id whose record is provisioned, and whose result is pending', async () => {
    const a = await provision();
    const b = await provision();
    assert.notEqual(a, b);
    const record = await getRecord(s, a);
    assert.equal(record.id, a);
    assert.equal(record.status, 'provisioned');
    assert.equal(record.startedAt, null);
    assert.equal(record.completedAt, null);
    const pending = await expectRuntimeError(await s.fetch(`/result/${a}?timeout=0`), 408, 'RUN_RESULT_PENDING');
    assert.equal((pending.record as Json).status, 'provisioned');
  });

  test('a sync run with the header runs under exactly that id; the same id again is 409 PROVISION_USED', async () => {
    const id = await provision();
    const res = await s.fetch('/run/echo', { json: { first: true }, headers: { 'x-provisioned-request-id': id } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), id);
    assert.equal(((await res.json()) as Json).requestId, id, 'the service ran under the provisioned id');
    const record = await getRecord(s, id);
    assert.equal(record.status, 'completed');
    assert.equal(record.serviceId, 'echo');

    for (const endpoint of ['/run/echo', '/run_async/echo']) {
      const again = await s.fetch(endpoint, { json: { second: true }, headers: { 'x-provisioned-request-id': id } });
      const body = await expectRuntimeError(again, 409, 'PROVISION_USED');
      assert.equal(body.request_id, id);
    }
    const unchanged = await getRecord(s, id);
    assert.deepEqual((unchanged.responseJson as Json).input, { first: true }, 'the refused runs left the first one as it was');
  });

  test('an async run honours the header too', async () => {
    const id = await provision();
    const started = await expectJson<Json>(await s.fetch('/run_async/echo/p?q=1', { json: { n: 1 }, headers: { 'x-provisioned-request-id': id } }));
    assert.deepEqual(started, { request_id: id });
    const record = await expectJson<Json>(await s.fetch(`/result/${id}?timeout=30`));
    assert.equal(record.id, id);
    assert.equal(record.status, 'completed');
    assert.equal(record.mode, 'async');
    assert.equal(record.path, 'p');
    assert.deepEqual((record.responseJson as Json).input, { n: 1 });
    assert.equal((record.responseJson as Json).requestId, id);
    await expectRuntimeError(await s.fetch('/run_async/echo', { json: {}, headers: { 'x-provisioned-request-id': id } }), 409, 'PROVISION_USED');
  });

  test('a /result poll started on a provisioned id waits for the run that uses it', async () => {
    const id = await provision();
    const poll = s.fetch(`/result/${id}?timeout=30`);
    // Give the poll a moment to start waiting on the provisioned record (the test passes either
    // way; this makes it exercise the wait), then let a run take the id.
    await new Promise((r) => setTimeout(r, 200));
    await expectJson(await s.fetch('/run/echo', { json: { late: true }, headers: { 'x-provisioned-request-id': id } }));
    const record = await expectJson<Json>(await poll);
    assert.equal(record.id, id);
    assert.equal(record.status, 'completed');
    assert.deepEqual((record.responseJson as Json).input, { late: true });
  });

  test('an unknown provisioned id is 404 PROVISION_NOT_FOUND, and no run is created under it', async () => {
    for (const [endpoint, id] of [
      ['/run/echo', 'req_doesnotexist0000000000'],
      ['/run_async/echo', 'req_doesnotexist0000000001'],
      ['/run/echo', 'not-even-an-id'],
    ] as const) {
      const res = await s.fetch(endpoint, { json: {}, headers: { 'x-provisioned-request-id': id } });
      await expectRuntimeError(res, 404, 'PROVISION_NOT_FOUND');
      await expectRuntimeError(await s.fetch(`/request/${id}`), 404, 'RUN_NOT_FOUND');
    }
  });

  test("another account's provisioned id is unknown to this account", async () => {
    const store = s.server.runtime.store;
    const other = await store.createAccount('provision-other');
    const { key: otherKey } = await createKey(store, other.id, 'standard', 'other');
    const theirs = await provision(otherKey);
    await expectRuntimeError(await s.fetch('/run/echo', { json: {}, headers: { 'x-provisioned-request-id': theirs } }), 404, 'PROVISION_NOT_FOUND');
    await expectRuntimeError(await s.fetch(`/request/${theirs}`), 404, 'RUN_NOT_FOUND');
    // Still theirs to use.
    const res = await s.fetch('/run/echo', { json: {}, key: otherKey, headers: { 'x-provisioned-request-id': theirs } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), theirs);
  });
});
