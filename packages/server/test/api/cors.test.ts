/** Browsers may call the API from other origins: preflights pass, answers carry the CORS headers the clients need. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers.js';

describe('CORS', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test('a preflight for a keyed JSON call from another origin is allowed, without a key', async () => {
    const res = await s.fetch('/run/echo', {
      method: 'OPTIONS',
      key: null,
      headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-provisioned-request-id' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /authorization/i);
  });

  test('an OPTIONS that is no preflight (no Origin) is answered 204 too, not a plain-text 400', async () => {
    const res = await s.fetch('/result/req_x', { method: 'OPTIONS', key: null });
    assert.equal(res.status, 204);
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /GET/);
    assert.equal(await res.text(), '');
  });

  test("answers (the service's own, and runtime errors) let the page read X-Request-Id and the error code", async () => {
    const ok = await s.fetch('/run/echo', { json: { a: 1 }, headers: { origin: 'http://app.example' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), '*');
    assert.match(ok.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
    await ok.arrayBuffer();
    const refused = await s.fetch('/run/echo', { key: 'cwk-wrong', json: {}, headers: { origin: 'http://app.example' } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), '*', 'a page can read why it was refused');
    await refused.arrayBuffer();
  });
});

describe('CORS restricted to listed origins', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ corsOrigins: 'https://app.example, https://admin.example' });
  });
  after(() => s.close());

  test('a listed origin is echoed back; another gets no CORS headers', async () => {
    const listed = await s.fetch('/healthz', { key: null, headers: { origin: 'https://admin.example' } });
    assert.equal(listed.headers.get('access-control-allow-origin'), 'https://admin.example');
    await listed.arrayBuffer();
    const other = await s.fetch('/healthz', { key: null, headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    await other.arrayBuffer();
  });
});
