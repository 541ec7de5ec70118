/**
 * API keys on every endpoint: both header forms work, every refusal has its code, a revoked
 * key stops working at once, health and the API description are open, and one account never
 * sees another's runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KEY_CACHE_MS } from '../../src/engine/access.js';
import { createKey } from '../../src/keys/key-admin.js';
import { displayPrefix } from '../../src/keys/api-keys.js';
import { PACKAGE_VERSION, readNdjson, startTestServer, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, startAsync, type Json } from './api-helpers.js';

describe('authentication and accounts', () => {
  let s: TestServer;
  let runId: string;
  /** A standard key of another account. */
  let otherKey: string;
  /** Every endpoint that needs a key, as [method, path]. */
  let endpoints: [string, string][];
  before(async () => {
    s = await startTestServer();
    const store = s.server.runtime.store;
    const account = await store.createAccount('other');
    otherKey = (await createKey(store, account.id, 'standard', 'x')).key;
    runId = await startAsync(s, 'echo', { secret: 'first account only' });
    await expectJson(await s.fetch(`/result/${runId}?timeout=30`));
    endpoints = [
      ['POST', '/run/echo'],
      ['POST', '/run/echo/sub'],
      ['POST', '/run_async/echo'],
      ['POST', '/provision-request'],
      ['GET', `/result/${runId}`],
      ['GET', `/request/${runId}`],
      ['GET', `/logs/${runId}`],
    ];
  });
  after(() => s.close());

  const call = (method: string, path: string, authorization?: string) =>
    s.fetch(path, { method, key: null, headers: authorization === undefined ? {} : { authorization }, body: method === 'POST' ? '{}' : undefined });

  test('"Bearer KEY" and the bare key both work on every endpoint', async () => {
    for (const authorization of [`Bearer ${s.key}`, s.key, `bearer ${s.key}`, `  Bearer   ${s.key}  `]) {
      for (const [method, path] of endpoints) {
        const res = await call(method, path, authorization);
        assert.ok(res.status >= 200 && res.status < 300, `${method} ${path} with "${authorization.slice(0, 10)}…": ${res.status} ${await res.clone().text()}`);
        await res.arrayBuffer();
      }
    }
  });

  test('no key: 401 AUTH_MISSING on every endpoint, before anything else is looked at', async () => {
    for (const [method, path] of [...endpoints, ['POST', '/run/no-such-service'], ['GET', '/result/req_unknown']] as [string, string][]) {
      await expectRuntimeError(await call(method, path), 401, 'AUTH_MISSING');
      await expectRuntimeError(await call(method, path, ''), 401, 'AUTH_MISSING');
      await expectRuntimeError(await call(method, path, '   '), 401, 'AUTH_MISSING');
    }
  });

  test('a wrong key: 401 AUTH_INVALID on every endpoint', async () => {
    const wrong = ['cwk-' + 'x'.repeat(43), 'Bearer cwk-nope', 'Bearer', `Basic ${Buffer.from('user:pass').toString('base64')}`, s.key.slice(0, -1), s.key + 'x', `Bearer ${s.key.toUpperCase()}`];
    for (const [method, path] of endpoints) {
      for (const authorization of wrong) await expectRuntimeError(await call(method, path, authorization), 401, 'AUTH_INVALID');
    }
  });

  test('a revoked key is refused at once with 401 KEY_REVOKED; other keys go on working', async () => {
    const doomed = await s.newKey();
    const bystander = await s.newKey();
    const own = await startAsync(s, 'echo', {}, { key: doomed });
    const store = s.server.runtime.store;
    const account = await store.defaultAccount();
    const record = (await store.listApiKeys(account.id)).find((k) => k.prefix === displayPrefix(doomed));
    assert.ok(record, 'the key is listed');
    assert.equal(record.revokedAt, null);
    // Just used, so this node holds it in its cache of keys: the revoke must reach past that.
    assert.equal((await s.fetch('/keys', { key: doomed })).status, 200);
    assert.equal((await s.fetch(`/keys/${record.id}`, { method: 'DELETE' })).status, 200);
    for (const [method, path] of [...endpoints, ['GET', `/request/${own}`]] as [string, string][]) {
      await expectRuntimeError(await call(method, path, `Bearer ${doomed}`), 401, 'KEY_REVOKED');
    }
    assert.equal((await s.fetch('/run/echo', { json: {}, key: bystander })).status, 200);
    assert.equal((await s.fetch(`/request/${own}`, { key: bystander })).status, 200, 'the account keeps the runs of a revoked key');
  });

  test('a key revoked behind the server\'s back (the CLI on its store) is refused within KEY_CACHE_MS', async () => {
    const doomed = await s.newKey();
    assert.equal((await s.fetch('/keys', { key: doomed })).status, 200);
    const store = s.server.runtime.store;
    const account = await store.defaultAccount();
    const record = (await store.listApiKeys(account.id)).find((k) => k.prefix === displayPrefix(doomed))!;
    await store.revokeApiKey(account.id, record.id, Date.now());
    await new Promise((r) => setTimeout(r, KEY_CACHE_MS + 50));
    await expectRuntimeError(await s.fetch('/services', { key: doomed }), 401, 'KEY_REVOKED');
  });

  test('/healthz and /openapi.json need no key, and ignore a bad one', async () => {
    for (const authorization of [undefined, 'Bearer cwk-wrong']) {
      const health = await call('GET', '/healthz', authorization);
      const body = await expectJson<Json>(health);
      assert.equal(body.status, 'ok');
      assert.equal(body.version, PACKAGE_VERSION);
      const doc = await expectJson<Json>(await call('GET', '/openapi.json', authorization));
      assert.equal(doc.openapi, '3.1.0');
      assert.equal((doc.info as Json).version, PACKAGE_VERSION);
    }
  });

  test("another account's key gets 404 RUN_NOT_FOUND on /result, /request and /logs of this account's run", async () => {
    const unknown = await expectRuntimeError(await s.fetch('/request/req_00000000000000000000000000', { key: otherKey }), 404, 'RUN_NOT_FOUND');
    for (const path of [`/result/${runId}`, `/result/${runId}?timeout=1`, `/request/${runId}`, `/logs/${runId}`, `/logs/${runId}?format=sse`]) {
      const body = await expectRuntimeError(await s.fetch(path, { key: otherKey }), 404, 'RUN_NOT_FOUND');
      assert.doesNotMatch(JSON.stringify(body), /first account only/, path);
      assert.equal(Object.keys(body).sort().join(), Object.keys(unknown).sort().join(), 'as unknown as an id that does not exist');
    }
    // The owner still reads it all.
    const record = await expectJson<Json>(await s.fetch(`/request/${runId}`));
    assert.deepEqual((record.responseJson as Json).input, { secret: 'first account only' });
    await readNdjson(await s.fetch(`/logs/${runId}`));
  });

  test("the other account's own runs work, and are hidden from this account in turn", async () => {
    const theirs = await startAsync(s, 'echo', { theirs: true }, { key: otherKey });
    const record = await expectJson<Json>(await s.fetch(`/result/${theirs}?timeout=30`, { key: otherKey }));
    assert.equal(record.status, 'completed');
    assert.notEqual(record.userId, (await s.fetch(`/request/${runId}`).then((r) => r.json()) as Json).userId);
    for (const path of [`/result/${theirs}`, `/request/${theirs}`, `/logs/${theirs}`]) await expectRuntimeError(await s.fetch(path), 404, 'RUN_NOT_FOUND');
  });
});
