import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Config } from '../config.js';
import type { Store } from '../store/store.js';
import type { ServerLog } from './run-engine.js';

/**
 * Runs purged per store call. Each batch is one short transaction (on SQLite it holds the one
 * writer, and the event loop, while it lasts): a hundred runs with their logs takes a few
 * milliseconds, so API calls queue behind it for no longer than that.
 */
export const PURGE_BATCH = 100;

/**
 * The retention sweep, on every node: deletes ended runs past their retention (the shorter of
 * the run's own `X-Retain-Seconds` and its account's, else `retentionSeconds`) with their
 * logs, attempts and webhook deliveries, a small batch at a time, leaving tombstones so that
 * the ids answer 410 RUN_EXPIRED for `tombstoneSeconds`.
 *
 * Several nodes may sweep at once: PostgreSQL locks each batch's runs with SKIP LOCKED, so
 * two sweeps take different runs; SQLite has one node. Runs own no stored files (uploads are
 * the account's, and expire on their own, collected by the files' own sweep), so a purge
 * leaves nothing behind but the tombstone.
 */
export class RetentionSweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly log: ServerLog,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.config.retentionSweepSeconds * 1000);
    this.timer.unref();
  }

  /** Waits for a sweep under way; none starts afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Purges everything due at `now`, batch after batch; answers how many runs went. One sweep at a time per node. */
  sweep(now = Date.now()): Promise<number> {
    this.running ??= this.purgeDue(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async purgeDue(now: number): Promise<number> {
    const policy = { now, defaultRetentionSeconds: this.config.retentionSeconds, tombstoneSeconds: this.config.tombstoneSeconds, limit: PURGE_BATCH };
    let purged = 0;
    try {
      while (!this.stopped) {
        const batch = await this.store.purgeExpiredRuns(policy);
        purged += batch.length;
        if (batch.length < PURGE_BATCH) break;
        // Let waiting API calls in between two batches.
        await yieldToEventLoop();
      }
    } catch (err) {
      this.log.warn({ err }, 'could not purge expired runs');
    }
    if (purged > 0) this.log.info({ purged }, 'purged runs past their retention');
    return purged;
  }
}
