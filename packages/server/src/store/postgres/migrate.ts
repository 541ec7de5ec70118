import type pg from 'pg';
import { readMigrations } from '../migrations.js';
import { inTransaction } from './transaction.js';

/** An arbitrary constant: the advisory lock that serialises migrations between nodes. */
const MIGRATION_LOCK = 0x52554e4c; // "RUNL"

/**
 * Applies missing migrations in one transaction holding an advisory lock: when several nodes
 * start at once, the first migrates and the others wait, then find nothing left to do.
 */
export function migratePostgres(pool: pg.Pool, dir: string): Promise<number[]> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of readMigrations(dir)) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      applied.push(m.version);
    }
    return applied;
  });
}
