import type { KeyKind, LogLevel, LogSource, RunMode, RunStatus } from '@runlet/protocol';
import type { ApiKeyRecord, NewApiKey, NewRun, RunRow, StoredLogLine } from './types.js';

/** Column-to-field mapping for SQLite rows; the SQL keeps snake_case, the code camelCase. */
export type Row = Record<string, unknown>;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function toRun(r: Row): RunRow {
  return {
    id: String(r.id),
    accountId: String(r.account_id),
    keyId: str(r.key_id),
    serviceId: str(r.service_id),
    method: String(r.method ?? 'POST'),
    path: String(r.path ?? ''),
    query: str(r.query),
    mode: str(r.mode) as RunMode | null,
    status: String(r.status) as RunStatus,
    input: (r.input as Buffer | null) ?? null,
    inputContentType: str(r.input_content_type),
    requestHeaders: JSON.parse(String(r.request_headers ?? '{}')) as Record<string, string>,
    correlationId: str(r.correlation_id),
    createdAt: Number(r.created_at),
    startedAt: num(r.started_at),
    completedAt: num(r.completed_at),
    responseStatus: num(r.response_status),
    responseContentType: str(r.response_content_type),
    responseBody: (r.response_body as Buffer | null) ?? null,
    error: str(r.error),
    errorCode: str(r.error_code),
    nodeId: str(r.node_id),
    leaseExpiresAt: num(r.lease_expires_at),
    attempt: Number(r.attempt ?? 0),
    claimNumber: num(r.claim_number),
    expiresAt: num(r.expires_at),
    runAfter: num(r.run_after),
    callbackUrl: str(r.callback_url),
    retainSeconds: num(r.retain_seconds),
  };
}

export function toApiKey(r: Row): ApiKeyRecord {
  return {
    id: String(r.id),
    accountId: String(r.account_id),
    kind: String(r.kind) as KeyKind,
    name: str(r.name),
    prefix: String(r.prefix),
    createdAt: Number(r.created_at),
    lastUsedAt: num(r.last_used_at),
    useCount: Number(r.use_count ?? 0),
    revokedAt: num(r.revoked_at),
    spentAt: num(r.spent_at),
    spentRunId: str(r.spent_run_id),
    internal: Boolean(r.internal),
    expiresAt: num(r.expires_at),
    services: r.services === null || r.services === undefined ? null : (JSON.parse(String(r.services)) as string[]),
    createdBy: str(r.created_by),
  };
}

export function toLogLine(r: Row): StoredLogLine {
  return {
    runId: String(r.run_id),
    seq: Number(r.seq),
    createdAt: Number(r.created_at),
    timeMicros: Number(r.time_us),
    level: String(r.level) as LogLevel,
    source: String(r.source) as LogSource,
    message: String(r.message),
    fields: r.fields ? (JSON.parse(String(r.fields)) as Record<string, unknown>) : null,
    ...(r.attempt === null || r.attempt === undefined ? {} : { attempt: Number(r.attempt) }),
  };
}

/** Whether a new run carries options beyond its call, which the store then sets with it. */
export function hasRunOptions(run: NewRun): boolean {
  return Boolean(run.callbackUrl) || (run.retainSeconds ?? null) !== null;
}

/** A new run's status, start and attempt: queued and not yet tried, or started as it is recorded. */
export function startOf(run: NewRun): ['queued' | 'running', number | null, number] {
  const startedAt = run.startedAt ?? null;
  return startedAt === null ? ['queued', null, 0] : ['running', startedAt, 1];
}

/** The columns of a new key past the basic ones, in insert order: expiry, services, creator. */
export function apiKeyExtras(key: NewApiKey): [number | null, string | null, string | null] {
  return [key.expiresAt ?? null, key.services ? JSON.stringify(key.services) : null, key.createdBy ?? null];
}
