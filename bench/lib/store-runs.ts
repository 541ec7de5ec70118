/**
 * Runs for the store benchmarks (`bench/store-ops.ts`, `bench/store-backlog.ts`): what a no-op
 * call records, and its end, written straight to a store without HTTP or workers.
 */
import { attemptRowOf } from '../../packages/server/src/engine/attempts.js';
import { newRequestId } from '../../packages/server/src/ids.js';
import type { NewRun, RunOutcome, RunRow, Store } from '../../packages/server/src/store/store.js';

const INPUT = '{"name":"bench","items":[1,2,3]}';

/** A run of the service `noop` for `accountId`; a sync one already started, as a call that found a free worker. */
export function benchRun(accountId: string, mode: 'sync' | 'async', now = Date.now(), id = newRequestId(now)): NewRun {
  return {
    id,
    accountId,
    keyId: null,
    serviceId: 'noop',
    method: 'POST',
    path: '',
    query: null,
    mode,
    input: Buffer.from(INPUT),
    inputContentType: 'application/json',
    requestHeaders: { 'content-type': 'application/json' },
    correlationId: null,
    createdAt: now,
    nodeId: 'bench',
    ...(mode === 'sync' ? { startedAt: now, leaseExpiresAt: now + 60_000 } : {}),
  };
}

/** Ends `run` as completed, with its attempt, as the node `bench` that holds it. */
export function endBenchRun(store: Store, run: RunRow): Promise<RunRow | undefined> {
  const outcome: RunOutcome = {
    status: 'completed',
    completedAt: Date.now(),
    responseStatus: 200,
    responseContentType: 'application/json',
    responseBody: Buffer.from(`{"input":${INPUT},"path":"","query":{}}`),
  };
  return store.completeRun(run.id, outcome, 'bench', attemptRowOf(run, outcome, 'bench', null));
}
