/**
 * API keys over the API (issue 6): list, create, revoke, expiry, service limits, and one-time
 * keys minted by a back end for a browser — spent by exactly one call under concurrency.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, type Json } from './api-helpers.js';

interface Created {
  key: { id: string; kind: string; prefix: string; services: string[] | null; expiresAt: string | null; createdBy: string | null };
  secret: string;
}

describe('API key management', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test('a key is created, shown once, listed without its secret, and refused the moment it is revoked', async () => {
    const created = await expectJson<Created>(await s.fetch('/keys', { json: { name: 'backend' } }), 201);
    assert.match(created.secret, /^cwk-/);
    assert.ok(created.secret.startsWith(created.key.prefix));
    assert.match(created.key.createdBy ?? '', /^key cwk-/);
    const { keys } = await expectJson<{ keys: Json[] }>(await s.fetch('/keys'));
    const listed = keys.find((k) => k.id === created.key.id)!;
    assert.equal(listed.name, 'backend');
    assert.ok(!JSON.stringify(keys).includes(created.secret), 'no secret in the list');

    await expectJson(await s.fetch('/run/echo', { key: created.secret, json: {} }));
    const revoked = await expectJson<{ key: { revokedAt: string } }>(await s.fetch(`/keys/${created.key.id}`, { method: 'DELETE' }));
    assert.ok(revoked.key.revokedAt);
    await expectRuntimeError(await s.fetch('/run/echo', { key: created.secret, json: {} }), 401, 'KEY_REVOKED');
    await expectRuntimeError(await s.fetch('/keys/key_unknown', { method: 'DELETE' }), 404, 'KEY_NOT_FOUND');
  });

  test('a key with an expiry works until then and is refused after', async () => {
    const soon = new Date(Date.now() + 1500).toISOString();
    const created = await expectJson<Created>(await s.fetch('/keys', { json: { name: 'short-lived', expiresAt: soon } }), 201);
    assert.equal(created.key.expiresAt, soon);
    await expectJson(await s.fetch('/run/echo', { key: created.secret, json: {} }));
    await waitFor(() => Date.now() > Date.parse(soon) || undefined, 5000, 'the expiry');
    await expectRuntimeError(await s.fetch('/run/echo', { key: created.secret, json: {} }), 401, 'KEY_EXPIRED');
    await expectRuntimeError(await s.fetch('/keys', { json: { expiresAt: new Date(Date.now() - 1000).toISOString() } }), 400, 'INVALID_REQUEST');
    await expectRuntimeError(await s.fetch('/keys', { json: { expiresInSeconds: -5 } }), 400, 'INVALID_REQUEST');
  });

  test('a key limited to some services runs those only, and cannot make a key for more', async () => {
    const limited = await expectJson<Created>(await s.fetch('/keys', { json: { services: ['echo'] } }), 201);
    await expectJson(await s.fetch('/run/echo', { key: limited.secret, json: {} }));
    await expectRuntimeError(await s.fetch('/run/noop', { key: limited.secret, json: {} }), 403, 'KEY_SERVICE_NOT_ALLOWED');
    await expectRuntimeError(await s.fetch('/run_async/noop', { key: limited.secret, json: {} }), 403, 'KEY_SERVICE_NOT_ALLOWED');
    await expectRuntimeError(await s.fetch('/keys', { key: limited.secret, json: { services: ['noop'] } }), 403, 'KEY_SERVICE_NOT_ALLOWED');
    const child = await expectJson<Created>(await s.fetch('/keys', { key: limited.secret, json: {} }), 201);
    assert.deepEqual(child.key.services, ['echo'], 'a key it makes inherits its limit');
  });

  test('one-time keys minted over the API expire within the hour, are limited to their service, and are not spent by a refused call', async () => {
    const minted = await expectJson<Created>(await s.fetch('/keys/one-time', { json: { service: 'echo' } }), 201);
    assert.match(minted.secret, /^cwotk-/);
    assert.equal(minted.key.kind, 'one_time');
    const expiresIn = Date.parse(minted.key.expiresAt!) - Date.now();
    assert.ok(expiresIn > 0 && expiresIn <= 3600_000, `expires in ${expiresIn} ms`);
    await expectRuntimeError(await s.fetch('/run/noop', { key: minted.secret, json: {} }), 403, 'KEY_SERVICE_NOT_ALLOWED');
    // The refused call spent nothing: the key still starts its one run.
    const run = await expectJson<{ input: unknown }>(await s.fetch('/run/echo', { key: minted.secret, json: { once: true } }));
    assert.deepEqual(run.input, { once: true });
    await expectRuntimeError(await s.fetch('/run/echo', { key: minted.secret, json: {} }), 403, 'KEY_SPENT');
    // A one-time key cannot mint keys or list them.
    const other = await expectJson<Created>(await s.fetch('/keys/one-time', { json: {} }), 201);
    await expectRuntimeError(await s.fetch('/keys/one-time', { key: other.secret, json: {} }), 403, 'KEY_NOT_ALLOWED');
    await expectRuntimeError(await s.fetch('/keys', { key: other.secret }), 403, 'KEY_NOT_ALLOWED');
  });

  test('minting under concurrency gives distinct keys, and a one-time key raced by many calls starts exactly one run', async () => {
    const minted = await Promise.all(Array.from({ length: 20 }, () => s.fetch('/keys/one-time', { json: { service: 'echo' } }).then((r) => expectJson<Created>(r, 201))));
    assert.equal(new Set(minted.map((m) => m.secret)).size, 20);
    const key = minted[0]!.secret;
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => s.fetch('/run_async/echo', { key, json: { i } })));
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, ...Array<number>(11).fill(403)]);
    const winner = answers.find((r) => r.status === 200)!;
    const { request_id } = (await winner.json()) as { request_id: string };
    for (const r of answers.filter((a) => a !== winner)) assert.equal(((await r.json()) as Json).code, 'KEY_SPENT');
    // It reads its own run, and only that one.
    await expectJson(await s.fetch(`/request/${request_id}`, { key }));
  });

  test('bad bodies get clear errors', async () => {
    await expectRuntimeError(await s.fetch('/keys', { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');
    await expectRuntimeError(await s.fetch('/keys', { json: { kind: 'root' } }), 400, 'INVALID_REQUEST');
    await expectRuntimeError(await s.fetch('/keys', { json: { surprise: 1 } }), 400, 'INVALID_REQUEST');
    await expectRuntimeError(await s.fetch('/keys', { json: { services: ['../etc'] } }), 400, 'INVALID_REQUEST');
    await expectRuntimeError(await s.fetch('/keys', { json: { expiresAt: 'tomorrow' } }), 400, 'INVALID_REQUEST');
  });
});
