import path from 'node:path';
import type { Config } from '../config.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The configured store: PostgreSQL when `database` is set, else SQLite in the data folder. */
export async function openStore(config: Pick<Config, 'database' | 'databasePoolSize' | 'dataDir'>): Promise<Store> {
  if (config.database) return PostgresStore.open(config.database, { max: config.databasePoolSize });
  return new SqliteStore(path.join(config.dataDir, 'runlet.db'));
}
