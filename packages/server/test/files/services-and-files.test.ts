import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FileList } from '@runlet/protocol';
import { startTestServer, type TestServer } from '../helpers.js';
import { newUpload, putBytes } from './file-helpers.js';

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
