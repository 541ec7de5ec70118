/** Warm pools and every failure mode a worker has, each with its fixture service. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isAlive, readNdjson, startTestServer, waitFor, type TestServer } from '../helpers.js';

describe('workers', () => {
  let s: TestServer;
  before(async () => {
    process.env.RUNLET_TEST_SECRET = 'not for workers';
    s = await startTestServer({ runTimeoutSeconds: 1.5, maxWorkersPerService: 3 });
  });
  after(() => s.close());

  const pidOf = async (res: Response) => ((await res.json()) as { pid: number }).pid;

  test('calls one after another reuse the warm worker; calls at once get workers of their own', async () => {
    const first = await pidOf(await s.fetch('/run/echo', { json: {} }));
    const second = await pidOf(await s.fetch('/run/echo', { json: {} }));
    assert.equal(second, first);
    // Three calls held open at once need three workers (the pool's bound).
    const held = await Promise.all([1, 2, 3].map(() => s.fetch('/run/slow', { json: { seconds: 0.4, interval: 1 } })));
    assert.ok(held.every((r) => r.status === 200));
    assert.equal(s.server.runtime.registry.get('slow').pool.workers().length, 3);
  });

  test('a service that crashes on start answers 503 with its output, and keeps answering', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await s.fetch('/run/crash-on-start', { json: {} });
      assert.equal(res.status, 503);
      const body = (await res.json()) as { code: string; message: string; request_id: string };
      assert.equal(body.code, 'WORKER_START_FAILED');
      assert.match(body.message, /starting\.\.\./);
      assert.match(body.message, /missing configuration\n {4}at .*crash-on-start\.ts:3:\d+/, 'where the module threw');
      const record = (await (await s.fetch(`/request/${body.request_id}`)).json()) as { status: string; errorCode: string };
      assert.equal(record.status, 'failed');
      assert.equal(record.errorCode, 'WORKER_START_FAILED');
    }
    assert.equal(s.server.runtime.registry.get('crash-on-start').pool.workers().length, 0, 'a failed start never enters the pool');
  });

  test('a worker that exits mid-call fails that call only; the next call gets a fresh worker', async () => {
    const res = await s.fetch('/run/exit-mid-call', { json: {} });
    assert.equal(res.status, 502);
    const body = (await res.json()) as { code: string; message: string; request_id: string };
    assert.equal(body.code, 'WORKER_CRASHED');
    assert.match(body.message, /exited with code 7/);
    const record = (await (await s.fetch(`/request/${body.request_id}`)).json()) as { status: string; errorCode: string };
    assert.deepEqual([record.status, record.errorCode], ['failed', 'WORKER_CRASHED']);
    const lines = await readNdjson(await s.fetch(`/logs/${body.request_id}`));
    assert.ok(lines.some((l) => l.message === 'about to exit'), 'what it printed before dying is kept');
    assert.ok(lines.some((l) => l.source === 'runtime' && /exited with code 7/.test(String(l.message))));
    // The service is not wedged: its next call starts a new worker (which dies the same way).
    assert.equal((await s.fetch('/run/exit-mid-call', { json: {} })).status, 502);
    assert.equal((await s.fetch('/run/echo', { json: {} })).status, 200);
  });

  test('a hanging call is stopped at the run limit and its worker killed', async () => {
    const res = await s.fetch('/run/hang', { json: {} });
    const body = (await res.json()) as { code: string; request_id: string };
    assert.equal(body.code, 'RUN_TIMED_OUT');
    const record = (await (await s.fetch(`/request/${body.request_id}`)).json()) as { status: string };
    assert.equal(record.status, 'timed_out');
    assert.equal(s.server.runtime.registry.get('hang').pool.workers().length, 0);
  });

  test('the killed worker of a timed-out async run is really gone', async () => {
    const { request_id } = (await (await s.fetch('/run_async/hang', { json: {} })).json()) as { request_id: string };
    const pool = s.server.runtime.registry.get('hang').pool;
    const pid = await waitFor(() => pool.workers()[0]?.pid, 10_000, 'a hang worker');
    const record = (await (await s.fetch(`/result/${request_id}?timeout=20`)).json()) as { status: string; errorCode: string };
    assert.deepEqual([record.status, record.errorCode], ['timed_out', 'RUN_TIMED_OUT']);
    await waitFor(() => !isAlive(pid), 5000, 'the worker process to be gone');
  });

  test('everything a worker writes becomes its run log, in order, with sources, levels and fields', async () => {
    const res = await s.fetch('/run/noisy', { json: { lines: 300 } });
    const id = res.headers.get('x-request-id')!;
    assert.deepEqual(await res.json(), { printed: 300 });
    const lines = await readNdjson(await s.fetch(`/logs/${id}`));
    const stdout = lines.filter((l) => l.source === 'stdout').map((l) => l.message);
    assert.deepEqual(stdout, [...Array.from({ length: 300 }, (_, i) => `line ${i + 1}`), 'last-no-newline']);
    const stderr = lines.filter((l) => l.source === 'stderr');
    assert.deepEqual(stderr.map((l) => [l.message, l.level]), [['to stderr 1', 'error'], ['to stderr 2', 'error']]);
    const logged = lines.find((l) => l.source === 'logger')!;
    assert.equal(logged.level, 'warn');
    assert.deepEqual(logged.fields, { lines: 300, nested: { ok: true } });
    assert.deepEqual(lines.map((l) => l.seq), lines.map((_, i) => i + 1));
  });

  for (const stream of [false, true]) {
    test(`the log is whole when ${stream ? 'a streamed' : 'an answer sent whole'} answer has arrived; how the worker says so stays between it and the runtime`, async () => {
      const res = await s.fetch('/run/noisy', { json: { lines: 20, stream } });
      const id = res.headers.get('x-request-id')!;
      assert.equal(res.headers.get('x-runlet-output-lines'), null);
      assert.match(await res.text(), /printed/);
      const record = (await (await s.fetch(`/request/${id}`)).json()) as { status: string };
      assert.equal(record.status, 'completed', 'the run ended before its answer did');
      const stdout = (await readNdjson(await s.fetch(`/logs/${id}`))).filter((l) => l.source === 'stdout').map((l) => l.message);
      const expected = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
      assert.deepEqual(stdout, stream ? [...expected, 'while streaming', 'last-no-newline'] : [...expected, 'last-no-newline']);
    });
  }

  test('a service in another language serves through $PORT and its prints are logs', async () => {
    const res = await s.fetch('/run/py-echo/some/path', { json: { from: 'test' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { echo: { from: 'test' }, path: '/some/path', language: 'python' });
    const lines = await readNdjson(await s.fetch(`/logs/${res.headers.get('x-request-id')}`));
    assert.ok(lines.some((l) => l.message === 'python got /some/path'));
  });

  test('workers get a clean environment, and a key to call other services as the same account', async () => {
    const { env } = (await (await s.fetch('/run/env', { json: {} })).json()) as { env: Record<string, string> };
    for (const name of ['RUNLET_URL', 'RUNLET_API_KEY', 'RUNLET_SERVICE_ID', 'RUNLET_SOCKET', 'PATH']) assert.ok(env[name], name);
    assert.equal(env.RUNLET_SERVICE_ID, 'env');
    assert.equal(env.RUNLET_TEST_SECRET, undefined, "nothing of the runtime's own environment");
    assert.equal(env.HOME, undefined);
    const res = await s.fetch('/run/calls-echo', { json: { via: 'worker' } });
    const called = (await res.json()) as { fromEcho?: { input: unknown } };
    assert.equal(res.status, 200, JSON.stringify(called));
    assert.deepEqual(called.fromEcho?.input, { via: 'worker' });
  });
});
