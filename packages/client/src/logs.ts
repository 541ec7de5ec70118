import { isNetworkError, RunletError } from './errors.js';
import { retryDelay } from './retries.js';
import { linkSignals, sleep } from './signals.js';
import { readLines } from './streams.js';
import type { LogLine } from './types.js';

export interface LogsOptions {
  /** Start after the line with this `createdAt` (as a reader that saw it would). */
  after?: string;
  signal?: AbortSignal;
  /** Reconnections in a row, without a line in between, before giving up (default 10). */
  maxReconnects?: number;
  /**
   * A connection that brings nothing, not even a heartbeat, for this long is taken as dead and
   * reopened (default 60 s; the runtime sends a heartbeat every 15 s).
   */
  idleTimeoutMs?: number;
}

export interface LogSource {
  /** Opens the stream, resuming after `after` (a line's `createdAt`) when given. */
  open(after: string | undefined, signal: AbortSignal): Promise<Response>;
  /** Whether the run has ended (asked when a stream ends cleanly, which a proxy may also do). */
  isOver(signal: AbortSignal | undefined): Promise<boolean>;
  errorOf(res: Response): Promise<RunletError>;
}

/**
 * Follows a run's NDJSON log stream to its end. Each line's `createdAt` is strictly increasing
 * within a run, so reconnecting with `after=<last createdAt>` resumes with neither gap nor
 * repeat; lines are also checked by `seq`, should a server resend one.
 */
export async function* followLogs(source: LogSource, options: LogsOptions = {}): AsyncGenerator<LogLine> {
  let after = options.after;
  let lastSeq = 0;
  let failures = 0;
  const maxReconnects = options.maxReconnects ?? 10;
  const idleMs = options.idleTimeoutMs ?? 60_000;
  for (;;) {
    const idle = new AbortController();
    const link = linkSignals([options.signal, idle.signal]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(new TypeError('the log stream went quiet')), idleMs);
    };
    try {
      touch();
      const res = await source.open(after, link.signal);
      if (!res.ok) {
        // A gateway's 5xx, or the runtime asking to retry: reopened after the wait it names.
        const delay = retryDelay(res, failures + 1);
        if (delay === undefined || ++failures > maxReconnects) throw await source.errorOf(res);
        await res.body?.cancel();
        await sleep(delay, options.signal);
        continue;
      }
      if (res.body) {
        for await (const text of readLines(res.body)) {
          touch();
          if (text.trim() === '') continue;
          let line: LogLine;
          try {
            line = JSON.parse(text) as LogLine;
          } catch {
            continue;
          }
          if (typeof line.seq === 'number') {
            if (line.seq <= lastSeq) continue;
            lastSeq = line.seq;
          }
          after = line.createdAt ?? after;
          failures = 0;
          yield line;
        }
      }
      clearTimeout(timer);
      if (await source.isOver(options.signal)) return;
      // Ended cleanly but the run goes on (a proxy cut it): reopen where it stopped.
      if (++failures > maxReconnects) throw new RunletError('The log stream kept ending before the run did.', { code: 'LOGS_ENDED_EARLY' });
      await sleep(Math.min(2000, 100 * 2 ** (failures - 1)), options.signal);
    } catch (err) {
      clearTimeout(timer);
      if (options.signal?.aborted) throw options.signal.reason;
      const dropped = isNetworkError(err) || (idle.signal.aborted && !(err instanceof RunletError));
      if (!dropped || ++failures > maxReconnects) throw err;
      await sleep(Math.min(2000, 100 * 2 ** (failures - 1)), options.signal);
    } finally {
      clearTimeout(timer);
      link.dispose();
    }
  }
}
