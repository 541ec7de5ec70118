/**
 * Not part of `npm run bench`: what PostgreSQL spends to claim and end a run while a backlog
 * is queued, after the store's connections made their plans with few runs active (as a node
 * does that starts quiet, and then takes a burst). Found the batch of ends reading every
 * active run (docs/performance.md).
 *
 *   DATABASE_URL=postgres://…/fresh_db BACKLOG=8000 node --import tsx bench/store-backlog.ts
 *
 * 600 runs started and ended, four at a time (with ANALYZE halfway, as autovacuum would), then
 * BACKLOG runs queued, then 3000 of them claimed two at a time and ended, from four callers.
 * Prints PostgreSQL's CPU per run claimed and ended, and the rate.
 */
import { PostgresStore } from '../packages/server/src/store/postgres/postgres-store.js';
import type { RunRow } from '../packages/server/src/store/store.js';
import { cpuMsOfCommand } from './lib/processes.js';
import { benchRun, endBenchRun } from './lib/store-runs.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL must name a fresh PostgreSQL database');
const BACKLOG = Number(process.env.BACKLOG ?? 8000);
const MEASURED = 3000;

const store = await PostgresStore.open(url, { max: 10 });
const account = await store.defaultAccount();
const newRun = (mode: 'sync' | 'async') => store.createRun(benchRun(account.id, mode));
const end = (run: RunRow) => endBenchRun(store, run);
/** `count` calls of `op` from `callers` callers. */
const from = async (callers: number, count: number, op: () => Promise<unknown>) => {
  let next = 0;
  await Promise.all(Array.from({ length: callers }, async () => {
    while (next++ < count) await op();
  }));
};

await from(4, 300, async () => end(await newRun('sync')));
await store.pool.query('ANALYZE runs');
await from(4, 300, async () => end(await newRun('sync')));
await from(16, BACKLOG, () => newRun('async'));

const cpuBefore = cpuMsOfCommand('postgres');
const startedAt = performance.now();
await from(4, MEASURED / 2, async () => {
  for (const run of await store.claimQueuedRuns({ serviceId: 'noop', limit: 2, nodeId: 'bench', now: Date.now(), leaseExpiresAt: Date.now() + 60_000 })) await end(run);
});
const perRunUs = ((cpuMsOfCommand('postgres') - cpuBefore) * 1000) / MEASURED;
console.log(`backlog ${BACKLOG}: ${MEASURED} runs claimed and ended; PostgreSQL ${perRunUs.toFixed(0)} µs per run, ${Math.round(MEASURED / ((performance.now() - startedAt) / 1000))} runs/s`);
await store.close();
