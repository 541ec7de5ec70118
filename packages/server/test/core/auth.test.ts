/** Keys: both header forms, every refusal, one-time keys under concurrency, and accounts kept apart. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey } from '../../src/keys/key-admin.js';
import { hashApiKey } from '../../src/keys/api-keys.js';
import { startTestServer, type TestServer } from '../helpers.js';

const codeOf = async (res: Response) => ((await res.json()) as { code: string }).code;

describe('authentication and keys', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test('Bearer and the bare key both work; missing, wrong and revoked keys are refused', async () => {
    for (const authorization of [`Bearer ${s.key}`, s.key, `bearer   ${s.key}`]) {
      const res = await s.fetch('/run/echo', { json: {}, key: null, headers: { authorization } });
      assert.equal(res.status, 200, authorization.slice(0, 8));
    }
    const missing = await s.fetch('/run/echo', { json: {}, key: null });
    assert.equal(missing.status, 401);
    assert.equal(await codeOf(missing), 'AUTH_MISSING');
    const wrong = await s.fetch('/run/echo', { json: {}, key: 'cwk-not-a-key' });
    assert.equal(wrong.status, 401);
    assert.equal(await codeOf(wrong), 'AUTH_INVALID');

    const doomed = await s.newKey();
    assert.equal((await s.fetch('/run/echo', { json: {}, key: doomed })).status, 200);
    const record = await s.server.runtime.store.findApiKeyByHash(hashApiKey(doomed));
    await s.server.runtime.store.revokeApiKey(record!.accountId, record!.id, Date.now());
    const revoked = await s.fetch('/run/echo', { json: {}, key: doomed });
    assert.equal(revoked.status, 401);
    assert.equal(await codeOf(revoked), 'KEY_REVOKED');
  });

  for (const endpoint of ['/run/echo', '/run_async/echo']) {
    test(`a one-time key is spent by exactly one of 50 concurrent ${endpoint} calls`, async () => {
      const key = await s.newKey('one_time');
      const answers = await Promise.all(Array.from({ length: 50 }, () => s.fetch(endpoint, { json: {}, key })));
      const ok = answers.filter((r) => r.status === 200);
      const refused = answers.filter((r) => r.status === 403);
      assert.equal(ok.length, 1);
      assert.equal(refused.length, 49);
      for (const r of refused) assert.equal(await codeOf(r), 'KEY_SPENT');
      // The winner may read its own run, and nothing else.
      const runId = ok[0]!.headers.get('x-request-id')!;
      assert.equal((await s.fetch(`/request/${runId}`, { key })).status, 200);
      assert.equal((await s.fetch(`/result/${runId}?timeout=5`, { key })).status, 200);
      assert.equal((await s.fetch(`/logs/${runId}`, { key })).status, 200);
      const other = (await s.fetch('/run/echo', { json: {} })).headers.get('x-request-id')!;
      assert.equal((await s.fetch(`/request/${other}`, { key })).status, 404);
      const again = await s.fetch('/run/echo', { json: {}, key });
      assert.equal(again.status, 403);
    });
  }

  test('a one-time key may provision and then start exactly that run, as the official clients do', async () => {
    const key = await s.newKey('one_time');
    const { request_id } = (await (await s.fetch('/provision-request', { method: 'POST', key })).json()) as { request_id: string };
    const run = await s.fetch('/run/echo', { json: { x: 1 }, key, headers: { 'x-provisioned-request-id': request_id } });
    assert.equal(run.status, 200);
    assert.equal(run.headers.get('x-request-id'), request_id);
    assert.equal((await s.fetch(`/result/${request_id}`, { key })).status, 200);
    const second = await s.fetch('/run/echo', { json: {}, key, headers: { 'x-provisioned-request-id': request_id } });
    assert.ok([403, 409].includes(second.status), `a second start is refused (${second.status})`);
    const fresh = await s.fetch('/run/echo', { json: {}, key });
    assert.equal(await codeOf(fresh), 'KEY_SPENT');
  });

  test("another account's key sees none of this account's runs", async () => {
    const store = s.server.runtime.store;
    const other = await store.createAccount('other');
    const { key: otherKey } = await createKey(store, other.id, 'standard', 'other');
    const res = await s.fetch('/run_async/echo', { json: {} });
    const { request_id } = (await res.json()) as { request_id: string };
    for (const path of [`/request/${request_id}`, `/result/${request_id}`, `/logs/${request_id}`]) {
      const answer = await s.fetch(path, { key: otherKey });
      assert.equal(answer.status, 404, path);
      assert.equal(await codeOf(answer), 'RUN_NOT_FOUND');
    }
    const ownProvision = (await (await s.fetch('/provision-request', { method: 'POST' })).json()) as { request_id: string };
    const stolen = await s.fetch('/run/echo', { json: {}, key: otherKey, headers: { 'x-provisioned-request-id': ownProvision.request_id } });
    assert.equal(await codeOf(stolen), 'PROVISION_NOT_FOUND');
  });
});
