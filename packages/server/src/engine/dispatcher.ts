import type { RunRow, Store } from '../store/store.js';
import type { ServiceRegistry } from '../workers/service-registry.js';
import type { WorkerPool } from '../workers/worker-pool.js';
import type { RunEngine, ServerLog } from './run-engine.js';
import { untilStoreAnswers } from './store-retries.js';

/** How often queued runs are looked for without a nudge: only a safety net, since every enqueue nudges and a freed worker looks while runs may wait. */
const SWEEP_MS = 1000;

/**
 * Moves queued async runs onto free workers. It claims at most as many runs of a service as
 * that service's pool can take right now, so claimed runs never sit waiting behind a full
 * pool (where a dying node would strand them), and sync callers, who wait in the pool's own
 * queue, always come first.
 */
export class Dispatcher {
  /** Per service, the runs asked for by claims still on their way: their workers are spoken for. */
  private readonly claiming = new Map<string, number>();
  /** Services to look at again when a claim comes back (a worker freed while none was free to claim for). */
  private readonly again = new Set<string>();
  /**
   * Services that may have queued runs: a freed worker looks for one only then, since a sync
   * run's end frees a worker too and a claim that finds nothing still costs a write.
   */
  private readonly backlog = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Until the first sweep has looked, runs queued before this node started are not known. */
  private swept = false;
  /** The sweep under way, and whether another was asked for meanwhile. */
  private sweeping: Promise<void> | undefined;
  private sweepAgain = false;
  /** Numbers this node's claims, so the runs of one whose answer is lost can be found. */
  private claims = 0;
  /** Claims whose answer was lost (by number), and how to stop looking them up: they may have taken runs, which nothing here calls yet. */
  private readonly unsettled = new Map<number, () => void>();

  constructor(
    private readonly store: Store,
    private readonly registry: ServiceRegistry,
    private readonly engine: RunEngine,
    private readonly nodeId: string,
    private readonly log: ServerLog,
    /** Each account's cap on runs running at once (`maxConcurrentPerAccount`); undefined: none. */
    private readonly accountMax?: number,
  ) {
    // Under account caps a run that ends frees a place of its account, whose queued runs may be of any service.
    engine.onCapacityFreed = (serviceId) => (accountMax === undefined ? this.freed(serviceId) : void this.sweep());
    // A new run may go straight to a free worker only when it passes none that wait.
    engine.queueIsEmpty = (serviceId) => this.swept && !this.backlog.has(serviceId) && !this.claiming.has(serviceId);
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
    void this.sweep();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Stops looking up lost claims too: the store is closing. Their runs end as orphans, as a dead node's would. */
  close(): void {
    this.stop();
    for (const stopLooking of this.unsettled.values()) stopLooking();
    this.unsettled.clear();
  }

  /**
   * Whether the run may have been taken by a claim of this node whose answer was lost: it is
   * not an orphan, since this node starts it once the store says which runs that claim took.
   */
  mayHaveClaimed(run: RunRow): boolean {
    return run.nodeId === this.nodeId && run.claimNumber !== null && this.unsettled.has(run.claimNumber);
  }

  /** The service may have queued runs (one was queued, here or on another node): claim what fits. */
  nudge(serviceId: string): void {
    this.backlog.add(serviceId);
    this.pump(serviceId);
  }

  /** A worker of the service came free: claim a run if some may be waiting (a claim on its way says some may). */
  freed(serviceId: string): void {
    if (this.backlog.has(serviceId) || this.claiming.has(serviceId)) this.pump(serviceId);
  }

  /**
   * Claims for the service's workers that are free and not yet spoken for. A worker freed while
   * another's claim is on its way gets a claim of its own at once, rather than after that one:
   * claims skip each other's rows (SKIP LOCKED), and a worker must not idle through two round trips.
   */
  private pump(serviceId: string): void {
    if (this.stopped) return;
    const pool = this.registry.has(serviceId) ? this.registry.get(serviceId).pool : undefined;
    const claiming = this.claiming.get(serviceId) ?? 0;
    // A run of a service that no longer exists is claimed too, one at a time, and fails with SERVICE_NOT_FOUND.
    const capacity = (pool ? pool.freeCapacity : 1) - claiming;
    if (capacity <= 0) {
      if (claiming > 0) this.again.add(serviceId);
      else this.backlog.add(serviceId);
      return;
    }
    this.claiming.set(serviceId, claiming + capacity);
    void this.claim(serviceId, pool, capacity).finally(() => {
      const left = (this.claiming.get(serviceId) ?? capacity) - capacity;
      if (left > 0) this.claiming.set(serviceId, left);
      else this.claiming.delete(serviceId);
      if (this.again.delete(serviceId)) this.pump(serviceId);
    });
  }

  /**
   * Looks for every service's queued runs. Under account caps each run that ends asks for one:
   * while one is under way, the asks that come meanwhile make one more after it, not one each.
   */
  private sweep(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true;
      return this.sweeping;
    }
    this.sweeping = this.lookForQueued().finally(() => {
      this.sweeping = undefined;
      if (this.sweepAgain && !this.stopped) {
        this.sweepAgain = false;
        void this.sweep();
      }
    });
    return this.sweeping;
  }

  private async lookForQueued(): Promise<void> {
    try {
      for (const serviceId of await this.store.servicesWithQueuedRuns()) this.nudge(serviceId);
      this.swept = true;
    } catch (err) {
      this.log.warn({ err }, 'could not look for queued runs');
    }
  }

  private async claim(serviceId: string, pool: WorkerPool | undefined, capacity: number): Promise<void> {
    // Off the backlog before looking: a run queued while the claim runs puts it back.
    this.backlog.delete(serviceId);
    const claimNumber = ++this.claims;
    try {
      // Finding a capped service's cap may start a worker (of the default account) to ask it.
      const limit = pool && (await this.engine.limits.of(serviceId, pool, async () => (await this.store.defaultAccount()).id));
      const now = Date.now();
      const runs = await this.store.claimQueuedRuns({
        serviceId,
        limit: capacity,
        nodeId: this.nodeId,
        claimNumber,
        now,
        leaseExpiresAt: now + this.engine.leaseMs,
        clusterMax: limit?.max,
        accountMax: this.accountMax,
      });
      this.startAll(runs);
      // A full claim may have left more behind (look again now); so may one a cluster-wide cap held back.
      if (runs.length === capacity || limit) this.backlog.add(serviceId);
      if (runs.length === capacity) this.again.add(serviceId);
    } catch (err) {
      this.backlog.add(serviceId);
      this.log.warn({ err, serviceId }, 'could not claim queued runs');
      // The claim may have committed as its connection dropped: then its runs are running here, unheard of.
      this.settle(claimNumber);
    }
  }

  private startAll(runs: RunRow[]): void {
    for (const run of runs) {
      void this.engine.startClaimed(run).catch((err: unknown) => this.log.error({ err, requestId: run.id }, 'async run failed to start'));
    }
  }

  /** Asks the store which runs a claim whose answer was lost took, until it answers, and starts them. */
  private settle(claimNumber: number): void {
    this.unsettled.set(
      claimNumber,
      untilStoreAnswers(async () => {
        const runs = await this.store.takeClaimedRuns(this.nodeId, claimNumber, Date.now() + this.engine.leaseMs);
        if (!this.unsettled.delete(claimNumber)) return;
        if (runs.length > 0) this.log.warn({ requestIds: runs.map((r) => r.id) }, 'a claim whose answer was lost had taken runs: starting them');
        this.startAll(runs);
      }),
    );
  }
}
