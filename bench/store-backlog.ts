/**
 * Not part of `npm run bench`: what PostgreSQL spends to claim and end a run while a backlog
 * is queued, after the store's connections made their plans with few runs active (as a node
 * does that starts quiet, and then takes a burst). Found the batch of ends reading every
 * active run (docs/performance.md).
 *
 *   DATABASE_URL=postgres://…/fresh_db BACKLOG=8000 node --import tsx bench/store-backlog.ts
 *
 * 600 runs started and ended one at a time (with ANALYZE halfway, as autovacuum would), then
 * BACKLOG runs queued, then 3000 of them claimed two at a time and ended, from four callers.
 * Prints PostgreSQL's CPU per run claimed and ended, and the rate.
 */
import pg from 'pg';
import { attemptRowOf } from '../packages/server/src/engine/attempts.js';
import { newRequestId } from '../packages/server/src/ids.js';
import { PostgresStore } from '../packages/server/src/store/postgres/postgres-store.js';
import type { NewRun, RunOutcome, RunRow } from '../packages/server/src/store/store.js';
import { cpuMsOfCommand } from './lib/processes.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL must name a fresh PostgreSQL database');
const BACKLOG = Number(process.env.BACKLOG ?? 8000);
const MEASURED = 3000;

const store = await PostgresStore.open(url, { max: 10 });
const account = await store.defaultAccount();
const newRun = (mode: 'sync' | 'async'): NewRun => {
  const now = Date.now();
  const start = mode === 'sync' ? { startedAt: now, leaseExpiresAt: now + 60_000 } : {};
  return { id: newRequestId(now), accountId: account.id, keyId: null, serviceId: 'noop', method: 'POST', path: '', query: null, mode, input: Buffer.from('{}'), inputContentType: 'application/json', requestHeaders: {}, correlationId: null, createdAt: now, nodeId: 'bench', ...start };
};
const end = (run: RunRow) => {
  const outcome: RunOutcome = { status: 'completed', completedAt: Date.now(), responseStatus: 200, responseContentType: 'application/json', responseBody: Buffer.from('{}') };
  return store.completeRun(run.id, outcome, 'bench', attemptRowOf(run, outcome, 'bench', null));
};
/** `count` calls of `op` from `callers` callers. */
const from = async (callers: number, count: number, op: () => Promise<unknown>) => {
  let next = 0;
  await Promise.all(Array.from({ length: callers }, async () => {
    while (next++ < count) await op();
  }));
};

await from(4, 300, async () => end(await store.createRun(newRun('sync'))));
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query('ANALYZE runs');
await admin.end();
await from(4, 300, async () => end(await store.createRun(newRun('sync'))));
await from(16, BACKLOG, () => store.createRun(newRun('async')));

const cpuBefore = cpuMsOfCommand('postgres');
const startedAt = performance.now();
await from(4, MEASURED / 2, async () => {
  for (const run of await store.claimQueuedRuns('noop', 2, 'bench', Date.now(), Date.now() + 60_000)) await end(run);
});
const perRunUs = ((cpuMsOfCommand('postgres') - cpuBefore) * 1000) / MEASURED;
console.log(`backlog ${BACKLOG}: ${MEASURED} runs claimed and ended; PostgreSQL ${perRunUs.toFixed(0)} µs per run, ${Math.round(MEASURED / ((performance.now() - startedAt) / 1000))} runs/s`);
await store.close();
