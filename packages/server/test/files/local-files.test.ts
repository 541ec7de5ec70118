import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FileInfo, FileList } from '@runlet/protocol';
import { startTestServer, waitFor, type TestServer } from '../helpers.js';
import { newUpload, partialPut, putBytes, statusOf } from './file-helpers.js';

const CSV = 'name,score\nada,3\ngrace,5\n';

describe('files on local disk', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  /** Files under the storage root, temporary ones included. */
  const storedFiles = () => {
    const root = path.join(t.dataDir, 'files');
    const out: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) e.isDirectory() ? walk(path.join(dir, e.name)) : out.push(path.join(dir, e.name));
    };
    walk(root);
    return out.map((f) => path.relative(root, f));
  };

  test('POST /file hands out absolute upload and download URLs on the runtime, and an expiry', async () => {
    const urls = await newUpload(t, 'data.csv');
    assert.ok(urls.upload_uri.startsWith(`${t.url}/files/`), urls.upload_uri);
    assert.ok(urls.download_uri.startsWith(`${t.url}/files/`), urls.download_uri);
    assert.notEqual(urls.upload_uri, urls.download_uri);
    const days = (Date.parse(urls.expires_at) - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, `download URLs last 7 days, got ${days}`);
    const hours = (Date.parse(urls.upload_expires_at) - Date.now()) / 3_600_000;
    assert.ok(hours > 0.9 && hours <= 1, `upload URLs last an hour, got ${hours}`);
  });

  test('PUT the bytes without a key, then GET them without a key, with type, name, ETag and length', async () => {
    const urls = await newUpload(t, 'scores.csv');
    const put = await putBytes(urls.upload_uri, CSV, 'text/csv');
    assert.equal(put.status, 200);
    const info = (await put.json()) as FileInfo;
    assert.equal(info.status, 'ready');
    assert.equal(info.size, Buffer.byteLength(CSV));
    assert.equal(info.sha256, createHash('sha256').update(CSV).digest('hex'));

    const got = await fetch(urls.download_uri);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), CSV);
    assert.equal(got.headers.get('content-type'), 'text/csv');
    assert.equal(got.headers.get('content-length'), String(Buffer.byteLength(CSV)));
    assert.match(got.headers.get('content-disposition')!, /^attachment; filename="scores\.csv"/);
    assert.equal(got.headers.get('etag'), `"${info.sha256}"`);
    assert.equal(got.headers.get('accept-ranges'), 'bytes');
    assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
  });

  test('octet-stream uploads get their type from the name; other types are kept as sent', async () => {
    const a = await newUpload(t, 'table.csv');
    await putBytes(a.upload_uri, CSV, 'application/octet-stream');
    assert.equal((await fetch(a.download_uri)).headers.get('content-type'), 'text/csv');
    const b = await newUpload(t, 'blob.bin');
    await putBytes(b.upload_uri, 'x', 'image/png');
    assert.equal((await fetch(b.download_uri)).headers.get('content-type'), 'image/png');
  });

  test('a name outside ASCII travels in Content-Disposition as RFC 5987 UTF-8', async () => {
    const urls = await newUpload(t, 'résumé 2024.txt');
    await putBytes(urls.upload_uri, 'hi');
    const got = await fetch(urls.download_uri);
    assert.equal(got.headers.get('content-disposition'), `attachment; filename="r_sum_ 2024.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.txt`);
  });

  test('byte ranges: 206 with Content-Range, suffix and open ranges, 416 past the end, If-None-Match 304', async () => {
    const body = '0123456789';
    const urls = await newUpload(t, 'digits.txt');
    await putBytes(urls.upload_uri, body);
    const range = async (value: string) => {
      const r = await fetch(urls.download_uri, { headers: { range: value } });
      return { status: r.status, text: await r.text(), contentRange: r.headers.get('content-range'), length: r.headers.get('content-length') };
    };
    assert.deepEqual(await range('bytes=2-4'), { status: 206, text: '234', contentRange: 'bytes 2-4/10', length: '3' });
    assert.deepEqual(await range('bytes=7-'), { status: 206, text: '789', contentRange: 'bytes 7-9/10', length: '3' });
    assert.deepEqual(await range('bytes=-2'), { status: 206, text: '89', contentRange: 'bytes 8-9/10', length: '2' });
    assert.deepEqual(await range('bytes=5-100'), { status: 206, text: '56789', contentRange: 'bytes 5-9/10', length: '5' });
    const past = await range('bytes=10-');
    assert.equal(past.status, 416);
    assert.equal(past.contentRange, 'bytes */10');
    assert.equal(JSON.parse(past.text).code, 'RANGE_NOT_SATISFIABLE');
    // Several ranges: the whole file, as RFC 9110 allows.
    assert.deepEqual(await range('bytes=0-1,4-5'), { status: 200, text: body, contentRange: null, length: '10' });

    const etag = (await fetch(urls.download_uri, { method: 'HEAD' })).headers.get('etag')!;
    const cached = await fetch(urls.download_uri, { headers: { 'if-none-match': etag } });
    assert.equal(cached.status, 304);
    const stale = await fetch(urls.download_uri, { headers: { range: 'bytes=0-0', 'if-range': '"other"' } });
    assert.equal(stale.status, 200, 'a Range with a stale If-Range gets the whole file');
  });

  test('HEAD answers the headers with the real length and no body', async () => {
    const urls = await newUpload(t, 'head.txt');
    await putBytes(urls.upload_uri, 'twelve bytes');
    const head = await fetch(urls.download_uri, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '12');
    assert.equal(await head.text(), '');
  });

  test('an empty file is stored and served', async () => {
    const urls = await newUpload(t, 'empty.txt');
    assert.equal((await putBytes(urls.upload_uri, '')).status, 200);
    const got = await fetch(urls.download_uri);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-length'), '0');
    assert.equal(await got.text(), '');
  });

  test('upload URLs are single-use', async () => {
    const urls = await newUpload(t, 'once.txt');
    assert.equal((await putBytes(urls.upload_uri, 'first')).status, 200);
    const again = await putBytes(urls.upload_uri, 'second');
    assert.equal(again.status, 409);
    assert.equal(((await again.json()) as { code: string }).code, 'UPLOAD_URL_USED');
    assert.equal(await (await fetch(urls.download_uri)).text(), 'first');
  });

  test('a download URL before any upload: 404 FILE_NOT_READY', async () => {
    const urls = await newUpload(t, 'later.txt');
    const early = await fetch(urls.download_uri);
    assert.equal(early.status, 404);
    assert.equal(((await early.json()) as { code: string }).code, 'FILE_NOT_READY');
  });

  test('tampered URLs: 403 URL_INVALID; the signature binds the id, the method and the expiry', async () => {
    const urls = await newUpload(t, 'secret.txt');
    await putBytes(urls.upload_uri, 'top secret');
    const u = new URL(urls.download_uri);
    const variants = {
      sig: urls.download_uri.replace(/sig=([^&])/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`),
      expiry: urls.download_uri.replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 3600}`),
      noSig: `${u.origin}${u.pathname}?expires=${u.searchParams.get('expires')}`,
      bare: `${u.origin}${u.pathname}`,
    };
    for (const [what, url] of Object.entries(variants)) {
      const r = await fetch(url);
      assert.equal(r.status, 403, what);
      const body = (await r.json()) as { code: string; message: string };
      assert.equal(body.code, 'URL_INVALID', what);
      assert.equal(r.headers.get('x-runlet-error'), 'URL_INVALID');
    }
    // Another file's signature does not open this one.
    const other = await newUpload(t, 'other.txt');
    const otherSig = new URL(other.download_uri).searchParams;
    const swapped = `${u.origin}${u.pathname}?expires=${otherSig.get('expires')}&sig=${otherSig.get('sig')}`;
    assert.equal((await fetch(swapped)).status, 403);
  });

  test('expired URLs: 403 URL_EXPIRED, for download and for upload', async () => {
    const urls = await newUpload(t, 'old.txt');
    const id = urls.file_id;
    const signer = t.server.runtime.files.signer;
    const past = Date.now() - 1000;
    const path = new URL(urls.download_uri).pathname;
    const get = await fetch(`${t.url}${path}?${signer.query(id, 'GET', past)}`);
    assert.equal(get.status, 403);
    assert.equal(((await get.json()) as { code: string }).code, 'URL_EXPIRED');
    const put = await putBytes(`${t.url}${path}?${signer.query(id, 'PUT', past)}`, 'late');
    assert.equal(put.status, 403);
    assert.equal(((await put.json()) as { code: string }).code, 'URL_EXPIRED');
    assert.equal((await fetch(urls.download_uri)).status, 404, 'the late upload stored nothing');
  });

  test('the wrong method on a URL: 405 URL_WRONG_METHOD naming the right one', async () => {
    const urls = await newUpload(t, 'method.txt');
    const getUpload = await fetch(urls.upload_uri);
    assert.equal(getUpload.status, 405);
    assert.equal(getUpload.headers.get('allow'), 'PUT');
    assert.match(((await getUpload.json()) as { message: string }).message, /upload URL/);
    const putDownload = await putBytes(urls.download_uri, 'x');
    assert.equal(putDownload.status, 405);
    assert.equal(putDownload.headers.get('allow'), 'GET, HEAD');
    assert.equal(((await putDownload.json()) as { code: string }).code, 'URL_WRONG_METHOD');
    assert.equal((await putBytes(urls.upload_uri, 'ok')).status, 200, 'the upload URL still works');
  });

  test('ids that are not file ids, or that name paths, never reach the disk: 404 FILE_NOT_FOUND', async () => {
    const urls = await newUpload(t, 'x.txt');
    const q = new URL(urls.download_uri).search;
    for (const p of ['/files/..%2F..%2Fetc%2Fpasswd/x', '/files/..%2Frunlet.db/x', '/files/..%2Ffiles-secret/x', '/files/FILE_AAAAAAAAAAAAAAAAAAAAAAAA/x']) {
      const r = await fetch(`${t.url}${p}${q}`);
      assert.equal(r.status, 404, p);
      assert.equal(((await r.json()) as { code: string }).code, 'FILE_NOT_FOUND', p);
    }
    // A well-formed id under another file's signature is a forgery.
    const forged = await fetch(`${t.url}/files/file_aaaaaaaaaaaaaaaaaaaaaaaa/x${q}`);
    assert.equal(forged.status, 403);
    // A well-formed, correctly signed id that does not exist.
    const ghost = 'file_000000000000000000000000';
    const r = await fetch(`${t.url}/files/${ghost}/x?${t.server.runtime.files.signer.query(ghost, 'GET', Date.now() + 60_000)}`);
    assert.equal(r.status, 404);
    assert.throws(() => (t.server.runtime.files.storage as unknown as { pathOf(k: string): string }).pathOf('../../etc/passwd'), /FILE_NOT_FOUND|No file/);
  });

  test('file names: missing → FILENAME_MISSING; separators, control characters, dot names, overlong → FILENAME_INVALID', async () => {
    const missing = await t.fetch('/file', { method: 'POST' });
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { code: string }).code, 'FILENAME_MISSING');
    const empty = await t.fetch('/file?filename=', { method: 'POST' });
    assert.equal(((await empty.json()) as { code: string }).code, 'FILENAME_MISSING');
    for (const bad of ['a/b.csv', 'a\\b.csv', '../x', 'new\nline', 'tab\there', 'nul\u0000', '.', '..', 'x'.repeat(256), '   ']) {
      const r = await t.fetch(`/file?filename=${encodeURIComponent(bad)}`, { method: 'POST' });
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal(((await r.json()) as { code: string }).code, 'FILENAME_INVALID', JSON.stringify(bad));
    }
    const ok = await t.fetch(`/file?filename=${encodeURIComponent('x'.repeat(255))}`, { method: 'POST' });
    assert.equal(ok.status, 200);
  });

  test('POST /file and GET /files need a key; the signed URLs do not', async () => {
    assert.equal((await t.fetch('/file?filename=a.txt', { method: 'POST', key: null })).status, 401);
    assert.equal((await t.fetch('/files', { key: null })).status, 401);
    assert.equal((await t.fetch('/files/file_000000000000000000000000', { method: 'DELETE', key: null })).status, 401);
  });

  test('one-step upload: the raw body with ?filename', async () => {
    const r = await t.fetch('/file?filename=direct.csv', { method: 'POST', body: CSV, headers: { 'content-type': 'text/csv' } });
    assert.equal(r.status, 201);
    const info = (await r.json()) as FileInfo;
    assert.equal(info.filename, 'direct.csv');
    assert.equal(info.size, Buffer.byteLength(CSV));
    assert.equal(await (await fetch(info.download_uri!)).text(), CSV);
    const nameless = await t.fetch('/file', { method: 'POST', body: CSV });
    assert.equal(((await nameless.json()) as { code: string }).code, 'FILENAME_MISSING');
  });

  test('one-step upload: multipart/form-data, the part names the file (or ?filename overrides it)', async () => {
    const form = new FormData();
    form.append('note', 'a field before the file');
    form.append('file', new Blob([CSV], { type: 'text/csv' }), 'form.csv');
    const r = await t.fetch('/file', { method: 'POST', body: form });
    assert.equal(r.status, 201);
    const info = (await r.json()) as FileInfo;
    assert.equal(info.filename, 'form.csv');
    assert.equal(info.content_type, 'text/csv');
    assert.equal(await (await fetch(info.download_uri!)).text(), CSV);

    const renamed = new FormData();
    renamed.append('file', new Blob(['x']), 'ignored.bin');
    const r2 = await t.fetch('/file?filename=chosen.txt', { method: 'POST', body: renamed });
    assert.equal(((await r2.json()) as FileInfo).filename, 'chosen.txt');

    const noFile = new FormData();
    noFile.append('just', 'a field');
    const r3 = await t.fetch('/file', { method: 'POST', body: noFile });
    assert.equal(r3.status, 400);
    assert.equal(((await r3.json()) as { code: string }).code, 'FILENAME_MISSING');
  });

  test('GET /files lists the account files; GET /files/{id} one; DELETE removes record and bytes', async () => {
    const up = await newUpload(t, 'listed.txt');
    await putBytes(up.upload_uri, 'listed');
    const list = (await (await t.fetch('/files')).json()) as FileList;
    const entry = list.files.find((f) => f.file_id === up.file_id)!;
    assert.ok(entry);
    assert.equal(entry.filename, 'listed.txt');
    assert.equal(entry.size, 6);
    assert.equal(entry.content_type, 'text/plain');
    assert.equal(entry.status, 'ready');
    assert.ok(entry.created_at && entry.expires_at);
    assert.equal(await (await fetch(entry.download_uri!)).text(), 'listed');

    const one = await t.fetch(`/files/${up.file_id}`);
    assert.equal(((await one.json()) as FileInfo).filename, 'listed.txt');

    const before = storedFiles().filter((f) => f.includes(up.file_id));
    assert.equal(before.length, 1);
    const del = await t.fetch(`/files/${up.file_id}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.deepEqual(storedFiles().filter((f) => f.includes(up.file_id)), []);
    const gone = await fetch(up.download_uri);
    assert.equal(gone.status, 404);
    assert.equal(((await gone.json()) as { code: string }).code, 'FILE_NOT_FOUND');
    const again = await t.fetch(`/files/${up.file_id}`, { method: 'DELETE' });
    assert.equal(again.status, 404);
    assert.equal((await t.fetch('/files/not-a-file', { method: 'DELETE' })).status, 404);
  });

  test('GET /files pages with limit and next_cursor', async () => {
    const ids = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = (await (await t.fetch(`/files?limit=2${cursor ? `&before=${cursor}` : ''}`)).json()) as FileList;
      for (const f of page.files) {
        assert.ok(!ids.has(f.file_id), 'no file twice');
        ids.add(f.file_id);
      }
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 100);
    const all = (await (await t.fetch('/files?limit=1000')).json()) as FileList;
    assert.equal(ids.size, all.files.length);
    assert.ok(pages > 1);
    assert.equal((await t.fetch('/files?before=garbage')).status, 400);
  });

  test("another account's files are invisible to it: not listed, not deletable (404)", async () => {
    const account = await t.server.runtime.store.createAccount('other');
    const { createKey } = await import('../../src/keys/key-admin.js');
    const { key } = await createKey(t.server.runtime.store, account.id, 'standard', 'other');
    const mine = await newUpload(t, 'mine.txt');
    await putBytes(mine.upload_uri, 'mine');
    const theirs = (await (await t.fetch('/files', { key })).json()) as FileList;
    assert.deepEqual(theirs.files, []);
    assert.equal((await t.fetch(`/files/${mine.file_id}`, { key })).status, 404);
    assert.equal((await t.fetch(`/files/${mine.file_id}`, { method: 'DELETE', key })).status, 404);
    assert.equal((await fetch(mine.download_uri)).status, 200, 'still there for its owner');
  });

  test('a one-time key may upload before it is spent, and not after', async () => {
    const key = await t.newKey('one_time');
    const r = await t.fetch('/file?filename=ot.txt', { method: 'POST', key });
    assert.equal(r.status, 200);
    const run = await t.fetch('/run/echo', { json: {}, key });
    assert.equal(run.status, 200);
    const after = await t.fetch('/file?filename=ot2.txt', { method: 'POST', key });
    assert.equal(after.status, 403);
    assert.equal(((await after.json()) as { code: string }).code, 'KEY_SPENT');
  });

  test('the URL secret is generated into the data dir, readable by its owner only', () => {
    const mode = statSync(path.join(t.dataDir, 'files-secret')).mode & 0o777;
    assert.equal(mode, 0o600);
  });

  test('an interrupted upload stores nothing and leaves the URL usable', async () => {
    const urls = await newUpload(t, 'flaky.txt');
    const body = Buffer.alloc(200_000, 'a');
    const put = await partialPut(urls.upload_uri, body.length, body.subarray(0, 50_000));
    await waitFor(async () => (await t.server.runtime.store.getFile(urls.file_id))?.status === 'uploading' || undefined, 10_000, 'the upload to start');
    put.cut();
    await waitFor(async () => (await t.server.runtime.store.getFile(urls.file_id))?.status === 'pending' || undefined, 10_000, 'the upload to be released');
    assert.deepEqual(storedFiles().filter((f) => f.includes(urls.file_id)), [], 'no object and no temporary file');
    assert.equal((await fetch(urls.download_uri)).status, 404);
    const retry = await putBytes(urls.upload_uri, body);
    assert.equal(retry.status, 200);
    assert.equal((await (await fetch(urls.download_uri)).arrayBuffer()).byteLength, body.length);
  });

  test('a file still being uploaded is not served (404), and is once complete', async () => {
    const urls = await newUpload(t, 'slow.txt');
    const put = await partialPut(urls.upload_uri, 10, Buffer.from('01234'));
    await waitFor(async () => (await t.server.runtime.store.getFile(urls.file_id))?.status === 'uploading' || undefined, 10_000, 'the upload to start');
    const during = await fetch(urls.download_uri);
    assert.equal(during.status, 404);
    const body = (await during.json()) as { code: string; message: string };
    assert.equal(body.code, 'FILE_NOT_READY');
    assert.match(body.message, /still being uploaded/);
    const second = await putBytes(urls.upload_uri, 'other');
    assert.equal(second.status, 409);
    assert.equal(((await second.json()) as { code: string }).code, 'UPLOAD_IN_PROGRESS');
    const answer = await put.rest(Buffer.from('56789'));
    assert.equal(statusOf(answer), 200, answer);
    assert.equal(await (await fetch(urls.download_uri)).text(), '0123456789');
  });

  test('a body longer than its Content-Length: 400, and never more than the declared bytes stored', async () => {
    const urls = await newUpload(t, 'declared.txt');
    const put = await partialPut(urls.upload_uri, 5, Buffer.from('12345EXTRA-BYTES-NOT-HTTP'));
    const answer = await put.rest(Buffer.alloc(0));
    assert.match(answer, /HTTP\/1\.1 400/);
    const file = await waitFor(async () => {
      const f = await t.server.runtime.store.getFile(urls.file_id);
      return f && f.status !== 'uploading' ? f : undefined;
    }, 10_000, 'the upload to settle');
    if (file.status === 'ready') assert.equal(await (await fetch(urls.download_uri)).text(), '12345');
    else {
      assert.equal(file.status, 'pending');
      assert.deepEqual(storedFiles().filter((f) => f.includes(urls.file_id)), []);
      assert.equal((await putBytes(urls.upload_uri, '12345')).status, 200, 'the URL is still usable');
    }
  });

  test('?size= binds the upload to that many bytes: more → FILE_TOO_LARGE, fewer → UPLOAD_INCOMPLETE, nothing stored', async () => {
    const urls = await newUpload(t, 'sized.txt', '&size=5');
    const big = await putBytes(urls.upload_uri, '123456');
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { code: string }).code, 'FILE_TOO_LARGE');
    const small = await putBytes(urls.upload_uri, '1234');
    assert.equal(small.status, 400);
    assert.equal(((await small.json()) as { code: string }).code, 'UPLOAD_INCOMPLETE');
    // Chunked bodies (no Content-Length) are counted as they stream.
    const chunked = (text: string) =>
      fetch(urls.upload_uri, {
        method: 'PUT',
        body: new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(text)), c.close()) }),
        // @ts-expect-error Node's fetch needs duplex for a stream body
        duplex: 'half',
      });
    const bigChunked = await chunked('1234567');
    assert.equal(((await bigChunked.json()) as { code: string }).code, 'FILE_TOO_LARGE');
    const smallChunked = await chunked('12');
    assert.equal(((await smallChunked.json()) as { code: string }).code, 'UPLOAD_INCOMPLETE');
    assert.equal((await fetch(urls.download_uri)).status, 404);
    assert.deepEqual(storedFiles().filter((f) => f.includes(urls.file_id)), []);
    assert.equal((await putBytes(urls.upload_uri, '12345')).status, 200);
  });

  test('unknown routes and methods under /files answer JSON errors', async () => {
    const r = await t.fetch('/files/file_000000000000000000000000/x', { method: 'POST' });
    assert.equal(r.status, 404);
    assert.equal(((await r.json()) as { code: string }).code, 'ROUTE_NOT_FOUND');
  });

  test('/openapi.json documents the file endpoints', async () => {
    const doc = (await (await t.fetch('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    assert.ok(doc.paths['/file']?.post);
    assert.ok(doc.paths['/files/{id}/{name}']?.put);
    assert.ok(doc.paths['/files/{id}/{name}']?.get);
    assert.ok(doc.paths['/files']?.get);
    assert.ok(doc.paths['/files/{id}']?.delete);
  });
});
