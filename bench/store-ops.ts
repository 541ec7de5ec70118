/**
 * Not part of `npm run bench`: the CPU each store operation of a run costs, without HTTP or
 * workers, for finding where a store's time goes (docs/performance.md).
 *
 *   node --import tsx bench/store-ops.ts                          SQLite, in a temporary folder
 *   DATABASE_URL=postgres://…/fresh_db node --import tsx bench/store-ops.ts
 *
 * Phases, each over RUNS runs (default 6000) from CONCURRENCY callers (default 32):
 * - sync: a run recorded as started, then ended with its attempt (what a sync call with a free
 *   worker writes);
 * - insert, claim (CLAIM runs at a time, from 2 claimers), complete, read: an async run's writes
 *   and its `/result` read, phase by phase.
 * Prints the store process's CPU (this one) and, on PostgreSQL, the database's, per operation.
 * `IDS=random` makes request ids as they were before they sorted by time, for comparison.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomId } from '../packages/server/src/ids.js';
import { PostgresStore } from '../packages/server/src/store/postgres/postgres-store.js';
import { SqliteStore } from '../packages/server/src/store/sqlite/sqlite-store.js';
import type { NewRun, RunRow, Store } from '../packages/server/src/store/store.js';
import { cpuMsOfCommand } from './lib/processes.js';
import { benchRun, endBenchRun } from './lib/store-runs.js';

const RUNS = Number(process.env.RUNS ?? 6000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const CLAIM = Number(process.env.CLAIM ?? 2);
const randomIds = process.env.IDS === 'random';
const database = process.env.DATABASE_URL;

const folder = database ? undefined : mkdtempSync(path.join(os.tmpdir(), 'runlet-store-ops-'));
const store: Store = database ? await PostgresStore.open(database, { max: 10 }) : new SqliteStore(path.join(folder!, 'runlet.db'));
const account = await store.defaultAccount();

const newRun = (mode: 'sync' | 'async'): NewRun => benchRun(account.id, mode, Date.now(), randomIds ? `req_${randomId(24)}` : undefined);
const end = (run: RunRow) => endBenchRun(store, run);

/** Runs `op` `count` times from `callers` callers; prints the CPU per operation. */
async function phase(name: string, count: number, op: (i: number) => Promise<unknown>, callers = CONCURRENCY): Promise<void> {
  const databaseBefore = database ? cpuMsOfCommand('postgres') : 0;
  const before = process.cpuUsage();
  const startedAt = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: callers }, async () => {
    while (next < count) await op(next++);
  }));
  const wallMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(before);
  const perOp = (us: number) => `${(us / count).toFixed(0)} µs`;
  const db = database ? `, PostgreSQL ${perOp((cpuMsOfCommand('postgres') - databaseBefore) * 1000)}` : '';
  console.log(`${name.padEnd(8)} ${String(count).padStart(6)} ops: this process ${perOp(cpu.user + cpu.system)} (system ${perOp(cpu.system)})${db} per op; ${Math.round((count / wallMs) * 1000)} ops/s`);
}

console.log(`${store.kind}, ${randomIds ? 'random' : 'time-ordered'} ids, ${RUNS} runs, ${CONCURRENCY} callers`);
await phase('warm-up', 1000, async () => end(await store.createRun(newRun('sync'))));
await phase('sync', RUNS, async () => end(await store.createRun(newRun('sync'))));
const queued: RunRow[] = [];
await phase('insert', RUNS, async () => queued.push(await store.createRun(newRun('async'))));
const claimed: RunRow[] = [];
await phase('claim', Math.ceil(queued.length / CLAIM), async () => claimed.push(...(await store.claimQueuedRuns({ serviceId: 'noop', limit: CLAIM, nodeId: 'bench', now: Date.now(), leaseExpiresAt: Date.now() + 60_000 }))), 2);
if (claimed.length !== queued.length) throw new Error(`claimed ${claimed.length} of ${queued.length} queued runs`);
await phase('complete', claimed.length, (i) => end(claimed[i]!));
await phase('read', claimed.length, (i) => store.getRunRecord(claimed[i]!.id));
await store.close();
if (folder) rmSync(folder, { recursive: true, force: true });
