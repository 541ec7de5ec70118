/**
 * The account-wide reads the dashboard is built on: GET /services, GET /runs (filters, cursor,
 * the account's own runs only), GET /runs/{id} (with its input) and GET /usage.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey } from '../../src/keys/key-admin.js';
import { EXAMPLE_SERVICES, startTestServer, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, startAsync, type Json } from './api-helpers.js';

type RunList = { runs: Json[]; nextCursor: string | null };

describe('GET /services, /runs, /runs/{id}, /usage', () => {
  let s: TestServer;
  let otherKey: string;
  const ids: string[] = [];
  before(async () => {
    s = await startTestServer({ servicesDir: EXAMPLE_SERVICES });
    const store = s.server.runtime.store;
    otherKey = (await createKey(store, (await store.createAccount('someone else')).id, 'standard', 'other')).key;
    // Sync runs end before the next starts, so their order (newest first) is known.
    for (const input of [{ n: 1 }, { n: 2 }, { n: 3 }]) {
      const res = await s.fetch('/run/echo', { json: input });
      await expectJson(res);
      ids.push(res.headers.get('x-request-id')!);
    }
    // One run the service fails (it answers 500), one the runtime fails (the worker dies).
    await s.fetch('/run/fail', { json: {} });
    await s.fetch('/run/fail', { json: { crash: true } });
    await expectJson(await s.fetch('/run/echo', { json: { mine: false }, key: otherKey }));
  });
  after(() => s.close());

  test('services: each with its description, input schema and language', async () => {
    const { services } = await expectJson<{ services: Json[] }>(await s.fetch('/services'));
    const byId = new Map(services.map((x) => [x.id, x]));
    assert.ok(byId.has('echo') && byId.has('slow') && byId.has('hello-python'), `got ${[...byId.keys()]}`);
    const slow = byId.get('slow')!;
    assert.match(String(slow.description), /Sleeps/);
    assert.equal(slow.language, 'typescript');
    const schema = slow.inputSchema as { properties?: Record<string, unknown> };
    assert.ok(schema?.properties?.seconds, 'the input schema names its fields');
    assert.equal(byId.get('hello-python')!.language, 'command');
    assert.deepEqual([...byId.keys()], [...byId.keys()].sort(), 'sorted by id');
  });

  test("runs: the account's own, newest first, filtered and paged", async () => {
    const all = await expectJson<RunList>(await s.fetch('/runs'));
    assert.equal(all.nextCursor, null);
    assert.equal(all.runs.length, 5, "three echo runs and two fail runs, not the other account's");
    assert.equal(all.runs[0]!.serviceId, 'fail');
    const echoes = await expectJson<RunList>(await s.fetch('/runs?service=echo'));
    assert.deepEqual(echoes.runs.map((r) => r.id), [...ids].reverse());
    const failed = await expectJson<RunList>(await s.fetch('/runs?status=failed'));
    assert.deepEqual(failed.runs.map((r) => r.serviceId), ['fail']);

    const first = await expectJson<RunList>(await s.fetch('/runs?service=echo&limit=2'));
    assert.deepEqual(first.runs.map((r) => r.id), [ids[2], ids[1]]);
    assert.ok(first.nextCursor);
    const second = await expectJson<RunList>(await s.fetch(`/runs?service=echo&limit=2&cursor=${encodeURIComponent(first.nextCursor!)}`));
    assert.deepEqual(second.runs.map((r) => r.id), [ids[0]]);
    assert.equal(second.nextCursor, null);

    const others = await expectJson<RunList>(await s.fetch('/runs', { key: otherKey }));
    assert.equal(others.runs.length, 1);
  });

  test('runs: bad filters and cursors are INVALID_REQUEST; a one-time key may not list', async () => {
    await expectRuntimeError(await s.fetch('/runs?status=bogus'), 400, 'INVALID_REQUEST');
    await expectRuntimeError(await s.fetch('/runs?limit=0'), 400, 'INVALID_REQUEST');
    await expectRuntimeError(await s.fetch('/runs?cursor=not-a-cursor'), 400, 'INVALID_REQUEST');
    const oneTime = await s.newKey('one_time');
    for (const url of ['/runs', '/services', '/usage']) await expectRuntimeError(await s.fetch(url, { key: oneTime }), 403, 'KEY_NOT_ALLOWED');
    await expectRuntimeError(await s.fetch('/runs', { key: null }), 401, 'AUTH_MISSING');
  });

  test('one run with its input; another account sees no such run', async () => {
    const run = await expectJson<Json>(await s.fetch(`/runs/${ids[0]}`));
    assert.deepEqual(JSON.parse(String(run.input)), { n: 1 });
    assert.match(String(run.inputContentType), /json/);
    assert.equal(run.status, 'completed');
    await expectRuntimeError(await s.fetch(`/runs/${ids[0]}`, { key: otherKey }), 404, 'RUN_NOT_FOUND');
  });

  test('usage: runs per hour, durations and error rate per service, by day and week', async () => {
    const day = await expectJson<{ window: string; since: string; services: Json[] }>(await s.fetch('/usage'));
    assert.equal(day.window, 'day');
    const echo = day.services.find((x) => x.serviceId === 'echo')!;
    assert.equal(echo.runs, 3);
    assert.equal(echo.errorRate, 0);
    assert.equal((echo.runsPerHour as number[]).length, 24);
    assert.equal((echo.runsPerHour as number[]).reduce((a, b) => a + b), 3, 'every run counted in an hour of the window');
    assert.equal(typeof echo.p50DurationMs, 'number');
    assert.ok(Number(echo.p95DurationMs) >= Number(echo.p50DurationMs));
    const fail = day.services.find((x) => x.serviceId === 'fail')!;
    assert.equal(fail.runs, 2);
    assert.equal(fail.errorRate, 1, 'a 5xx answer and a crash are both errors');
    const week = await expectJson<{ services: Json[] }>(await s.fetch('/usage?window=week'));
    assert.equal((week.services.find((x) => x.serviceId === 'echo')!.runsPerHour as number[]).length, 168);
    await expectRuntimeError(await s.fetch('/usage?window=year'), 400, 'INVALID_REQUEST');
  });

  test('an async run appears in the list at once, while it is still going', async () => {
    const id = await startAsync(s, 'slow', { seconds: 0.2, interval: 0.1 });
    const { runs } = await expectJson<RunList>(await s.fetch('/runs?service=slow'));
    assert.equal(runs[0]!.id, id);
  });
});
