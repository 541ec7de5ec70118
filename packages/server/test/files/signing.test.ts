import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { checkFileName, contentDisposition, contentTypeFor } from '../../src/files/names.js';
import { parseRange } from '../../src/files/range.js';
import { loadFilesSecret, UrlSigner } from '../../src/files/signing.js';

const signer = new UrlSigner(Buffer.alloc(32, 7));
const id = 'file_abcdefghijklmnopqrstuvwx';
const future = Math.floor(Date.now() / 1000) + 600;

test('a signature holds for its id, method and expiry only', () => {
  const sig = signer.sign(id, 'GET', future);
  assert.deepEqual(signer.verify(id, 'GET', String(future), sig), { ok: true });
  assert.deepEqual(signer.verify(id, 'PUT', String(future), sig), { ok: false, reason: 'wrong_method', signedFor: 'GET' });
  assert.equal(signer.verify('file_abcdefghijklmnopqrstuvwy', 'GET', String(future), sig).ok, false);
  assert.deepEqual(signer.verify(id, 'GET', String(future + 1), sig), { ok: false, reason: 'invalid' });
  assert.deepEqual(signer.verify(id, 'GET', String(future), sig.slice(0, -1)), { ok: false, reason: 'invalid' });
  assert.deepEqual(signer.verify(id, 'GET', undefined, sig), { ok: false, reason: 'invalid' });
  assert.deepEqual(signer.verify(id, 'GET', '1e9', sig), { ok: false, reason: 'invalid' });
  const other = new UrlSigner(Buffer.alloc(32, 8));
  assert.equal(other.verify(id, 'GET', String(future), sig).ok, false, 'another secret');
});

test('an expired signature is expired, not invalid; a forged expiry is invalid', () => {
  const past = Math.floor(Date.now() / 1000) - 1;
  assert.deepEqual(signer.verify(id, 'GET', String(past), signer.sign(id, 'GET', past)), { ok: false, reason: 'expired' });
  assert.deepEqual(signer.verify(id, 'GET', String(future), signer.sign(id, 'GET', past)), { ok: false, reason: 'invalid' });
});

test('short secrets are refused', () => {
  assert.throws(() => new UrlSigner(Buffer.alloc(16)));
});

test('the generated secret is 0600, kept across loads, and a configured one wins', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runlet-secret-'));
  try {
    const a = loadFilesSecret(undefined, dir);
    const b = loadFilesSecret(undefined, dir);
    assert.deepEqual(a, b);
    assert.equal(statSync(path.join(dir, 'files-secret')).mode & 0o777, 0o600);
    assert.ok(readFileSync(path.join(dir, 'files-secret'), 'utf8').trim().length >= 64);
    assert.equal(loadFilesSecret('x'.repeat(40), dir).toString(), 'x'.repeat(40));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file names', () => {
  assert.equal(checkFileName('report (final).csv'), 'report (final).csv');
  assert.equal(checkFileName('日本語.txt'), '日本語.txt');
  for (const bad of ['a/b', 'a\\b', '.', '..', 'x\u0007', 'x\u0085', '\u007f', 'é'.repeat(128)]) {
    assert.throws(() => checkFileName(bad), (err: { code?: string }) => err.code === 'FILENAME_INVALID', JSON.stringify(bad));
  }
  assert.throws(() => checkFileName(undefined), (err: { code?: string }) => err.code === 'FILENAME_MISSING');
  assert.throws(() => checkFileName(['a', 'b']), (err: { code?: string }) => err.code === 'FILENAME_INVALID');
});

test('Content-Disposition quotes safely', () => {
  assert.equal(contentDisposition('a"b\\c.txt'), `attachment; filename="a_b_c.txt"; filename*=UTF-8''a%22b%5Cc.txt`);
  assert.equal(contentDisposition("it's (1).txt"), `attachment; filename="it's (1).txt"; filename*=UTF-8''it%27s%20%281%29.txt`);
});

test('content types: the sent type, unless it is octet-stream; then the extension', () => {
  assert.equal(contentTypeFor('application/octet-stream', 'a.csv'), 'text/csv');
  assert.equal(contentTypeFor(undefined, 'a.JSON'), 'application/json');
  assert.equal(contentTypeFor('text/plain; charset=utf-8', 'a.csv'), 'text/plain; charset=utf-8');
  assert.equal(contentTypeFor(undefined, 'noext'), 'application/octet-stream');
});

test('byte ranges', () => {
  assert.deepEqual(parseRange('bytes=0-0', 10), { start: 0, end: 0 });
  assert.deepEqual(parseRange('bytes=9-', 10), { start: 9, end: 9 });
  assert.deepEqual(parseRange('bytes=-20', 10), { start: 0, end: 9 });
  assert.equal(parseRange('bytes=10-11', 10), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
  assert.equal(parseRange('bytes=5-2', 10), undefined);
  assert.equal(parseRange('items=0-1', 10), undefined);
  assert.equal(parseRange('bytes=-', 10), undefined);
  assert.equal(parseRange(undefined, 10), undefined);
});
