/**
 * POST /run/{serviceId}[/{path}]: what the caller sends reaches the service as sent, what the
 * service answers comes back as is (plus X-Request-Id), and the runtime's own errors are told
 * apart from the service's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, getRecord, REQUEST_ID, type Json } from './api-helpers.js';

describe('POST /run (sync)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ shutdownGraceSeconds: 1 });
  });
  after(() => s.close());

  test('a handler service reads the call through its context too: body, method, headers, query and path', async () => {
    const body = '{"a": 1}';
    const res = await s.fetch('/run/request-context/sub/path?q=x', { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-note': 'hi' } });
    assert.deepEqual(await expectJson(res), { input: { a: 1 }, raw: body, method: 'POST', note: 'hi', query: 'x', path: 'sub/path' });
  });

  test('a JSON body reaches the service; its answer comes back with X-Request-Id', async () => {
    const res = await s.fetch('/run/echo', { json: { hello: 'world', n: [1, 2, { deep: true }] } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const requestId = res.headers.get('x-request-id');
    assert.match(requestId ?? '', REQUEST_ID);
    assert.equal(res.headers.get('x-runlet-error'), null);
    const body = (await res.json()) as Json;
    assert.deepEqual(body.input, { hello: 'world', n: [1, 2, { deep: true }] });
    assert.equal(body.method, 'POST');
    assert.equal(body.contentType, 'application/json');
    assert.equal(body.path, '');
    assert.deepEqual(body.query, {});
    assert.equal(body.requestId, requestId, 'the service ran under the id the caller was given');

    const record = await getRecord(s, requestId!);
    assert.equal(record.id, requestId);
    assert.equal(record.serviceId, 'echo');
    assert.equal(record.mode, 'sync');
    assert.equal(record.status, 'completed');
    assert.equal(record.responseStatus, 200);
    assert.deepEqual(record.responseJson, body, 'the record keeps the answer the caller got');
    assert.equal(record.responseContent, null);
  });

  test('a call that finds a worker free is recorded as started in one write; one that must wait is started by a second', async () => {
    const { store, registry } = s.server.runtime;
    const { pool } = registry.get('echo');
    await expectJson(await s.fetch('/run/echo', { json: {} })); // a worker is warm now
    const starts: string[] = [];
    const markRunning = store.markRunning.bind(store);
    store.markRunning = (id, ...rest) => (starts.push(id), markRunning(id, ...rest));
    try {
      const fast = await s.fetch('/run/echo', { json: {} });
      await expectJson(fast);
      const fastId = fast.headers.get('x-request-id')!;
      const run = (await store.getRun(fastId))!;
      assert.deepEqual([run.status, run.startedAt, run.attempt], ['completed', run.createdAt, 1]);
      assert.deepEqual(starts, [], 'no second write started it');

      // Every idle worker taken: the next call starts a worker, and is started once it has one.
      const accountId = (await store.defaultAccount()).id;
      const held = [];
      for (let lease = pool.tryAcquire(accountId); lease; lease = pool.tryAcquire(accountId)) held.push(lease);
      try {
        const slow = await s.fetch('/run/echo', { json: {} });
        await expectJson(slow);
        assert.deepEqual(starts, [slow.headers.get('x-request-id')]);
        assert.equal((await store.getRun(starts[0]!))!.attempt, 1);
      } finally {
        for (const lease of held) lease.release(true);
      }
    } finally {
      store.markRunning = markRunning;
    }
  });

  test('/run/echo and /run/echo/ are the same call; each call is a run of its own', async () => {
    const ids = new Set<string>();
    for (const path of ['/run/echo', '/run/echo/']) {
      const res = await s.fetch(path, { json: { via: path } });
      const body = await expectJson<Json>(res);
      assert.deepEqual(body.input, { via: path });
      assert.equal(body.path, '', `${path} calls the main endpoint`);
      ids.add(res.headers.get('x-request-id')!);
    }
    assert.equal(ids.size, 2);
  });

  test('sub-paths reach the service and the record', async () => {
    for (const [url, path] of [
      ['/run/echo/a', 'a'],
      ['/run/echo/a/b', 'a/b'],
      ['/run/echo/v1/items/42', 'v1/items/42'],
    ] as const) {
      const res = await s.fetch(url, { json: {} });
      const body = await expectJson<Json>(res);
      assert.equal(body.path, path, url);
      assert.equal((await getRecord(s, res.headers.get('x-request-id')!)).path, path, url);
    }
    const encoded = await expectJson<Json>(await s.fetch('/run/echo/with%20space', { json: {} }));
    assert.equal(encoded.path, 'with space');
  });

  test('the query string is passed through, with and without a sub-path or trailing slash', async () => {
    const cases = [
      ['/run/echo?x=1&y=two', '', { x: '1', y: 'two' }],
      ['/run/echo/?q=hello%20world', '', { q: 'hello world' }],
      ['/run/echo/a/b?page=2&sort=-name', 'a/b', { page: '2', sort: '-name' }],
      ['/run/echo?empty=&flag', '', { empty: '', flag: '' }],
    ] as const;
    for (const [url, path, query] of cases) {
      const body = await expectJson<Json>(await s.fetch(url, { json: {} }));
      assert.equal(body.path, path, url);
      assert.deepEqual(body.query, query, url);
    }
  });

  test('a text/plain body reaches the service as text', async () => {
    const body = await expectJson<Json>(await s.fetch('/run/echo', { method: 'POST', body: 'plain words, not JSON', headers: { 'content-type': 'text/plain' } }));
    assert.equal(body.input, 'plain words, not JSON');
    assert.equal(body.contentType, 'text/plain');
  });

  test('raw bytes go through untouched both ways, and the service status, type and headers come back as is', async () => {
    const bytes = new Uint8Array([0, 1, 2, 127, 128, 254, 255, 13, 10, 0xc3, 0x28]);
    const res = await s.fetch('/run/raw-echo', { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(res.status, 201, "the service's own status");
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('x-raw-echo'), 'yes', "the service's own header");
    assert.match(res.headers.get('x-request-id') ?? '', REQUEST_ID);
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
    const record = await getRecord(s, res.headers.get('x-request-id')!);
    assert.equal(record.status, 'completed');
    assert.equal(record.responseStatus, 201);
    assert.equal(record.responseContentType, 'application/octet-stream');
    assert.equal(record.responseJson, undefined, 'bytes are not JSON');
    assert.equal(typeof record.responseContent, 'string');

    const untyped = await s.fetch('/run/raw-echo', { method: 'POST', body: bytes });
    assert.equal(untyped.status, 201, 'bytes with no Content-Type at all go through too');
    assert.deepEqual(new Uint8Array(await untyped.arrayBuffer()), bytes);

    const text = await s.fetch('/run/raw-echo', { method: 'POST', body: 'just text', headers: { 'content-type': 'text/plain; charset=utf-8' } });
    assert.equal(text.status, 201);
    assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(await text.text(), 'just text');
    const textRecord = await getRecord(s, text.headers.get('x-request-id')!);
    assert.equal(textRecord.responseContent, 'just text');
    assert.equal(textRecord.responseJson, undefined);

    const json = await s.fetch('/run/raw-echo', { method: 'POST', body: '{"a":[1,"b"]}', headers: { 'content-type': 'application/json' } });
    assert.equal(await json.text(), '{"a":[1,"b"]}', 'JSON comes back byte for byte, not re-serialised');
    const jsonRecord = await getRecord(s, json.headers.get('x-request-id')!);
    assert.deepEqual(jsonRecord.responseJson, { a: [1, 'b'] });
    assert.equal(jsonRecord.responseContent, null);
  });

  test('an empty body is a call like any other', async () => {
    const echo = await expectJson<Json>(await s.fetch('/run/echo', { method: 'POST' }));
    assert.deepEqual(echo.input, {}, 'a handler service sees an empty body as {}');
    const raw = await s.fetch('/run/raw-echo', { method: 'POST' });
    assert.equal(raw.status, 201);
    assert.equal((await raw.arrayBuffer()).byteLength, 0);
    const withType = await expectJson<Json>(await s.fetch('/run/echo', { method: 'POST', body: '', headers: { 'content-type': 'application/json' } }));
    assert.deepEqual(withType.input, {}, 'an empty body declared as JSON is not malformed JSON');
  });

  test('X-Correlation-Id reaches the service and the record; without it both have null', async () => {
    const res = await s.fetch('/run/echo', { json: {}, headers: { 'x-correlation-id': 'order-7781' } });
    const body = await expectJson<Json>(res);
    assert.equal(body.correlationId, 'order-7781');
    assert.equal((await getRecord(s, res.headers.get('x-request-id')!)).correlationId, 'order-7781');

    const none = await s.fetch('/run/echo', { json: {} });
    assert.equal(((await none.json()) as Json).correlationId, null);
    assert.equal((await getRecord(s, none.headers.get('x-request-id')!)).correlationId, null);
  });

  for (const status of [500, 418, 404, 503]) {
    test(`a service answering ${status} is the service's answer, not a runtime error`, async () => {
      const res = await s.fetch('/run/status', { json: { status, message: `service says ${status}` } });
      assert.equal(res.status, status);
      assert.equal(res.headers.get('x-runlet-error'), null, 'no runtime error header');
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.match(res.headers.get('x-request-id') ?? '', REQUEST_ID);
      assert.deepEqual(await res.json(), { error: `service says ${status}` });
      const record = await getRecord(s, res.headers.get('x-request-id')!);
      assert.equal(record.status, 'completed', 'the run itself succeeded: the service answered');
      assert.equal(record.responseStatus, status);
      assert.deepEqual(record.responseJson, { error: `service says ${status}` });
      assert.equal(record.error, null);
      assert.equal(record.errorCode, null);
    });
  }

  test('runtime errors carry x-runlet-error and a JSON {code, message}', async () => {
    await expectRuntimeError(await s.fetch('/run/no-such-service', { json: {} }), 404, 'SERVICE_NOT_FOUND');
    // A worker dying mid-call is the runtime failing to get an answer: a runtime error, with the run's id.
    const crashed = await s.fetch('/run/exit-mid-call', { json: {} });
    const body = await expectRuntimeError(crashed, 502, 'WORKER_CRASHED');
    assert.match(String(body.request_id), REQUEST_ID);
    assert.equal(crashed.headers.get('x-request-id'), body.request_id);
    const record = await getRecord(s, String(body.request_id));
    assert.equal(record.status, 'failed');
    assert.equal(record.errorCode, 'WORKER_CRASHED');
    assert.equal(typeof record.error, 'string');
    assert.equal(record.responseStatus, null);
  });

  test('Accept: text/event-stream streams the service events through as they are produced', async () => {
    const res = await s.fetch('/run/sse', { json: {}, headers: { accept: 'text/event-stream' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const requestId = res.headers.get('x-request-id');
    assert.match(requestId ?? '', REQUEST_ID);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    while (!seen.includes('\n\n')) {
      const { value, done } = await reader.read();
      assert.equal(done, false, 'the stream holds at least one whole event');
      seen += decoder.decode(value, { stream: true });
    }
    assert.match(seen, /^data: \{"n":1\}\n\n/);
    assert.doesNotMatch(seen, /"n":3/, 'the first event arrived before the last one was produced');
    const next = await reader.read();
    assert.equal(next.done, false, 'the stream was still open after the first event');
    seen += decoder.decode(next.value, { stream: true });
    for (let r = await reader.read(); !r.done; r = await reader.read()) seen += decoder.decode(r.value, { stream: true });
    assert.equal(seen, 'data: {"n":1}\n\ndata: {"n":2}\n\ndata: {"n":3}\n\n');

    const record = await getRecord(s, requestId!);
    assert.equal(record.status, 'completed');
    assert.match(String(record.responseContentType), /^text\/event-stream/);
    assert.equal(record.responseContent, seen, 'the record keeps the whole stream');
  });
});
