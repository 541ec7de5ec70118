import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FileInfo } from '@runlet/protocol';
import { databaseForDataDir, startTestServer, waitFor, type TestServer } from '../helpers.js';
import { newUpload, putBytes } from './file-helpers.js';

const codeOf = async (r: Response) => ((await r.json()) as { code: string }).code;
const chunked = (url: string, bytes: number, init: RequestInit = {}) =>
  fetch(url, {
    method: init.method ?? 'PUT',
    headers: init.headers,
    body: new ReadableStream({
      start(c) {
        // Several chunks, so the limit is crossed mid-stream rather than on the first read.
        for (let sent = 0; sent < bytes; sent += 100) c.enqueue(new Uint8Array(Math.min(100, bytes - sent)).fill(120));
        c.close();
      },
    }),
    // @ts-expect-error Node's fetch needs duplex for a stream body
    duplex: 'half',
  });

describe('file size limit and account quota', () => {
  let t: TestServer;
  const objects = () => {
    const dir = path.join(t.dataDir, 'files');
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(path.join(d, e.name)) : out.push(e.name);
    };
    walk(dir);
    return out;
  };
  before(async () => {
    t = await startTestServer({ maxFileSizeBytes: 1000, accountQuotaBytes: 2500 });
  });
  after(() => t.close());

  test('over the maximum size: 413 FILE_TOO_LARGE, by Content-Length, by counting a chunked body, by ?size=', async () => {
    const urls = await newUpload(t, 'big.bin');
    const declared = await putBytes(urls.upload_uri, new Uint8Array(1001));
    assert.equal(declared.status, 413);
    assert.equal(await codeOf(declared), 'FILE_TOO_LARGE');
    const streamed = await chunked(urls.upload_uri, 1500);
    assert.equal(streamed.status, 413);
    assert.equal(await codeOf(streamed), 'FILE_TOO_LARGE');
    const sized = await t.fetch('/file?filename=big.bin&size=1001', { method: 'POST' });
    assert.equal(sized.status, 413);
    assert.equal(await codeOf(sized), 'FILE_TOO_LARGE');
    assert.equal((await fetch(urls.download_uri)).status, 404);
    assert.deepEqual(objects(), [], 'nothing stored, not even a temporary file');
    // Exactly the maximum is fine, on the same URL: refusals keep it usable.
    assert.equal((await putBytes(urls.upload_uri, new Uint8Array(1000))).status, 200);
    await t.fetch(`/files/${urls.file_id}`, { method: 'DELETE' });
  });

  test('an endless body gets its 413 answer, not a reset connection', async () => {
    const urls = await newUpload(t, 'endless.bin');
    const r = await fetch(urls.upload_uri, {
      method: 'PUT',
      body: new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(64 * 1024)) }),
      // @ts-expect-error Node's fetch needs duplex for a stream body
      duplex: 'half',
    });
    assert.equal(r.status, 413);
    assert.equal(await codeOf(r), 'FILE_TOO_LARGE');
    assert.equal(r.headers.get('connection'), 'close');
    assert.deepEqual(objects(), []);
  });

  test('one-step uploads over the maximum: 413 for raw and multipart bodies, nothing stored', async () => {
    const raw = await t.fetch('/file?filename=big.bin', { method: 'POST', body: new Uint8Array(1001) });
    assert.equal(raw.status, 413);
    assert.equal(await codeOf(raw), 'FILE_TOO_LARGE');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(1001)]), 'big.bin');
    const multi = await t.fetch('/file', { method: 'POST', body: form });
    assert.equal(multi.status, 413);
    assert.equal(await codeOf(multi), 'FILE_TOO_LARGE');
    const list = (await (await t.fetch('/files')).json()) as { files: FileInfo[] };
    assert.equal(list.files.filter((f) => f.status === 'ready').length, 0);
    assert.deepEqual(objects(), []);
  });

  test('past the quota: 507 QUOTA_EXCEEDED, nothing stored; deleting makes room', async () => {
    const a = await newUpload(t, 'a.bin');
    const b = await newUpload(t, 'b.bin');
    const c = await newUpload(t, 'c.bin');
    assert.equal((await putBytes(a.upload_uri, new Uint8Array(900))).status, 200);
    assert.equal((await putBytes(b.upload_uri, new Uint8Array(900))).status, 200);
    const over = await putBytes(c.upload_uri, new Uint8Array(900));
    assert.equal(over.status, 507);
    const body = (await over.json()) as { code: string; message: string };
    assert.equal(body.code, 'QUOTA_EXCEEDED');
    assert.match(body.message, /1800 of its 2500 bytes/);
    const overStreamed = await chunked(c.upload_uri, 900);
    assert.equal(overStreamed.status, 507);
    assert.equal(await codeOf(overStreamed), 'QUOTA_EXCEEDED');
    const announced = await t.fetch('/file?filename=d.bin&size=900', { method: 'POST' });
    assert.equal(announced.status, 507);
    assert.equal(objects().length, 2);
    assert.equal((await t.fetch(`/files/${a.file_id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await putBytes(c.upload_uri, new Uint8Array(900))).status, 200, 'the refused URL works once there is room');
    await t.fetch(`/files/${b.file_id}`, { method: 'DELETE' });
    await t.fetch(`/files/${c.file_id}`, { method: 'DELETE' });
  });

  test('concurrent uploads cannot together pass the quota', async () => {
    const first = await newUpload(t, 'first.bin');
    assert.equal((await putBytes(first.upload_uri, new Uint8Array(900))).status, 200);
    const racers = await Promise.all([newUpload(t, 'r1.bin'), newUpload(t, 'r2.bin'), newUpload(t, 'r3.bin')]);
    const answers = await Promise.all(racers.map((u) => putBytes(u.upload_uri, new Uint8Array(900))));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [200, 507, 507]);
    assert.ok((await t.server.runtime.store.storageUsed((await t.server.runtime.store.defaultAccount()).id)) <= 2500);
  });
});

describe('garbage collection and restarts', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());
  const hour = 3_600_000;

  test('abandoned uploads go once their upload URL lapses; ready files stay until they expire, then go with their bytes', async () => {
    const abandoned = await newUpload(t, 'abandoned.txt');
    const kept = await newUpload(t, 'kept.txt');
    await putBytes(kept.upload_uri, 'keep me');
    const files = t.server.runtime.files;
    const object = path.join(t.dataDir, 'files', 'objects', kept.file_id.slice(-2), kept.file_id);
    assert.ok(existsSync(object));

    assert.equal(await files.collectGarbage(Date.now()), 0, 'nothing is due yet');
    await files.collectGarbage(Date.now() + 2 * hour);
    assert.equal(await t.server.runtime.store.getFile(abandoned.file_id), undefined);
    const late = await putBytes(abandoned.upload_uri, 'too late');
    assert.equal(late.status, 404);
    assert.equal(await codeOf(late), 'FILE_NOT_FOUND');
    assert.equal(await (await fetch(kept.download_uri)).text(), 'keep me');

    await files.collectGarbage(Date.now() + 8 * 24 * hour);
    assert.equal(await t.server.runtime.store.getFile(kept.file_id), undefined);
    assert.ok(!existsSync(object), 'the bytes are gone too');
    const gone = await fetch(kept.download_uri);
    assert.equal(gone.status, 404);
  });

  test('files expire after the configured time', async () => {
    const short = await startTestServer({ downloadUrlTtlSeconds: 60, uploadUrlTtlSeconds: 30 });
    try {
      const urls = await newUpload(short, 'short.txt');
      const ttl = Date.parse(urls.expires_at) - Date.now();
      assert.ok(ttl > 50_000 && ttl <= 60_000, String(ttl));
      assert.ok(Date.parse(urls.upload_expires_at) - Date.now() <= 30_000);
      await putBytes(urls.upload_uri, 'brief');
      assert.equal(await short.server.runtime.files.collectGarbage(Date.now() + 61_000), 1);
    } finally {
      await short.close();
    }
  });
});

test('a restart reopens uploads the dead process held, drops its temporary files and objects without a record', async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'runlet-files-restart-'));
  const database = await databaseForDataDir(dataDir);
  try {
    let t = await startTestServer({ dataDir, database });
    const urls = await newUpload(t, 'held.txt');
    // As if a process died mid-upload: the record says uploading, by a node that is gone.
    assert.ok(await t.server.runtime.store.claimUpload(urls.file_id, 'node_gone', Date.now()));
    await t.close();
    const root = path.join(dataDir, 'files');
    writeFileSync(path.join(root, 'tmp', `${urls.file_id}.half.part`), 'half');
    const stray = 'file_zzzzzzzzzzzzzzzzzzzzzzzz';
    mkdirSync(path.join(root, 'objects', 'zz'), { recursive: true });
    writeFileSync(path.join(root, 'objects', 'zz', stray), 'no record');

    t = await startTestServer({ dataDir, database });
    try {
      assert.equal((await t.server.runtime.store.getFile(urls.file_id))?.status, 'pending');
      assert.deepEqual(readdirSync(path.join(root, 'tmp')), []);
      await waitFor(() => !existsSync(path.join(root, 'objects', 'zz', stray)) || undefined, 10_000, 'the stray object to go');
      // The same secret after a restart: the URLs handed out before still work (on the new port).
      const moved = (url: string) => t.url + url.slice(new URL(url).origin.length);
      assert.equal((await putBytes(moved(urls.upload_uri), 'after restart')).status, 200);
      assert.equal(await (await fetch(moved(urls.download_uri))).text(), 'after restart');
    } finally {
      await t.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
