/** The run endpoints as a client sees them: what goes in reaches the service, what it answers comes back. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers.js';

describe('sync and async runs', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ resultDefaultWaitSeconds: 0.5 });
  });
  after(() => s.close());

  test('a sync run passes body, sub-path and query through and answers as the service did', async () => {
    const res = await s.fetch('/run/echo/a/b?x=1&y=two', { json: { hello: 'world' }, headers: { 'x-correlation-id': 'corr-1' } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const requestId = res.headers.get('x-request-id');
    assert.match(requestId ?? '', /^req_[0-9a-z]{24}$/);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(body.input, { hello: 'world' });
    assert.equal(body.path, 'a/b');
    assert.deepEqual(body.query, { x: '1', y: 'two' });
    assert.equal(body.requestId, requestId);
    assert.equal(body.correlationId, 'corr-1');
    const record = (await (await s.fetch(`/request/${requestId}`)).json()) as Record<string, unknown>;
    assert.equal(record.status, 'completed');
    assert.equal(record.correlationId, 'corr-1');
    assert.equal(record.path, 'a/b');
    assert.deepEqual((record.responseJson as Record<string, unknown>).input, { hello: 'world' });
  });

  test('trailing slash, no slash, text and raw bytes bodies all reach the service', async () => {
    for (const path of ['/run/echo', '/run/echo/']) {
      const body = (await (await s.fetch(path, { json: { n: 1 } })).json()) as Record<string, unknown>;
      assert.deepEqual(body.input, { n: 1 });
      assert.equal(body.path, '');
    }
    const text = (await (await s.fetch('/run/echo', { method: 'POST', body: 'plain words', headers: { 'content-type': 'text/plain' } })).json()) as Record<string, unknown>;
    assert.equal(text.input, 'plain words');
    assert.equal(text.contentType, 'text/plain');
    const empty = (await (await s.fetch('/run/echo', { method: 'POST' })).json()) as Record<string, unknown>;
    assert.deepEqual(empty.input, {});
  });

  test("a service's own error status is its answer, not a runtime error", async () => {
    const res = await s.fetch('/run/status', { json: { status: 500, message: 'boom' } });
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('x-runlet-error'), null);
    assert.deepEqual(await res.json(), { error: 'boom' });
    const record = (await (await s.fetch(`/request/${res.headers.get('x-request-id')}`)).json()) as Record<string, unknown>;
    assert.equal(record.status, 'completed');
    assert.equal(record.responseStatus, 500);
    const runtime = await s.fetch('/run/no-such-service', { json: {} });
    assert.equal(runtime.headers.get('x-runlet-error'), 'SERVICE_NOT_FOUND');
  });

  test('Accept: text/event-stream streams the service events as they are produced', async () => {
    const res = await s.fetch('/run/sse', { json: {}, headers: { accept: 'text/event-stream' } });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^data: \{"n":1\}/);
    assert.doesNotMatch(first, /"n":3/, 'the first event arrived on its own, before the last was produced');
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    assert.match(rest, /"n":3/);
  });

  test('run_async answers a request id at once and /result waits for the end (seconds and milliseconds)', async () => {
    for (const timeout of ['10', '10000']) {
      const res = await s.fetch('/run_async/slow', { json: { seconds: 0.5, interval: 0.1 } });
      assert.equal(res.status, 200);
      const { request_id } = (await res.json()) as { request_id: string };
      const now = (await (await s.fetch(`/request/${request_id}`)).json()) as { status: string };
      assert.ok(['queued', 'running'].includes(now.status), `not finished yet: ${now.status}`);
      const result = await s.fetch(`/result/${request_id}?timeout=${timeout}`);
      assert.equal(result.status, 200);
      const record = (await result.json()) as Record<string, unknown>;
      assert.equal(record.id, request_id);
      assert.equal(record.status, 'completed');
      assert.equal(record.serviceId, 'slow');
      assert.equal(record.responseStatus, 200);
      assert.deepEqual(record.responseJson, { slept: 0.5 });
      assert.equal(record.responseContent, null);
      assert.equal(record.error, null);
      for (const field of ['createdAt', 'startedAt', 'completedAt']) assert.ok(!Number.isNaN(Date.parse(String(record[field]))), field);
    }
  });

  test('/result answers 408 with the record so far while the run goes on', async () => {
    const { request_id } = (await (await s.fetch('/run_async/slow', { json: { seconds: 3 } })).json()) as { request_id: string };
    const res = await s.fetch(`/result/${request_id}`);
    assert.equal(res.status, 408);
    const body = (await res.json()) as { code: string; request_id: string; record: { status: string } };
    assert.equal(body.code, 'RUN_RESULT_PENDING');
    assert.equal(body.request_id, request_id);
    assert.ok(['queued', 'running'].includes(body.record.status));
  });

  test('a provisioned id is used by exactly one run', async () => {
    const { request_id } = (await (await s.fetch('/provision-request', { method: 'POST' })).json()) as { request_id: string };
    const provisioned = (await (await s.fetch(`/request/${request_id}`)).json()) as { status: string };
    assert.equal(provisioned.status, 'provisioned');
    const run = await s.fetch('/run/echo', { json: { p: 1 }, headers: { 'x-provisioned-request-id': request_id } });
    assert.equal(run.headers.get('x-request-id'), request_id);
    assert.equal(((await run.json()) as { requestId: string }).requestId, request_id);
    const again = await s.fetch('/run_async/echo', { json: {}, headers: { 'x-provisioned-request-id': request_id } });
    assert.equal(again.status, 409);
    assert.equal(((await again.json()) as { code: string }).code, 'PROVISION_USED');
    const unknown = await s.fetch('/run/echo', { json: {}, headers: { 'x-provisioned-request-id': 'req_nope' } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { code: string }).code, 'PROVISION_NOT_FOUND');
  });

  test('/openapi.json and /healthz answer without a key and describe every endpoint', async () => {
    const health = await s.fetch('/healthz', { key: null });
    assert.equal(health.status, 200);
    const doc = (await (await s.fetch('/openapi.json', { key: null })).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    for (const path of ['/run/{serviceId}', '/run/{serviceId}/{path}', '/run_async/{serviceId}', '/provision-request', '/result/{id}', '/request/{id}', '/logs/{id}', '/healthz']) {
      assert.ok(doc.paths[path], `documents ${path}`);
    }
  });
});
