import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestServer } from '../../server/test/helpers.js';
import { freePort } from '../../server/test/helpers.js';
import { exampleEnv, REPO, runExample, startClientServer, startExample, TSX } from './support.js';

/** Every TypeScript example of the seed (examples/clients/ts), run as a user would, against live servers. */
const dir = path.join(REPO, 'examples', 'clients', 'ts');
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

const node = (file: string, ...args: string[]) => [...TSX, path.join(dir, file), ...args];

describe('seed TypeScript examples', () => {
  test('sync call: runService answers the enricher output', async () => {
    const run = await runExample(process.execPath, node('sync-call.ts'), exampleEnv(server));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), `Processed ${expectedProfiles} profiles`);
  });

  test('async call: runAsync then pollResult(600000)', async () => {
    const run = await runExample(process.execPath, node('async-call.ts'), exampleEnv(server));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Started async job: req_\w+$/m);
    assert.match(run.stdout, /^Async job completed!$/m);
    assert.match(run.stdout, new RegExp(`^Processed ${expectedProfiles} profiles$`, 'm'));
  });

  test('upload and process: a local CSV, uploaded, read by csv-processor', async () => {
    const csv = path.join(tmp, 'my-data.csv');
    writeFileSync(csv, 'name,city\nAda,Stockholm\nBruno,Lagos\nChen,Taipei\nDee,Lima\n');
    const run = await runExample(process.execPath, node('upload-and-process.ts', csv), exampleEnv(server));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'Processed 4 rows');
  });

  test('web app: POST /analyze-spreadsheet calls the enricher; a missing id is a 400', async () => {
    const port = await freePort();
    const app = await startExample(process.execPath, node('web-app.ts'), exampleEnv(server, { PORT: String(port) }), /Running on/);
    try {
      const ok = await fetch(`http://127.0.0.1:${port}/analyze-spreadsheet`, { method: 'POST', body: JSON.stringify({ spreadsheet_id: 'sheet-1' }), headers: { 'content-type': 'application/json' } });
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as { processed_count: number; status: string };
      assert.equal(body.status, 'completed');
      assert.equal(body.processed_count, expectedProfiles);
      const missing = await fetch(`http://127.0.0.1:${port}/analyze-spreadsheet`, { method: 'POST', body: '{}' });
      assert.equal(missing.status, 400);
      assert.deepEqual(await missing.json(), { error: 'spreadsheet_id required' });
    } finally {
      await app.stop();
    }
  });

  test('bulletproof: a real 504 switches to async and succeeds', async () => {
    const run = await runExample(process.execPath, node('bulletproof.ts'), exampleEnv(short));
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^Switching to async mode due to timeout\.\.\.$/m);
    assert.match(run.stdout, /^Success! \{"status":"completed","received":"data"\}$/m);
  });

  test('bulletproof: within the sync limit it stays sync', async () => {
    const run = await runExample(process.execPath, node('bulletproof.ts'), exampleEnv(server));
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.doesNotMatch(run.stdout, /Switching to async/);
    assert.match(run.stdout, /^Success! /m);
  });
});
