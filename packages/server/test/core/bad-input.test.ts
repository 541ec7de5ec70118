/** Every bad input gets a clear JSON error with a stable code, and leaves nothing behind. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers.js';

describe('bad input', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ bodyLimitBytes: 1024 });
  });
  after(() => s.close());

  const expectError = async (res: Response, status: number, code: string) => {
    assert.equal(res.status, status, code);
    assert.equal(res.headers.get('x-runlet-error'), code);
    const body = (await res.json()) as { code: string; message: string };
    assert.equal(body.code, code);
    assert.ok(body.message.length > 0);
    return body;
  };

  test('unknown services and ids, odd paths', async () => {
    await expectError(await s.fetch('/run/nope', { json: {} }), 404, 'SERVICE_NOT_FOUND');
    await expectError(await s.fetch('/run_async/nope', { json: {} }), 404, 'SERVICE_NOT_FOUND');
    await expectError(await s.fetch('/run/..%2F..', { json: {} }), 404, 'SERVICE_NOT_FOUND');
    await expectError(await s.fetch('/run/%E0%A4%A', { json: {} }), 400, 'INVALID_REQUEST');
    await expectError(await s.fetch('/result/req_unknown'), 404, 'RUN_NOT_FOUND');
    await expectError(await s.fetch('/logs/req_unknown'), 404, 'RUN_NOT_FOUND');
    await expectError(await s.fetch('/nowhere'), 404, 'ROUTE_NOT_FOUND');
  });

  test('malformed JSON is refused before any run exists', async () => {
    const before = (await s.server.runtime.store.servicesWithQueuedRuns()).length;
    const res = await s.fetch('/run_async/echo', { method: 'POST', body: '{"broken": ', headers: { 'content-type': 'application/json' } });
    await expectError(res, 400, 'INVALID_JSON');
    assert.equal(res.headers.get('x-request-id'), null, 'no run was recorded');
    assert.equal((await s.server.runtime.store.servicesWithQueuedRuns()).length, before);
  });

  test('input that does not match the schema: 422 with the issues; a non-JSON body: 415', async () => {
    const body = (await expectError(await s.fetch('/run/schema', { json: { name: 42 } }), 422, 'INPUT_INVALID')) as { details?: { path: string[] }[] };
    assert.deepEqual(body.details!.map((d) => d.path.join('.')).sort(), ['count', 'name']);
    await expectError(await s.fetch('/run/schema', { method: 'POST', body: 'a,b\n1,2', headers: { 'content-type': 'text/csv' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const ok = await s.fetch('/run/schema', { json: { name: 'x', count: 2 } });
    assert.deepEqual(await ok.json(), { greeting: 'hello x hello x' });
  });

  test('a body over the limit: 413', async () => {
    await expectError(await s.fetch('/run/echo', { json: { big: 'x'.repeat(2000) } }), 413, 'BODY_TOO_LARGE');
  });

  test('malformed parameters: 400 naming them', async () => {
    const { request_id } = (await (await s.fetch('/run_async/echo', { json: {} })).json()) as { request_id: string };
    const body = await expectError(await s.fetch(`/result/${request_id}?timeout=soon`), 400, 'INVALID_REQUEST');
    assert.match(body.message, /timeout/);
    await expectError(await s.fetch(`/logs/${request_id}?after=yesterday`), 400, 'INVALID_REQUEST');
    await expectError(await s.fetch('/run/echo', { json: {}, headers: { 'x-correlation-id': 'c'.repeat(500) } }), 400, 'INVALID_REQUEST');
  });

  test('no input crashes the server', async () => {
    const nasty: [string, RequestInit][] = [
      ['/run/echo', { method: 'POST', body: new Uint8Array([0, 255, 1, 254]), headers: { 'content-type': 'application/octet-stream' } }],
      ['/run/echo', { method: 'POST', body: '\u0000\u0001', headers: { 'content-type': 'application/json' } }],
      ['/run/echo?' + 'q=1&'.repeat(500), { method: 'POST' }],
      ['/run/' + 'a'.repeat(300), { method: 'POST' }],
      ['/result/' + '%'.repeat(10), { method: 'GET' }],
      ['/provision-request', { method: 'POST', body: 'junk', headers: { 'content-type': 'multipart/form-data; boundary=x' } }],
    ];
    for (const [path, init] of nasty) {
      const res = await s.fetch(path, init);
      assert.ok(res.status < 600, path);
      await res.arrayBuffer();
    }
    assert.equal((await s.fetch('/healthz', { key: null })).status, 200);
  });
});

describe('limits', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ maxWorkersPerService: 1, maxQueuedPerService: 1, syncTimeoutSeconds: 2 });
  });
  after(() => s.close());

  test('past the per-service bound calls wait; past the queue bound the next gets 429 with Retry-After', async () => {
    const busy = s.fetch('/run/slow', { json: { seconds: 1 } });
    await new Promise((r) => setTimeout(r, 300));
    const waiting = s.fetch('/run/slow', { json: { seconds: 0 } });
    await new Promise((r) => setTimeout(r, 100));
    const refused = await s.fetch('/run/slow', { json: { seconds: 0 } });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(((await refused.json()) as { code: string }).code, 'QUEUE_FULL');
    await (await busy).arrayBuffer();
    await (await waiting).arrayBuffer();
  });

  test('a sync call past the sync limit answers 504 with its request id, and the run goes on to its result', async () => {
    const res = await s.fetch('/run/slow', { json: { seconds: 3, interval: 0.5 } });
    assert.equal(res.status, 504);
    const body = (await res.json()) as { code: string; request_id: string };
    assert.equal(body.code, 'SYNC_TIMEOUT');
    assert.equal(res.headers.get('x-request-id'), body.request_id);
    const record = (await (await s.fetch(`/result/${body.request_id}?timeout=20`)).json()) as { status: string; responseJson: unknown };
    assert.equal(record.status, 'completed');
    assert.deepEqual(record.responseJson, { slept: 3 });
  });
});
