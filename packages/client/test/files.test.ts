import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createServiceClient, RunletClient } from '../src/index.js';
import type { TestServer } from '../../server/test/helpers.js';
import { startClientServer } from './support.js';

let server: TestServer;
before(async () => {
  server = await startClientServer();
});
after(async () => {
  await server.close();
});

test('uploadFile: POST /file, then a PUT without Authorization; the download URL serves the bytes without a key', async () => {
  const calls: { method: string; path: string; authorization: string | null; amzAcl: string | null }[] = [];
  const client = new RunletClient({
    apiKey: server.key,
    baseUrl: server.url,
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      calls.push({ method: init?.method ?? 'GET', path: new URL(String(input)).pathname, authorization: headers.get('authorization'), amzAcl: headers.get('x-amz-acl') });
      return fetch(input, init);
    },
  });
  const bytes = new Uint8Array(5000).map((_, i) => i % 251);
  const file = await client.uploadFile(bytes, { filename: 'data.bin' });
  assert.equal(calls[0]!.method, 'POST');
  assert.equal(calls[0]!.path, '/file');
  assert.ok(calls[0]!.authorization);
  assert.equal(calls[1]!.method, 'PUT');
  assert.equal(calls[1]!.authorization, null);
  assert.equal(calls[1]!.amzAcl, 'public-read');
  const download = await fetch(file.downloadUrl);
  assert.equal(download.status, 200);
  assert.deepEqual(new Uint8Array(await download.arrayBuffer()), bytes);
  assert.equal(file.filename, 'data.bin');
  assert.ok(file.fileId);
});

test('uploadFileAndGetUrl takes a File, or content and a name; csv-processor reads the URL', async () => {
  const client = createServiceClient(server.key, undefined, server.url);
  const csv = 'name,city\nAda,Stockholm\nBruno,Lagos\nChen,Taipei\n';
  const urls = [
    await client.uploadFileAndGetUrl(new File([csv], 'people.csv', { type: 'text/csv' })),
    await client.uploadFileAndGetUrl(new TextEncoder().encode(csv), 'people.csv'),
    await client.uploadFileAndGetUrl(csv, 'people.csv', 'text/csv'),
    await client.uploadFileAndGetUrl(new Blob([csv]), 'people.csv'),
  ];
  for (const url of urls) {
    assert.equal(await (await fetch(url)).text(), csv);
    const result = await client.runService('csv-processor', '', { csv_file: url, processing_options: { header_row: true } });
    assert.equal(result.row_count, 3);
    assert.deepEqual(result.columns, ['name', 'city']);
  }
  await assert.rejects(client.uploadFileAndGetUrl(new Uint8Array([1])), /file name/);
});
