import type { RunAttempt } from '@runlet/protocol';
import type { LogRecorder } from '../logs/log-recorder.js';
import type { AttemptRow, Millis, RunOutcome, RunRow } from '../store/store.js';
import { isStoreFailure } from '../store/store-failure.js';

const iso = (ms: Millis | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The record of how an attempt of `run` ended. */
export function attemptRowOf(run: Pick<RunRow, 'id' | 'attempt' | 'startedAt'>, outcome: RunOutcome, nodeId: string | null, retryAt: Millis | null): AttemptRow {
  return {
    runId: run.id,
    attempt: run.attempt,
    status: outcome.status,
    responseStatus: outcome.responseStatus ?? null,
    error: outcome.error ?? null,
    errorCode: outcome.errorCode ?? null,
    nodeId,
    startedAt: run.startedAt,
    endedAt: outcome.completedAt,
    retryAt,
  };
}

export function toWireAttempt(a: AttemptRow): RunAttempt {
  return {
    attempt: a.attempt,
    status: a.status,
    responseStatus: a.responseStatus,
    error: a.error,
    errorCode: a.errorCode,
    startedAt: iso(a.startedAt),
    endedAt: iso(a.endedAt)!,
    retryAt: iso(a.retryAt),
  };
}

/** How an attempt ended, in a few words for the run's log. */
export function describeEnding(outcome: RunOutcome): string {
  if (outcome.error) return outcome.error;
  if (outcome.responseStatus != null) return `The service answered ${outcome.responseStatus}.`;
  return `The attempt ended ${outcome.status}.`;
}

/**
 * Writes one runtime line into a run's log, tagged with the attempt it concerns. A note the
 * store cannot take now (its log's last line cannot be read) is dropped rather than thrown:
 * what follows it, such as the run's end, which carries the same words, must still be written.
 */
export async function noteInLog(logs: LogRecorder, run: Pick<RunRow, 'id' | 'attempt'>, level: 'warn' | 'error', message: string): Promise<void> {
  try {
    await logs.open(run.id, false, run.attempt);
  } catch (err) {
    if (isStoreFailure(err)) return;
    throw err;
  }
  logs.write(run.id, { level, source: 'runtime', message, timeMicros: Date.now() * 1000 });
  await logs.close(run.id);
}
