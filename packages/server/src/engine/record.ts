import type { RequestRecord } from '@runlet/protocol';
import type { RunRow } from '../store/store.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The wire form of a run: what `/result` and `/request` answer. */
export function toRequestRecord(run: RunRow): RequestRecord {
  const record: RequestRecord = {
    id: run.id,
    userId: run.accountId,
    serviceId: run.serviceId,
    path: run.path,
    mode: run.mode,
    status: run.status,
    createdAt: iso(run.createdAt)!,
    startedAt: iso(run.startedAt),
    completedAt: iso(run.completedAt),
    responseStatus: run.responseStatus,
    responseContentType: run.responseContentType,
    responseContent: null,
    error: run.error,
    errorCode: run.errorCode,
    correlationId: run.correlationId,
    attempt: run.attempt,
  };
  if (run.responseBody) {
    const text = run.responseBody.toString('utf8');
    const json = isJsonType(run.responseContentType) ? tryParse(text) : undefined;
    if (json !== undefined) record.responseJson = json;
    else record.responseContent = text;
  }
  return record;
}

export function isJsonType(contentType: string | null | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
