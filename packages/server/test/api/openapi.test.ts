/** GET /openapi.json and GET /healthz: open to all, and the description matches the routes served. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TEST_STORE, startTestServer, type TestServer } from '../helpers.js';
import { expectJson, type Json } from './api-helpers.js';

interface Operation {
  summary?: string;
  parameters?: { name: string; in: string }[];
  security?: unknown[];
  responses?: Record<string, unknown>;
}
interface OpenApi {
  openapi: string;
  info: { title: string; version: string };
  components: { securitySchemes: Record<string, { type: string; in: string; name: string }> };
  paths: Record<string, Record<string, Operation>>;
}

describe('/openapi.json and /healthz', () => {
  let s: TestServer;
  let doc: OpenApi;
  before(async () => {
    s = await startTestServer();
    const res = await s.fetch('/openapi.json', { key: null });
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    doc = await expectJson<OpenApi>(res);
  });
  after(() => s.close());

  test('is OpenAPI 3.1.0 and describes every endpoint of the runtime API with its method', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.info.title.length > 0 && doc.info.version.length > 0);
    const expected: [string, string][] = [
      ['/run/{serviceId}', 'post'],
      ['/run/{serviceId}/{path}', 'post'],
      ['/run_async/{serviceId}', 'post'],
      ['/run_async/{serviceId}/{path}', 'post'],
      ['/provision-request', 'post'],
      ['/result/{id}', 'get'],
      ['/request/{id}', 'get'],
      ['/logs/{id}', 'get'],
      ['/healthz', 'get'],
      ['/openapi.json', 'get'],
    ];
    for (const [path, method] of expected) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `documents ${method.toUpperCase()} ${path}`);
      assert.ok(op.summary, `${path} has a summary`);
      assert.ok(op.responses && Object.keys(op.responses).length > 0, `${path} has responses`);
      for (const name of path.match(/\{(\w+)\}/g)?.map((p) => p.slice(1, -1)) ?? []) {
        assert.ok(op.parameters?.some((p) => p.name === name && p.in === 'path'), `${path} declares its path parameter ${name}`);
      }
    }
    assert.ok(doc.paths['/result/{id}']!.get!.parameters!.some((p) => p.name === 'timeout' && p.in === 'query'), '/result documents timeout');
    assert.ok(doc.paths['/run/{serviceId}']!.post!.parameters!.some((p) => p.name === 'X-Provisioned-Request-Id' && p.in === 'header'));
  });

  test('says which endpoints need a key', () => {
    assert.deepEqual(doc.components.securitySchemes.apiKey, { ...doc.components.securitySchemes.apiKey, type: 'apiKey', in: 'header', name: 'Authorization' });
    for (const open of ['/healthz', '/openapi.json']) assert.deepEqual(doc.paths[open]!.get!.security, [], `${open} is open`);
    for (const [path, method] of [['/run/{serviceId}', 'post'], ['/result/{id}', 'get'], ['/logs/{id}', 'get'], ['/provision-request', 'post']] as const) {
      assert.deepEqual(doc.paths[path]![method]!.security, [{ apiKey: [] }], `${path} needs a key`);
    }
  });

  test('every documented operation is served (none answers ROUTE_NOT_FOUND)', async () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const method of Object.keys(operations)) {
        const url = path.replace(/\{\w+\}/g, 'zz-not-there');
        const res = await s.fetch(url, { method: method.toUpperCase(), body: ['post', 'put', 'patch'].includes(method) ? '' : undefined });
        // A live feed (GET /runs/events) never ends by itself: its head is answer enough.
        if (/^text\/event-stream/.test(res.headers.get('content-type') ?? '')) await res.body?.cancel();
        else await res.arrayBuffer();
        assert.notEqual(res.headers.get('x-runlet-error'), 'ROUTE_NOT_FOUND', `${method.toUpperCase()} ${path} is served`);
        assert.ok(res.status < 500, `${method.toUpperCase()} ${path}: ${res.status}`);
      }
    }
  });

  test('/healthz answers without a key, with the store and a few numbers', async () => {
    const health = await expectJson<Json>(await s.fetch('/healthz', { key: null }));
    assert.equal(health.status, 'ok');
    assert.equal(health.store, TEST_STORE);
    assert.equal(typeof health.node, 'string');
    assert.ok(Number(health.services) >= 10, 'the fixture services are loaded');
    assert.equal(health.activeRuns, 0);
  });
});
