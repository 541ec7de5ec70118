/**
 * The server's side of completion webhooks: which callback URLs are refused (at once, or at
 * delivery when a name resolves to a private address), deliveries that keep failing are given
 * up with every attempt recorded, and the secret and delivery endpoints' errors.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startTestServer, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, startAsync } from './api-helpers.js';

interface Deliveries {
  deliveries: { status: string; attempts: { statusCode: number | null; error: string | null }[] }[];
}

describe('completion webhooks: the callback policy and the delivery endpoints', () => {
  let s: TestServer;
  let receiver: Server;
  let hits = 0;
  before(async () => {
    // The default policy (no private or loopback addresses), with quick retries and an early give-up.
    s = await startTestServer({ webhookRetryInitialSeconds: 0.2, webhookGiveUpSeconds: 1.5, webhookPollSeconds: 0.1 });
    receiver = createServer((_req, res) => {
      hits++;
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await s.close();
    receiver.close();
  });

  const startWithCallback = (url: string) => s.fetch('/run_async/echo', { json: {}, headers: { 'x-callback-url': url } });

  test('private, loopback and link-local addresses are refused when the run starts', async () => {
    for (const url of ['http://10.1.2.3/hook', 'http://192.168.0.10:8080/', 'http://127.0.0.1:9/', 'http://[::1]/', 'http://169.254.169.254/latest/meta-data', 'http://[::ffff:10.0.0.1]/']) {
      await expectRuntimeError(await startWithCallback(url), 403, 'CALLBACK_URL_NOT_ALLOWED');
    }
  });

  test('a callback URL must be an absolute http(s) URL, and only on /run_async', async () => {
    for (const url of ['ftp://example.com/x', 'not a url', '/relative', `https://example.com/${'x'.repeat(2100)}`, 'https://user:pass@example.com/']) {
      await expectRuntimeError(await startWithCallback(url), 400, 'CALLBACK_URL_INVALID');
    }
    await expectRuntimeError(await s.fetch('/run/echo', { json: {}, headers: { 'x-callback-url': 'https://example.com/hook' } }), 400, 'CALLBACK_URL_INVALID');
  });

  test('a name that resolves to a loopback address is refused at delivery; the delivery is given up', async () => {
    const port = (receiver.address() as { port: number }).port;
    const { request_id: id } = await expectJson<{ request_id: string }>(await startWithCallback(`http://localhost:${port}/hook`));
    const done = await waitFor(async () => {
      const list = await expectJson<Deliveries>(await s.fetch(`/request/${id}/deliveries`));
      return list.deliveries[0]?.status === 'failed' ? list.deliveries[0] : undefined;
    }, 60_000, 'the delivery to be given up');
    assert.ok(done.attempts.length >= 2, 'retried before giving up');
    for (const a of done.attempts) {
      assert.equal(a.statusCode, null);
      assert.match(a.error ?? '', /loopback/);
    }
    assert.equal(hits, 0, 'nothing ever reached the receiver');
  });

  test('deliveries of a run without a callback: none, and nothing to redeliver', async () => {
    const id = await startAsync(s, 'echo', {});
    await expectJson(await s.fetch(`/result/${id}?timeout=60`));
    assert.deepEqual(await expectJson(await s.fetch(`/request/${id}/deliveries`)), { deliveries: [] });
    await expectRuntimeError(await s.fetch(`/request/${id}/deliveries/redeliver`, { method: 'POST' }), 404, 'DELIVERY_NOT_FOUND');
    await expectRuntimeError(await s.fetch('/request/req_unknown/deliveries'), 404, 'RUN_NOT_FOUND');
  });

  test('the webhook secret: the same on every read, not for one-time keys', async () => {
    const first = await expectJson<{ secret: string }>(await s.fetch('/account/webhook-secret'));
    assert.match(first.secret, /^whsec_/);
    assert.deepEqual(await expectJson(await s.fetch('/account/webhook-secret')), first);
    await expectRuntimeError(await s.fetch('/account/webhook-secret', { key: await s.newKey('one_time') }), 403, 'KEY_NOT_ALLOWED');
    await expectRuntimeError(await s.fetch('/account/webhook-secret', { key: null }), 401, 'AUTH_MISSING');
  });
});
