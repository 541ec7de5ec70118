import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../server/test/helpers.js';
import { freePort } from '../../server/test/helpers.js';
import { exampleEnv, REPO, runExample, startClientServer, startExample } from './support.js';

/** Every Python example of the seed (examples/clients/python), run with python3 against live servers. */
const dir = path.join(REPO, 'examples', 'clients', 'python');
let server: TestServer;
/** Sync limit of half a second: the bulletproof example meets a real 504 there. */
let short: TestServer;
let expectedProfiles: number;
let tmp: string;

before(async () => {
  [server, short] = await Promise.all([startClientServer(), startClientServer({ syncTimeoutSeconds: 0.5 })]);
  const res = await server.fetch('/run/linkedin-enricher', { json: { spreadsheet: '1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms', include_email: false, output_columns: ['bio'] } });
  expectedProfiles = ((await res.json()) as { processed_count: number }).processed_count;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'runlet-examples-'));
});
after(async () => {
  await Promise.all([server.close(), short.close()]);
  rmSync(tmp, { recursive: true, force: true });
});

const py = (file: string, ...args: string[]) => [path.join(dir, file), ...args];

describe('seed Python examples', () => {
  test('sync call', async () => {
    const run = await runExample('python3', py('sync_call.py'), exampleEnv(server));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^Processed ${expectedProfiles} profiles$`, 'm'));
    assert.match(run.stdout, /^Success rate: \d+\.\d%$/m);
  });

  test('async call with in_background=True: result().json() is the service answer', async () => {
    const run = await runExample('python3', py('async_call.py'), exampleEnv(server));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Started background job: req_\w+$/m);
    assert.match(run.stdout, new RegExp(`^Processed ${expectedProfiles} profiles$`, 'm'));
  });

  test('upload and process', async () => {
    const csv = path.join(tmp, 'my-data.csv');
    writeFileSync(csv, 'name,city\nAda,Stockholm\nBruno,Lagos\nChen,Taipei\n');
    const run = await runExample('python3', py('upload_and_process.py', csv), exampleEnv(server));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'Processed 3 rows');
  });

  test('web app (Flask-shaped): POST /analyze-spreadsheet; a missing id is a 400', async () => {
    const port = await freePort();
    const app = await startExample('python3', py('web_app.py'), exampleEnv(server, { PORT: String(port) }), /Running on/);
    try {
      const ok = await fetch(`http://127.0.0.1:${port}/analyze-spreadsheet`, { method: 'POST', body: JSON.stringify({ spreadsheet_id: 'sheet-2' }), headers: { 'content-type': 'application/json' } });
      assert.equal(ok.status, 200, app.output());
      assert.equal(((await ok.json()) as { processed_count: number }).processed_count, expectedProfiles);
      const missing = await fetch(`http://127.0.0.1:${port}/analyze-spreadsheet`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      assert.equal(missing.status, 400);
      assert.deepEqual(await missing.json(), { error: 'spreadsheet_id required' });
    } finally {
      await app.stop();
    }
  });

  test('bulletproof: a real 504 switches to async and succeeds', async () => {
    const run = await runExample('python3', py('bulletproof.py'), exampleEnv(short));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^INFO:root:Switching to async mode due to timeout\.\.\.$/m);
    assert.match(run.stdout, /^Success!$/m);
    assert.match(run.stdout, /'received': 'data'/);
  });

  test('bulletproof: within the sync limit it stays sync', async () => {
    const run = await runExample('python3', py('bulletproof.py'), exampleEnv(server));
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /Switching to async/);
    assert.match(run.stdout, /^Success!$/m);
  });
});
