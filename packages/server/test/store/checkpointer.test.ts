/** The embedded store checkpoints its WAL from a thread of its own, never inside a commit on the event loop. */
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { waitFor } from '../helpers.js';
import { newRunOf } from './new-run.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'runlet-checkpoint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs with bodies big enough that a few hundred of them need new pages in the database file,
 * written through the group commit: a retention of their own keeps them out of the run journal.
 */
async function writeRuns(store: SqliteStore, count: number): Promise<string[]> {
  const accountId = (await store.defaultAccount()).id;
  const runs = await Promise.all(Array.from({ length: count }, () => store.createRun(newRunOf(accountId, { input: Buffer.alloc(2000, 'x'), retainSeconds: 3600 }))));
  return runs.map((r) => r.id);
}

test('commits reach the database file through the checkpoint thread, while the store connection never checkpoints', async () => {
  const file = path.join(dir, 'busy.db');
  const store = new SqliteStore(file);
  try {
    const pragma = (store as unknown as { db: Database.Database }).db.pragma('wal_autocheckpoint', { simple: true });
    assert.equal(pragma, 0, 'the store connection leaves checkpoints to the thread');
    const before = statSync(file).size;
    await writeRuns(store, 500);
    // Only a checkpoint copies WAL frames into the database file, and only the thread makes one.
    await waitFor(() => statSync(file).size > before + 500 * 2000 || undefined, 10_000, 'the database file to take the commits');
  } finally {
    await store.close();
  }
});

test('closing checkpoints the rest and removes the WAL; every committed run is there on the next open', async () => {
  const file = path.join(dir, 'closed.db');
  const store = new SqliteStore(file);
  const ids = await writeRuns(store, 300);
  await store.close();
  assert.equal(existsSync(`${file}-wal`), false, 'the last connection to close took the WAL with it');
  const reopened = new SqliteStore(file);
  try {
    const found = await Promise.all(ids.map((id) => reopened.getRun(id)));
    assert.equal(found.filter((r) => r?.status === 'queued').length, ids.length);
  } finally {
    await reopened.close();
  }
});

/** The WAL header's checkpoint sequence number: SQLite adds one each time it starts the WAL over from its first frame. */
function walRestarts(file: string): number {
  const fd = openSync(`${file}-wal`, 'r');
  try {
    const header = Buffer.alloc(16);
    return readSync(fd, header, 0, 16, 0) === 16 ? header.readUInt32BE(12) : 0;
  } finally {
    closeSync(fd);
  }
}

test('under writes that never pause, the WAL starts over from its first frame instead of growing for as long as they last', async () => {
  const file = path.join(dir, 'steady.db');
  const store = new SqliteStore(file);
  const accountId = (await store.defaultAccount()).id;
  const ids: string[] = [];
  try {
    // One batch after another with no pause between them: a checkpoint never finds the store idle.
    const deadline = Date.now() + 20_000;
    while (walRestarts(file) < 2) {
      assert.ok(Date.now() < deadline, `the WAL started over ${walRestarts(file)} times in 20 s of steady writes (want 2); it holds ${statSync(`${file}-wal`).size} bytes`);
      const runs = await Promise.all(Array.from({ length: 50 }, () => store.createRun(newRunOf(accountId, { input: Buffer.alloc(500, 'x'), retainSeconds: 3600 }))));
      ids.push(...runs.map((r) => r.id));
    }
    const found = await Promise.all(ids.map((id) => store.getRun(id)));
    assert.equal(found.filter((r) => r?.status === 'queued').length, ids.length, 'no write was lost while writes were held');
  } finally {
    await store.close();
  }
});

test('a WAL that a burst of writes grew is emptied once the store goes quiet', async () => {
  const file = path.join(dir, 'burst.db');
  const store = new SqliteStore(file);
  try {
    const ids = await writeRuns(store, 4000);
    assert.ok(statSync(`${file}-wal`).size > 4 * 1024 * 1024, 'the burst grew the WAL past 4 MiB');
    await waitFor(() => statSync(`${file}-wal`).size === 0 || undefined, 15_000, 'the quiet store to empty its WAL');
    // Emptied, not lost: every run is still there, and the next write starts the WAL again.
    ids.push(...(await writeRuns(store, 1)));
    const found = await Promise.all(ids.map((id) => store.getRun(id)));
    assert.equal(found.filter((r) => r?.status === 'queued').length, ids.length);
  } finally {
    await store.close();
  }
});
