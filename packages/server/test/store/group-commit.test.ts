/** The embedded store's group commit: writes of one turn commit together, each one atomic on its own. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { GroupCommit } from '../../src/store/sqlite/group-commit.js';

const open = () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (x INTEGER PRIMARY KEY)');
  return { db, commits: new GroupCommit(db), rows: () => db.prepare('SELECT x FROM t ORDER BY x').pluck().all() };
};

test('writes asked for in one turn commit in one transaction, and each caller gets its own result', async () => {
  const { db, commits, rows } = open();
  const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
  const writes = [1, 2, 3].map((x) => commits.run(() => insert.run(x).changes));
  assert.deepEqual(rows(), [], 'nothing is written before the group commits');
  assert.deepEqual(await Promise.all(writes), [1, 1, 1]);
  assert.deepEqual(rows(), [1, 2, 3]);
});

test('a write that throws is undone alone: the others in its group commit, only its caller sees the error', async () => {
  const { db, commits, rows } = open();
  const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
  const first = commits.run(() => insert.run(1));
  const failing = commits.run(() => {
    insert.run(2);
    insert.run(1); // a duplicate key: this write fails after writing 2
  });
  const last = commits.run(() => insert.run(3));
  await first;
  await assert.rejects(failing, /UNIQUE/);
  await last;
  assert.deepEqual(rows(), [1, 3], 'the failed write left nothing behind');
});

test('flush commits what is pending at once (as the store does before it closes)', async () => {
  const { db, commits, rows } = open();
  const pending = commits.run(() => db.prepare('INSERT INTO t (x) VALUES (7)').run());
  commits.flush();
  assert.deepEqual(rows(), [7]);
  await pending;
});

test('a write alone in its group that throws leaves nothing, and the next group commits as usual', async () => {
  const { db, commits, rows } = open();
  const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
  await assert.rejects(
    commits.run(() => {
      insert.run(5);
      throw new Error('changed its mind');
    }),
    /changed its mind/,
  );
  assert.deepEqual(rows(), []);
  await commits.run(() => insert.run(6));
  assert.deepEqual(rows(), [6]);
});

test('writes asked for during a hold wait for resume, then commit; flush still commits when held', async () => {
  const { db, commits, rows } = open();
  const insert = db.prepare('INSERT INTO t (x) VALUES (?)');
  commits.hold();
  let committed = false;
  const held = commits.run(() => insert.run(1)).then(() => (committed = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(rows(), [], 'nothing commits while held');
  assert.equal(committed, false, 'and no caller hears of its write');
  commits.resume();
  await held;
  assert.deepEqual(rows(), [1]);
  commits.hold();
  const closing = commits.run(() => insert.run(2));
  commits.flush();
  assert.deepEqual(rows(), [1, 2], 'a store closing while held writes what waits');
  await closing;
  commits.resume();
});
