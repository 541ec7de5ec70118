/**
 * The run journal is a faster path to the same answers: over random sequences of what the
 * engine does to runs (record, start, claim with and without account caps, end, cancel, renew,
 * requeue), with indexing and restarts at random points, a store on a file (which journals sync
 * runs) answers every call and every read exactly as a store in memory does (which has no
 * journal: every write goes to the tables). `DEBUG_SEQ=1` prints each step, to follow a
 * failing sequence.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { AttemptRow, RunOutcome, RunRow, RunTiming, RunWithAttempts } from '../../src/store/store.js';
import { newRunOf } from './new-run.js';

const SEQUENCES = 25;
const STEPS = 80;

/** A small seeded generator (mulberry32): a failing sequence can be run again by its seed. */
function generator(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sortedTimings(timings: RunTiming[]): string[] {
  return timings.map((t) => JSON.stringify(t)).sort();
}

/** The two stores' accounts have ids of their own: everything else must match. */
function comparable(value: unknown): unknown {
  if (value === undefined || value === null || typeof value !== 'object') return value;
  const run = (r: RunRow) => ({ ...r, accountId: 'account' });
  if (Array.isArray(value)) return value.map(comparable);
  const record = value as RunWithAttempts;
  if (record.run) return { run: run(record.run), attempts: record.attempts };
  return run(value as RunRow);
}

test('a store that journals sync runs answers exactly as one that writes them to its tables', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runlet-equivalence-'));
  try {
    for (let seed = 1; seed <= SEQUENCES; seed++) {
      const random = generator(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const file = path.join(dir, `seq-${seed}.db`);
      const tables = new SqliteStore(':memory:');
      let journaled = new SqliteStore(file);
      const accounts = [(await tables.defaultAccount()).id, (await journaled.defaultAccount()).id];
      const ids: string[] = [];
      let clock = 1_000;
      const both = async <T>(step: string, call: (store: SqliteStore, accountId: string) => Promise<T>) => {
        const [expected, actual] = [await call(tables, accounts[0]!), await call(journaled, accounts[1]!)];
        assert.deepEqual(comparable(actual), comparable(expected), `seed ${seed}, ${step}`);
      };

      for (let step = 0; step < STEPS; step++) {
        // Times are multiples of 10, so a run recorded as 5 ms older than its step is older than
        // the run before it and the same age as none: claims take the oldest first, never a tie.
        clock += 10 * (1 + Math.floor(random() * 5));
        const t = clock;
        const id = ids.length > 0 ? pick(ids) : undefined;
        const node = pick(['n1', 'n2']);
        const op = id ? pick(['create', 'create', 'start', 'claim', 'claim', 'end', 'end', 'cancel', 'renew', 'requeue', 'queues', 'taken', 'list', 'reopen']) : 'create';
        const service = pick(['s1', 's2']);
        const what = `step ${step}: ${op} ${id ?? ''}`;
        if (process.env.DEBUG_SEQ) console.log(what, node, t);
        if (op === 'create') {
          const runId = `req_${seed}_${step}`;
          ids.push(runId);
          const input = Buffer.from(`{"step":${step}}`);
          const run = random() < 0.5
            ? { mode: 'sync' as const, startedAt: random() < 0.5 ? t : null, leaseExpiresAt: t + 1000 }
            : { mode: 'async' as const };
          const createdAt = random() < 0.2 ? t - 5 : t;
          await both(what, (s, accountId) => s.createRun(newRunOf(accountId, { id: runId, serviceId: service, createdAt, nodeId: node, input, ...run })));
        } else if (op === 'claim') {
          // Half of them under a cap of the account's runs running (maxConcurrentPerAccount).
          const accountMax = random() < 0.5 ? 1 + Math.floor(random() * 3) : undefined;
          const claim = { serviceId: service, limit: 1 + Math.floor(random() * 3), nodeId: node, claimNumber: step, now: t, leaseExpiresAt: t + 700, accountMax };
          await both(what, (s) => s.claimQueuedRuns(claim));
        } else if (op === 'taken') {
          const claimNumber = Math.floor(random() * step);
          await both(what, (s) => s.takeClaimedRuns(node, claimNumber, t + 900));
        } else if (op === 'queues') {
          await both(what, async (s) => JSON.stringify([(await s.servicesWithQueuedRuns()).sort(), await s.countQueuedRuns('s1'), await s.countQueuedRuns('s2')]) as unknown as null);
        } else if (op === 'start') {
          await both(what, (s) => s.markRunning(id!, node, t, t + 500));
        } else if (op === 'end') {
          const outcome: RunOutcome = pick<RunOutcome>([
            { status: 'completed', completedAt: t, responseStatus: 200, responseContentType: 'application/json', responseBody: Buffer.from(`{"at":${t}}`) },
            { status: 'failed', completedAt: t, error: 'it broke', errorCode: 'WORKER_CRASHED' },
            { status: 'timed_out', completedAt: t, error: 'too slow', errorCode: 'RUN_TIMEOUT' },
          ]);
          const owner = pick([undefined, 'n1', 'n2']);
          const attempt: AttemptRow | undefined = random() < 0.7
            ? { runId: id!, attempt: 1 + Math.floor(random() * 2), status: outcome.status as AttemptRow['status'], responseStatus: outcome.responseStatus ?? null, error: outcome.error ?? null, errorCode: outcome.errorCode ?? null, nodeId: owner ?? null, startedAt: t - 1, endedAt: t, retryAt: null }
            : undefined;
          await both(what, (s) => s.completeRun(id!, outcome, owner, attempt));
        } else if (op === 'cancel') {
          await both(what, (s) => s.cancelRun(id!, t, 'Cancelled by a test.'));
        } else if (op === 'renew') {
          const renewed = [id!, pick(ids)];
          await both(what, async (s) => (await s.extendLeases(node, renewed, t + 2000), null));
        } else if (op === 'requeue') {
          await both(what, (s) => s.requeueRun(id!));
        } else if (op === 'list') {
          // A page as the dashboard asks for it: by service, by status, after a cursor, short.
          const cursorRun = random() < 0.4 ? await tables.getRun(pick(ids)) : undefined;
          const page = {
            serviceId: random() < 0.4 ? service : undefined,
            status: random() < 0.4 ? pick(['queued', 'running', 'completed', 'failed', 'timed_out', 'cancelled'] as const) : undefined,
            before: cursorRun && { createdAt: cursorRun.createdAt, id: cursorRun.id },
            limit: random() < 0.5 ? 1000 : 1 + Math.floor(random() * 4),
          };
          await both(`${what} ${JSON.stringify(page)}`, (s, accountId) => s.listRuns({ accountId, ...page }));
          // Usage's timings: runs created at the same time come in no set order, so compared as a set.
          const since = cursorRun?.createdAt ?? 0;
          await both(`${what}, timings since ${since}`, async (s, accountId) => sortedTimings(await s.runTimings(accountId, since, 1000)));
        } else {
          await journaled.close();
          journaled = new SqliteStore(file);
        }
        for (const runId of ids) await both(`${what}, then reading ${runId}`, (s) => s.getRunRecord(runId));
        // Back-pressure's count: the journal keeps its share as runs change, so it must never drift.
        await both(`${what}, then counting the account's runs`, (s, accountId) => s.countAccountRuns(accountId));
      }
      await both('the whole list at the end', (s, accountId) => s.listRuns({ accountId, limit: 1000 }));
      await tables.close();
      await journaled.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
