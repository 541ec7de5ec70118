import type { AttemptRow, DeliveryAttemptRow, DeliveryNext, DeliveryRow, PurgePolicy, RunWithAttempts, TombstoneRow } from './control-types.js';
import type {
  Account,
  ApiKeyRecord,
  CompletedUpload,
  CreateRunOptions,
  FileRow,
  KeyUsage,
  Millis,
  NewApiKey,
  NewFile,
  NewProvision,
  NewRun,
  RecordedRun,
  RunOutcome,
  RunListQuery,
  RunRow,
  RunTiming,
  StoredLogLine,
  UploadCompletion,
} from './types.js';

import type { Directory } from './directory/directory.js';
import type { AuditEvent } from './directory/types.js';

export type * from './types.js';
export type * from './control-types.js';
export type * from './directory/types.js';

/**
 * Which runs count as left behind: those of every node but this one (SQLite: one node), those
 * of one node known dead (this node's previous process), or those whose lease lapsed.
 */
/** A service's cap on runs executing at once across the cluster (its `concurrency`). */
export interface ClusterLimit {
  serviceId: string;
  max: number;
}

/** A node's claim on a service's queued async runs (see `Store.claimQueuedRuns`). */
export interface RunClaim {
  serviceId: string;
  limit: number;
  nodeId: string;
  /** Tells this claim from the node's others, so its runs can be found if its answer is lost. */
  claimNumber?: number;
  now: Millis;
  leaseExpiresAt: Millis;
  clusterMax?: number;
  accountMax?: number;
}

export type OrphanFilter = { notNodeId: string } | { nodeId: string } | { leaseExpiredBefore: Millis };

/**
 * What the runtime asks of durable storage, in its own words. Every backend implements this
 * and passes the same conformance suite (`test/store/conformance.ts`). Methods that change a
 * run's state are conditional writes that report whether they won, so two callers racing on
 * one run cannot both finish it.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Users, sessions, environment variables, the audit trail: the same SQL on both backends. */
  readonly directory: Directory;
  close(): Promise<void>;

  // accounts and keys
  defaultAccount(): Promise<Account>;
  getAccount(id: string): Promise<Account | undefined>;
  createAccount(name: string): Promise<Account>;
  /** With `audit`, the event is recorded in the same transaction as the key. */
  createApiKey(key: NewApiKey, audit?: AuditEvent): Promise<ApiKeyRecord>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(accountId: string): Promise<ApiKeyRecord[]>;
  /**
   * Revokes by id or by displayed prefix; answers the revoked key, if any. With `audit`, the
   * event is recorded in the same transaction, naming the key's id, when this call revoked it (not
   * when it already was).
   */
  revokeApiKey(accountId: string, idOrPrefix: string, at: Millis, audit?: AuditEvent): Promise<ApiKeyRecord | undefined>;
  recordKeyUsage(usage: ReadonlyMap<string, KeyUsage>): Promise<void>;
  deleteInternalKeys(): Promise<void>;

  // runs
  /**
   * Hands out a request id (status `provisioned`), spending a one-time key when asked; under an
   * idempotency key, as `createRun`.
   */
  provisionRun(provision: NewProvision, options?: Pick<CreateRunOptions, 'spendKeyId' | 'idempotency'>): Promise<RecordedRun>;
  /**
   * Records a new run as `queued`. With `provisionedId`, takes over that provisioned record
   * (once); with `spendKeyId`, spends that one-time key in the same transaction. With
   * `idempotency`, first claims the key for the account, in the same transaction: a key that
   * already names a live run answers that run (`replayed`, nothing written, no key spent), or
   * throws IDEMPOTENCY_KEY_REUSED when it was asked with another fingerprint. Of concurrent
   * calls with one key, exactly one records a run.
   * Throws `RunletError` KEY_SPENT, PROVISION_NOT_FOUND, PROVISION_USED or IDEMPOTENCY_KEY_REUSED.
   */
  createRun(run: NewRun, options?: CreateRunOptions): Promise<RecordedRun>;
  /** How many of the account's runs are queued and running now, on every node (back-pressure limits). */
  countAccountRuns(accountId: string): Promise<{ queued: number; running: number }>;
  /** Forgets idempotency keys that expired by `now`; answers how many. */
  deleteExpiredIdempotencyKeys(now: Millis): Promise<number>;
  getRun(id: string): Promise<RunRow | undefined>;
  /** The run with its attempts, in one read (one round trip on PostgreSQL): what a request record is made of. */
  getRunRecord(id: string): Promise<RunWithAttempts | undefined>;
  /**
   * `queued` → `running` for a run this node holds (a sync run, or one it claimed). With
   * `within`, only while fewer than `max` runs of that service are running on every node
   * together; `false` then also means "no room yet" (the run is still queued).
   */
  markRunning(id: string, nodeId: string, startedAt: Millis, leaseExpiresAt: Millis, within?: ClusterLimit): Promise<boolean>;
  /**
   * Claims up to `limit` queued async runs of a service, oldest first; with `clusterMax`, never
   * so many that more than that many runs of the service run on every node together; with
   * `accountMax`, none of an account that already has that many runs running (of any service,
   * on every node), so one account's flood waits while others' runs go on.
   */
  claimQueuedRuns(claim: RunClaim): Promise<RunRow[]>;
  /**
   * The runs a claim of this node took (`claimNumber`), still running here, their leases
   * renewed: for a claim whose answer was lost, so the node never heard which runs it took.
   */
  takeClaimedRuns(nodeId: string, claimNumber: number, leaseExpiresAt: Millis): Promise<RunRow[]>;
  /** Service ids that have queued async runs waiting. */
  servicesWithQueuedRuns(): Promise<string[]>;
  countQueuedRuns(serviceId: string): Promise<number>;
  extendLeases(nodeId: string, runIds: readonly string[], leaseExpiresAt: Millis): Promise<void>;
  /**
   * Ends a run unless it has already ended; answers the run as this call ended it, or undefined
   * when it did not (so readers on this node need not read it back). With
   * `ownerNodeId`, only while that node still holds the run: a node that lost its lease (and
   * whose run another node took over) cannot end it late. `attempt`, when given, is recorded in
   * the same write whether or not the run still ends here (an attempt happened either way), so a
   * reader who sees the end sees every attempt.
   */
  completeRun(id: string, outcome: RunOutcome, ownerNodeId?: string, attempt?: AttemptRow): Promise<RunRow | undefined>;
  /**
   * Ends a run as `cancelled` unless it has already ended, whichever node holds it, and also
   * a provisioned id not used yet (which no run may use after). Answers whether this call ended it.
   */
  cancelRun(id: string, at: Millis, error: string): Promise<boolean>;
  /**
   * Takes over a run left by a dead node; of several nodes trying, exactly one wins. With
   * `leaseExpiredBefore`, only while its lease is still lapsed: a live holder that renewed it
   * since it was found keeps it.
   */
  adoptRun(id: string, fromNodeId: string | null, toNodeId: string, leaseExpiredBefore?: Millis): Promise<boolean>;
  /** Puts a running run back in the queue (a retry); answers whether it was running. */
  requeueRun(id: string): Promise<boolean>;
  /**
   * Runs left behind by a node that is gone: `running` runs and `queued` sync runs held by a
   * node other than `aliveNodeId` (SQLite: one node, so every other node id is dead), or whose
   * lease expired before `leaseExpiredBefore`.
   */
  findOrphanedRuns(filter: OrphanFilter): Promise<RunRow[]>;
  /** Deletes provisioned ids that lapsed unused; answers their ids. */
  deleteExpiredProvisions(now: Millis): Promise<string[]>;
  /** One page of the account's runs, newest first (provisioned ids only when asked for). */
  listRuns(query: RunListQuery): Promise<RunRow[]>;
  /** Timings of the account's runs created since `since`, newest first, at most `limit`. */
  runTimings(accountId: string, since: Millis, limit: number): Promise<RunTiming[]>;

  // logs
  appendLogs(lines: readonly StoredLogLine[]): Promise<void>;
  readLogs(runId: string, afterSeq: number, limit: number): Promise<StoredLogLine[]>;
  lastLogLine(runId: string): Promise<StoredLogLine | undefined>;

  // files (metadata; the bytes live in the files backend)
  createFile(file: NewFile): Promise<FileRow>;
  getFile(id: string): Promise<FileRow | undefined>;
  /** `pending` → `uploading` for one uploader; answers whether this call won the upload. */
  claimUpload(id: string, nodeId: string, at: Millis): Promise<boolean>;
  /** `uploading` → `pending` again after an interrupted upload, so the URL stays usable. */
  releaseUpload(id: string, nodeId: string): Promise<boolean>;
  /**
   * `uploading` → `ready`, in one transaction with the quota check: the account's ready bytes
   * plus this file must stay within `quotaBytes` (0: no quota).
   */
  completeUpload(id: string, nodeId: string, done: CompletedUpload, quotaBytes: number): Promise<UploadCompletion>;
  /** Bytes of the account's ready files. */
  storageUsed(accountId: string): Promise<number>;
  /** The account's files, newest first; `before` is a cursor from the previous page. */
  listFiles(accountId: string, options: { limit: number; before?: { createdAt: Millis; id: string } }): Promise<FileRow[]>;
  /** Deletes the record (of `accountId` when given); answers it, if there was one. */
  deleteFile(id: string, accountId?: string): Promise<FileRow | undefined>;
  /**
   * Files to collect: ready files past `expiresAt`, pending ones whose upload URL lapsed,
   * and uploads stuck `uploading` since before `staleUploadBefore` (their node died).
   */
  findCollectableFiles(now: Millis, staleUploadBefore: Millis, limit: number): Promise<FileRow[]>;
  /** Uploads held by nodes other than `notNodeId` go back to `pending` (SQLite: those nodes are gone). */
  releaseOrphanedUploads(notNodeId: string): Promise<number>;

  // retries (see control-types.ts)
  /**
   * Ends the current attempt of a running run held by `ownerNodeId` and puts the run back in
   * the queue, not to be claimed before `attempt.retryAt`; records the attempt in the same
   * transaction. Answers whether the run was still this node's to retry.
   */
  retryRun(attempt: AttemptRow & { retryAt: Millis }, ownerNodeId: string | null): Promise<boolean>;
  listAttempts(runId: string): Promise<AttemptRow[]>;

  // completion webhooks
  /** The account's webhook signing secret; `candidate` becomes it when it has none yet. */
  webhookSecret(accountId: string, candidate: string): Promise<string>;
  /**
   * Makes a delivery of every ended run that has a callback URL and none yet (at most `limit`),
   * due at once and given up at `giveUpAfterMs` after `now`; answers how many were made.
   */
  createDueDeliveries(now: Millis, giveUpAfterMs: number, limit: number): Promise<number>;
  /**
   * Claims deliveries due by `now`: each is pushed to `leaseUntil`, so that no other node takes
   * it meanwhile and it comes due again should this node die mid-delivery.
   */
  claimDueDeliveries(now: Millis, leaseUntil: Millis, limit: number): Promise<DeliveryRow[]>;
  /** Records an attempt and what follows it, in one transaction. */
  recordDeliveryAttempt(attempt: DeliveryAttemptRow, next: DeliveryNext): Promise<void>;
  listDeliveries(runId: string): Promise<{ delivery: DeliveryRow; attempts: DeliveryAttemptRow[] }[]>;
  /** Makes a run's delivery due again at `now` (whatever its state), with a new deadline. */
  redeliver(runId: string, now: Millis, giveUpAt: Millis): Promise<DeliveryRow | undefined>;

  // retention
  /** The account's own retention in seconds, or null to follow the configured default. */
  getAccountRetention(accountId: string): Promise<number | null>;
  setAccountRetention(accountId: string, seconds: number | null): Promise<void>;
  /**
   * Deletes up to `limit` ended runs past their retention (the shorter of the run's own and its
   * account's), with their logs, attempts and deliveries, leaving a tombstone of each; also
   * removes tombstones past their time. Answers the ids purged.
   */
  purgeExpiredRuns(policy: PurgePolicy): Promise<string[]>;
  getTombstone(id: string): Promise<TombstoneRow | undefined>;
}
