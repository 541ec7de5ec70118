import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuthError, NotFoundError, RunFailedError, RunletClient, RunletError, RunTimeoutError, ServiceError, type LogLine } from '../src/index.js';
import type { TestServer } from '../../server/test/helpers.js';
import { startClientServer, startCuttingProxy } from './support.js';

let server: TestServer;
let client: RunletClient;

/** A client whose every request URL is recorded, to check what went on the wire. */
function recordingClient(options: { apiKey?: string; baseUrl?: string } = {}): { client: RunletClient; urls: string[] } {
  const urls: string[] = [];
  const c = new RunletClient({
    apiKey: options.apiKey ?? server.key,
    baseUrl: options.baseUrl ?? server.url,
    fetch: (input, init) => {
      urls.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}${new URL(String(input)).search}`);
      return fetch(input, init);
    },
  });
  return { client: c, urls };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

before(async () => {
  server = await startClientServer();
  client = new RunletClient({ apiKey: server.key, baseUrl: server.url });
});
after(async () => {
  await server.close();
});

describe('auth', () => {
  test('a Bearer key and a bare key both work', async () => {
    for (const authScheme of ['bearer', 'bare'] as const) {
      const c = new RunletClient({ apiKey: server.key, baseUrl: server.url, authScheme });
      const out = await c.run<unknown, { input: unknown }>('echo-input', { scheme: authScheme });
      assert.deepEqual(out.input, { scheme: authScheme });
    }
  });

  test('an unknown key is an AuthError with the runtime code', async () => {
    const c = new RunletClient({ apiKey: 'cwk-not-a-real-key', baseUrl: server.url });
    const err = await rejection(c.run('echo-input', {}));
    assert.ok(err instanceof AuthError);
    assert.equal(err.code, 'AUTH_INVALID');
    assert.equal(err.status, 401);
  });

  test('a one-time key starts one run, reads it, and starts nothing else', async () => {
    const oneTime = new RunletClient({ apiKey: await server.newKey('one_time'), baseUrl: server.url });
    assert.equal(oneTime.keyType, 'one_time');
    const out = await oneTime.run<unknown, { requestId: string; input: unknown }>('echo-input', { once: true });
    assert.deepEqual(out.input, { once: true });
    const record = await oneTime.details(out.requestId);
    assert.equal(record.status, 'completed');
    const again = await rejection(oneTime.run('echo-input', {}));
    assert.ok(again instanceof AuthError);
    assert.equal(again.code, 'KEY_SPENT');

    const background = new RunletClient({ apiKey: await server.newKey('one_time'), baseUrl: server.url });
    const handle = await background.start('ticker', { count: 2, intervalMs: 1 });
    assert.deepEqual(await handle.result(), { ticks: 2 });
    const lines: LogLine[] = [];
    for await (const line of handle.logs()) lines.push(line);
    assert.deepEqual(lines.map((l) => l.message), ['tick 1', 'tick 2']);
    assert.equal((await rejection(background.start('ticker', {})) as RunletError).code, 'KEY_SPENT');
  });
});

describe('sync runs', () => {
  test('input, sub-path, query and correlation id reach the service; its JSON comes back', async () => {
    const out = await client.run<{ a: number }, { input: unknown; path: string; query: Record<string, string>; correlationId: string; method: string }>(
      'echo-input',
      { a: 1 },
      { path: 'deep/er', query: { q: 'x y' }, correlationId: 'corr-1' },
    );
    assert.deepEqual(out.input, { a: 1 });
    assert.equal(out.path, 'deep/er');
    assert.deepEqual(out.query, { q: 'x y' });
    assert.equal(out.correlationId, 'corr-1');
    assert.equal(out.method, 'POST');
  });

  test("a service's own non-2xx answer is a ServiceError with its status and body", async () => {
    const err = await rejection(client.run('refuse', { status: 409, message: 'no thanks' }));
    assert.ok(err instanceof ServiceError);
    assert.equal(err.status, 409);
    assert.deepEqual(err.body, { error: 'no thanks', status: 409 });
    assert.match(err.requestId ?? '', /^req_/);
    // The service's 404 is the service's, not a missing service.
    const notFound = await rejection(client.run('refuse', { status: 404 }));
    assert.ok(notFound instanceof ServiceError && !(notFound instanceof NotFoundError));
  });

  test('an unknown service or request is a NotFoundError', async () => {
    const svc = await rejection(client.run('no-such-service', {}));
    assert.ok(svc instanceof NotFoundError);
    assert.equal(svc.code, 'SERVICE_NOT_FOUND');
    const run = await rejection(client.handle('req_doesnotexist').details());
    assert.ok(run instanceof NotFoundError);
    assert.equal(run.code, 'RUN_NOT_FOUND');
  });

  test('a worker that dies mid-call is a RunletError with its code, sync and async', async () => {
    const sync = await rejection(client.run('crash', {}));
    assert.ok(sync instanceof RunletError);
    assert.equal(sync.code, 'WORKER_CRASHED');
    const handle = await client.start('crash', {});
    const failed = await rejection(handle.result());
    assert.ok(failed instanceof RunFailedError);
    assert.equal(failed.code, 'WORKER_CRASHED');
    assert.equal(failed.requestId, handle.requestId);
    assert.equal(failed.record?.status, 'failed');
  });

  test('timeoutMs stops the wait with the request id; the run goes on and its result is kept', async () => {
    const err = await rejection(client.run('sleeper', { ms: 1500 }, { timeoutMs: 200 }));
    assert.ok(err instanceof RunTimeoutError);
    assert.match(err.requestId ?? '', /^req_/);
    assert.deepEqual(await client.handle(err.requestId!).result(), { slept: 1500, input: { ms: 1500 } });
  });

  test('an aborted signal rejects the call', async () => {
    const controller = new AbortController();
    const pending = client.run('sleeper', { ms: 1000 }, { signal: controller.signal });
    controller.abort();
    const err = await rejection(pending);
    assert.equal((err as Error).name, 'AbortError');
  });

  test('a Server-Sent Events answer streams event by event', async () => {
    const events = [];
    for await (const e of client.runStream('events', { count: 3 })) events.push(e.data);
    assert.deepEqual(events, [{ n: 1 }, { n: 2 }, { n: 3 }]);
  });
});

describe('async runs', () => {
  test('start answers a handle; result() is the service output, details() the record', async () => {
    const handle = await client.start<{ count: number; intervalMs: number }, { ticks: number }>('ticker', { count: 3, intervalMs: 1 });
    assert.match(handle.requestId, /^req_/);
    const out: { ticks: number } = await handle.result();
    assert.deepEqual(out, { ticks: 3 });
    const record = await handle.details();
    assert.equal(record.mode, 'async');
    assert.equal(record.responseStatus, 200);
    assert.deepEqual(record.responseJson, { ticks: 3 });
  });

  test('waiting long-polls /result in seconds and gives up with RunTimeoutError at timeoutMs', async () => {
    const { client: c, urls } = recordingClient();
    const handle = await c.start('sleeper', { ms: 2500 });
    const err = await rejection(handle.wait({ timeoutMs: 1200 }));
    assert.ok(err instanceof RunTimeoutError);
    assert.equal(err.requestId, handle.requestId);
    assert.ok(urls.includes(`GET /result/${handle.requestId}?timeout=2`), urls.join('\n'));
    assert.deepEqual(await handle.result(), { slept: 2500, input: { ms: 2500 } });
  });

  test('cancel() stops a run: its record says cancelled, result() throws; an ended run answers RUN_ALREADY_ENDED', async () => {
    const handle = await client.start('sleeper', { ms: 30_000 });
    const record = await handle.cancel();
    assert.equal(record.status, 'cancelled');
    assert.equal(record.errorCode, 'RUN_CANCELLED');
    const err = await rejection(handle.result({ timeoutMs: 30_000 }));
    assert.ok(err instanceof RunFailedError, String(err));
    assert.equal(err.code, 'RUN_CANCELLED');
    const done = await client.start('sleeper', { ms: 1 });
    await done.result();
    const late = await rejection(done.cancel());
    assert.ok(late instanceof RunletError);
    assert.deepEqual([late.status, late.code], [409, 'RUN_ALREADY_ENDED']);
  });

  test('logs() streams every line in order and ends with the run', async () => {
    const handle = await client.start('ticker', { count: 6, intervalMs: 5 });
    const lines: LogLine[] = [];
    for await (const line of handle.logs()) lines.push(line);
    const ticks = lines.filter((l) => l.message.startsWith('tick'));
    assert.deepEqual(ticks.map((l) => l.message), ['tick 1', 'tick 2', 'tick 3', 'tick 4', 'tick 5', 'tick 6']);
    assert.deepEqual(ticks.map((l) => l.source), ['stdout', 'logger', 'stdout', 'logger', 'stdout', 'logger']);
    assert.deepEqual(lines.map((l) => l.seq), lines.map((_, i) => i + 1));
  });

  test('logs() resumes after a dropped connection with no gap and no repeat', async () => {
    const proxy = await startCuttingProxy(server.url);
    try {
      const viaProxy = new RunletClient({ apiKey: server.key, baseUrl: proxy.url });
      const handle = await viaProxy.start('ticker', { count: 12, intervalMs: 60 });
      const seen: LogLine[] = [];
      for await (const line of handle.logs()) {
        seen.push(line);
        if (seen.length === 3) proxy.cutAll();
      }
      const all = (await (await server.fetch(`/logs/${handle.requestId}`)).text()).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LogLine);
      assert.deepEqual(seen.map((l) => l.seq), all.map((l) => l.seq));
      assert.deepEqual(seen.map((l) => l.message), all.map((l) => l.message));
      assert.equal(all.filter((l) => l.message.startsWith('tick')).length, 12);
      const resumed = proxy.requests.filter((r) => r.startsWith(`GET /logs/${handle.requestId}?after=`));
      assert.ok(resumed.length >= 1, proxy.requests.join('\n'));
      assert.ok(resumed[0]!.includes(encodeURIComponent(seen[2]!.createdAt)), `resumed after the third line: ${resumed[0]}`);
    } finally {
      await proxy.close();
    }
  });

  test('logs({ after }) starts after the given line', async () => {
    const handle = await client.start('ticker', { count: 4, intervalMs: 1 });
    await handle.result();
    const all: LogLine[] = [];
    for await (const line of handle.logs()) all.push(line);
    const rest: LogLine[] = [];
    for await (const line of handle.logs({ after: all[1]!.createdAt })) rest.push(line);
    assert.deepEqual(rest.map((l) => l.seq), all.slice(2).map((l) => l.seq));
  });
});

describe('types', () => {
  test('a service module type types the input and output of run', async () => {
    type Sleeper = typeof import('./fixtures/services/sleeper.js').default;
    const out = await client.run<Sleeper>('sleeper', { ms: 1 });
    const slept: number = out.slept;
    assert.equal(slept, 1);
    // @ts-expect-error `ms` is a number for this service
    await client.run<Sleeper>('sleeper', { ms: 'soon' }).catch(() => {});
  });
});
