/**
 * Bad input gets a clear JSON error with a stable code, creates nothing, and never takes the
 * server down.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, getRecord, type Json } from './api-helpers.js';

const BODY_LIMIT = 1024;

describe('bad input', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ bodyLimitBytes: BODY_LIMIT, resultDefaultWaitSeconds: 0.5 });
  });
  after(() => s.close());

  /** A provisioned id: a refused call that names it must leave it unused (proof that no run was recorded). */
  const provision = async () => (await expectJson<{ request_id: string }>(await s.fetch('/provision-request', { method: 'POST' }))).request_id;
  const assertStillProvisioned = async (id: string) => assert.equal((await getRecord(s, id)).status, 'provisioned', 'no run took the id');

  test('an unknown service is 404 SERVICE_NOT_FOUND, however its id is spelled', async () => {
    // (Ids like `.` or `%2e%2e` never get here: clients resolve them in the URL before sending.)
    const ids = ['nope', 'nope/sub/path', 'ECHO-but-not', '..%2F..', '..%2F..%2Fetc%2Fpasswd', '%2e%2e%2fetc', 'echo%2Fa', 'echo%00', 'a'.repeat(65), '%F0%9F%98%80', 'echo.ts', '-echo'];
    for (const id of ids) {
      for (const mode of ['run', 'run_async']) {
        const res = await s.fetch(`/${mode}/${id}`, { json: {} });
        await expectRuntimeError(res, 404, 'SERVICE_NOT_FOUND');
        assert.equal(res.headers.get('x-request-id'), null, `/${mode}/${id}: no run`);
      }
    }
  });

  test('malformed JSON declared as JSON is 400 INVALID_JSON, and no run is created', async () => {
    const bodies = ['{"broken": ', '{name: "x"}', "{'a': 1}", 'undefined', '[1, 2,]', '{"a":1}{"b":2}', '\u0000'];
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/vnd.api+json']) {
      for (const body of bodies) {
        for (const mode of ['run', 'run_async']) {
          const id = await provision();
          const res = await s.fetch(`/${mode}/echo`, { method: 'POST', body, headers: { 'content-type': type, 'x-provisioned-request-id': id } });
          await expectRuntimeError(res, 400, 'INVALID_JSON');
          assert.equal(res.headers.get('x-request-id'), null);
          await assertStillProvisioned(id);
        }
      }
    }
  });

  test('input that does not match the schema is 422 INPUT_INVALID with the issues', async () => {
    const cases: [unknown, string[]][] = [
      [{ name: 42 }, ['count', 'name']],
      [{ name: 'x', count: 0 }, ['count']],
      [{ name: 'x', count: 1.5 }, ['count']],
      [{}, ['count', 'name']],
      [[1, 2], ['']],
      ['just a string', ['']],
    ];
    for (const [input, paths] of cases) {
      const body = await expectRuntimeError(await s.fetch('/run/schema', { json: input }), 422, 'INPUT_INVALID');
      const details = body.details as { path: string[]; message: string }[];
      assert.ok(Array.isArray(details), 'details list the issues');
      assert.deepEqual([...new Set(details.map((d) => d.path.join('.')))].sort(), paths, JSON.stringify(input));
      for (const d of details) assert.ok(d.message.length > 0);
    }
    assert.deepEqual(await expectJson(await s.fetch('/run/schema', { json: { name: 'x', count: 2 } })), { greeting: 'hello x hello x' });
  });

  test('a body that is not JSON, sent to a service that takes JSON, is 415', async () => {
    for (const [type, body] of [
      ['text/csv', 'name,count\nx,1\n'],
      ['application/octet-stream', new Uint8Array([1, 2, 3])],
      ['application/x-www-form-urlencoded', 'name=x&count=1'],
      ['application/xml', '<name>x</name>'],
    ] as const) {
      await expectRuntimeError(await s.fetch('/run/schema', { method: 'POST', body, headers: { 'content-type': type } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    // A Content-Type that is no media type at all is refused, whatever the service takes.
    for (const type of ['csv', 'json', '']) {
      await expectRuntimeError(await s.fetch('/run/raw-echo', { method: 'POST', body: 'a,b', headers: { 'content-type': type } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    // Plain text holding JSON is read as JSON (some clients send it so).
    const plain = await s.fetch('/run/schema', { method: 'POST', body: '{"name":"y","count":1}', headers: { 'content-type': 'text/plain' } });
    assert.deepEqual(await expectJson(plain), { greeting: 'hello y' });
  });

  test(`a body over the limit (${BODY_LIMIT} bytes) is 413 BODY_TOO_LARGE, and no run is created`, async () => {
    for (const mode of ['run', 'run_async']) {
      const id = await provision();
      const res = await s.fetch(`/${mode}/echo`, { json: { big: 'x'.repeat(BODY_LIMIT) }, headers: { 'x-provisioned-request-id': id } });
      await expectRuntimeError(res, 413, 'BODY_TOO_LARGE');
      await assertStillProvisioned(id);
    }
    await expectRuntimeError(await s.fetch('/run/raw-echo', { method: 'POST', body: new Uint8Array(BODY_LIMIT + 1), headers: { 'content-type': 'application/octet-stream' } }), 413, 'BODY_TOO_LARGE');
    // Exactly at the limit is fine.
    const atLimit = await s.fetch('/run/raw-echo', { method: 'POST', body: new Uint8Array(BODY_LIMIT).fill(7), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(atLimit.status, 201);
    assert.equal((await atLimit.arrayBuffer()).byteLength, BODY_LIMIT);
  });

  test('an unknown route is 404 ROUTE_NOT_FOUND, as JSON', async () => {
    for (const [method, path] of [
      ['GET', '/nowhere'],
      ['POST', '/runs/echo'],
      ['POST', '/run'],
      ['POST', '/run_async'],
      ['GET', '/result'],
      ['GET', '/provision-request'],
      ['PATCH', '/request/req_x'],
      ['POST', '/healthz'],
      // GET / is the dashboard; no other method is served there.
      ['PUT', '/'],
    ]) {
      const body = await expectRuntimeError(await s.fetch(path!, { method }), 404, 'ROUTE_NOT_FOUND');
      assert.ok(body.message.includes(path!.replace(/\/$/, '') || '/'), body.message);
    }
  });

  test('an unknown request id is 404 RUN_NOT_FOUND on /result, /request and /logs', async () => {
    for (const id of ['req_00000000000000000000000000', 'req_unknown', 'nonsense', '%20', "'; DROP TABLE runs; --", 'x'.repeat(100)]) {
      for (const endpoint of ['result', 'request', 'logs']) {
        await expectRuntimeError(await s.fetch(`/${endpoint}/${encodeURIComponent(id)}`), 404, 'RUN_NOT_FOUND');
      }
    }
    // A poll with a timeout does not wait for a run that does not exist.
    await expectRuntimeError(await s.fetch('/result/req_unknown?timeout=60'), 404, 'RUN_NOT_FOUND');
    // An id longer than any id: refused as invalid.
    await expectRuntimeError(await s.fetch(`/request/${'x'.repeat(101)}`), 400, 'INVALID_REQUEST');
  });

  test('a bad timeout is 400 INVALID_REQUEST naming it', async () => {
    const { request_id } = await expectJson<{ request_id: string }>(await s.fetch('/run_async/echo', { json: {} }));
    for (const timeout of ['soon', '-1', 'NaN', '5s', '1,5', 'timeout=5']) {
      const body = await expectRuntimeError(await s.fetch(`/result/${request_id}?timeout=${encodeURIComponent(timeout)}`), 400, 'INVALID_REQUEST');
      assert.match(body.message, /timeout/, timeout);
    }
    await expectRuntimeError(await s.fetch(`/result/${request_id}?timeout=1&timeout=2`), 400, 'INVALID_REQUEST');
    // The run itself is unharmed.
    assert.equal((await expectJson<Json>(await s.fetch(`/result/${request_id}?timeout=30`))).status, 'completed');
  });

  test('garbage never crashes the server: it answers JSON errors, never a 500, and goes on serving', async () => {
    const nasty: [string, RequestInit][] = [
      ['/run/echo', { method: 'POST', body: new Uint8Array([0, 255, 1, 254, 0xc3, 0x28]), headers: { 'content-type': 'application/json' } }],
      ['/run/echo', { method: 'POST', body: '['.repeat(1000), headers: { 'content-type': 'application/json' } }],
      ['/run/echo', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json;;;charset=' } }],
      ['/run/echo', { method: 'POST', body: '{"a":1}', headers: { 'content-type': '' } }],
      ['/run/echo', { method: 'POST', body: '{"a":1}', headers: { 'content-type': '\u00ff/\u00fe' } }],
      ['/run/echo', { method: 'POST', headers: { 'x-correlation-id': 'c'.repeat(500) } }],
      ['/run/echo', { method: 'POST', headers: { 'x-provisioned-request-id': '\u00e9'.repeat(50) } }],
      ['/run/echo?' + 'q=1&'.repeat(300) + '%ZZ', { method: 'POST' }],
      ['/run/%E0%A4%A', { method: 'POST' }],
      ['/run/echo/%E0%A4%A', { method: 'POST' }],
      ['/result/%', { method: 'GET' }],
      ['/result/req_x?timeout=%E0%A4%A', { method: 'GET' }],
      ['/logs/req_x?after=not-a-date', { method: 'GET' }],
      ['/logs/req_x?after_seq=-4', { method: 'GET' }],
      ['/logs/req_x?format=xml', { method: 'GET' }],
      ['/provision-request', { method: 'POST', body: 'junk', headers: { 'content-type': 'multipart/form-data; boundary=x' } }],
      ['/provision-request?x=%00', { method: 'POST', body: '\u0000'.repeat(100) }],
      ['/run/schema', { method: 'POST', body: '{"name":"x","count":1e400}', headers: { 'content-type': 'application/json' } }],
      ['/run/schema', { method: 'POST', body: '{"__proto__":{"polluted":true},"name":"x","count":1}', headers: { 'content-type': 'application/json' } }],
    ];
    for (const [path, init] of nasty) {
      const res = await s.fetch(path, init);
      const text = await res.text();
      assert.ok(res.status < 500, `${init.method} ${path.slice(0, 60)}: ${res.status} ${text}`);
      if (res.headers.get('x-runlet-error')) {
        const body = JSON.parse(text) as { code: string };
        assert.equal(body.code, res.headers.get('x-runlet-error'));
      }
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);

    // Raw garbage on the socket, and a body cut off half way.
    await rawExchange(s.url, 'THIS IS NOT HTTP\r\n\r\n');
    await rawExchange(s.url, 'POST /run/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ' + s.key + '\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"cut":', true);
    await rawExchange(s.url, 'POST /run/echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n');
    await rawExchange(s.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc');

    const health = await expectJson<Json>(await s.fetch('/healthz', { key: null }));
    assert.equal(health.status, 'ok');
    assert.deepEqual(((await expectJson<Json>(await s.fetch('/run/echo', { json: { still: 'here' } }))) as Json).input, { still: 'here' });
  });
});

/** Writes raw bytes to the server and reads until it closes (or `hangUp`: closes after a moment itself). */
function rawExchange(url: string, data: string, hangUp = false): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(data);
      if (hangUp) setTimeout(() => socket.destroy(), 100);
    });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (c) => (received += c));
    socket.setTimeout(5000, () => socket.destroy());
    socket.on('close', () => resolve(received));
    socket.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(received) : reject(err)));
  });
}
