/** Which errors are the store's own failures (503 STORE_UNAVAILABLE, retried) and which are not. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { isStoreFailure, storeFailureOf } from '../../src/store/store-failure.js';

function sqliteError(setUp: (db: Database.Database) => void, write: (db: Database.Database) => void): unknown {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (x TEXT UNIQUE)');
  db.prepare('INSERT INTO t VALUES (?)').run('taken');
  setUp(db);
  try {
    write(db);
  } catch (err) {
    return err;
  } finally {
    db.close();
  }
  throw new Error('the write did not fail');
}

test('SQLite: a full disk or a read-only file is a store failure; a broken constraint is not', () => {
  const full = sqliteError((db) => db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`), (db) => db.prepare('INSERT INTO t VALUES (?)').run('y'.repeat(100_000)));
  assert.equal((full as { code: string }).code, 'SQLITE_FULL');
  const failure = storeFailureOf(full);
  assert.equal(failure?.code, 'STORE_UNAVAILABLE');
  assert.equal(failure?.status, 503);
  assert.match(failure!.message, /the disk holding the data folder is full/);
  assert.equal(failure?.extra.headers?.['retry-after'], '5');

  const readOnly = sqliteError((db) => db.pragma('query_only = ON'), (db) => db.prepare('INSERT INTO t VALUES (?)').run('z'));
  assert.match(storeFailureOf(readOnly)?.message ?? '', /cannot be written/);

  const constraint = sqliteError(() => {}, (db) => db.prepare('INSERT INTO t VALUES (?)').run('taken'));
  assert.match((constraint as { code: string }).code, /^SQLITE_CONSTRAINT/);
  assert.equal(storeFailureOf(constraint), undefined);
  assert.deepEqual([full, readOnly, constraint].map(isStoreFailure), [true, true, false]);
});

test('PostgreSQL: a database out of reach is a store failure; an error in a statement is not', async () => {
  // Nothing listens on port 1.
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:1/postgres' });
  const refused = await client.connect().then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.match(storeFailureOf(refused)?.message ?? '', /PostgreSQL is out of reach \(ECONNREFUSED\)/);

  const db = new pg.Client({ connectionString: process.env.RUNLET_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
  await db.connect();
  try {
    const syntax = await db.query('SELEC 1').then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.equal((syntax as { code: string }).code, '42601');
    assert.equal(storeFailureOf(syntax), undefined);
  } finally {
    await db.end();
  }
  assert.equal(storeFailureOf(new Error('anything else')), undefined);
  assert.equal(storeFailureOf('not an error'), undefined);
});
