/** Local disk storage leaves nothing behind an upload that fails, however early it fails. */
import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { newFileId } from '../../src/files/ids.js';
import { LocalDiskStorage } from '../../src/files/local-storage.js';
import { UrlSigner } from '../../src/files/signing.js';
import type { FileRow } from '../../src/store/types.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'runlet-local-storage-'));
after(() => rmSync(root, { recursive: true, force: true }));

const fileRow = (): FileRow => {
  const id = newFileId();
  return { id, storageKey: id } as FileRow;
};

/** Keeps `threads` of libuv's four pool threads busy for a while, as a loaded server's are. */
const busyPool = (threads: number) => Promise.all(Array.from({ length: threads }, () => new Promise((resolve) => pbkdf2('x', 'y', 5000, 32, 'sha256', resolve))));

test('an upload whose body fails before its temporary file is even open leaves no temporary file', async () => {
  const storage = new LocalDiskStorage(root, new UrlSigner(Buffer.alloc(32, 1)), () => 'http://127.0.0.1');
  await storage.start();
  // The body fails on its first read, while the temporary file's open still waits its turn in
  // the pool. The write used to reject at once and remove the file before that open ran, on
  // another thread, which then created it: in scratch runs about one write in forty, each
  // time with a different number of the pool's threads busy.
  for (let i = 0; i < 600; i++) {
    const busy = busyPool(i % 4);
    const body = new Readable({
      read() {
        this.destroy(new Error('the client went away'));
      },
    });
    await assert.rejects(storage.write(fileRow(), body, { limits: [], contentType: 'application/octet-stream' }), /went away/);
    await busy;
  }
  // Any open still in flight has run by now.
  await busyPool(4);
  assert.deepEqual(readdirSync(path.join(root, 'tmp')), [], 'no temporary file outlived its failed upload');
});
