/**
 * The TypeScript client retries calls that start work (run, start, provision, and the
 * CodeWords-style runService/runAsync) after a network error, a gateway's 502/503/504, or the
 * runtime's own 503 asking for a retry (its store failing, or the node stopping), with one
 * Idempotency-Key for every try: against a live server, a try whose answer was lost and its
 * retry make one run, not two.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServiceClient, RunletClient, RunTimeoutError, ServiceError } from '../src/index.js';
import { freePort, freshDatabase, TEST_STORE, waitFor, type TestServer } from '../../server/test/helpers.js';
import { storeOutageFor } from '../../server/test/store-outage.js';
import { startClientServer } from './support.js';

let server: TestServer;
before(async () => {
  server = await startClientServer();
});
after(async () => {
  await server.close();
});

interface Sent {
  method: string;
  path: string;
  idempotencyKey: string | null;
  /** The status the server answered (before any loss), and when the request was sent. */
  status?: number;
  at: number;
}

/**
 * A fetch that records every request and, for the first `times` requests to paths matching
 * `lose`, lets the server receive and answer them but loses the answer: `drop` throws as a
 * broken connection does, `gateway` answers 504 as a proxy that gave up waiting does.
 */
function lossyFetch(lose: RegExp, mode: 'drop' | 'gateway', times = 1): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  let lost = 0;
  const wrapped: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    const entry: Sent = { method: init?.method ?? 'GET', path: url.pathname, idempotencyKey: headers.get('idempotency-key'), at: Date.now() };
    sent.push(entry);
    const res = await fetch(input, init);
    entry.status = res.status;
    if (!lose.test(url.pathname) || lost >= times) return res;
    lost++;
    await res.arrayBuffer();
    if (mode === 'gateway') return new Response('<html>504 Gateway Time-out</html>', { status: 504, headers: { 'content-type': 'text/html' } });
    throw new TypeError('fetch failed');
  };
  return { fetch: wrapped, sent };
}

const accountRuns = async (serviceId: string) => {
  const account = await server.server.runtime.store.defaultAccount();
  return server.server.runtime.store.listRuns({ accountId: account.id, serviceId, limit: 1000 });
};
const provisionedIds = async () => {
  const account = await server.server.runtime.store.defaultAccount();
  return (await server.server.runtime.store.listRuns({ accountId: account.id, status: 'provisioned', limit: 1000 })).map((r) => r.id);
};

/** The tries of one call: how many, and that they all carried the same key. */
function triesOf(sent: Sent[], path: RegExp): Sent[] {
  const tries = sent.filter((s) => path.test(s.path));
  assert.ok(tries.length > 0);
  for (const t of tries) assert.match(t.idempotencyKey ?? '', /^[0-9a-f]{32}$/, 'every try carries a key');
  assert.equal(new Set(tries.map((t) => t.idempotencyKey)).size, 1, 'one key for all the tries of one call');
  return tries;
}

describe('the TypeScript client retries with one idempotency key', () => {
  test('start(): the answer of the first try is lost; the retry gets the same run, and only one exists', async () => {
    const { fetch, sent } = lossyFetch(/^\/run_async\/echo/, 'drop');
    const client = new RunletClient({ apiKey: server.key, baseUrl: server.url, fetch });
    const before = (await accountRuns('echo')).length;
    const handle = await client.start('echo', { call: 'start' });
    assert.equal(triesOf(sent, /^\/run_async\//).length, 2);
    const output = (await handle.result({ timeoutMs: 30_000 })) as { requestId: string };
    assert.equal(output.requestId, handle.requestId);
    assert.equal((await accountRuns('echo')).length, before + 1, 'one run, not two');
  });

  test('run(): a sync call whose answer was lost is retried and answered by the one run it started', async () => {
    const { fetch, sent } = lossyFetch(/^\/run\/echo/, 'drop');
    const client = new RunletClient({ apiKey: server.key, baseUrl: server.url, fetch });
    const before = (await accountRuns('echo')).length;
    const output = (await client.run('echo', { call: 'run' })) as { input: unknown; requestId: string };
    assert.deepEqual(output.input, { call: 'run' });
    assert.equal(triesOf(sent, /^\/run\/echo/).length, 2);
    assert.equal((await accountRuns('echo')).length, before + 1);
    // The provision before it was one call with a key of its own.
    const provisionKey = triesOf(sent, /^\/provision-request$/)[0]!.idempotencyKey;
    assert.notEqual(provisionKey, sent.find((s) => s.path.startsWith('/run/'))!.idempotencyKey);
  });

  test("provision(): a gateway's 504 is retried and hands out the one id", async () => {
    const { fetch, sent } = lossyFetch(/^\/provision-request$/, 'gateway', 2);
    const client = new RunletClient({ apiKey: server.key, baseUrl: server.url, fetch });
    const before = (await provisionedIds()).length;
    const id = await client.provision();
    assert.equal(triesOf(sent, /^\/provision-request$/).length, 3);
    assert.equal((await client.details(id)).status, 'provisioned');
    const after = await provisionedIds();
    assert.equal(after.length, before + 1, 'one id handed out, not three');
    assert.ok(after.includes(id));
  });

  test('the CodeWords-style surface: runAsync and runService retry with a key too', async () => {
    const lossyAsync = lossyFetch(/^\/run_async\/echo/, 'gateway');
    const lossySync = lossyFetch(/^\/run\/echo/, 'gateway');
    const before = (await accountRuns('echo')).length;
    const id = await createServiceClient(server.key, undefined, server.url, { fetch: lossyAsync.fetch }).runAsync('echo', '', { call: 'runAsync' });
    const out = await createServiceClient(server.key, undefined, server.url, { fetch: lossySync.fetch }).runService<{ input: unknown }>('echo', '', { call: 'runService' });
    assert.deepEqual(out.input, { call: 'runService' });
    assert.equal(triesOf(lossyAsync.sent, /^\/run_async\/echo/).length, 2);
    assert.equal(triesOf(lossySync.sent, /^\/run\/echo/).length, 2);
    assert.ok((await accountRuns('echo')).some((r) => r.id === id));
    assert.equal((await accountRuns('echo')).length, before + 2, 'one run for each call');
  });

  test("a service's own 503 is its answer, not a gateway's: it is not retried", async () => {
    const { fetch, sent } = lossyFetch(/^$/, 'drop');
    const client = new RunletClient({ apiKey: server.key, baseUrl: server.url, fetch });
    await assert.rejects(client.run('refuse', { status: 503 }), (err: unknown) => err instanceof ServiceError && err.response?.status === 503);
    assert.equal(sent.filter((s) => s.path.startsWith('/run/refuse')).length, 1);
  });

  test('a key given by the caller is the one sent', async () => {
    const { fetch, sent } = lossyFetch(/^\/run_async\/echo/, 'drop');
    const client = new RunletClient({ apiKey: server.key, baseUrl: server.url, fetch });
    const key = `mine-${Date.now()}`;
    const first = await client.start('echo', { n: 1 }, { idempotencyKey: key });
    const again = await client.start('echo', { n: 1 }, { idempotencyKey: key });
    assert.equal(again.requestId, first.requestId, 'the same key later answers the same run');
    assert.deepEqual(new Set(sent.map((s) => s.idempotencyKey)), new Set([key]));
  });
});

describe(`the TypeScript client rides out a store that fails for a moment (${TEST_STORE})`, () => {
  test("run(): the runtime's 503 STORE_UNAVAILABLE is sent again after its Retry-After, and goes through once the store is back", async () => {
    const { fetch, sent } = lossyFetch(/^$/, 'drop');
    const client = new RunletClient({ apiKey: server.key, baseUrl: server.url, fetch });
    const before = (await accountRuns('echo')).length;
    const { back } = await storeOutageFor(server, 1000);
    const output = (await client.run('echo', { call: 'through an outage' })) as { input: unknown };
    await back;
    assert.deepEqual(output.input, { call: 'through an outage' });
    const provisions = triesOf(sent, /^\/provision-request$/);
    assert.equal(provisions[0]!.status, 503, 'the first try was refused');
    assert.equal(provisions.at(-1)!.status, 200);
    // The runtime asks for 5 s (Retry-After); the store was back after 1 s, so one wait sufficed.
    assert.equal(provisions.length, 2);
    assert.ok(provisions[1]!.at - provisions[0]!.at >= 4500, `the retry waited for Retry-After (${provisions[1]!.at - provisions[0]!.at} ms)`);
    assert.equal((await accountRuns('echo')).length, before + 1, 'one run');
  });

  test('wait() gives up at its own timeout, not after the longer Retry-After the runtime asks for', async () => {
    const client = new RunletClient({ apiKey: server.key, baseUrl: server.url });
    const handle = await client.start('sleeper', { ms: 6000 });
    const { back } = await storeOutageFor(server, 3000);
    const started = Date.now();
    // On PostgreSQL the poll is refused with Retry-After: 5; on SQLite it long-polls. Either way: 1.5 s.
    await assert.rejects(handle.wait({ timeoutMs: 1500 }), RunTimeoutError);
    const waited = Date.now() - started;
    await back;
    assert.ok(waited < 4500, `gave up after ${waited} ms`);
  });

  test('details(), wait() and logs() go on through the outage and end with the run', async () => {
    const { fetch, sent } = lossyFetch(/^$/, 'drop');
    const client = new RunletClient({ apiKey: server.key, baseUrl: server.url, fetch });
    const handle = await client.start('ticker', { count: 6, intervalMs: 400 });
    const lines: string[] = [];
    const following = (async () => {
      for await (const line of handle.logs()) lines.push(line.message);
    })();
    await waitFor(() => lines.includes('tick 1') || undefined, 20_000, 'the first log line');
    const { back } = await storeOutageFor(server, 1500);
    const now = await handle.details();
    assert.equal(now.id, handle.requestId);
    const record = await handle.wait({ timeoutMs: 60_000 });
    await back;
    await following;
    assert.equal(record.status, 'completed');
    assert.deepEqual(record.responseJson, { ticks: 6 });
    assert.equal(lines[0], 'tick 1', 'the lines from before the outage were read');
    if (TEST_STORE === 'postgres') {
      // PostgreSQL refuses reads too: they were refused, then tried again.
      assert.ok(sent.some((s) => s.status === 503 && s.path.startsWith('/request/')), 'details() was refused during the outage');
    }
  });
});

test(`start(): refused 503 SHUTTING_DOWN by a node that drains, it is sent again after Retry-After and lands on the node restarted in its place (${TEST_STORE})`, async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'runlet-client-restart-'));
  const database = TEST_STORE === 'postgres' ? await freshDatabase() : undefined;
  // The same address, data and database: a node restarted in place, as a deploy does.
  const settings = { port: await freePort(), dataDir, database: database?.url };
  const first = await startClientServer(settings);
  let second: TestServer | undefined;
  try {
    const { fetch, sent } = lossyFetch(/^$/, 'drop');
    const client = new RunletClient({ apiKey: first.key, baseUrl: first.url, fetch });
    // A sync call in flight keeps the first node draining for a while.
    const inFlight = first.fetch('/run/sleeper', { json: { ms: 2500 } });
    await waitFor(async () => ((await (await first.fetch('/runs?service=sleeper&status=running')).json()) as { runs: unknown[] }).runs.length > 0 || undefined, 30_000, 'the sleeper to run');
    const closing = first.close();
    await waitFor(async () => (await globalThis.fetch(`${first.url}/healthz`)).status === 503 || undefined, 10_000, 'the node to drain');
    const starting = client.start('echo-input', { call: 'across a restart' });
    assert.equal((await inFlight).status, 200, 'the call in flight finished');
    await closing;
    second = await startClientServer(settings);
    const handle = await starting;
    const output = (await handle.result({ timeoutMs: 30_000 })) as { input: unknown };
    assert.deepEqual(output.input, { call: 'across a restart' });
    const tries = triesOf(sent, /^\/run_async\/echo-input/);
    assert.equal(tries[0]!.status, 503, 'the draining node refused it');
    assert.equal(tries.at(-1)!.status, 200, 'the restarted node took it');
    assert.ok(tries[1]!.at - tries[0]!.at >= 4500, `the retry waited for Retry-After (${tries[1]!.at - tries[0]!.at} ms)`);
  } finally {
    await second?.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
