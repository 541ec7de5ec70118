import type Database from 'better-sqlite3';
import { readMigrations, type Migration } from '../migrations.js';

/**
 * Applies what is missing inside one IMMEDIATE transaction: a second process starting at the
 * same moment waits on the write lock (busy_timeout), then sees the versions already applied.
 */
export function migrateSqlite(db: Database.Database, dir: string): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const apply = db.transaction((migrations: Migration[]) => {
    const done = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      applied.push(m.version);
    }
    return applied;
  });
  return apply.immediate(readMigrations(dir));
}
