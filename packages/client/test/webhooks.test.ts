/**
 * Completion webhooks end to end: a real receiver on a local port (loopback allowed by config,
 * as in `runlet dev`) that fails twice, then succeeds, gets three signed deliveries of one
 * message; the TypeScript and Python verifiers accept each, and refuse a tampered one; the
 * deliveries are listed and can be sent again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { RunletClient, verifyWebhook, WebhookVerificationError } from '../src/index.js';
import { waitFor, type TestServer } from '../../server/test/helpers.js';
import { REPO, startClientServer } from './support.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

let server: TestServer;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
/** The receiver's answers, in turn; 204 once they run out. */
const answers = [500, 503];

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answers.shift() ?? 204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/runlet`;
  server = await startClientServer({ callbackAllowedNetworks: ['127.0.0.0/8'], webhookRetryInitialSeconds: 0.3, webhookPollSeconds: 0.1 });
});
after(async () => {
  await server.close();
  receiver.close();
});

test('a receiver that fails twice gets three signed deliveries of one message, then a redelivery', async () => {
  const client = new RunletClient({ baseUrl: server.url, apiKey: server.key });
  const handle = await client.start('echo', { hello: 'webhooks' }, { callbackUrl: receiverUrl });
  await waitFor(() => received.length >= 3, 60_000, 'three deliveries');

  const { secret } = (await (await server.fetch('/account/webhook-secret')).json()) as { secret: string };
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  const ids = new Set(received.map((r) => r.headers['webhook-id']));
  assert.equal(ids.size, 1, 'every attempt carries the same webhook-id');
  for (const delivery of received) {
    assert.equal(delivery.headers['content-type'], 'application/json');
    const record = await verifyWebhook(secret, delivery.headers, delivery.body);
    assert.deepEqual([record.id, record.status, (record.responseJson as { input: unknown }).input], [handle.requestId, 'completed', { hello: 'webhooks' }]);
  }

  const good = received[2]!;
  const tampered = good.body.replace('webhooks', 'webhookz');
  await assert.rejects(verifyWebhook(secret, good.headers, tampered), WebhookVerificationError);
  await assert.rejects(verifyWebhook(secret.replace(/.{4}=*$/, 'AAAA'), good.headers, good.body), WebhookVerificationError);
  await assert.rejects(verifyWebhook(secret, good.headers, good.body, { now: Date.now() + 3600_000 }), WebhookVerificationError, 'a replay an hour later');

  const python = await verifyInPython(secret, [good, { headers: good.headers, body: tampered }]);
  assert.deepEqual(python, [handle.requestId, 'WebhookVerificationError']);

  const listed = (await (await server.fetch(`/request/${handle.requestId}/deliveries`)).json()) as { deliveries: { id: string; status: string; url: string; attempts: { statusCode: number }[] }[] };
  assert.equal(listed.deliveries.length, 1);
  const [delivery] = listed.deliveries;
  assert.deepEqual([delivery!.id, delivery!.status, delivery!.url], [good.headers['webhook-id'], 'delivered', receiverUrl]);
  assert.deepEqual(delivery!.attempts.map((a) => a.statusCode), [500, 503, 204]);

  const again = await server.fetch(`/request/${handle.requestId}/deliveries/redeliver`, { method: 'POST' });
  assert.equal(again.status, 200);
  await waitFor(() => received.length >= 4, 60_000, 'the redelivery');
  assert.equal(received[3]!.headers['webhook-id'], good.headers['webhook-id']);
  await verifyWebhook(secret, received[3]!.headers, received[3]!.body);
});

/** Runs the Python client's verifier on each delivery: the record id, or the error's name. */
async function verifyInPython(secret: string, deliveries: Received[]): Promise<string[]> {
  const script = [
    'import json, sys',
    'from runlet_client import verify_webhook, WebhookVerificationError',
    'job = json.load(sys.stdin)',
    'out = []',
    'for d in job["deliveries"]:',
    '    try:',
    '        out.append(verify_webhook(job["secret"], d["headers"], d["body"].encode("utf-8"))["id"])',
    '    except WebhookVerificationError:',
    '        out.append("WebhookVerificationError")',
    'print(json.dumps(out))',
  ].join('\n');
  const python = path.join(REPO, 'python');
  const child = spawn('python3', ['-c', script], { env: { ...process.env, PYTHONPATH: python, PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  child.stdin.end(JSON.stringify({ secret, deliveries }));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, err);
  return JSON.parse(out) as string[];
}
