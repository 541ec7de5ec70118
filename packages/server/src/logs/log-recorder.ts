import type { LogLevel, LogSource } from '@runlet/protocol';
import type { Store, StoredLogLine } from '../store/store.js';
import type { EventBus } from './event-bus.js';

export interface LogEntry {
  level: LogLevel;
  source: LogSource;
  message: string;
  fields?: Record<string, unknown> | null;
  timeMicros: number;
}

/** Where the next line of a run goes: its sequence number and the last `createdAt` given out. */
interface RunCursor {
  seq: number;
  lastCreatedAt: number;
  /** The attempt of the run whose output this is; every line is tagged with it. */
  attempt?: number;
}

/**
 * Turns a run's output into durable log lines: numbers them, gives each a `createdAt` that is
 * strictly later (by at least 1 ms) than the one before in the same run, writes them to the
 * store in batches (one transaction per turn of the event loop), then tells live readers.
 */
export class LogRecorder {
  private readonly cursors = new Map<string, RunCursor>();
  private pending: StoredLogLine[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /**
   * Starts recording a run (its attempt `attempt`, when it has started). `fresh` skips the store
   * lookup for a run known to have no lines yet.
   */
  async open(runId: string, fresh: boolean, attempt?: number): Promise<void> {
    if (this.cursors.has(runId)) return;
    const last = fresh ? undefined : await this.store.lastLogLine(runId);
    this.cursors.set(runId, { seq: last?.seq ?? 0, lastCreatedAt: last?.createdAt ?? 0, attempt: attempt && attempt > 0 ? attempt : undefined });
  }

  write(runId: string, entry: LogEntry): void {
    const cursor = this.cursors.get(runId);
    if (!cursor) return;
    const createdAt = Math.max(Math.floor(entry.timeMicros / 1000), cursor.lastCreatedAt + 1);
    cursor.lastCreatedAt = createdAt;
    cursor.seq += 1;
    this.pending.push({
      runId,
      seq: cursor.seq,
      createdAt,
      timeMicros: entry.timeMicros,
      level: entry.level,
      source: entry.source,
      // PostgreSQL text cannot hold NUL; a worker printing one must not lose the line.
      message: entry.message.includes('\u0000') ? entry.message.replaceAll('\u0000', '\ufffd') : entry.message,
      fields: entry.fields ?? null,
      ...(cursor.attempt ? { attempt: cursor.attempt } : {}),
    });
    this.schedule();
  }

  /** Writes everything pending for every run, then stops recording `runId` (when given). */
  async close(runId?: string): Promise<void> {
    await this.flush();
    if (runId) this.cursors.delete(runId);
  }

  async flush(): Promise<void> {
    while (this.flushing || this.pending.length > 0) {
      if (this.flushing) await this.flushing;
      else await this.flushNow();
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.flushing) void this.flushNow();
    });
  }

  private flushNow(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return Promise.resolve();
    this.flushing = this.store
      .appendLogs(batch)
      .then(() => {
        const byRun = new Map<string, StoredLogLine[]>();
        for (const line of batch) {
          let lines = byRun.get(line.runId);
          if (!lines) byRun.set(line.runId, (lines = []));
          lines.push(line);
        }
        for (const [runId, lines] of byRun) this.bus.publish(runId, { type: 'logs', lines, upToSeq: lines[lines.length - 1]!.seq });
      })
      .catch(this.onError)
      .finally(() => {
        this.flushing = undefined;
        if (this.pending.length > 0) this.schedule();
      });
    return this.flushing;
  }
}
