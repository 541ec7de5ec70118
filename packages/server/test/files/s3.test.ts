import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { FileInfo, FileList } from '@runlet/protocol';
import S3rver from 's3rver';
import type { ConfigInput } from '../../src/config.js';
import { startTestServer, type TestServer } from '../helpers.js';
import { newUpload, putBytes } from './file-helpers.js';

const BUCKET = 'runlet-files';
const CSV = 'city,pop\nOslo,700000\nBergen,290000\n';
const codeOf = async (r: Response) => ((await r.json()) as { code: string }).code;

/** A real S3-protocol server (s3rver, from npm) on a free port, with an empty bucket. */
async function startS3(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'runlet-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: BUCKET }] });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

describe('files on S3-compatible storage', () => {
  let s3: Awaited<ReturnType<typeof startS3>>;
  let t: TestServer;
  let settings: ConfigInput;
  before(async () => {
    s3 = await startS3();
    settings = {
      filesBackend: 's3',
      s3Bucket: BUCKET,
      s3Endpoint: s3.endpoint,
      s3Region: 'us-east-1',
      s3AccessKeyId: 'S3RVER',
      s3SecretAccessKey: 'S3RVER',
      s3Prefix: 'test/',
    };
    t = await startTestServer({ ...settings, maxFileSizeBytes: 10_000 });
  });
  after(async () => {
    await t?.close();
    await s3?.close();
  });

  const objectExists = async (key: string) => {
    const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      return true;
    } catch {
      return false;
    } finally {
      client.destroy();
    }
  };

  test("upload_uri and download_uri are S3's own presigned URLs: the bytes go to S3, not through Runlet", async () => {
    const urls = await newUpload(t, 'cities.csv');
    for (const url of [urls.upload_uri, urls.download_uri]) {
      assert.ok(url.startsWith(`${s3.endpoint}/${BUCKET}/test/${urls.file_id}/cities.csv?`), url);
      assert.match(url, /X-Amz-Signature=/);
    }
    const early = await fetch(urls.download_uri);
    assert.equal(early.status, 404, 'nothing to download before the upload');

    const put = await putBytes(urls.upload_uri, CSV, 'text/csv');
    assert.equal(put.status, 200, await put.clone().text());
    assert.ok(await objectExists(`test/${urls.file_id}/cities.csv`));

    const got = await fetch(urls.download_uri);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), CSV);
    assert.match(got.headers.get('content-disposition') ?? '', /filename="cities\.csv"/);
    const ranged = await fetch(urls.download_uri, { headers: { range: 'bytes=0-3' } });
    assert.equal(ranged.status, 206);
    assert.equal(await ranged.text(), 'city');
  });

  test('Runlet learns of a presigned upload when it looks: GET /files shows it ready with its size', async () => {
    const urls = await newUpload(t, 'seen.csv');
    const pending = (await (await t.fetch(`/files/${urls.file_id}`)).json()) as FileInfo;
    assert.equal(pending.status, 'pending');
    assert.equal(pending.download_uri, null);
    await putBytes(urls.upload_uri, CSV, 'text/csv');
    const list = (await (await t.fetch('/files')).json()) as FileList;
    const entry = list.files.find((f) => f.file_id === urls.file_id)!;
    assert.equal(entry.status, 'ready');
    assert.equal(entry.size, Buffer.byteLength(CSV));
    assert.equal(entry.content_type, 'text/csv');
    assert.equal(await (await fetch(entry.download_uri!)).text(), CSV);
  });

  test('one-step uploads stream through Runlet into the bucket (raw and multipart)', async () => {
    const raw = await t.fetch('/file?filename=direct.csv', { method: 'POST', body: CSV, headers: { 'content-type': 'text/csv' } });
    assert.equal(raw.status, 201);
    const info = (await raw.json()) as FileInfo;
    assert.equal(info.size, Buffer.byteLength(CSV));
    assert.ok(info.download_uri!.startsWith(s3.endpoint));
    const got = await fetch(info.download_uri!);
    assert.equal(await got.text(), CSV);
    assert.equal(got.headers.get('content-type'), 'text/csv');

    const form = new FormData();
    form.append('file', new Blob(['a,b\n1,2\n'], { type: 'text/csv' }), 'form.csv');
    const multi = await t.fetch('/file', { method: 'POST', body: form });
    assert.equal(multi.status, 201);
    assert.equal(await (await fetch(((await multi.json()) as FileInfo).download_uri!)).text(), 'a,b\n1,2\n');
  });

  test('limits hold for one-step uploads, and a refused upload leaves nothing in the bucket or the spool', async () => {
    const big = await t.fetch('/file?filename=big.bin', { method: 'POST', body: new Uint8Array(10_001) });
    assert.equal(big.status, 413);
    assert.equal(await codeOf(big), 'FILE_TOO_LARGE');
    const listed = (await (await t.fetch('/files')).json()) as FileList;
    assert.ok(!listed.files.some((f) => f.filename === 'big.bin' && f.status === 'ready'));
  });

  test('a presigned upload over the maximum size is removed when Runlet sees it', async () => {
    const urls = await newUpload(t, 'sneaky.bin');
    assert.equal((await putBytes(urls.upload_uri, new Uint8Array(10_001))).status, 200, 'S3 takes it');
    const info = (await (await t.fetch(`/files/${urls.file_id}`)).json()) as FileInfo;
    assert.equal(info.status, 'pending');
    assert.equal(await objectExists(`test/${urls.file_id}/sneaky.bin`), false);
  });

  test('DELETE removes the object from the bucket', async () => {
    const urls = await newUpload(t, 'doomed.txt');
    await putBytes(urls.upload_uri, 'bye');
    await t.fetch(`/files/${urls.file_id}`); // Runlet sees it
    assert.equal((await t.fetch(`/files/${urls.file_id}`, { method: 'DELETE' })).status, 204);
    assert.equal(await objectExists(`test/${urls.file_id}/doomed.txt`), false);
    assert.equal((await fetch(urls.download_uri)).status, 404);
  });

  test('garbage collection: an upload made just before its URL lapsed is kept; expired files leave the bucket', async () => {
    const uploaded = await newUpload(t, 'late-seen.txt');
    await putBytes(uploaded.upload_uri, 'made it');
    const abandoned = await newUpload(t, 'never.txt');
    const hour = 3_600_000;
    await t.server.runtime.files.collectGarbage(Date.now() + 2 * hour);
    assert.equal((await t.server.runtime.store.getFile(uploaded.file_id))?.status, 'ready');
    assert.equal(await t.server.runtime.store.getFile(abandoned.file_id), undefined);
    await t.server.runtime.files.collectGarbage(Date.now() + 8 * 24 * hour);
    assert.equal(await t.server.runtime.store.getFile(uploaded.file_id), undefined);
    assert.equal(await objectExists(`test/${uploaded.file_id}/late-seen.txt`), false);
  });

  test('an expired presigned URL is refused by S3 itself', async () => {
    const brief = await startTestServer({ ...settings, uploadUrlTtlSeconds: 1 });
    try {
      const urls = await newUpload(brief, 'brief.txt');
      await new Promise((r) => setTimeout(r, 2100));
      const late = await putBytes(urls.upload_uri, 'late');
      assert.equal(late.status, 403);
      assert.match(await late.text(), /expired/i);
    } finally {
      await brief.close();
    }
  });

  test('s3 without a bucket is a configuration error at start', async () => {
    await assert.rejects(startTestServer({ filesBackend: 's3' }), /s3Bucket/);
  });
});
