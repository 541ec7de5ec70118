import { after } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { freshDatabase } from '../helpers.js';
import { runStoreConformance } from './conformance.js';

// One fresh database for this file; each test opens its own store (pool, migrations) on it.
const database = freshDatabase();
after(async () => (await database).drop());

runStoreConformance(
  'postgres',
  async () => {
    const store = await PostgresStore.open((await database).url);
    return { store, close: () => store.close() };
  },
  // A database of its own, for tests of what is server-wide (users, settings).
  async () => {
    const own = await freshDatabase();
    const store = await PostgresStore.open(own.url);
    return { store, close: async () => (await store.close(), await own.drop()) };
  },
);
