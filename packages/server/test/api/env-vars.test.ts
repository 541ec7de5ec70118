/**
 * Environment variables (issue 6): sealed at rest, given to the account's workers, replacing
 * warm workers on change (a run in flight keeps its values), required ones answered with 424.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TEST_STORE, startTestServer, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, getRecord, startAsync } from './api-helpers.js';

const SECRET = 'sk-live-4b1d7e0f9c2a-do-not-leak';

interface EnvAnswer {
  atStart: string | null;
  atEnd: string | null;
  pid: number;
}

describe('environment variables', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  const put = (name: string, value: unknown, service?: string) => s.fetch(`/env/${name}`, { method: 'PUT', json: { value, ...(service && { service }) } });
  const runEnv = async (ms = 0) => expectJson<EnvAnswer>(await s.fetch('/run/env-slow', { json: { ms } }));

  test('a variable reaches the next run; a change replaces the warm worker, while a run in flight keeps the old value', async () => {
    await expectJson(await put('GREETING', 'hello'));
    const first = await runEnv();
    assert.equal(first.atStart, 'hello');

    const inFlight = s.fetch('/run/env-slow', { json: { ms: 1500 } }).then((r) => expectJson<EnvAnswer>(r));
    // Change it once the slow run is executing.
    await new Promise((r) => setTimeout(r, 400));
    await expectJson(await put('GREETING', 'bonjour'));
    const next = await runEnv();
    assert.equal(next.atStart, 'bonjour', 'the next run sees the new value');
    assert.notEqual(next.pid, first.pid, 'on a new worker');
    const old = await inFlight;
    assert.equal(old.atStart, 'hello');
    assert.equal(old.atEnd, 'hello', 'the run in flight kept its environment to the end');
  });

  test("a service's own value overrides the account's; deleting it falls back", async () => {
    await expectJson(await put('GREETING', 'service-only', 'env-slow'));
    assert.equal((await runEnv()).atStart, 'service-only');
    const scoped = await expectJson<{ variables: { name: string; service: string; maskedValue: string }[] }>(await s.fetch('/env?service=env-slow'));
    assert.deepEqual(scoped.variables.map((v) => [v.name, v.service]), [['GREETING', 'env-slow']]);
    const del = await s.fetch('/env/GREETING?service=env-slow', { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal((await runEnv()).atStart, 'bonjour');
    await expectRuntimeError(await s.fetch('/env/GREETING?service=env-slow', { method: 'DELETE' }), 404, 'ENV_NOT_FOUND');
  });

  test('values are listed masked, and never appear in records, logs or errors', async () => {
    await expectJson(await put('API_TOKEN', SECRET));
    const { variables } = await expectJson<{ variables: { name: string; maskedValue: string }[] }>(await s.fetch('/env'));
    const token = variables.find((v) => v.name === 'API_TOKEN')!;
    assert.ok(!token.maskedValue.includes(SECRET.slice(0, 6)));
    const id = await startAsync(s, 'needs-secret', {});
    const record = await expectJson(await s.fetch(`/result/${id}?timeout=20`));
    assert.deepEqual(record.responseJson, { tokenLength: SECRET.length }, 'the service got the value');
    const logs = await (await s.fetch(`/logs/${id}`)).text();
    for (const text of [JSON.stringify(record), JSON.stringify(await getRecord(s, id)), logs, JSON.stringify(variables)]) assert.ok(!text.includes(SECRET));
  });

  test('values are sealed at rest: the database never holds them in the clear', async () => {
    if (TEST_STORE === 'postgres') {
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: s.server.runtime.config.database });
      await client.connect();
      const { rows } = await client.query<{ sealed: string }>("SELECT sealed FROM env_vars WHERE name = 'API_TOKEN'");
      const dump = await client.query("SELECT string_agg(t::text, '') AS all FROM env_vars t");
      await client.end();
      assert.equal(rows.length, 1);
      assert.match(rows[0]!.sealed, /^v1\./);
      assert.ok(!String(dump.rows[0].all).includes(SECRET));
    } else {
      const files = ['runlet.db', 'runlet.db-wal'].map((f) => path.join(s.dataDir, f)).filter(existsSync);
      assert.ok(files.length > 0);
      for (const file of files) assert.ok(!readFileSync(file).includes(SECRET), `${path.basename(file)} holds no clear value`);
    }
    const keyFile = path.join(s.dataDir, 'secret.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600, 'the generated master key is readable by its owner only');
  });

  test('a service that declares a variable answers 424 naming it, before anything is recorded', async () => {
    await expectJson(await s.fetch('/env/API_TOKEN', { method: 'DELETE' }), 204).catch(() => undefined);
    const before = (await expectJson<{ runs: unknown[] }>(await s.fetch('/runs?service=needs-secret&limit=200'))).runs.length;
    const sync = await expectRuntimeError(await s.fetch('/run/needs-secret', { json: {} }), 424, 'ENV_MISSING');
    assert.match(sync.message, /API_TOKEN/);
    assert.deepEqual(sync.details, { missing: ['API_TOKEN'] });
    await expectRuntimeError(await s.fetch('/run_async/needs-secret', { json: {} }), 424, 'ENV_MISSING');
    const after = (await expectJson<{ runs: unknown[] }>(await s.fetch('/runs?service=needs-secret&limit=200'))).runs.length;
    assert.equal(after, before, 'no run was recorded');
    // Set for that service only, it is enough.
    await expectJson(await put('API_TOKEN', 'abc', 'needs-secret'));
    assert.deepEqual(await expectJson(await s.fetch('/run/needs-secret', { json: {} })), { tokenLength: 3 });
  });

  test('bad names and values are refused with clear codes', async () => {
    for (const name of ['1ABC', 'RUNLET_API_KEY', 'PATH', 'NODE_OPTIONS', 'A-B', 'x'.repeat(129)]) {
      await expectRuntimeError(await put(name, 'v'), 400, 'ENV_NAME_INVALID').catch((err: Error) => assert.fail(`${name}: ${err.message}`));
    }
    await expectRuntimeError(await put('GOOD', 42), 400, 'INVALID_REQUEST');
    await expectRuntimeError(await put('GOOD', 'a\0b'), 400, 'ENV_VALUE_INVALID');
    await expectRuntimeError(await put('GOOD', 'x'.repeat(33 * 1024)), 400, 'ENV_VALUE_INVALID');
    await expectRuntimeError(await put('GOOD', 'v', '../x'), 400, 'INVALID_REQUEST');
    const one = await s.newKey('one_time');
    await expectRuntimeError(await s.fetch('/env', { key: one }), 403, 'KEY_NOT_ALLOWED');
  });
});
