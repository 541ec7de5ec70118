import path from 'node:path';
import { ConfigError, type Config } from '../config.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/**
 * The configured store: PostgreSQL when `database` is set, else SQLite in the data folder. A
 * store that cannot be opened is a setting to fix, so it fails as a ConfigError that says which
 * store and why (the CLI prints it as one line, not a stack).
 */
export async function openStore(config: Pick<Config, 'database' | 'databasePoolSize' | 'dataDir'>): Promise<Store> {
  if (config.database) {
    const database = config.database;
    return PostgresStore.open(database, { max: config.databasePoolSize }).catch((err: unknown) => {
      throw new ConfigError(`cannot open the PostgreSQL database ${withoutPassword(database)}: ${reasonOf(err)}${POSTGRES_HINTS[codeOf(err)] ?? ''}`);
    });
  }
  const file = path.join(config.dataDir, 'runlet.db');
  try {
    return new SqliteStore(file);
  } catch (err) {
    throw new ConfigError(`cannot open the embedded store ${file}: ${reasonOf(err)}`);
  }
}

/** What to try, by the error's code: a system error's, or PostgreSQL's SQLSTATE. */
const POSTGRES_HINTS: Record<string, string> = {
  ECONNREFUSED: ' (is PostgreSQL running there, and is --database / DATABASE_URL right?)',
  ENOTFOUND: ' (no such host: check --database / DATABASE_URL)',
  ETIMEDOUT: ' (no answer: check the host, the port and any firewall)',
  '3D000': ' (create it first, e.g. createdb, or name an existing one)',
  '28000': ' (check the user name in the URL and pg_hba.conf)',
  '28P01': ' (check the password in the URL)',
};

function codeOf(err: unknown): string {
  return String((err as { code?: unknown } | null)?.code ?? '');
}

function reasonOf(err: unknown): string {
  // An AggregateError (every address of a host refused) has no message of its own.
  const inner = err instanceof AggregateError ? err.errors[0] : err;
  return inner instanceof Error ? inner.message || codeOf(inner) : String(inner);
}

function withoutPassword(database: string): string {
  try {
    const url = new URL(database);
    if (url.password) url.password = '***';
    return url.href;
  } catch {
    return database;
  }
}
