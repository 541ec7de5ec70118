import type { ServiceDescription } from '@runlet/protocol';
import { RunletError } from '../errors.js';
import { storeFailureOf } from '../store/store-failure.js';
import type { ServiceSpec } from './service-spec.js';
import { WorkerProcess, WorkerStartError } from './worker-process.js';
import type { HostSpares } from './host-spares.js';
import type { WorkerRegistry } from './worker-registry.js';

export interface PoolOptions {
  maxWorkers: number;
  minWarm: number;
  idleMs: number;
  maxQueued: number;
  startTimeoutMs: number;
  /** The environment a worker of `serviceId` serving `accountId` gets (the account's variables, runtime URL, its key). */
  envFor(accountId: string, serviceId: string): Promise<Record<string, string>>;
  registry?: WorkerRegistry;
  spares?: HostSpares;
  /** Called when a worker could not start, for the server's own log. */
  onStartFailure?(error: Error): void;
  /** Called when a call gives its worker back, so a queued async run can take it at once. */
  onWorkerFreed?(serviceId: string): void;
}

/** A worker checked out for exactly one call. `release` must be called once. */
export interface WorkerLease {
  worker: WorkerProcess;
  /** `reusable: false` when the call ended badly (crash, timeout, broken stream): the worker is killed. */
  release(reusable: boolean): void;
}

interface Waiter {
  accountId: string;
  resolve(lease: WorkerLease): void;
  reject(err: unknown): void;
}

/**
 * The warm workers of one service. Rules:
 * - a worker serves one call at a time and belongs to one account (its environment is that account's);
 * - at most `maxWorkers` exist, counting those starting; past that, callers wait in FIFO order,
 *   and past `maxQueued` waiting callers the next gets QUEUE_FULL;
 * - an idle worker is reused for its account, or retired to make room for another account's call;
 * - a worker that failed to start never enters the pool; one released as not reusable is killed;
 * - idle workers beyond `minWarm` are retired after `idleMs`;
 * - `recycle(account)` (its variables changed) retires its idle workers at once and its busy
 *   ones when their call ends: a call in flight keeps the environment it started with.
 */
export class WorkerPool {
  private readonly idle: WorkerProcess[] = [];
  private readonly busy = new Set<WorkerProcess>();
  private starting = 0;
  private readonly waiters: Waiter[] = [];
  private readonly idleTimers = new Map<WorkerProcess, NodeJS.Timeout>();
  private closed = false;
  /** What the last worker to start said of the service (description, schema, limits). */
  description: ServiceDescription = {};
  private described = false;
  /** Told when a worker start ends, well or badly. */
  private startSettled: (() => void)[] = [];
  private draining = false;
  /** Calls waiting or in flight through `acquire` that a dispatcher must leave room for. */
  private maxWorkers: number;
  /** Bumped per account by `recycle`: a worker started under an older one has a stale environment. */
  private readonly envGenerations = new Map<string, number>();
  private readonly generationOf = new WeakMap<WorkerProcess, number>();

  constructor(
    readonly spec: ServiceSpec,
    private readonly options: PoolOptions,
  ) {
    this.maxWorkers = Math.max(1, Math.min(options.maxWorkers, spec.maxWorkers ?? Infinity));
  }

  get size(): number {
    return this.idle.length + this.busy.size + this.starting;
  }

  get stats() {
    return { idle: this.idle.length, busy: this.busy.size, starting: this.starting, waiting: this.waiters.length, max: this.maxWorkers };
  }

  /**
   * The service's cap on runs at once across the cluster: from its runlet.json, else from what
   * its workers say (`undefined` until one has started, see `describe`).
   */
  get concurrency(): number | undefined {
    return this.spec.concurrency ?? this.description.concurrency;
  }

  /** Variables each calling account must have set: from its runlet.json, else from what its workers say. */
  get requiredEnv(): readonly string[] {
    return this.spec.requiredEnv ?? this.description.requiredEnv ?? [];
  }

  /** Whether the service's own word on its limits is known (a manifest says all it has to at once). */
  get limitsKnown(): boolean {
    return this.spec.kind === 'command' || (this.spec.concurrency !== undefined && this.spec.requiredEnv !== undefined) || this.described;
  }

  /** Workers that could take a call right now without anyone waiting. */
  get freeCapacity(): number {
    return Math.max(0, this.maxWorkers - this.busy.size - this.starting - this.waiters.length);
  }

  workers(): WorkerProcess[] {
    return [...this.idle, ...this.busy];
  }

  /** Starts workers up to `minWarm` for `accountId`; failures are reported, not thrown. */
  async warm(accountId: string): Promise<void> {
    const wanted = Math.min(this.spec.minWarm ?? this.options.minWarm, this.maxWorkers);
    const starts: Promise<void>[] = [];
    while (this.size + starts.length < wanted) {
      starts.push(
        this.startWorker(accountId).then(
          (w) => this.placeIdle(w),
          // Already reported by startWorker.
          () => {},
        ),
      );
    }
    await Promise.all(starts);
  }

  /**
   * What the service says of itself (description, schema, retryable). Known once a worker has
   * started; when none has, one is started (and kept warm) to ask.
   */
  async describe(accountId: string): Promise<ServiceDescription> {
    while (!this.described) {
      if (this.size < this.maxWorkers) {
        this.placeIdle(await this.startWorker(accountId));
        break;
      }
      // Full of workers that are all still starting: the first to be ready will tell; if one
      // fails instead, its place is free to try again (and fail with its reason).
      await new Promise<void>((resolve) => this.startSettled.push(resolve));
    }
    return this.description;
  }

  /** A worker for one call of `accountId`: an idle one, a new one, or the next one freed. */
  acquire(accountId: string): Promise<WorkerLease> {
    if (this.closed) return Promise.reject(new RunletError('SHUTTING_DOWN'));
    const idle = this.takeIdle(accountId);
    if (idle) return Promise.resolve(this.lease(idle));
    if (this.size < this.maxWorkers || this.retireIdleOfOtherAccount()) return this.startForCall(accountId);
    if (this.waiters.length >= this.options.maxQueued) {
      return Promise.reject(new RunletError('QUEUE_FULL', undefined, { headers: { 'retry-after': '1' } }));
    }
    return new Promise((resolve, reject) => this.waiters.push({ accountId, resolve, reject }));
  }

  /** An idle worker of the account for one call, at once; undefined when none is idle. */
  tryAcquire(accountId: string): WorkerLease | undefined {
    const idle = this.closed ? undefined : this.takeIdle(accountId);
    return idle && this.lease(idle);
  }

  /**
   * For a service whose code changed: takes no new callers, serves those already waiting,
   * lets calls in flight finish, and stops each worker as it comes free.
   */
  drain(): void {
    this.draining = true;
    for (const w of this.idle.splice(0)) this.retire(w);
  }

  /** The account's environment changed: its workers are replaced, idle ones now, busy ones when free. */
  recycle(accountId: string): void {
    this.envGenerations.set(accountId, (this.envGenerations.get(accountId) ?? 0) + 1);
    const stale = this.idle.filter((w) => w.accountId === accountId);
    for (const w of stale) this.retire(w);
    // Warm ones are replaced by warm ones, so the next call does not pay a cold start.
    if (stale.length > 0 && !this.draining && !this.closed) void this.warm(accountId);
  }

  private isStale(worker: WorkerProcess): boolean {
    return this.generationOf.get(worker) !== (this.envGenerations.get(worker.accountId) ?? 0);
  }

  /** Stops every worker; waiting callers get SHUTTING_DOWN. */
  async close(graceMs = 2000): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new RunletError('SHUTTING_DOWN'));
    for (const t of this.idleTimers.values()) clearTimeout(t);
    this.idleTimers.clear();
    await Promise.all([...this.idle.splice(0), ...this.busy].map((w) => w.stop(graceMs)));
  }

  private async startForCall(accountId: string): Promise<WorkerLease> {
    const worker = await this.startWorker(accountId);
    // Counted as starting until it is leased, in the same step: no gap where the bound could be passed.
    this.starting--;
    if (this.closed) {
      worker.kill();
      throw new RunletError('SHUTTING_DOWN');
    }
    return this.lease(worker);
  }

  /**
   * Starts a worker that stays counted in `starting` until the caller places it (leased or
   * idle), synchronously after the await: were it uncounted here, a call arriving in between
   * would see a free slot and start one worker too many.
   */
  private async startWorker(accountId: string): Promise<WorkerProcess> {
    this.starting++;
    const generation = this.envGenerations.get(accountId) ?? 0;
    try {
      const worker = await WorkerProcess.start({
        spec: this.spec,
        accountId,
        env: await this.options.envFor(accountId, this.spec.id),
        startTimeoutMs: this.options.startTimeoutMs,
        registry: this.options.registry,
        spares: this.options.spares,
      });
      this.generationOf.set(worker, generation);
      this.description = worker.description;
      this.described = true;
      if (worker.description.maxWorkers) this.maxWorkers = Math.max(1, Math.min(this.options.maxWorkers, worker.description.maxWorkers));
      void worker.exited.then(() => this.forget(worker));
      return worker;
    } catch (err) {
      this.starting--;
      // A failed start freed a slot that a waiter may now use.
      queueMicrotask(() => this.serveWaiters());
      this.options.onStartFailure?.(err as Error);
      // The store failing while the worker's environment was read from it is no fault of the service: the caller may retry.
      throw storeFailureOf(err) ?? new RunletError('WORKER_START_FAILED', err instanceof WorkerStartError ? err.message : String(err));
    } finally {
      for (const settled of this.startSettled.splice(0)) settled();
    }
  }

  /** A worker started ahead of a call (warm, describe) joins the idle ones; a waiter may take it. */
  private placeIdle(worker: WorkerProcess): void {
    this.starting--;
    this.makeIdle(worker);
    this.serveWaiters();
  }

  private lease(worker: WorkerProcess): WorkerLease {
    this.busy.add(worker);
    let released = false;
    return {
      worker,
      release: (reusable) => {
        if (released) return;
        released = true;
        this.busy.delete(worker);
        worker.onOutput = () => {};
        if (!reusable || !worker.alive || this.closed) worker.kill();
        else this.makeIdle(worker);
        this.serveWaiters();
        if (this.freeCapacity > 0) this.options.onWorkerFreed?.(this.spec.id);
      },
    };
  }

  private makeIdle(worker: WorkerProcess): void {
    if (!worker.alive) return;
    // A worker whose start finished after the pool closed has nothing left to serve.
    if (this.closed) return worker.kill();
    if ((this.draining && this.waiters.length === 0) || this.isStale(worker)) return void worker.stop();
    this.idle.push(worker);
    const timer = setTimeout(() => {
      const keep = this.spec.minWarm ?? this.options.minWarm;
      if (this.size > keep) this.retire(worker);
    }, this.options.idleMs);
    timer.unref();
    this.idleTimers.set(worker, timer);
  }

  /**
   * The most recently used idle worker: its process is awake and its caches warm, and the ones
   * left unused at the other end are those that idle out when load falls.
   */
  private takeIdle(accountId: string): WorkerProcess | undefined {
    let i = this.idle.length - 1;
    while (i >= 0 && !(this.idle[i]!.accountId === accountId && this.idle[i]!.alive)) i--;
    if (i === -1) return undefined;
    const [worker] = this.idle.splice(i, 1);
    clearTimeout(this.idleTimers.get(worker!));
    this.idleTimers.delete(worker!);
    return worker;
  }

  private retireIdleOfOtherAccount(): boolean {
    const other = this.idle[0];
    if (!other) return false;
    this.retire(other);
    return true;
  }

  private retire(worker: WorkerProcess): void {
    const i = this.idle.indexOf(worker);
    if (i !== -1) this.idle.splice(i, 1);
    clearTimeout(this.idleTimers.get(worker));
    this.idleTimers.delete(worker);
    void worker.stop();
  }

  /** A worker that exited on its own (crash) leaves the pool wherever it was. */
  private forget(worker: WorkerProcess): void {
    const i = this.idle.indexOf(worker);
    if (i !== -1) this.idle.splice(i, 1);
    clearTimeout(this.idleTimers.get(worker));
    this.idleTimers.delete(worker);
    this.serveWaiters();
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0 && !this.closed) {
      const next = this.waiters[0]!;
      const idle = this.takeIdle(next.accountId);
      if (idle) {
        this.waiters.shift();
        next.resolve(this.lease(idle));
        continue;
      }
      if (this.size < this.maxWorkers || this.retireIdleOfOtherAccount()) {
        this.waiters.shift();
        this.startForCall(next.accountId).then(next.resolve, next.reject);
        continue;
      }
      return;
    }
  }
}
