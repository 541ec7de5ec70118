import type { AttemptRow, DeliveryAttemptRow, DeliveryRow, DeliveryStatus, TombstoneRow } from './control-types.js';
import type { Row } from './rows.js';

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function toAttempt(r: Row): AttemptRow {
  return {
    runId: String(r.run_id),
    attempt: Number(r.attempt),
    status: String(r.status) as AttemptRow['status'],
    responseStatus: num(r.response_status),
    error: str(r.error),
    errorCode: str(r.error_code),
    nodeId: str(r.node_id),
    startedAt: num(r.started_at),
    endedAt: Number(r.ended_at),
    retryAt: num(r.retry_at),
  };
}

export function toDelivery(r: Row): DeliveryRow {
  return {
    id: String(r.id),
    runId: String(r.run_id),
    accountId: String(r.account_id),
    url: String(r.url),
    status: String(r.status) as DeliveryStatus,
    attempts: Number(r.attempts),
    createdAt: Number(r.created_at),
    nextAttemptAt: Number(r.next_attempt_at),
    giveUpAt: Number(r.give_up_at),
    completedAt: num(r.completed_at),
  };
}

export function toDeliveryAttempt(r: Row): DeliveryAttemptRow {
  return {
    deliveryId: String(r.delivery_id),
    attempt: Number(r.attempt),
    attemptedAt: Number(r.attempted_at),
    durationMs: Number(r.duration_ms),
    statusCode: num(r.status_code),
    error: str(r.error),
  };
}

export function toTombstone(r: Row): TombstoneRow {
  return { id: String(r.id), accountId: String(r.account_id), purgedAt: Number(r.purged_at), expiresAt: Number(r.expires_at) };
}

/** The columns of an attempt, in the order both stores insert them. */
export const ATTEMPT_COLUMNS = 'run_id, attempt, status, response_status, error, error_code, node_id, started_at, ended_at, retry_at';

export function attemptValues(a: AttemptRow): unknown[] {
  return [a.runId, a.attempt, a.status, a.responseStatus, a.error, a.errorCode, a.nodeId, a.startedAt, a.endedAt, a.retryAt];
}

/** A delivery's id follows from its run's: one message per run, the same `webhook-id` on every attempt. */
export function deliveryIdOf(runId: string): string {
  return 'msg_' + runId.replace(/^req_/, '');
}
