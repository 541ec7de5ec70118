import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { runStoreConformance } from './conformance.js';

// A fresh SQLite file in a temporary folder for every test.
runStoreConformance('sqlite', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runlet-store-'));
  const store = new SqliteStore(path.join(dir, 'runlet.db'));
  return { store, close: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
});
