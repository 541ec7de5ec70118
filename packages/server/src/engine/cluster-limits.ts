import { RunletError } from '../errors.js';
import { isStoreFailure } from '../store/store-failure.js';
import type { EventBus } from '../logs/event-bus.js';
import type { ClusterLimit, Store } from '../store/store.js';
import type { WorkerPool } from '../workers/worker-pool.js';

/** How often a run waiting for room looks again by itself, should a wake-up be lost. */
const RECHECK_MS = 1000;

/**
 * A service's `concurrency`: at most that many of its runs execute at once across every node.
 * The store counts and starts under one lock, so nodes never both take the last place; this
 * side finds out a service's cap and lets sync runs wait for room. Runs
 * that end announce the room on the event bus, which reaches every node.
 */
export class ClusterLimits {
  private readonly waiting = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
  ) {
    bus.on('queued', (serviceId) => this.wake(serviceId));
  }

  /**
   * The service's cap, asking a worker of `accountId` first when only its code can tell. A
   * service whose workers cannot start has none running, so no cap to keep: its runs go on to
   * fail at their start with the reason.
   */
  async of(serviceId: string, pool: WorkerPool, accountId: () => Promise<string>): Promise<ClusterLimit | undefined> {
    if (!pool.limitsKnown) await pool.describe(await accountId()).catch(() => undefined);
    const max = pool.concurrency;
    return max === undefined ? undefined : { serviceId, max };
  }

  /**
   * Marks a queued sync run running once its service has room; `false` when the run stopped
   * being queued meanwhile (it ended some other way). While the store cannot take the write,
   * the run waits as it does for room, and its caller with it, rather than fail.
   */
  async start(runId: string, limit: ClusterLimit, nodeId: string, leaseMs: number): Promise<{ startedAt: number } | false> {
    for (;;) {
      if (this.closed) throw new RunletError('SHUTTING_DOWN');
      const now = Date.now();
      try {
        const start = await tryStartSync(this.store, runId, nodeId, now, now + leaseMs, limit);
        if (start === 'gone') return false;
        if (start !== 'no-room') return start;
      } catch (err) {
        if (!isStoreFailure(err)) throw err;
      }
      await this.roomIn(limit.serviceId);
    }
  }

  /** Shutdown past its grace: runs waiting here for room stop waiting, and fail with SHUTTING_DOWN. */
  close(): void {
    this.closed = true;
    for (const set of this.waiting.values()) for (const done of [...set]) done();
  }

  /** Tells every node that a run of a capped service ended, so one waiting may start. */
  ended(limit: ClusterLimit): void {
    this.bus.announce('queued', limit.serviceId);
  }

  private roomIn(serviceId: string): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiting.get(serviceId);
      if (!set) this.waiting.set(serviceId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set!.delete(done);
        resolve();
      };
      const timer = setTimeout(done, RECHECK_MS);
      set.add(done);
    });
  }

  private wake(serviceId: string): void {
    for (const done of [...(this.waiting.get(serviceId) ?? [])]) done();
  }
}

/**
 * One try to mark this node's queued sync run running (with `within`, only while its service
 * has room): started, `no-room` (still queued), or `gone` (it ended some other way). Only its
 * own node starts a sync run, so one found running here was started by an earlier try whose
 * answer was lost: that counts as started.
 */
export async function tryStartSync(
  store: Store,
  runId: string,
  nodeId: string,
  startedAt: number,
  leaseExpiresAt: number,
  within?: ClusterLimit,
): Promise<{ startedAt: number } | 'no-room' | 'gone'> {
  if (await store.markRunning(runId, nodeId, startedAt, leaseExpiresAt, within)) return { startedAt };
  const run = await store.getRun(runId);
  if (run?.status === 'running' && run.nodeId === nodeId) return { startedAt: run.startedAt ?? startedAt };
  return run?.status === 'queued' ? 'no-room' : 'gone';
}
