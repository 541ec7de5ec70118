import { actorOf, isOneTimeKey } from '../keys/principal.js';
import { isErrorCode, isTerminal, type RunMode } from '@runlet/protocol';
import type { Config } from '../config.js';
import { overLimit, RunletError } from '../errors.js';
import { isStoreFailure, storeFailureOf } from '../store/store-failure.js';
import { newRequestId } from '../ids.js';
import type { EventBus, RunEvent } from '../logs/event-bus.js';
import type { LogRecorder } from '../logs/log-recorder.js';
import type { AttemptRow, RecordedRun, RunOutcome, RunRow, RunWithAttempts, Store } from '../store/store.js';
import type { ServiceRegistry } from '../workers/service-registry.js';
import type { WorkerLease, WorkerPool } from '../workers/worker-pool.js';
import type { Access, Principal } from './access.js';
import { AccountLimits, KeyRateLimits } from './back-pressure.js';
import { ClusterLimits, tryStartSync } from './cluster-limits.js';
import { attemptRowOf, describeEnding, noteInLog } from './attempts.js';
import { Execution, type ProxiedResponse } from './execution.js';
import { claimOf } from './idempotency.js';
import { nextAttemptAt, retryPolicyOf, type AttemptHints } from './retry-policy.js';
import { retryWhileStoreFails, untilStoreAnswers } from './store-retries.js';

/** What a caller asked to run, as the HTTP layer hands it over. */
export interface RunCall {
  serviceId: string;
  method: string;
  path: string;
  query: string | null;
  body: Buffer | null;
  contentType: string | null;
  headers: Record<string, string>;
  correlationId: string | null;
  provisionedId?: string;
  /** Async runs: where the record is POSTed when the run ends (already checked against the callback policy). */
  callbackUrl?: string | null;
  /** Keep the run at most this long after it ends (it can only shorten the account's retention). */
  retainSeconds?: number | null;
  /** The caller's `Idempotency-Key`: a call that sends it again gets this run again. */
  idempotencyKey?: string | null;
}

/** A recorded run; one that started as it was recorded holds the worker it found free. */
export type SubmittedRun = RecordedRun & { lease?: WorkerLease };

export interface ServerLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface RunEngineDeps {
  config: Config;
  store: Store;
  registry: ServiceRegistry;
  logs: LogRecorder;
  bus: EventBus;
  access: Access;
  nodeId: string;
  log: ServerLog;
  /** Which of `required` the account has not set for the service (the accounts layer knows). */
  missingEnv?(accountId: string, serviceId: string, required: readonly string[]): Promise<string[]>;
}

/**
 * The ended run with its attempts, when they are known without a read: a run that ended in its
 * first attempt (or before it started) made no attempt but this one. Later attempts' earlier
 * ones are in the store only.
 */
function endedRunOf(run: RunRow, attempt: AttemptRow | undefined): RunWithAttempts | undefined {
  if (run.attempt > 1) return undefined;
  return { run, attempts: attempt ? [attempt] : [] };
}

const isCancel = (e: RunEvent) => e.type === 'cancel' || (e.type === 'status' && e.status === 'cancelled');

/** How often a waiting `/result` looks at the store itself, should a wake-up event be lost. */
const RESULT_SAFETY_CHECK_MS = 5000;
/**
 * What a node shutting down tells new callers to wait: behind a load balancer another node takes
 * the retry at once; a lone node restarted by its supervisor is usually back within seconds.
 */
const SHUTDOWN_RETRY_AFTER_SECONDS = 5;
/** How often a shutdown looks again for runs that wait here for a worker (they have no promise to wait on). */
const DRAIN_CHECK_MS = 100;
/**
 * A run's end the store could not take is written again after this long, then twice as long,
 * up to the max: soon enough after the store is back to come before any other node's look for
 * orphans (every half lease), which would take over the run if its lease lapsed meanwhile.
 */
const END_RETRY_FIRST_MS = 500;
const END_RETRY_MAX_MS = 5000;

/**
 * The life of a run: recorded first, then handed a worker, executed, and ended exactly once.
 * Sync and async runs share every step; they differ only in who waits for the answer.
 */
export class RunEngine {
  private readonly active = new Map<string, Execution>();
  /** Runs this node holds a lease on: claimed (maybe still waiting for a worker) or executing. */
  private readonly held = new Set<string>();
  private readonly leaseTimer: NodeJS.Timeout;
  /** Wake-ups for runs waiting out a retry's backoff. */
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Runs whose end the store could not take yet (disk full, database out of reach): their next try. */
  private readonly endsPending = new Map<string, NodeJS.Timeout>();
  /** Runs whose recording failed for the store's sake, though it may have landed; and how to stop looking them up. */
  private readonly lostRecordings = new Map<string, () => void>();
  /** Asked to look for queued async runs of a service (set by the dispatcher). */
  onCapacityFreed: (serviceId: string) => void = () => {};
  /** Whether no async run of a service is known to wait in the queue (set by the dispatcher). */
  queueIsEmpty: (serviceId: string) => boolean = () => false;

  /** Services' caps on runs at once across the cluster. */
  readonly limits: ClusterLimits;
  /** Accounts' limits on runs queued and running. */
  readonly accountLimits: AccountLimits;
  /** Keys' request rates on this node (checked by the HTTP layer on every authenticated call). */
  readonly keyRates: KeyRateLimits;
  /** False once the node shuts down: new runs and provisioned ids are refused. */
  private accepting = true;

  constructor(private readonly d: RunEngineDeps) {
    this.limits = new ClusterLimits(d.store, d.bus);
    this.accountLimits = new AccountLimits(d.config, d.store);
    this.keyRates = new KeyRateLimits(d.config.keyRateLimit, d.config.keyRateBurst);
    this.leaseTimer = setInterval(() => void this.renewLeases(), this.leaseMs / 3);
    this.leaseTimer.unref();
  }

  get leaseMs(): number {
    return this.d.config.leaseSeconds * 1000;
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Whether this node still holds the run: it must not be taken for orphaned, even with its lease lapsed. */
  holds(runId: string): boolean {
    return this.held.has(runId) || this.endsPending.has(runId) || this.lostRecordings.has(runId);
  }

  /** Shutdown begins: every new run (and provisioned id) is refused with 503 SHUTTING_DOWN from now on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  private refuseWhenShuttingDown(): void {
    if (!this.accepting) throw new RunletError('SHUTTING_DOWN', undefined, { headers: { 'retry-after': String(SHUTDOWN_RETRY_AFTER_SECONDS) } });
  }

  /** Hands out a request id; again the same one for a call that repeats `idempotencyKey`. */
  async provision(principal: Principal, idempotencyKey: string | null = null): Promise<RecordedRun> {
    this.refuseWhenShuttingDown();
    const now = Date.now();
    const idempotency = idempotencyKey
      ? claimOf(idempotencyKey, { endpoint: 'provision-request', method: 'POST', serviceId: '', path: '', query: null, body: null }, this.d.config.idempotencyHours, now)
      : undefined;
    return this.d.store.provisionRun(
      { id: newRequestId(now), accountId: principal.accountId, keyId: principal.key?.id ?? null, createdAt: now, expiresAt: now + this.d.config.provisionTtlSeconds * 1000, nodeId: this.d.nodeId },
      { spendKeyId: this.spendKeyOf(principal, idempotency !== undefined), idempotency },
    );
  }

  /**
   * Records a run; the caller decides whether to wait for it (sync) or not (async). A call that
   * repeats an idempotency key is answered the run the key names, `replayed`: it is not started again.
   * A call that finds a worker free starts on it (see `startsAtOnce`): a sync run is answered
   * holding that worker, an async one is already on its way.
   */
  async submit(principal: Principal, call: RunCall, mode: RunMode): Promise<SubmittedRun> {
    this.refuseWhenShuttingDown();
    const { pool } = this.d.registry.get(call.serviceId);
    this.d.access.checkService(principal, call.serviceId);
    await this.requireEnv(principal.accountId, call.serviceId, pool);
    const idempotency = call.idempotencyKey
      ? claimOf(call.idempotencyKey, { endpoint: mode === 'sync' ? 'run' : 'run_async', ...call }, this.d.config.idempotencyHours)
      : undefined;
    if (mode === 'sync' && pool.freeCapacity === 0 && pool.stats.waiting >= this.d.config.maxQueuedPerService) {
      throw overLimit('QUEUE_FULL', 1);
    }
    await this.accountLimits.check(principal.accountId, mode);
    const spendKeyId = this.spendKeyOf(principal, idempotency !== undefined, call.provisionedId);
    const lease = this.startsAtOnce(mode, call.serviceId, idempotency !== undefined, pool) ? pool.tryAcquire(principal.accountId) : undefined;
    const createdAt = Date.now();
    const id = newRequestId(createdAt);
    const run = await this.d.store.createRun(
      {
        id,
        accountId: principal.accountId,
        keyId: principal.key?.id ?? null,
        serviceId: call.serviceId,
        method: call.method,
        path: call.path,
        query: call.query,
        mode,
        input: call.body,
        inputContentType: call.contentType,
        requestHeaders: call.headers,
        correlationId: call.correlationId,
        createdAt,
        nodeId: this.d.nodeId,
        leaseExpiresAt: mode === 'sync' ? createdAt + this.leaseMs : null,
        startedAt: lease ? createdAt : null,
        callbackUrl: call.callbackUrl,
        retainSeconds: call.retainSeconds,
      },
      { provisionedId: call.provisionedId, spendKeyId, idempotency },
    ).catch((err: unknown) => {
      lease?.release(true);
      if (isStoreFailure(err)) this.settleLostRecording(id, mode, idempotency !== undefined);
      throw err;
    });
    if (!run.replayed) this.changed(run);
    if (!lease) return run;
    // The sync caller's handler runs it (`startSync`); an async one runs here, in the background.
    if (mode === 'sync') return { ...run, lease };
    void this.startClaimed(run, lease).catch((err: unknown) => this.d.log.error({ err, requestId: run.id }, 'async run failed to start'));
    return run;
  }

  /**
   * Whether a call that finds a worker free starts as it is recorded: one write rather than
   * one that queues it and another that starts it. Not under an idempotency key (the run may
   * exist already), a cluster-wide cap or an account's cap (the start must take its place
   * first); and an async run only when none of its service's runs wait, which it must not pass.
   */
  private startsAtOnce(mode: RunMode, serviceId: string, idempotent: boolean, pool: WorkerPool): boolean {
    if (idempotent || pool.concurrency !== undefined) return false;
    return mode === 'sync' || (this.d.config.maxConcurrentPerAccount === 0 && this.queueIsEmpty(serviceId));
  }

  /** Ends the run as cancelled unless it has ended: a run not started never starts, a running one has its worker stopped. */
  private async cancelRun(run: RunRow, at: number, reason: string): Promise<void> {
    if (!(await this.d.store.cancelRun(run.id, at, reason))) return;
    this.changed(run);
    // Running on this node yet neither executing nor ending here (a write whose answer was lost), it reached no worker.
    const executing = run.status === 'running' && (run.nodeId !== this.d.nodeId || this.held.has(run.id) || this.endsPending.has(run.id));
    if (executing) {
      // The node that runs it stops it, and ends its log before readers hear it is over.
      this.d.bus.publish(run.id, { type: 'cancel' });
    } else {
      await noteInLog(this.d.logs, run, 'error', 'The run was cancelled before it started.');
      this.d.bus.publish(run.id, { type: 'status', status: 'cancelled' });
    }
  }

  /**
   * A run whose recording failed for the store's sake may have been written all the same: on
   * PostgreSQL a commit can land just as its connection drops. Its caller was answered 503 and
   * told to retry. Once the store answers, such a run is settled. Under an idempotency key the
   * retry is answered this very run, so it must run: a queued async one is claimed like any
   * other; a sync one, whose caller is gone, runs here in the background, and the retry waits
   * for its answer. Without a key the retry starts a run of its own, so this one is cancelled.
   */
  private settleLostRecording(id: string, mode: RunMode, keyed: boolean): void {
    this.lostRecordings.set(
      id,
      untilStoreAnswers(async () => {
        const run = await this.d.store.getRun(id);
        if (run && !isTerminal(run.status)) {
          this.d.log.warn({ requestId: id, keyed }, `a run whose recording seemed to fail had been written: ${keyed ? 'running it' : 'cancelling it'}`);
          if (!keyed) await this.cancelRun(run, Date.now(), 'Its caller was answered 503 STORE_UNAVAILABLE and told to retry, as the store failed while this run was recorded: it was not run.');
          else if (mode === 'async') this.d.bus.announce('queued', run.serviceId!);
          else this.runWithoutCaller(run);
        }
        this.lostRecordings.delete(id);
      }),
    );
  }

  /** Runs a recorded sync run that has no caller here: its answer is recorded, for a retry that waits for it. */
  private runWithoutCaller(run: RunRow): void {
    void this.startSync(run).then(
      (execution) => void execution.response.then((r) => Buffer.isBuffer(r.body) || r.body.resume(), () => {}),
      () => {},
    );
  }

  /** Tells the account's feed, on every node, that the run's status changed. */
  changed(run: Pick<RunRow, 'id' | 'accountId'>): void {
    this.d.bus.announceRunChanged(run.accountId, run.id);
  }

  /**
   * A service that declares the variables it needs is not run for an account without them:
   * 424 before anything is recorded, rather than a run that fails on its first line.
   */
  private async requireEnv(accountId: string, serviceId: string, pool: WorkerPool): Promise<void> {
    if (!this.d.missingEnv) return;
    // An SDK service says what it needs when its first worker starts.
    if (!pool.limitsKnown) await pool.describe(accountId).catch(() => undefined);
    const missing = await this.d.missingEnv(accountId, serviceId, pool.requiredEnv);
    if (missing.length > 0) {
      throw new RunletError('ENV_MISSING', `The service "${serviceId}" needs ${missing.join(', ')}: set ${missing.length > 1 ? 'them' : 'it'} under Advanced → Environment variables.`, {
        details: { missing },
      });
    }
  }

  /**
   * The one-time key a call spends. Under an idempotency key a spent key goes on to the store,
   * which answers a repeated call its run before it looks at the key (and refuses any other).
   */
  private spendKeyOf(principal: Principal, idempotent: boolean, provisionedId?: string): string | undefined {
    if (idempotent && isOneTimeKey(principal)) return principal.key!.id;
    return this.d.access.keyToSpend(principal, provisionedId);
  }

  /** Runs a recorded sync run on this node; the execution streams its answer to the caller. */
  async startSync(run: SubmittedRun): Promise<Execution> {
    // Started as it was recorded, on the worker it found free.
    if (run.lease) return this.execute(run, run.lease, true);
    let lease: WorkerLease;
    let started: { startedAt: number } | false | undefined;
    let marked: Promise<boolean> | undefined;
    const { pool } = this.d.registry.get(run.serviceId!);
    // Held while it waits for room and a worker too: its caller is connected to this node.
    this.held.add(run.id);
    // A cancel while it waits for a worker: it must then never reach the worker.
    let cancelled = false;
    const stopWatching = this.d.bus.subscribe(run.id, (e) => (cancelled ||= isCancel(e)));
    try {
      // A capped service's run takes its place in the cluster first, then a worker here.
      const limit = await this.limits.of(run.serviceId!, pool, async () => run.accountId);
      if (limit) started = await this.limits.start(run.id, limit, this.d.nodeId, this.leaseMs);
      if (started === false) throw await this.whyNotStarted(run.id);
      // A worker that cannot start because the store failed (its environment is read from it) is waited for too.
      lease = await retryWhileStoreFails(() => pool.acquire(run.accountId), this.deadlineFrom(run.createdAt));
      if (cancelled) {
        lease.release(true);
        throw new RunletError('RUN_CANCELLED', 'The run was cancelled before it started.');
      }
      if (!started) {
        started = { startedAt: Date.now() };
        // The call goes out while this write commits, rather than after: a worker must not
        // idle through a commit (under load, most of a turn of the event loop) on every call.
        // The run is already recorded; the execution waits for this before it takes the answer.
        marked = this.markStarted(run, started.startedAt);
      }
    } catch (err) {
      this.held.delete(run.id);
      await this.failBeforeStart(run, err);
      throw err instanceof RunletError ? new RunletError(err.code, err.message, { ...err.extra, requestId: run.id }) : err;
    } finally {
      stopWatching();
    }
    const running: RunRow = { ...run, status: 'running', startedAt: started.startedAt, attempt: run.attempt + 1 };
    // The feed hears of the start once it is recorded (a run whose start lost to a cancel never started).
    void Promise.resolve(marked ?? true).then((ok) => ok && this.changed(run), () => {});
    return this.execute(running, lease, true, marked);
  }

  /**
   * Records a sync run that waited for a worker as started. A write the store cannot take now
   * is tried again, backing off, until it takes one or the run's time limit has passed: the
   * call is on its way already, and a blip of the store should cost the caller a wait, not the
   * answer (past the sync limit the caller is answered 504, and the run carries on, as any
   * slow run does). A try whose answer was lost may have landed; a later one then finds the run
   * no longer queued, and reads whether it is started here or was cancelled meanwhile.
   */
  private markStarted(run: RunRow, startedAt: number): Promise<boolean> {
    return retryWhileStoreFails(
      async () => typeof (await tryStartSync(this.d.store, run.id, this.d.nodeId, startedAt, Date.now() + this.leaseMs)) === 'object',
      this.deadlineFrom(startedAt),
    );
  }

  /** When a run started at `startedAt` passes its time limit. */
  private deadlineFrom(startedAt: number): number {
    return startedAt + this.d.config.runTimeoutSeconds * 1000;
  }

  /**
   * Runs an async run this node holds (already `running` in the store): claimed from the
   * queue, or started as it was recorded on the worker it found free (`leased`).
   */
  async startClaimed(run: RunRow, leased?: WorkerLease): Promise<void> {
    // Held from the claim on: a worker may take a while to start, and the lease must not lapse meanwhile.
    this.held.add(run.id);
    // A run started as it was recorded was announced as such.
    if (!leased) this.changed(run);
    // A cancel while it waits for a worker: it must then never reach the worker.
    let cancelled = false;
    const stopWatching = this.d.bus.subscribe(run.id, (e) => (cancelled ||= isCancel(e)));
    try {
      let lease: WorkerLease;
      try {
        lease = leased ?? (await this.d.registry.get(run.serviceId ?? '').pool.acquire(run.accountId));
      } catch (err) {
        await this.failBeforeStart(run, err);
        return;
      }
      if (cancelled) {
        lease.release(true);
        await noteInLog(this.d.logs, run, 'error', 'The run was cancelled before it started.');
        return this.d.bus.publish(run.id, { type: 'status', status: 'cancelled' });
      }
      let execution: Execution;
      try {
        execution = await this.execute(run, lease, false);
      } catch (err) {
        await this.failBeforeStart(run, err);
        return;
      }
      stopWatching();
      await execution.done;
    } finally {
      stopWatching();
      this.held.delete(run.id);
    }
  }

  /**
   * Cancels a run the caller may see: one not started never starts, a running one has its
   * worker stopped, on whichever node runs it. Cancelling a cancelled run answers it again.
   */
  async cancel(principal: Principal, runId: string): Promise<RunRow> {
    const run = await this.d.store.getRun(runId);
    if (!this.d.access.canRead(principal, run)) throw new RunletError('RUN_NOT_FOUND', `No request "${runId}".`);
    const at = Date.now();
    await this.cancelRun(run!, at, `Cancelled by ${actorOf(principal)} at ${new Date(at).toISOString()}.`);
    const now = (await this.d.store.getRun(runId))!;
    if (now.status !== 'cancelled') {
      throw new RunletError('RUN_ALREADY_ENDED', `The run has already ended (${now.status}); there is nothing to cancel.`, { requestId: runId, details: { status: now.status } });
    }
    return now;
  }

  /**
   * Waits until the run ends or `timeoutMs` passes; answers the run as it then is, with its
   * attempts (undefined: there is no such run). `check` sees the run as first read (after
   * listening for its end, so no end is missed in between) and may throw: a caller that must
   * vet the run first needs no read of its own.
   */
  async waitForEnd(runId: string, timeoutMs: number, signal?: AbortSignal, check: (found: RunWithAttempts | undefined) => void = () => {}): Promise<RunWithAttempts | undefined> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let ended: RunWithAttempts | undefined;
    const unsubscribe = this.d.bus.subscribe(runId, (e) => {
      if (e.type === 'status' && isTerminal(e.status)) ended = e.ended;
      if (e.type === 'gone' || (e.type === 'status' && isTerminal(e.status))) wake();
    });
    try {
      const found = await this.d.store.getRunRecord(runId);
      check(found);
      if (!found || isTerminal(found.run.status) || timeoutMs <= 0) return found;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => wake();
      signal?.addEventListener('abort', onAbort, { once: true });
      // A safety net under the event: look at the store now and then, in case an event was lost.
      const safetyNet = setInterval(() => {
        void this.d.store.getRun(runId).then((r) => (!r || isTerminal(r.status)) && wake(), () => {});
      }, RESULT_SAFETY_CHECK_MS);
      await Promise.race([woken, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
      clearInterval(safetyNet);
      signal?.removeEventListener('abort', onAbort);
      return ended ?? (await this.d.store.getRunRecord(runId));
    } finally {
      unsubscribe();
    }
  }

  /**
   * The answer a sync run gave its first caller, for a caller that repeats its idempotency key:
   * waits (as `/result` does) up to `timeoutMs` for the run to end, then answers the stored
   * status, content type and body, or throws the error the run ended with. 'timeout' when the
   * run goes on.
   */
  async storedAnswer(run: RunRow, timeoutMs: number, signal?: AbortSignal): Promise<ProxiedResponse | 'timeout'> {
    const now = (await this.waitForEnd(run.id, timeoutMs, signal))?.run ?? run;
    if (!isTerminal(now.status)) return 'timeout';
    if (now.status === 'completed' && now.responseStatus !== null) {
      const headers: Record<string, string> = now.responseContentType ? { 'content-type': now.responseContentType } : {};
      return { status: now.responseStatus, headers, body: now.responseBody ?? Buffer.alloc(0) };
    }
    const code = isErrorCode(now.errorCode) ? now.errorCode : 'INTERNAL';
    throw new RunletError(code, now.error ?? undefined, { requestId: run.id });
  }

  /**
   * Stops every run in flight on this node (shutdown past its grace), its worker killed: a sync
   * run fails with SHUTTING_DOWN, an async one goes back to the queue. Runs waiting for room
   * under a service's cap stop waiting.
   */
  abortAll(): void {
    for (const e of this.active.values()) e.abort();
    this.limits.close();
  }

  /** Resolves once this node holds no run: every execution has ended, and no run waits here for a worker. */
  async drain(): Promise<void> {
    while (this.active.size > 0 || this.held.size > 0) {
      const pause = new Promise<void>((r) => setTimeout(r, DRAIN_CHECK_MS));
      await Promise.race([pause, ...[...this.active.values()].map((e) => e.done)]);
    }
  }

  close(): void {
    clearInterval(this.leaseTimer);
    for (const t of this.retryTimers) clearTimeout(t);
    // Ends still unwritten stay `running` in the store: the next start recovers them as orphans.
    for (const t of this.endsPending.values()) clearTimeout(t);
    for (const stopLooking of this.lostRecordings.values()) stopLooking();
  }

  /** `marked`: the write that records the run as started, still committing (see `startSync`). */
  private async execute(run: RunRow, lease: WorkerLease, streamToCaller: boolean, marked?: Promise<boolean>): Promise<Execution> {
    // A retried run continues its log: its cursor must be read before the worker prints anything.
    // Failing that (the store away), the call is not made, and the worker goes back to its pool.
    await this.d.logs.open(run.id, run.attempt <= 1, run.attempt).catch((err: unknown) => {
      lease.release(true);
      throw err;
    });
    const execution = new Execution({
      run,
      lease,
      logs: this.d.logs,
      deadlineAt: this.deadlineFrom(run.startedAt ?? Date.now()),
      storedResponseLimit: this.d.config.storedResponseLimitBytes,
      streamToCaller,
      marked,
      finish: (outcome, hints) => this.endAttempt(run, outcome, hints),
    });
    this.active.set(run.id, execution);
    this.held.add(run.id);
    // Cancelled here or on another node (the bus carries it): stop the worker.
    const stopWatching = this.d.bus.subscribe(run.id, (e) => isCancel(e) && execution.cancel());
    const max = this.d.registry.has(run.serviceId!) ? this.d.registry.get(run.serviceId!).pool.concurrency : undefined;
    // The worker is free once the call gives it back: the next queued run is claimed while this
    // one's end is written, not after. A capped service's place frees only with the end's write.
    if (max === undefined) void execution.released.then(() => this.onCapacityFreed(run.serviceId!));
    void execution.done.finally(() => {
      stopWatching();
      this.active.delete(run.id);
      this.held.delete(run.id);
      if (max === undefined) return;
      this.limits.ended({ serviceId: run.serviceId!, max });
      this.onCapacityFreed(run.serviceId!);
    });
    return execution;
  }

  /**
   * Ends a run (a conditional write: only the first ending counts) and tells its readers; those
   * on this node get the ended run with the news, and need not read it back. Throws when the
   * store cannot take the write now (see `endAttempt`).
   */
  async finish(run: Pick<RunRow, 'id' | 'accountId'>, outcome: RunOutcome, attempt?: AttemptRow): Promise<boolean> {
    let ended: RunRow | undefined;
    try {
      ended = await this.d.store.completeRun(run.id, outcome, this.d.nodeId, attempt);
    } catch (err) {
      if (isStoreFailure(err)) throw err;
      this.d.log.error({ err, requestId: run.id }, 'could not record the end of a run');
    }
    // A cancelled run already ended in the store; its readers hear of it once its log is whole.
    if (ended || outcome.status === 'cancelled') this.d.bus.publish(run.id, { type: 'status', status: outcome.status, ended: ended && endedRunOf(ended, attempt) });
    if (ended) this.changed(run);
    return ended !== undefined;
  }

  private async failBeforeStart(run: RunRow, err: unknown): Promise<void> {
    const e = err instanceof RunletError ? err : (storeFailureOf(err) ?? new RunletError('INTERNAL', String(err)));
    if (e.code === 'RUN_CANCELLED') return;
    await noteInLog(this.d.logs, run, 'error', e.message);
    await this.endAttempt(run, { status: 'failed', completedAt: Date.now(), error: e.message, errorCode: e.code }, { beforeStart: true });
  }

  /**
   * Ends an attempt: an async run whose service's policy retries this ending goes back to the
   * queue until its next attempt is due; any other run ends here, its attempt recorded first
   * (so a reader who sees the end sees every attempt). Answers whether the run ended.
   *
   * An ending the store cannot take now (disk full, database out of reach) is not dropped: it
   * is tried again, backing off, until the store takes it (`tries`: how many times it did not).
   * Meanwhile the run stays held here, its lease renewed, so that this node does not take it
   * for orphaned, and its readers wait on.
   */
  async endAttempt(run: RunRow, outcome: RunOutcome, hints: AttemptHints, tries = 0): Promise<boolean> {
    let ended: boolean;
    try {
      ended = await this.endAttemptOnce(run, outcome, hints);
    } catch (err) {
      if (!isStoreFailure(err)) {
        this.endsPending.delete(run.id);
        throw err;
      }
      if (tries === 0) this.d.log.error({ err, requestId: run.id }, 'could not record the end of a run; writing it again until the store takes it');
      const delay = Math.min(END_RETRY_FIRST_MS * 2 ** tries, END_RETRY_MAX_MS);
      const again = () => this.endAttempt(run, outcome, hints, tries + 1).catch((e: unknown) => this.d.log.error({ err: e, requestId: run.id }, 'could not record the end of a run'));
      this.endsPending.set(run.id, setTimeout(again, delay));
      return false;
    }
    if (tries > 0) this.d.log.info({ requestId: run.id, tries }, 'recorded the end of a run once the store was back');
    this.endsPending.delete(run.id);
    return ended;
  }

  private async endAttemptOnce(run: RunRow, outcome: RunOutcome, hints: AttemptHints): Promise<boolean> {
    // An async run this node gives up because it shuts down, or could not start because the store
    // failed meanwhile (a worker's start needs it), goes back to the queue, whatever its policy:
    // it did not fail, and another node (or this one, restarted or once the store is back) runs it again.
    const givenUp = outcome.errorCode === 'SHUTTING_DOWN' || (hints.beforeStart && outcome.errorCode === 'STORE_UNAVAILABLE');
    if (run.mode === 'async' && givenUp && (await this.retry(run, outcome, Date.now()))) return false;
    const policy = run.mode === 'async' ? await retryPolicyOf(this.d.registry, run).catch(() => undefined) : undefined;
    const retryAt = nextAttemptAt(policy, run, outcome, hints, Date.now());
    if (retryAt !== undefined && (await this.retry(run, outcome, retryAt))) return false;
    return this.finish(run, outcome, run.attempt > 0 ? attemptRowOf(run, outcome, this.d.nodeId, null) : undefined);
  }

  /**
   * Requeues a run this node holds for its next attempt at `retryAt`; answers whether it was.
   * Throws when the store cannot take the write now.
   */
  async retry(run: RunRow, outcome: RunOutcome, retryAt: number): Promise<boolean> {
    let requeued = false;
    try {
      requeued = await this.d.store.retryRun({ ...attemptRowOf(run, outcome, this.d.nodeId, retryAt), retryAt }, this.d.nodeId);
    } catch (err) {
      if (isStoreFailure(err)) throw err;
      this.d.log.error({ err, requestId: run.id }, 'could not requeue a run for a retry');
    }
    if (!requeued) return false;
    const seconds = ((retryAt - Date.now()) / 1000).toFixed(1);
    await noteInLog(this.d.logs, run, 'warn', `Attempt ${run.attempt} failed: ${describeEnding(outcome)} Attempt ${run.attempt + 1} in ${seconds} s.`);
    this.d.bus.publish(run.id, { type: 'status', status: 'queued' });
    this.changed(run);
    const serviceId = run.serviceId!;
    // Every node sweeps for due runs anyway; this only makes the retry start on time.
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.d.bus.announce('queued', serviceId);
    }, Math.max(0, retryAt - Date.now()));
    timer.unref();
    this.retryTimers.add(timer);
    return true;
  }

  /** Why a run this node meant to start is no longer queued: cancelled, or ended some other way. */
  private async whyNotStarted(runId: string): Promise<RunletError> {
    const run = await this.d.store.getRun(runId);
    if (run?.status === 'cancelled') return new RunletError('RUN_CANCELLED', run.error ?? undefined);
    return new RunletError('RUN_NOT_FOUND', 'The run ended before it could start.');
  }

  private async renewLeases(): Promise<void> {
    if (this.held.size === 0 && this.endsPending.size === 0) return;
    await this.d.store.extendLeases(this.d.nodeId, [...this.held, ...this.endsPending.keys()], Date.now() + this.leaseMs).catch((err: unknown) => {
      this.d.log.warn({ err }, 'could not renew run leases');
    });
  }
}
