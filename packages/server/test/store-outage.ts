/**
 * Makes a test server's store fail for real, as a full disk, a read-only file system or a
 * database gone away would: SQLite's file may not grow (`max_page_count`, what a full disk does
 * to it) or may not be written at all, and its run journal's writes go to `/dev/full` (a full
 * disk) or to a descriptor open for reading only; PostgreSQL's database refuses connections and
 * drops those it has.
 */
import { closeSync, openSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { POSTGRES_ADMIN_URL, type TestServer } from './helpers.js';

export interface Outage {
  /** What the error message names as the cause. */
  cause: RegExp;
  end(): Promise<void>;
}

/** `sqlite`: a full disk refuses writes that need room (large ones); a read-only one, every write. */
export async function storeOutage(s: TestServer, sqlite: 'full' | 'read-only' = 'full'): Promise<Outage> {
  const { store, config } = s.server.runtime;
  if (store.kind === 'sqlite') {
    const { db, journal } = store as unknown as { db: Database.Database; journal: { fd: number; file: string } };
    const journalBack = failJournal(journal, sqlite === 'read-only' ? [journal.file, 'r'] : ['/dev/full', 'w']);
    if (sqlite === 'read-only') {
      db.pragma('query_only = ON');
      return { cause: /cannot be written/, end: async () => (db.pragma('query_only = OFF'), journalBack()) };
    }
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    return { cause: /disk holding the data folder is full/, end: async () => (db.pragma('max_page_count = 1073741823'), journalBack()) };
  }
  const name = new URL(config.database!).pathname.slice(1);
  const admin = async (sql: string) => {
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await client.connect();
    await client.query(sql);
    await client.end();
  };
  await admin(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
  await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`);
  return { cause: /PostgreSQL|database/, end: () => admin(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS true`) };
}

/** Points the journal's writes at a file opened with `how`; answers what gives it back its own. */
function failJournal(journal: { fd: number }, how: [string, string]): () => void {
  const own = journal.fd;
  const failing = openSync(...how);
  journal.fd = failing;
  return () => {
    journal.fd = own;
    closeSync(failing);
  };
}

/** Fails the store now (SQLite: read-only, every write refused) for `ms`: `back` settles once it has been given back. */
export async function storeOutageFor(s: TestServer, ms: number): Promise<{ back: Promise<void> }> {
  const outage = await storeOutage(s, 'read-only');
  return { back: new Promise<void>((resolve, reject) => setTimeout(() => outage.end().then(resolve, reject), ms)) };
}

/** Fails the store for 150 ms in every 400 ms, `rounds` times over (see `storeOutageFor`); settles once it is back for good. */
export async function storeChaos(s: TestServer, rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    await new Promise((r) => setTimeout(r, 250));
    await (await storeOutageFor(s, 150)).back;
  }
}
