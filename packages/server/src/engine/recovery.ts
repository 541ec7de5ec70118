import type { OrphanFilter, RunRow, Store } from '../store/store.js';
import type { ServiceRegistry } from '../workers/service-registry.js';
import type { LogRecorder } from '../logs/log-recorder.js';
import type { RunEngine } from './run-engine.js';

/**
 * Runs left in flight by a runtime that died (kill -9, power loss): an async run of a service
 * that declares itself retryable goes back to the queue; every other one ends as `failed`
 * with RUNTIME_RESTARTED and a line in its log saying so. Nothing stays `running` forever.
 */
export async function recoverOrphanedRuns(
  deps: { store: Store; registry: ServiceRegistry; logs: LogRecorder; engine: RunEngine; nodeId: string },
  filter: OrphanFilter,
): Promise<{ requeued: string[]; failed: string[] }> {
  const requeued: string[] = [];
  const failed: string[] = [];
  for (const run of await deps.store.findOrphanedRuns(filter)) {
    // Several nodes may find the same orphan: only the one that adopts it goes on.
    if (!(await deps.store.adoptRun(run.id, run.nodeId, deps.nodeId))) continue;
    if ((await isRetryable(run, deps.registry)) && (await deps.store.requeueRun(run.id))) {
      await note(deps.logs, run, 'warn', 'The runtime restarted while this run was in flight; it will run again.');
      requeued.push(run.id);
      continue;
    }
    const message =
      run.status === 'running'
        ? 'The runtime restarted while this run was in flight.'
        : 'The runtime restarted before this run could start.';
    await note(deps.logs, run, 'error', message);
    if (await deps.engine.finish(run, { status: 'failed', completedAt: Date.now(), error: message, errorCode: 'RUNTIME_RESTARTED' })) {
      failed.push(run.id);
    }
  }
  return { requeued, failed };
}

async function isRetryable(run: RunRow, registry: ServiceRegistry): Promise<boolean> {
  if (run.mode !== 'async' || run.status !== 'running' || !run.serviceId || !registry.has(run.serviceId)) return false;
  const { spec, pool } = registry.get(run.serviceId);
  if (spec.retryable !== undefined) return spec.retryable;
  // The service declares it in its code: ask a worker (a failed start means "not retryable").
  const description = await pool.describe(run.accountId).catch(() => undefined);
  return description?.retryable ?? false;
}

async function note(logs: LogRecorder, run: RunRow, level: 'warn' | 'error', message: string): Promise<void> {
  await logs.open(run.id, false);
  logs.write(run.id, { level, source: 'runtime', message, timeMicros: Date.now() * 1000 });
  await logs.close(run.id);
}
