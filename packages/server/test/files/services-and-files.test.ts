import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FileInfo, FileList } from '@runlet/protocol';
import { EXAMPLE_SERVICES, startTestServer, type TestServer } from '../helpers.js';
import { newUpload, putBytes } from './file-helpers.js';

const CSV = ['name,title,company', 'Ada Lovelace,Analyst,Engines Ltd', 'Grace Hopper,Admiral,Navy', 'Alan Turing,Fellow,Kings'].join('\n') + '\n';

describe('csv-processor on the real file flow (the seed example)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ servicesDir: EXAMPLE_SERVICES });
  });
  after(() => t.close());

  test('upload a CSV through the API, run csv-processor on its download URL, get row_count', async () => {
    const urls = await newUpload(t, 'people.csv');
    assert.equal((await putBytes(urls.upload_uri, CSV, 'text/csv')).status, 200);
    const run = await t.fetch('/run/csv-processor', { json: { csv_file: urls.download_uri, processing_options: { header_row: true } } });
    assert.equal(run.status, 200, await run.clone().text());
    const out = (await run.json()) as { row_count: number; columns: string[] };
    assert.equal(out.row_count, 3);
    assert.deepEqual(out.columns, ['name', 'title', 'company']);
  });

  test('the same with a one-step upload, an async run and /result, and without a header row', async () => {
    const up = await t.fetch('/file?filename=people.csv', { method: 'POST', body: CSV, headers: { 'content-type': 'text/csv' } });
    const { download_uri } = (await up.json()) as FileInfo;
    const started = await t.fetch('/run_async/csv-processor', { json: { csv_file: download_uri, processing_options: { header_row: false } } });
    const { request_id } = (await started.json()) as { request_id: string };
    const result = await t.fetch(`/result/${request_id}?timeout=30`);
    assert.equal(result.status, 200);
    const record = (await result.json()) as { responseStatus: number; responseJson: { row_count: number } };
    assert.equal(record.responseStatus, 200);
    assert.equal(record.responseJson.row_count, 4);
  });

  test('a download URL whose file was deleted makes the service answer its own error, not crash', async () => {
    const urls = await newUpload(t, 'gone.csv');
    await putBytes(urls.upload_uri, CSV);
    await t.fetch(`/files/${urls.file_id}`, { method: 'DELETE' });
    const run = await t.fetch('/run/csv-processor', { json: { csv_file: urls.download_uri } });
    assert.equal(run.status, 422);
    assert.match(((await run.json()) as { error: string }).error, /404/);
  });
});

describe('SDK file helpers in a service (ctx.files)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test('a service reads a download URL as text, bytes and a stream, and uploads files whose URLs it returns', async () => {
    const urls = await newUpload(t, 'in.txt');
    await putBytes(urls.upload_uri, 'hello files');
    const run = await t.fetch('/run/files-sdk', { json: { url: urls.download_uri } });
    assert.equal(run.status, 200, await run.clone().text());
    const out = (await run.json()) as { text: string; bytes: number; streamed: number; upper_url: string; stream_url: string };
    assert.equal(out.text, 'hello files');
    assert.equal(out.bytes, 11);
    assert.equal(out.streamed, 11);
    const upper = await fetch(out.upper_url);
    assert.equal(await upper.text(), 'HELLO FILES');
    assert.equal(upper.headers.get('content-type'), 'text/plain');
    assert.equal(await (await fetch(out.stream_url)).text(), 'one two three');
    // The service's uploads belong to the calling account.
    const list = (await (await t.fetch('/files')).json()) as FileList;
    assert.ok(list.files.some((f) => f.filename === 'upper.txt' && f.status === 'ready'));
    assert.ok(list.files.some((f) => f.filename === 'parts.txt' && f.status === 'ready'));
  });

  test('a bad URL reaches the service as a FileError with the runtime code', async () => {
    const urls = await newUpload(t, 'x.txt');
    const tampered = urls.download_uri.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
    const run = await t.fetch('/run/files-sdk', { json: { url: tampered } });
    const out = (await run.json()) as { error: { status: number; code: string } };
    assert.deepEqual(out.error, { status: 403, code: 'URL_INVALID' });
  });
});
