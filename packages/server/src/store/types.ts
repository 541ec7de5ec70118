import type { FileStatus, KeyKind, LogLevel, LogSource, RunMode, RunStatus, TerminalRunStatus } from '@runlet/protocol';

/** Times are milliseconds since the epoch everywhere inside the store. */
export type Millis = number;

export interface Account {
  id: string;
  name: string;
  createdAt: Millis;
}

export interface ApiKeyRecord {
  id: string;
  accountId: string;
  kind: KeyKind;
  name: string | null;
  prefix: string;
  createdAt: Millis;
  lastUsedAt: Millis | null;
  useCount: number;
  revokedAt: Millis | null;
  spentAt: Millis | null;
  spentRunId: string | null;
  /** Keys the runtime mints for its own workers; not listed to users. */
  internal: boolean;
  /** After this the key is refused; null: never. */
  expiresAt: Millis | null;
  /** The only services the key may start runs of; null: every service. */
  services: string[] | null;
  /** Who made it ("user ann@example.com", "key cwk-abc123"); null for keys made by the CLI. */
  createdBy: string | null;
}

export interface NewApiKey {
  id: string;
  accountId: string;
  kind: KeyKind;
  name: string | null;
  hash: string;
  prefix: string;
  createdAt: Millis;
  internal?: boolean;
  expiresAt?: Millis | null;
  services?: string[] | null;
  createdBy?: string | null;
}

export interface RunRow {
  id: string;
  accountId: string;
  keyId: string | null;
  serviceId: string | null;
  method: string;
  path: string;
  query: string | null;
  mode: RunMode | null;
  status: RunStatus;
  input: Buffer | null;
  inputContentType: string | null;
  /** The caller's headers that are forwarded to the service (content type, accept, ...). */
  requestHeaders: Record<string, string>;
  correlationId: string | null;
  createdAt: Millis;
  startedAt: Millis | null;
  completedAt: Millis | null;
  responseStatus: number | null;
  responseContentType: string | null;
  responseBody: Buffer | null;
  error: string | null;
  errorCode: string | null;
  nodeId: string | null;
  leaseExpiresAt: Millis | null;
  attempt: number;
  /** Which of its node's claims took the run (null: it was not claimed, or was adopted since). */
  claimNumber: number | null;
  /** For a provisioned id: when it lapses unused. */
  expiresAt: Millis | null;
  /** A queued run waiting out a retry's backoff is not claimed before this. */
  runAfter: Millis | null;
  /** Where the record is POSTed when the run ends. */
  callbackUrl: string | null;
  /** The run's own retention (it can only shorten the account's). */
  retainSeconds: number | null;
}

export interface NewRun {
  id: string;
  accountId: string;
  keyId: string | null;
  serviceId: string;
  method: string;
  path: string;
  query: string | null;
  mode: RunMode;
  input: Buffer | null;
  inputContentType: string | null;
  requestHeaders: Record<string, string>;
  correlationId: string | null;
  createdAt: Millis;
  nodeId: string;
  /** Set for a sync run, which this node holds from the start (its caller waits on this node). */
  leaseExpiresAt?: Millis | null;
  /**
   * Set when the run starts as it is recorded (a worker of this node was free): it is written
   * as running, in its first attempt, in the same write, rather than queued and then started.
   */
  startedAt?: Millis | null;
  callbackUrl?: string | null;
  retainSeconds?: number | null;
}

export interface CreateRunOptions {
  /** Start a run under an id handed out by `/provision-request` instead of a new one. */
  provisionedId?: string;
  /** A one-time key to spend on this run, atomically with creating it. */
  spendKeyId?: string;
  /** Record the run under this idempotency key, unless the key already names a run. */
  idempotency?: IdempotencyClaim;
}

/**
 * An idempotency key as a call that records a run claims it. While the key lives, the account's
 * later calls with it are answered the run it names (the same `fingerprint`) or refused
 * (IDEMPOTENCY_KEY_REUSED); an expired key is claimed afresh.
 */
export interface IdempotencyClaim {
  key: string;
  /** SHA-256 of what was asked: endpoint, method, service, path, query and body. */
  fingerprint: string;
  createdAt: Millis;
  expiresAt: Millis;
}

/** A run as `createRun` and `provisionRun` answer it: `replayed` when an idempotency key named it already. */
export type RecordedRun = RunRow & { replayed?: boolean };

export interface NewProvision {
  id: string;
  accountId: string;
  keyId: string | null;
  createdAt: Millis;
  expiresAt: Millis;
  nodeId: string;
}

export interface RunOutcome {
  status: TerminalRunStatus;
  completedAt: Millis;
  responseStatus?: number | null;
  responseContentType?: string | null;
  responseBody?: Buffer | null;
  error?: string | null;
  errorCode?: string | null;
}

export interface StoredLogLine {
  runId: string;
  seq: number;
  createdAt: Millis;
  /** The exact time, in microseconds since the epoch. */
  timeMicros: number;
  level: LogLevel;
  source: LogSource;
  message: string;
  fields: Record<string, unknown> | null;
  /** The attempt of the run that wrote the line; absent for lines of no attempt. */
  attempt?: number | null;
}

export interface KeyUsage {
  count: number;
  lastUsedAt: Millis;
}

export interface FileRow {
  id: string;
  accountId: string;
  name: string;
  status: FileStatus;
  backend: 'local' | 's3';
  /** Where the bytes are in the backend: a file id on disk, an object key in the bucket. */
  storageKey: string;
  contentType: string | null;
  /** The size the uploader announced with `?size=`; the upload must match it. */
  declaredSize: number | null;
  size: number | null;
  sha256: string | null;
  /** The node streaming the upload while `uploading`. */
  nodeId: string | null;
  createdAt: Millis;
  uploadExpiresAt: Millis;
  expiresAt: Millis;
  uploadStartedAt: Millis | null;
  completedAt: Millis | null;
}

export type NewFile = Pick<
  FileRow,
  'id' | 'accountId' | 'name' | 'backend' | 'storageKey' | 'contentType' | 'declaredSize' | 'createdAt' | 'uploadExpiresAt' | 'expiresAt'
>;

export interface CompletedUpload {
  size: number;
  sha256: string | null;
  contentType: string | null;
  completedAt: Millis;
}

/** How `completeUpload` ended: stored, refused for the quota, or the record is gone or not ours. */
export type UploadCompletion = 'completed' | 'quota_exceeded' | 'gone';

/** A page of an account's runs: filters, and a cursor (the last run of the previous page). */
export interface RunListQuery {
  accountId: string;
  serviceId?: string;
  status?: RunStatus;
  limit: number;
  before?: { createdAt: Millis; id: string };
}

/** What usage statistics need of a run. */
export interface RunTiming {
  serviceId: string | null;
  status: RunStatus;
  createdAt: Millis;
  startedAt: Millis | null;
  completedAt: Millis | null;
  /** The service's HTTP answer, when it gave one. */
  responseStatus: number | null;
}
