import type { LogLine } from '@runlet/protocol';
import type { StoredLogLine } from '../store/store.js';

/** ISO 8601 with microseconds, e.g. 2026-11-28T15:04:05.123456Z. */
export function isoMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const extra = String(micros % 1000).padStart(3, '0');
  return new Date(ms).toISOString().replace('Z', `${extra}Z`);
}

export function toWireLogLine(line: StoredLogLine): LogLine {
  const out: LogLine = {
    requestId: line.runId,
    seq: line.seq,
    createdAt: new Date(line.createdAt).toISOString(),
    time: isoMicros(line.timeMicros),
    level: line.level,
    source: line.source,
    message: line.message,
  };
  if (line.fields) out.fields = line.fields;
  if (line.attempt) out.attempt = line.attempt;
  return out;
}
