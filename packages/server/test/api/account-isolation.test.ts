/**
 * Accounts never see each other (issue 6): every endpoint that takes an id answers another
 * account's id exactly as it answers an unknown one (404), so ids do not leak; listings hold
 * the caller's own things only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey } from '../../src/keys/key-admin.js';
import { startTestServer, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, startAsync, type Json } from './api-helpers.js';

describe('account isolation', () => {
  let s: TestServer;
  let other: string;
  let runId: string;
  let slowId: string;
  let fileId: string;
  let keyId: string;
  let provisioned: string;

  before(async () => {
    s = await startTestServer();
    const store = s.server.runtime.store;
    const b = await store.createAccount('other');
    other = (await createKey(store, b.id, 'standard', 'other')).key;
    // Account A's things.
    runId = await startAsync(s, 'echo', { mine: true }, { headers: { 'x-callback-url': 'https://example.com/hook' } });
    await expectJson(await s.fetch(`/result/${runId}?timeout=20`));
    slowId = await startAsync(s, 'slow', { seconds: 30 });
    const file = await expectJson<{ file_id: string }>(await s.fetch('/file?filename=a.txt', { method: 'POST', body: 'private', headers: { 'content-type': 'text/plain' } }), 201);
    fileId = file.file_id;
    keyId = ((await expectJson<{ keys: { id: string }[] }>(await s.fetch('/keys'))).keys[0]!).id;
    await expectJson(await s.fetch('/env/A_ONLY', { method: 'PUT', json: { value: 'a' } }));
    provisioned = (await expectJson<{ request_id: string }>(await s.fetch('/provision-request', { method: 'POST' }))).request_id;
  });
  after(async () => {
    await s.fetch(`/cancel/${slowId}`, { method: 'POST' });
    await s.close();
  });

  test("another account's run ids answer 404 on every endpoint, like unknown ids", async () => {
    const asOther = (path: string, init: RequestInit = {}) => s.fetch(path, { ...init, key: other });
    for (const id of [runId, slowId, 'req_doesnotexist000000000000']) {
      await expectRuntimeError(await asOther(`/request/${id}`), 404, 'RUN_NOT_FOUND');
      await expectRuntimeError(await asOther(`/result/${id}?timeout=0`), 404, 'RUN_NOT_FOUND');
      await expectRuntimeError(await asOther(`/logs/${id}`), 404, 'RUN_NOT_FOUND');
      await expectRuntimeError(await asOther(`/runs/${id}`), 404, 'RUN_NOT_FOUND');
      await expectRuntimeError(await asOther(`/cancel/${id}`, { method: 'POST' }), 404, 'RUN_NOT_FOUND');
      await expectRuntimeError(await asOther(`/request/${id}`, { method: 'DELETE' }), 404, 'RUN_NOT_FOUND');
      await expectRuntimeError(await asOther(`/request/${id}/deliveries`), 404, 'RUN_NOT_FOUND');
      await expectRuntimeError(await asOther(`/request/${id}/deliveries/redeliver`, { method: 'POST' }), 404, 'RUN_NOT_FOUND');
    }
    // The other account's cancel did nothing: A's slow run is still running.
    const slow = await expectJson<Json>(await s.fetch(`/request/${slowId}`));
    assert.ok(['queued', 'running'].includes(slow.status as string), `still ${slow.status}`);
  });

  test("another account's provisioned id, file, key and variable are unknown to it", async () => {
    await expectRuntimeError(await s.fetch('/run_async/echo', { key: other, json: {}, headers: { 'x-provisioned-request-id': provisioned } }), 404, 'PROVISION_NOT_FOUND');
    await expectRuntimeError(await s.fetch(`/files/${fileId}`, { key: other, method: 'DELETE' }), 404, 'FILE_NOT_FOUND');
    await expectRuntimeError(await s.fetch(`/keys/${keyId}`, { key: other, method: 'DELETE' }), 404, 'KEY_NOT_FOUND');
    await expectRuntimeError(await s.fetch('/env/A_ONLY', { key: other, method: 'DELETE' }), 404, 'ENV_NOT_FOUND');
    // And A's are untouched: the provisioned id still runs for A, the key still works.
    await expectJson(await s.fetch('/run_async/echo', { json: {}, headers: { 'x-provisioned-request-id': provisioned } }));
    await expectJson(await s.fetch('/keys'));
  });

  test('listings hold the caller’s own things only', async () => {
    const runs = await expectJson<{ runs: unknown[] }>(await s.fetch('/runs', { key: other }));
    const files = await expectJson<{ files: unknown[] }>(await s.fetch('/files', { key: other }));
    const keys = await expectJson<{ keys: { id: string }[] }>(await s.fetch('/keys', { key: other }));
    const env = await expectJson<{ variables: unknown[] }>(await s.fetch('/env', { key: other }));
    assert.deepEqual(runs.runs, []);
    assert.deepEqual(files.files, []);
    assert.deepEqual(env.variables, []);
    assert.ok(keys.keys.every((k) => k.id !== keyId));
    const usage = await expectJson<{ services: unknown[] }>(await s.fetch('/usage', { key: other }));
    assert.deepEqual(usage.services, []);
  });

  test("one account's variables never reach another account's workers", async () => {
    const mine = await expectJson<{ env: Record<string, string> }>(await s.fetch('/run/env', { json: {} }));
    const theirs = await expectJson<{ env: Record<string, string> }>(await s.fetch('/run/env', { key: other, json: {} }));
    assert.equal(mine.env.A_ONLY, 'a');
    assert.equal(theirs.env.A_ONLY, undefined);
  });
});
