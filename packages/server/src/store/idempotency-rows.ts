import { RunletError } from '../errors.js';
import { toRun, type Row } from './rows.js';
import type { IdempotencyClaim, RecordedRun } from './types.js';

/** Columns of `idempotency_keys`, in the order `idempotencyValues` gives them. */
export const IDEMPOTENCY_COLUMNS = 'account_id, idempotency_key, fingerprint, run_id, created_at, expires_at';

export function idempotencyValues(accountId: string, runId: string, c: IdempotencyClaim): unknown[] {
  return [accountId, c.key, c.fingerprint, runId, c.createdAt, c.expiresAt];
}

/**
 * What a live key answers a later call: the run it names, again, when the call asks what the
 * first one asked; a refusal otherwise (the caller reused a key for another request).
 */
export function replayOf(key: Row, claim: IdempotencyClaim, run: Row): RecordedRun {
  if (key.fingerprint !== claim.fingerprint) {
    throw new RunletError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was sent earlier with another request (service, path, query or body).');
  }
  return { ...toRun(run), replayed: true };
}
