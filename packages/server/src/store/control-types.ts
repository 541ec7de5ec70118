import type { Millis, RunRow } from './types.js';

/** How one attempt of a run ended (recorded when it ends, whether or not it is retried). */
export interface AttemptRow {
  runId: string;
  attempt: number;
  status: 'completed' | 'failed' | 'timed_out' | 'cancelled';
  responseStatus: number | null;
  error: string | null;
  errorCode: string | null;
  nodeId: string | null;
  startedAt: Millis | null;
  endedAt: Millis;
  /** When the next attempt is due; null when this attempt was the last. */
  retryAt: Millis | null;
}

/** A run with every attempt it has made (oldest first): what a request record is made of. */
export interface RunWithAttempts {
  run: RunRow;
  attempts: readonly AttemptRow[];
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One completion webhook message: made when its run ends, attempted until delivered or given up. */
export interface DeliveryRow {
  id: string;
  runId: string;
  accountId: string;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  createdAt: Millis;
  nextAttemptAt: Millis;
  giveUpAt: Millis;
  completedAt: Millis | null;
}

export interface DeliveryAttemptRow {
  deliveryId: string;
  attempt: number;
  attemptedAt: Millis;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
}

/** What follows a delivery attempt: done, given up, or another try at `nextAttemptAt`. */
export type DeliveryNext = { status: 'delivered' | 'failed' } | { status: 'pending'; nextAttemptAt: Millis };

/** What is left of a purged run, so that it answers "expired" rather than "unknown". */
export interface TombstoneRow {
  id: string;
  accountId: string;
  purgedAt: Millis;
  expiresAt: Millis;
}

export interface PurgePolicy {
  now: Millis;
  /** The retention of accounts that set none of their own. */
  defaultRetentionSeconds: number;
  /** How long a tombstone outlives its run. */
  tombstoneSeconds: number;
  /** Runs purged per call: small batches keep each transaction short. */
  limit: number;
}
