/**
 * One-time (cwotk-) keys: spent atomically by the first call that starts or provisions a run,
 * then good only for reading that run; provision-then-run (what the official clients do)
 * starts exactly one run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readNdjson, startTestServer, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, startAsync, type Json } from './api-helpers.js';

const CONCURRENT = 50;

describe('one-time keys', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  /** Fires `CONCURRENT` identical calls at once; answers the winners and checks that every other one is KEY_SPENT. */
  const race = async (path: string, key: string, headers: Record<string, string> = {}): Promise<Response[]> => {
    const answers = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => s.fetch(path, { json: { i }, key, headers })));
    const won = answers.filter((r) => r.status >= 200 && r.status < 300);
    const lost = answers.filter((r) => !(r.status >= 200 && r.status < 300));
    for (const r of lost) await expectRuntimeError(r, 403, 'KEY_SPENT');
    return won;
  };

  for (const endpoint of ['/run_async/echo', '/run/echo']) {
    test(`${CONCURRENT} concurrent ${endpoint} calls with one fresh key: exactly one runs, ${CONCURRENT - 1} get 403 KEY_SPENT`, async () => {
      const key = await s.newKey('one_time');
      assert.match(key, /^cwotk-/);
      // Workers are warm: a sync call takes one before its run is recorded, so losers hold some too.
      for (const r of await Promise.all([1, 2, 3].map(() => s.fetch('/run/echo', { json: {} })))) await expectJson(r);
      const won = await race(endpoint, key);
      assert.equal(won.length, 1, 'exactly one call won');
      const runId = won[0]!.headers.get('x-request-id')!;
      const answer = (await won[0]!.json()) as Json;
      if (endpoint === '/run/echo') assert.equal(answer.requestId, runId);
      else assert.equal(answer.request_id, runId);
      // Exactly one run exists for the key: the store says the key was spent on the winner.
      const account = await s.server.runtime.store.defaultAccount();
      const record = (await s.server.runtime.store.listApiKeys(account.id)).find((k) => k.kind === 'one_time' && k.spentRunId === runId);
      assert.ok(record?.spentAt, 'the key is spent on the winning run');
      const done = await expectJson<Json>(await s.fetch(`/result/${runId}?timeout=30`, { key }));
      assert.equal(done.status, 'completed');
      // A refused call gives back any worker it took for its run.
      const { pool } = s.server.runtime.registry.get('echo');
      await waitFor(() => pool.stats.busy === 0, 5000, 'every worker to be free');
    });
  }

  test('a spent key reads its own run (result, request, logs) and nothing else, and starts nothing more', async () => {
    const key = await s.newKey('one_time');
    const runId = await startAsync(s, 'noisy', { lines: 3 }, { key });
    const result = await expectJson<Json>(await s.fetch(`/result/${runId}?timeout=30`, { key }));
    assert.equal(result.id, runId);
    assert.equal(result.status, 'completed');
    const record = await expectJson<Json>(await s.fetch(`/request/${runId}`, { key }));
    assert.equal(record.id, runId);
    const logs = await s.fetch(`/logs/${runId}`, { key });
    assert.equal(logs.status, 200);
    const lines = await readNdjson(logs);
    assert.ok(lines.some((l) => l.message === 'line 3'), 'the run log, read with the spent key');

    // Another run of the same account is not this key's run.
    const other = await startAsync(s, 'echo', {});
    await expectJson(await s.fetch(`/result/${other}?timeout=30`));
    for (const path of [`/result/${other}`, `/request/${other}`, `/logs/${other}`]) {
      await expectRuntimeError(await s.fetch(path, { key }), 404, 'RUN_NOT_FOUND');
    }
    // And nothing new can be started or provisioned.
    await expectRuntimeError(await s.fetch('/run/echo', { json: {}, key }), 403, 'KEY_SPENT');
    await expectRuntimeError(await s.fetch('/run_async/echo', { json: {}, key }), 403, 'KEY_SPENT');
    await expectRuntimeError(await s.fetch('/provision-request', { method: 'POST', key }), 403, 'KEY_SPENT');
  });

  test('provision, then run with the provisioned id: works once, as the official clients do it; a second run fails', async () => {
    const key = await s.newKey('one_time');
    const { request_id: id } = await expectJson<{ request_id: string }>(await s.fetch('/provision-request', { method: 'POST', key }));
    // The key is spent by provisioning: it reads the provisioned id, and starts nothing else.
    assert.equal((await expectJson<Json>(await s.fetch(`/request/${id}`, { key }))).status, 'provisioned');
    await expectRuntimeError(await s.fetch('/run/echo', { json: {}, key }), 403, 'KEY_SPENT');

    const run = await s.fetch('/run/echo', { json: { via: 'provisioned' }, key, headers: { 'x-provisioned-request-id': id } });
    assert.equal(run.status, 200);
    assert.equal(run.headers.get('x-request-id'), id);
    assert.deepEqual(((await run.json()) as Json).input, { via: 'provisioned' });
    const record = await expectJson<Json>(await s.fetch(`/result/${id}?timeout=30`, { key }));
    assert.equal(record.status, 'completed');
    assert.equal((await s.fetch(`/logs/${id}`, { key })).status, 200);

    await expectRuntimeError(await s.fetch('/run/echo', { json: {}, key, headers: { 'x-provisioned-request-id': id } }), 409, 'PROVISION_USED');
    await expectRuntimeError(await s.fetch('/run_async/echo', { json: {}, key, headers: { 'x-provisioned-request-id': id } }), 409, 'PROVISION_USED');
    await expectRuntimeError(await s.fetch('/run_async/echo', { json: {}, key }), 403, 'KEY_SPENT');
  });

  test(`${CONCURRENT} concurrent provisions with one key: exactly one id; then ${CONCURRENT} concurrent runs of it: exactly one starts`, async () => {
    const key = await s.newKey('one_time');
    const provisions = await race('/provision-request', key);
    assert.equal(provisions.length, 1);
    const { request_id: id } = (await provisions[0]!.json()) as { request_id: string };

    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) => s.fetch('/run_async/echo', { json: { i }, key, headers: { 'x-provisioned-request-id': id } })),
    );
    const won = answers.filter((r) => r.status === 200);
    assert.equal(won.length, 1, 'the provisioned run started exactly once');
    assert.deepEqual(await won[0]!.json(), { request_id: id });
    for (const r of answers.filter((a) => a.status !== 200)) await expectRuntimeError(r, 409, 'PROVISION_USED');
    assert.equal((await expectJson<Json>(await s.fetch(`/result/${id}?timeout=30`, { key }))).status, 'completed');
  });

  test('a call refused for bad input does not spend the key', async () => {
    const key = await s.newKey('one_time');
    await expectRuntimeError(await s.fetch('/run/no-such-service', { json: {}, key }), 404, 'SERVICE_NOT_FOUND');
    await expectRuntimeError(await s.fetch('/run_async/echo', { method: 'POST', body: '{"half": ', key, headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON');
    await expectRuntimeError(await s.fetch('/run/echo', { json: {}, key, headers: { 'x-provisioned-request-id': 'req_unknown' } }), 404, 'PROVISION_NOT_FOUND');
    const res = await s.fetch('/run/echo', { json: { finally: true }, key });
    assert.equal(res.status, 200, 'the key was still unspent');
    await expectRuntimeError(await s.fetch('/run/echo', { json: {}, key }), 403, 'KEY_SPENT');
  });
});
