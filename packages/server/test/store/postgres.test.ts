import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { freshDatabase } from '../helpers.js';
import { runStoreConformance } from './conformance.js';

runStoreConformance('postgres', async () => {
  const db = await freshDatabase();
  const store = await PostgresStore.open(db.url);
  return { store, close: async () => (await store.close(), await db.drop()) };
});
