import type { RunMode } from '@runlet/protocol';
import type { Config } from '../config.js';
import { overLimit } from '../errors.js';
import type { Store } from '../store/store.js';

/**
 * How long a refused caller is told to wait. Queued and running runs drain at the pace of the
 * account's own work, which Runlet cannot foresee: a few seconds is enough to spare a server
 * under load from a tight retry loop without making a patient client wait long.
 */
const ACCOUNT_RETRY_AFTER_SECONDS = 2;

/**
 * Per-account back-pressure, checked before a run is recorded: at most `maxQueuedPerAccount`
 * runs queued, and (for a sync call, whose caller would otherwise wait on a worker)
 * `maxConcurrentPerAccount` running, across every node; 0 turns a limit off. The counts are read,
 * not locked: calls racing for the last place may pass it by a few, which a bound against
 * floods can afford (like the per-service QUEUE_FULL).
 *
 * Counting an account's queue costs as much as the queue is long, so a node goes on an
 * estimate: the last count, plus every call it let through since. Far from a limit a count
 * stands for up to a second; within a tenth of it, for NEAR_COUNT_MS only, so a call is only
 * refused on a count that fresh. Counting before every call there instead made a flood at the
 * limit cost a count of the whole queue per refused call.
 */
export class AccountLimits {
  private readonly estimates = new Map<string, RunCounts & { at: number }>();

  constructor(
    private readonly config: Pick<Config, 'maxQueuedPerAccount' | 'maxConcurrentPerAccount'>,
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  async check(accountId: string, mode: RunMode): Promise<void> {
    const { maxQueuedPerAccount: maxQueued, maxConcurrentPerAccount: maxRunning } = this.config;
    const checkRunning = mode === 'sync' && maxRunning > 0;
    if (maxQueued === 0 && !checkRunning) return;
    const counts = await this.countsOf(accountId, maxQueued, checkRunning ? maxRunning : 0);
    const { queued, running } = counts;
    if (maxQueued > 0 && queued >= maxQueued) {
      throw overLimit('ACCOUNT_QUEUE_FULL', ACCOUNT_RETRY_AFTER_SECONDS, `The account has ${queued} runs queued, its limit (maxQueuedPerAccount ${maxQueued}); retry later.`);
    }
    if (checkRunning && running >= maxRunning) {
      throw overLimit('ACCOUNT_CONCURRENCY_LIMIT', ACCOUNT_RETRY_AFTER_SECONDS, `The account has ${running} runs running, its limit (maxConcurrentPerAccount ${maxRunning}); retry later, or use /run_async.`);
    }
    // This call's run is about to be queued (and a sync one to run): counted until the next exact count.
    counts.queued++;
    if (mode === 'sync') counts.running++;
  }

  private async countsOf(accountId: string, maxQueued: number, maxRunning: number): Promise<RunCounts & { at: number }> {
    const now = this.clock();
    const known = this.estimates.get(accountId);
    const standsFor = known && (near(known.queued, maxQueued) || near(known.running, maxRunning)) ? NEAR_COUNT_MS : ESTIMATE_MS;
    if (known && now - known.at < standsFor) return known;
    if (this.estimates.size > MAX_ESTIMATES) this.estimates.clear();
    const exact = { ...(await this.store.countAccountRuns(accountId)), at: now };
    this.estimates.set(accountId, exact);
    return exact;
  }
}

/** How long an account's count stands in for a new one (plus the calls let through meanwhile). */
const ESTIMATE_MS = 1000;
/** The same within a tenth of a limit: at most one count of the queue per this, however many calls. */
const NEAR_COUNT_MS = 20;
/** Accounts whose estimates a node keeps; past it they are all counted afresh. */
const MAX_ESTIMATES = 10_000;

/** Within a tenth of `max` (at least 1): close enough to the limit to count exactly. */
const near = (count: number, max: number): boolean => max > 0 && count >= max - Math.max(1, Math.floor(max / 10));

interface RunCounts {
  queued: number;
  running: number;
}

/** Buckets are forgotten once full and idle this long, so keys that stopped calling cost no memory. */
const IDLE_BUCKET_MS = 60_000;

/**
 * Per-key request rate on this node: a token bucket per key, `rate` tokens a second up to
 * `burst`. Memory only, per node, by design: a cluster of N nodes lets a key make up to N times
 * the rate, and no request pays a database round trip to be counted.
 */
export class KeyRateLimits {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;
  private lastPrune = 0;

  constructor(private readonly rate: number, burst: number) {
    this.burst = burst > 0 ? burst : Math.max(1, rate);
  }

  /** Takes one request's token for `keyId`, or throws KEY_RATE_LIMITED with when one will be there. */
  take(keyId: string, now = Date.now()): void {
    if (this.rate <= 0) return;
    const bucket = this.buckets.get(keyId) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    this.buckets.set(keyId, bucket);
    this.prune(now);
    if (bucket.tokens < 1) throw overLimit('KEY_RATE_LIMITED', (1 - bucket.tokens) / this.rate, `This key may make ${this.rate} requests a second (burst ${this.burst}); retry later.`);
    bucket.tokens -= 1;
  }

  private prune(now: number): void {
    if (now - this.lastPrune < IDLE_BUCKET_MS) return;
    this.lastPrune = now;
    for (const [id, b] of this.buckets) if (now - b.at > IDLE_BUCKET_MS) this.buckets.delete(id);
  }
}
