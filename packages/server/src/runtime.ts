import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { workerEnv } from '@runlet/protocol';
import { EnvVars } from './accounts/env-vars.js';
import { KeyManagement } from './accounts/key-management.js';
import { Sessions } from './accounts/sessions.js';
import { ensureDataDir, type Config } from './config.js';
import { Access } from './engine/access.js';
import { Dispatcher } from './engine/dispatcher.js';
import { recoverOrphanedRuns } from './engine/recovery.js';
import { RetentionSweep } from './engine/retention.js';
import { RunEngine, type ServerLog } from './engine/run-engine.js';
import { RunFeed } from './engine/run-feed.js';
import { WorkerKeys } from './engine/worker-keys.js';
import { Files } from './files/files.js';
import { newNodeId } from './ids.js';
import { LocalEventBus, type EventBus } from './logs/event-bus.js';
import { LogRecorder } from './logs/log-recorder.js';
import { PostgresEventBus } from './logs/postgres-event-bus.js';
import { PostgresStore } from './store/postgres/postgres-store.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';
import { ServiceRegistry } from './workers/service-registry.js';
import { HostSpares } from './workers/host-spares.js';
import { WorkerRegistry } from './workers/worker-registry.js';
import { WebhookDeliverer } from './webhooks/deliverer.js';
import { loadMasterKey } from './secrets/master-key.js';

/** How often provisioned ids that lapsed unused are swept away. */
const PROVISION_SWEEP_MS = 60_000;

/**
 * Everything a Runlet node is, wired together once: the store, the event bus, the log
 * recorder, the services and their pools, the run engine and the dispatcher. The HTTP layer
 * only ever talks to this.
 */
export class Runtime {
  readonly nodeId: string;
  readonly logs: LogRecorder;
  readonly access: Access;
  readonly registry: ServiceRegistry;
  readonly engine: RunEngine;
  readonly dispatcher: Dispatcher;
  /** Accounts' runs as they change, read once per change for everyone following here. */
  readonly runFeed: RunFeed;
  /** Uploaded files: metadata in the store, bytes on local disk or S3. */
  readonly files: Files;
  /** Completion webhooks: made when runs end, sent and retried by a loop on every node. */
  readonly webhooks: WebhookDeliverer;
  /** Sign-in, sessions and the first-run setup link. */
  readonly sessions: Sessions;
  /** API keys as people manage them, audited. */
  readonly keys: KeyManagement;
  /** The accounts' environment variables, sealed at rest. */
  readonly envVars: EnvVars;
  /** While no user exists: the token of the setup link printed at start. */
  setupToken: string | undefined;
  /** Deletes runs past their retention, a small batch at a time, on every node. */
  readonly retention: RetentionSweep;
  private readonly workerKeys: WorkerKeys;
  private readonly workerRegistry: WorkerRegistry;
  private readonly spares: HostSpares;
  private baseUrl = '';
  private sweepTimer: NodeJS.Timeout | undefined;
  private recoveryTimer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly config: Config,
    readonly store: Store,
    readonly bus: EventBus,
    nodeId: string,
    readonly log: ServerLog,
    files?: Files,
    masterKey: Buffer = loadMasterKey(config.secretKey, config.dataDir),
  ) {
    this.nodeId = nodeId;
    this.workerRegistry = new WorkerRegistry(path.join(config.dataDir, 'workers'));
    this.spares = new HostSpares(config.spareHosts, this.workerRegistry);
    this.logs = new LogRecorder(store, this.bus, (err) => log.error({ err }, 'could not write log lines'));
    this.access = new Access(store);
    this.workerKeys = new WorkerKeys(store);
    this.sessions = new Sessions(store, config.sessionTtlSeconds * 1000);
    this.keys = new KeyManagement(store, (keyId) => bus.announce('keyRevoked', keyId));
    bus.on('keyRevoked', (keyId) => this.access.forget(keyId));
    this.envVars = new EnvVars(store, masterKey, (accountId) => bus.announce('envChanged', accountId));
    this.registry = new ServiceRegistry(
      config.servicesDir,
      {
        maxWorkers: config.maxWorkersPerService,
        minWarm: config.minWarmWorkers,
        idleMs: config.workerIdleSeconds * 1000,
        maxQueued: config.maxQueuedPerService,
        startTimeoutMs: config.workerStartTimeoutSeconds * 1000,
        registry: this.workerRegistry,
        spares: this.spares,
        envFor: async (accountId, serviceId) => ({
          ...(await this.envVars.resolve(accountId, serviceId)),
          [workerEnv.runtimeUrl]: this.baseUrl,
          [workerEnv.apiKey]: await this.workerKeys.forAccount(accountId),
        }),
        onStartFailure: (err) => log.warn({ err: err.message }, 'a worker failed to start'),
        onWorkerFreed: (serviceId) => this.dispatcher.freed(serviceId),
      },
      (change) => log.info(change, 'services loaded'),
    );
    this.engine = new RunEngine({
      config,
      store,
      registry: this.registry,
      logs: this.logs,
      bus: this.bus,
      access: this.access,
      nodeId: this.nodeId,
      log,
      missingEnv: (accountId, serviceId, required) => this.envVars.missing(accountId, serviceId, required),
    });
    // On every node (this one included): the account's warm workers carry the old values.
    bus.on('envChanged', (accountId) => this.registry.recycleAccount(accountId));
    this.dispatcher = new Dispatcher(store, this.registry, this.engine, this.nodeId, log, config.maxConcurrentPerAccount || undefined);
    this.runFeed = new RunFeed(store, bus, (err, requestId) => log.warn({ err, requestId }, 'could not read a changed run for the runs feed'));
    this.files = files ?? Files.openLocal(config, store, nodeId, () => this.baseUrl, log);
    this.webhooks = new WebhookDeliverer(config, store, log);
    this.retention = new RetentionSweep(config, store, log);
  }

  /** Opens the configured store: PostgreSQL when `database` is set, else SQLite in the data folder. */
  static async open(config: Config, log: ServerLog): Promise<Runtime> {
    const nodeId = newNodeId();
    // Checked before anything is opened: a bad data folder or a malformed key stops the start with nothing to clean up.
    ensureDataDir(config.dataDir);
    const masterKey = loadMasterKey(config.secretKey, config.dataDir);
    const store = await openStore(config);
    const bus =
      store instanceof PostgresStore
        ? await PostgresEventBus.open(config.database!, store.pool, nodeId, (err) => log.warn({ err }, 'event bus connection trouble'))
        : new LocalEventBus();
    const holder: { runtime?: Runtime } = {};
    const files = await Files.open(config, store, nodeId, () => holder.runtime?.url ?? '', log);
    return (holder.runtime = new Runtime(config, store, bus, nodeId, log, files, masterKey));
  }

  private get recoveryDeps() {
    return { store: this.store, registry: this.registry, logs: this.logs, engine: this.engine, nodeId: this.nodeId, dispatcher: this.dispatcher };
  }

  get url(): string {
    return this.baseUrl;
  }

  /**
   * Starts serving once the HTTP server listens at `baseUrl`: loads the services, finishes
   * what a previous process left in flight, warms the pools and starts dispatching.
   */
  async start(baseUrl: string): Promise<void> {
    this.baseUrl = this.config.publicUrl?.replace(/\/$/, '') ?? baseUrl;
    const reaped = this.workerRegistry.reapLeftovers();
    if (reaped) this.log.warn({ reaped }, 'stopped worker processes left running by a previous runtime');
    // One node: the worker keys of a previous process are dead weight. In a cluster they may
    // belong to live nodes (their secrets are only ever in those nodes' memory).
    if (this.store.kind === 'sqlite') await this.store.deleteInternalKeys();
    await this.envVars.checkMasterKey();
    this.setupToken = await this.sessions.newSetupToken();
    await this.files.start();
    this.spares.fill();
    this.registry.reload();
    if (this.config.watch) this.registry.watch();
    else if (!existsSync(this.config.servicesDir)) this.log.warn({ servicesDir: this.config.servicesDir }, 'the services folder does not exist: no services (create it, or set --services)');
    const account = await this.store.defaultAccount();
    // Warm first: a service's first worker tells whether its runs may be retried after a crash.
    await Promise.all(this.registry.list().map((e) => e.pool.warm(account.id)));
    // SQLite has one node, so every run another node id holds was left by a process now dead.
    // In a cluster only this node's own previous process is known dead (same data folder);
    // other nodes' runs are orphaned once their leases lapse.
    const previous = this.rememberNodeId();
    const recovered = await recoverOrphanedRuns(
      this.recoveryDeps,
      this.store.kind === 'sqlite' ? { notNodeId: this.nodeId } : previous ? { nodeId: previous } : { leaseExpiredBefore: Date.now() },
    );
    if (recovered.failed.length || recovered.requeued.length) this.log.warn(recovered, 'recovered runs left in flight by a previous process');
    this.bus.on('queued', (serviceId) => this.dispatcher.nudge(serviceId));
    this.dispatcher.start();
    this.webhooks.start();
    this.retention.start();
    this.sweepTimer = setInterval(() => void this.sweepProvisions(), PROVISION_SWEEP_MS);
    this.sweepTimer.unref();
    // Runs of nodes that died since: their leases lapse and any live node finishes them.
    this.recoveryTimer = setInterval(() => void this.recoverExpiredLeases(), this.engine.leaseMs / 2);
    this.recoveryTimer.unref();
  }

  /**
   * The first half of a shutdown, while the HTTP server still answers: new runs are refused
   * (503 SHUTTING_DOWN), no more queued runs are claimed, and runs in flight get the grace
   * period to finish. Past it, their workers are stopped: a sync run fails with SHUTTING_DOWN,
   * an async one goes back to the queue for another node or the next start. `/result`,
   * `/request` and `/logs` keep answering throughout.
   */
  drain(): Promise<void> {
    this.draining ??= (async () => {
      this.engine.stopAccepting();
      this.dispatcher.stop();
      clearInterval(this.sweepTimer);
      clearInterval(this.recoveryTimer);
      await this.retention.stop();
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<'grace'>((r) => (graceTimer = setTimeout(() => r('grace'), this.config.shutdownGraceSeconds * 1000)));
      const ended = await Promise.race([this.engine.drain(), grace]);
      clearTimeout(graceTimer);
      if (ended === 'grace') this.log.warn({ activeRuns: this.engine.activeCount }, 'shutdown grace period over: stopping the runs still in flight');
      // Marked aborted before their workers die, so they end as SHUTTING_DOWN rather than as crashes.
      this.engine.abortAll();
      // Runs still waiting for a worker are turned away; no worker starts from now on.
      const poolsClosed = this.registry.close();
      await this.engine.drain();
      await poolsClosed;
    })();
    return this.draining;
  }

  /** Drains (if not done yet), then closes everything: the logs are flushed before the store closes. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.drain();
      this.dispatcher.close();
      this.engine.close();
      this.spares.close();
      await this.logs.flush();
      await this.webhooks.stop();
      await this.access.close();
      await this.files.close();
      await this.bus.close();
      await this.store.close();
    })();
    return this.closing;
  }

  /** Records this process's node id in the data folder; answers the one the previous process used. */
  private rememberNodeId(): string | undefined {
    const file = path.join(this.config.dataDir, 'node-id');
    const previous = existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
    writeFileSync(file, this.nodeId);
    return previous === this.nodeId ? undefined : previous;
  }

  private async recoverExpiredLeases(): Promise<void> {
    try {
      const recovered = await recoverOrphanedRuns(this.recoveryDeps, { leaseExpiredBefore: Date.now() });
      if (recovered.failed.length || recovered.requeued.length) {
        this.log.warn(recovered, 'took over runs whose node stopped renewing its lease');
        for (const id of recovered.requeued) {
          const run = await this.store.getRun(id);
          if (run?.serviceId) this.bus.announce('queued', run.serviceId);
        }
      }
    } catch (err) {
      this.log.warn({ err }, 'could not look for runs with expired leases');
    }
  }

  private async sweepProvisions(): Promise<void> {
    try {
      for (const id of await this.store.deleteExpiredProvisions(Date.now())) this.bus.publish(id, { type: 'gone' });
      // Expired idempotency keys too: they no longer answer anything, only take room.
      await this.store.deleteExpiredIdempotencyKeys(Date.now());
    } catch (err) {
      this.log.warn({ err }, 'could not sweep expired provisioned ids');
    }
  }
}
