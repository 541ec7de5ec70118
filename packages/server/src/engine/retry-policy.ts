import type { RetryOutcome, RetryPolicy } from '@runlet/protocol';
import type { Millis, RunOutcome, RunRow } from '../store/store.js';
import type { ServiceRegistry } from '../workers/service-registry.js';

/** What the answer of an attempt said about retrying, besides its outcome. */
export interface AttemptHints {
  /** The service sent `x-runlet-no-retry`: this run must not run again. */
  noRetry?: boolean;
  /** The attempt ended before its call reached a worker. */
  beforeStart?: boolean;
}

/**
 * The retry policy of a run's service: its `runlet.json`, else what its code declares (asked
 * of a worker; none when the service is gone or its workers cannot start).
 */
export async function retryPolicyOf(registry: ServiceRegistry, run: Pick<RunRow, 'serviceId' | 'accountId'>): Promise<RetryPolicy | undefined> {
  if (!run.serviceId || !registry.has(run.serviceId)) return undefined;
  const { spec, pool } = registry.get(run.serviceId);
  if (spec.retry) return spec.retry;
  const description = await pool.describe(run.accountId).catch(() => undefined);
  return description?.retry;
}

/** Which retryable kind of ending an attempt had, if any. */
export function retryOutcomeOf(outcome: RunOutcome): RetryOutcome | undefined {
  if (outcome.status === 'timed_out') return 'timeout';
  if (outcome.status === 'failed') return outcome.errorCode === 'WORKER_CRASHED' || outcome.errorCode === 'RUNTIME_RESTARTED' ? 'crash' : undefined;
  if (outcome.status !== 'completed' || outcome.responseStatus == null) return undefined;
  if (outcome.responseStatus === 429) return '429';
  return outcome.responseStatus >= 500 ? '5xx' : undefined;
}

/**
 * The delay before the attempt after `attempt`: exponential, capped, plus up to `jitter` of it
 * at random. Jitter only ever adds, so that a retry is never earlier than the policy says, and
 * runs that failed together (a dependency down) spread out instead of retrying in step.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.backoffFactor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 + policy.jitter * random()));
}

/**
 * When an async run's ended attempt runs again, or undefined when it does not: sync runs never
 * (their caller is waiting and decides), nor a run whose service said no, nor past the attempts
 * the policy allows, nor an ending the policy does not retry.
 */
export function nextAttemptAt(
  policy: RetryPolicy | undefined,
  run: Pick<RunRow, 'mode' | 'attempt'>,
  outcome: RunOutcome,
  hints: AttemptHints,
  now: Millis,
): Millis | undefined {
  if (!policy || run.mode !== 'async' || hints.noRetry || run.attempt >= policy.maxAttempts) return undefined;
  const kind = retryOutcomeOf(outcome);
  if (!kind || !policy.on.includes(kind)) return undefined;
  return now + retryDelayMs(policy, run.attempt);
}
