import type { OrphanFilter, RunOutcome, RunRow, Store } from '../store/store.js';
import type { ServiceRegistry } from '../workers/service-registry.js';
import type { LogRecorder } from '../logs/log-recorder.js';
import { noteInLog } from './attempts.js';
import { nextAttemptAt, retryPolicyOf } from './retry-policy.js';
import type { Dispatcher } from './dispatcher.js';
import type { RunEngine } from './run-engine.js';

/**
 * Runs left in flight by a runtime that died (kill -9, power loss). An async run goes through
 * its service's retry policy as a crashed attempt would (a service with no policy that declares
 * itself `retryable` runs again at once); every other one ends as `failed` with
 * RUNTIME_RESTARTED and a line in its log saying so. Nothing stays `running` forever.
 */
export async function recoverOrphanedRuns(
  deps: { store: Store; registry: ServiceRegistry; logs: LogRecorder; engine: RunEngine; nodeId: string; dispatcher: Pick<Dispatcher, 'mayHaveClaimed'> },
  filter: OrphanFilter,
): Promise<{ requeued: string[]; failed: string[] }> {
  const requeued: string[] = [];
  const failed: string[] = [];
  for (const orphan of await deps.store.findOrphanedRuns(filter)) {
    // Its lease lapsed while the store was away, but this node is still on it, or will be once
    // the store tells it which runs a claim whose answer was lost took.
    if (deps.engine.holds(orphan.id) || deps.dispatcher.mayHaveClaimed(orphan)) continue;
    // Several nodes may find the same orphan: only the one that adopts it goes on (and only
    // while its lease is lapsed: its node may have renewed it since it was found).
    const lapsed = 'leaseExpiredBefore' in filter ? filter.leaseExpiredBefore : undefined;
    if (!(await deps.store.adoptRun(orphan.id, orphan.nodeId, deps.nodeId, lapsed))) continue;
    const run = { ...orphan, nodeId: deps.nodeId };
    const message =
      run.status === 'running'
        ? 'The runtime restarted while this run was in flight.'
        : 'The runtime restarted before this run could start.';
    const outcome: RunOutcome = { status: 'failed', completedAt: Date.now(), error: message, errorCode: 'RUNTIME_RESTARTED' };
    if (run.status === 'running' && run.mode === 'async') {
      const policy = await retryPolicyOf(deps.registry, run).catch(() => undefined);
      const retryAt = nextAttemptAt(policy, run, outcome, {}, Date.now());
      if (retryAt !== undefined && (await deps.engine.retry(run, outcome, retryAt))) {
        requeued.push(run.id);
        continue;
      }
      if (!policy && (await isRetryable(run, deps.registry)) && (await deps.store.requeueRun(run.id))) {
        deps.engine.changed(run);
        await noteInLog(deps.logs, run, 'warn', 'The runtime restarted while this run was in flight; it will run again.');
        requeued.push(run.id);
        continue;
      }
    }
    await noteInLog(deps.logs, run, 'error', message);
    if (await deps.engine.endAttempt(run, outcome, { noRetry: true })) failed.push(run.id);
  }
  return { requeued, failed };
}

/** The older, all-or-nothing declaration: `retryable: true` runs an interrupted run again. */
async function isRetryable(run: RunRow, registry: ServiceRegistry): Promise<boolean> {
  if (!run.serviceId || !registry.has(run.serviceId)) return false;
  const { spec, pool } = registry.get(run.serviceId);
  if (spec.retryable !== undefined) return spec.retryable;
  // The service declares it in its code: ask a worker (a failed start means "not retryable").
  const description = await pool.describe(run.accountId).catch(() => undefined);
  return description?.retryable ?? false;
}
