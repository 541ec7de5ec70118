import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createServiceClient, RunletClient, RunTimeoutError } from '../src/index.js';
import type { TestServer } from '../../server/test/helpers.js';
import { startClientServer } from './support.js';

/** A server whose sync limit is half a second, so sync calls meet real 504 SYNC_TIMEOUTs. */
let server: TestServer;
before(async () => {
  server = await startClientServer({ syncTimeoutSeconds: 0.5 });
});
after(async () => {
  await server.close();
});

function recorded(): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    fetch: (input, init) => {
      const url = new URL(String(input));
      urls.push(`${init?.method ?? 'GET'} ${url.pathname}${url.search}`);
      return fetch(input, init);
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

test('run() that meets a 504 waits on that same request instead of running again', async () => {
  const { fetch, urls } = recorded();
  const client = new RunletClient({ apiKey: server.key, baseUrl: server.url, fetch });
  const out = await client.run('sleeper', { ms: 1500 });
  assert.deepEqual(out, { slept: 1500, input: { ms: 1500 } });
  const runs = urls.filter((u) => u.startsWith('POST /run'));
  assert.deepEqual(runs, ['POST /run/sleeper/'], urls.join('\n'));
  const provisioned = urls.indexOf('POST /provision-request');
  assert.ok(provisioned >= 0 && provisioned < urls.indexOf('POST /run/sleeper/'));
  const waits = urls.filter((u) => u.startsWith('GET /result/'));
  assert.ok(waits.length >= 1, urls.join('\n'));
  const requestId = /\/result\/([^?]+)/.exec(waits[0]!)![1]!;
  const record = await client.details(requestId);
  assert.equal(record.mode, 'sync');
  assert.equal(record.attempt, 1);
  assert.equal(record.status, 'completed');
});

test('run() past the 504 still honours timeoutMs, naming the request', async () => {
  const client = new RunletClient({ apiKey: server.key, baseUrl: server.url });
  const err = await rejection(client.run('sleeper', { ms: 2500 }, { timeoutMs: 1200 }));
  assert.ok(err instanceof RunTimeoutError);
  assert.equal(err.code, 'CLIENT_TIMEOUT');
  assert.equal((await client.details(err.requestId!)).serviceId, 'sleeper');
  assert.deepEqual(await client.handle(err.requestId!).result(), { slept: 2500, input: { ms: 2500 } });
});

test('runService() throws the 504 as the official client does: error.response.status, with the request id', async () => {
  const client = createServiceClient(server.key, undefined, server.url);
  const err = (await rejection(client.runService('sleeper', '', { ms: 1500 }))) as RunTimeoutError;
  assert.ok(err instanceof RunTimeoutError);
  assert.equal(err.response?.status, 504);
  assert.equal(err.code, 'SYNC_TIMEOUT');
  assert.equal(err.requestId, client.requestId);
  const record = await client.pollResult(60_000, err.requestId);
  assert.equal(record.responseStatus, 200);
  assert.deepEqual(record.responseJson, { slept: 1500, input: { ms: 1500 } });
});
