import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServiceClient, RunTimeoutError, ServiceError, type LogLine } from '../src/index.js';
import type { TestServer } from '../../server/test/helpers.js';
import { startClientServer } from './support.js';

let server: TestServer;

/** A compat client whose request URLs are recorded. */
function recording(): { client: ReturnType<typeof createServiceClient>; urls: string[] } {
  const urls: string[] = [];
  const client = createServiceClient(server.key, undefined, server.url, {
    fetch: (input, init) => {
      const url = new URL(String(input));
      urls.push(`${init?.method ?? 'GET'} ${url.pathname}${url.search}`);
      return fetch(input, init);
    },
  });
  return { client, urls };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

before(async () => {
  server = await startClientServer();
});
after(async () => {
  await server.close();
});

describe('createServiceClient (the official client surface)', () => {
  test('key and base URL come from the environment when not given', async () => {
    const none = { CODEWORDS_API_KEY: undefined, RUNLET_API_KEY: undefined, RUNLET_URL: undefined, NEXT_PUBLIC_RUNTIME_URI: undefined, CODEWORDS_RUNTIME_URI: undefined };
    const fromRunletUrl = withEnv({ ...none, CODEWORDS_API_KEY: server.key, RUNLET_URL: server.url, NEXT_PUBLIC_RUNTIME_URI: 'http://127.0.0.1:1' }, () => createServiceClient());
    assert.equal(fromRunletUrl.baseUrl, server.url);
    assert.deepEqual((await fromRunletUrl.runService('echo-input', '', { via: 'env' })).input, { via: 'env' });
    const fromNextPublic = withEnv({ ...none, RUNLET_API_KEY: server.key, NEXT_PUBLIC_RUNTIME_URI: server.url + '/' }, () => createServiceClient());
    assert.equal(fromNextPublic.baseUrl, server.url);
    assert.equal(fromNextPublic.getApiKeyType(), 'standard');
    assert.throws(() => withEnv(none, () => createServiceClient(undefined, undefined, server.url)), /CODEWORDS_API_KEY/);
  });

  test('runService provisions a request id, sends it, and answers the JSON', async () => {
    const { client, urls } = recording();
    const result = await client.runService('echo-input', 'sub', { spreadsheet: 'abc' });
    assert.deepEqual(result.input, { spreadsheet: 'abc' });
    assert.equal(result.path, 'sub');
    assert.equal(result.requestId, client.requestId);
    assert.deepEqual(urls, ['POST /provision-request', 'POST /run/echo-input/sub']);
    const details = await client.getRequestDetails();
    assert.equal(details.id, result.requestId);
    assert.equal(details.status, 'completed');
  });

  test('runService with an empty path calls /run/{id}/ as the official client does', async () => {
    const { client, urls } = recording();
    await client.runService('echo-input', '', {});
    assert.equal(urls[1], 'POST /run/echo-input/');
  });

  test('a non-2xx answer throws with error.response.status and the body', async () => {
    const { client } = recording();
    const err = (await rejection(client.runService('refuse', '', { status: 503, message: 'busy' }))) as ServiceError;
    assert.ok(err instanceof ServiceError);
    assert.equal(err.response?.status, 503);
    assert.deepEqual(err.response?.data, { error: 'busy', status: 503 });
  });

  test('runAsync + pollResult(ms): the record with responseStatus and responseJson', async () => {
    const { client, urls } = recording();
    const requestId = await client.runAsync('ticker', '', { count: 2, intervalMs: 1 });
    assert.equal(client.requestId, requestId);
    const result = await client.pollResult(600000);
    assert.equal(result.responseStatus, 200);
    assert.deepEqual(result.responseJson, { ticks: 2 });
    assert.equal(urls.at(-1), `GET /result/${requestId}?timeout=60000`);
  });

  test('pollResult gives up at its timeout with a 408 RunTimeoutError; short waits go as seconds', async () => {
    const { client, urls } = recording();
    const requestId = await client.runAsync('sleeper', '', { ms: 2500 });
    const err = (await rejection(client.pollResult(1500))) as RunTimeoutError;
    assert.ok(err instanceof RunTimeoutError);
    assert.equal(err.response?.status, 408);
    assert.equal(err.requestId, requestId);
    // 1500 sent as is would be read as 1500 seconds: below 1800 ms it goes in seconds.
    assert.ok(urls.includes(`GET /result/${requestId}?timeout=2`), urls.join('\n'));
    const done = await client.pollResult(60000, requestId);
    assert.deepEqual(done.responseJson, { slept: 2500, input: { ms: 2500 } });
  });

  test('streamLogs: as an async iterator and with a callback', async () => {
    const client = createServiceClient(server.key, undefined, server.url);
    await client.runAsync('ticker', '', { count: 3, intervalMs: 5 });
    const iterated: string[] = [];
    for await (const line of client.streamLogs()) iterated.push(line.message);
    assert.deepEqual(iterated.filter((m) => m.startsWith('tick')), ['tick 1', 'tick 2', 'tick 3']);
    const called: LogLine[] = [];
    await client.streamLogs((line) => called.push(line), { requestId: client.requestId });
    assert.deepEqual(called.map((l) => l.message), iterated);
  });

  test('runServiceStream yields the data of each event; the request id is known meanwhile', async () => {
    const client = createServiceClient(server.key, undefined, server.url);
    const seen: unknown[] = [];
    for await (const data of client.runServiceStream('events', '', { count: 4 })) seen.push(data);
    assert.deepEqual(seen, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    assert.equal((await client.getRequestDetails()).serviceId, 'events');
  });

  test('provisionRequest makes a provisioned request the current one', async () => {
    const client = createServiceClient(server.key, undefined, server.url);
    const id = await client.provisionRequest();
    assert.equal(client.requestId, id);
    assert.equal((await client.getRequestDetails()).status, 'provisioned');
    // A client made for an existing request reads it.
    const other = createServiceClient(server.key, id, server.url);
    assert.equal((await other.getRequestDetails()).id, id);
  });

  test('getApiKeyType tells standard from one-time keys', async () => {
    assert.equal(createServiceClient(server.key, undefined, server.url).getApiKeyType(), 'standard');
    assert.equal(createServiceClient(await server.newKey('one_time'), undefined, server.url).getApiKeyType(), 'one_time');
  });

  test('a one-time key covers provisioning plus the provisioned run, then reading it', async () => {
    const client = createServiceClient(await server.newKey('one_time'), undefined, server.url);
    const result = await client.runService('echo-input', '', { once: 1 });
    assert.deepEqual(result.input, { once: 1 });
    assert.equal((await client.getRequestDetails()).status, 'completed');
    const lines: LogLine[] = [];
    for await (const line of client.streamLogs()) lines.push(line);
    assert.deepEqual(lines, []);
    const err = (await rejection(client.runService('echo-input', '', {}))) as { code?: string; response?: { status: number } };
    assert.equal(err.code, 'KEY_SPENT');
    assert.equal(err.response?.status, 403);
  });
});
