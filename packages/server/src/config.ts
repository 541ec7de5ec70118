import { accessSync, constants, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting, its default and its environment variable, in one place. Parsed once at
 * start into a frozen object; precedence is flags > environment > defaults, and an unknown
 * setting is an error, not a silent no-op.
 */
const seconds = z.coerce.number().positive();
const count = z.coerce.number().int().nonnegative();
/** A list: an array in code, comma-separated in the environment. */
const stringList = z.union([
  z.array(z.string().min(1)),
  z.string().transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean)),
]);

export const ConfigSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    dataDir: z.string().default('.runlet'),
    /** A PostgreSQL URL: several nodes share it. Unset: the embedded SQLite store in the data folder. */
    database: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
    /** Connections each node keeps to PostgreSQL. */
    databasePoolSize: count.min(1).default(10),
    servicesDir: z.string().default('services'),
    /** Public base URL (what clients and upload URLs use); derived from host and port when unset. */
    publicUrl: z.string().url().optional(),
    /** The seed: sync calls answer 504 after two minutes. */
    syncTimeoutSeconds: seconds.default(120),
    /** The seed: async runs may take up to 30 minutes; the same limit bounds every run. */
    runTimeoutSeconds: seconds.default(1800),
    /** `/result` without `timeout` answers quickly, so the seed's bare curl gets its 408 at once. */
    resultDefaultWaitSeconds: z.coerce.number().nonnegative().default(5),
    bodyLimitBytes: count.default(10 * 1024 * 1024),
    /** Largest answer kept in the request record; the caller still gets the whole stream. */
    storedResponseLimitBytes: count.default(4 * 1024 * 1024),
    /** Workers per service (and so calls in flight per service) unless the service says otherwise. */
    maxWorkersPerService: count.min(1).default(4),
    minWarmWorkers: count.default(1),
    /** SDK hosts kept started for no service yet, so a TypeScript service's first call starts fast. */
    spareHosts: count.default(1),
    workerIdleSeconds: seconds.default(300),
    workerStartTimeoutSeconds: seconds.default(15),
    /** Calls that may wait for a busy service before the next caller gets 429. */
    maxQueuedPerService: count.default(1000),
    /**
     * Runs an account may have queued at once (sync and async, every service) before its next
     * call gets 429 ACCOUNT_QUEUE_FULL; 0: no limit. Ten times the per-service wait queue: room
     * for a big batch, not for a runaway loop filling the store.
     */
    maxQueuedPerAccount: count.default(10_000),
    /**
     * Runs an account may have running at once across every service and node before its next
     * sync call gets 429 ACCOUNT_CONCURRENCY_LIMIT; 0 (the default): only the services' own
     * worker caps bound it, as one team on its own runtime expects.
     */
    maxConcurrentPerAccount: count.default(0),
    /**
     * Requests per second each API key may make, per node (a token bucket in memory); 0 (the
     * default): no limit, so benchmarks and single-team installs are not throttled by surprise.
     */
    keyRateLimit: z.coerce.number().nonnegative().default(0),
    /** Requests a key may make at once above its rate; 0: as many as one second's rate. */
    keyRateBurst: count.default(0),
    provisionTtlSeconds: seconds.default(3600),
    /**
     * How long an `Idempotency-Key` names its run: a day, like the payment APIs clients know,
     * comfortably longer than any client's retries of one call.
     */
    idempotencyHours: z.coerce.number().positive().default(24),
    /**
     * How long a node's claim on a running run lasts unless renewed (every third of it). After
     * a node dies, its runs are taken over this long after its last renewal: short enough to
     * notice a dead node soon, long enough that a busy event loop never loses a live run.
     */
    leaseSeconds: seconds.default(30),
    heartbeatSeconds: seconds.default(15),
    /**
     * On SIGTERM, how long runs in flight may take to finish before they are stopped (async ones
     * go back to the queue). Well under a supervisor's own stop timeout (systemd's and
     * Kubernetes' 30 s), so the node exits by itself rather than being killed mid-close.
     */
    shutdownGraceSeconds: seconds.default(10),
    /** Where uploaded files live: `local` (a folder in the data dir) or `s3` (any S3-compatible storage). */
    filesBackend: z.enum(['local', 's3']).default('local'),
    /** Local backend: the storage root; default `<dataDir>/files`. */
    filesDir: z.string().optional(),
    /** HMAC secret for signed file URLs (at least 32 characters); generated into the data dir when unset. */
    filesSecret: z.string().min(32).optional(),
    /** Upload URLs are single-use and short-lived: long enough for a slow 5 GiB upload. */
    uploadUrlTtlSeconds: seconds.default(3600),
    /** Files (and their download URLs) live this long; 7 days is also S3's longest presigned URL. */
    downloadUrlTtlSeconds: seconds.default(7 * 24 * 3600),
    /** 5 GiB: the largest single PUT that S3 accepts, so both backends take the same files. */
    maxFileSizeBytes: count.min(1).default(5 * 1024 ** 3),
    /** Bytes of ready files an account may keep; 0 turns the quota off. */
    accountQuotaBytes: count.default(50 * 1024 ** 3),
    /** How often expired files and abandoned uploads are collected. */
    filesGcIntervalSeconds: seconds.default(300),
    s3Bucket: z.string().min(3).optional(),
    /** e.g. http://127.0.0.1:9000 for a self-hosted S3-compatible server; unset for AWS itself. */
    s3Endpoint: z.string().url().optional(),
    s3Region: z.string().default('us-east-1'),
    /** Unset: the AWS SDK's own credential chain (AWS_ACCESS_KEY_ID, profiles, instance roles). */
    s3AccessKeyId: z.string().optional(),
    s3SecretAccessKey: z.string().optional(),
    /** Self-hosted S3-compatible servers mostly want path-style URLs (endpoint/bucket/key). */
    s3ForcePathStyle: z.union([z.boolean(), z.stringbool()]).default(true),
    /** Key prefix for every object Runlet writes into the bucket. */
    s3Prefix: z.string().default('runlet/'),
    /**
     * Web origins whose pages may call the API from a browser (the official clients run in
     * browsers too): `*` for any, or a comma-separated list. Keys travel in a header, never a
     * cookie, so `*` exposes nothing a page could not already do with the key it holds.
     */
    corsOrigins: z.string().default('*'),
    /**
     * Hosts that callback URLs may name (`example.com`, `*.example.com`); empty: any host whose
     * addresses are public. Comma-separated in the environment.
     */
    callbackAllowedHosts: stringList.default([]),
    /**
     * Address ranges (CIDR) that callbacks may reach although they are private, loopback or
     * link-local; by default none, so Runlet cannot be turned into a probe of its own network.
     * `runlet dev` allows loopback.
     */
    callbackAllowedNetworks: stringList.default([]),
    /** A webhook endpoint must answer within this, or the attempt counts as failed. */
    webhookTimeoutSeconds: seconds.default(10),
    /** The first retry of a failed delivery waits this long, each next one twice as long (up to an hour). */
    webhookRetryInitialSeconds: seconds.default(5),
    /** A delivery is retried for this long after its run ended, then given up (Standard Webhooks' usual day). */
    webhookGiveUpSeconds: seconds.default(24 * 3600),
    /** How often each node looks for due deliveries (besides being told of ended runs). */
    webhookPollSeconds: seconds.default(1),
    /** Runs, their inputs, results and logs are kept this long after they end, unless the account says otherwise. */
    retentionSeconds: seconds.default(30 * 24 * 3600),
    /** A purged run answers 410 RUN_EXPIRED (rather than 404) for this long afterwards. */
    tombstoneSeconds: seconds.default(30 * 24 * 3600),
    /** How often expired runs are swept away, a small batch at a time. */
    retentionSweepSeconds: seconds.default(60),
    /**
     * The master key that seals environment variables (32 bytes: 64 hex digits or base64).
     * Unset: `<dataDir>/secret.key`, made on first start. Every node of a cluster needs the same.
     */
    secretKey: z.string().min(32).optional(),
    /** A dashboard session lasts this long after sign-in. */
    sessionTtlSeconds: seconds.default(7 * 24 * 3600),
    watch: z.coerce.boolean().default(false),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export type Config = Readonly<z.infer<typeof ConfigSchema>>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Environment variable for each setting: `RUNLET_` and the name in upper snake case. */
export function envNameOf(key: keyof Config): string {
  return 'RUNLET_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

export function configFromEnv(env: NodeJS.ProcessEnv): ConfigInput {
  const out: Record<string, string> = {};
  for (const key of Object.keys(ConfigSchema.shape) as (keyof Config)[]) {
    const value = env[envNameOf(key)];
    if (value !== undefined && value !== '') out[key] = value;
  }
  if (env.PORT && !out.port) out.port = env.PORT;
  if (env.DATABASE_URL && !out.database) out.database = env.DATABASE_URL;
  return out;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse({ ...configFromEnv(env), ...stripUndefined(overrides) });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const config = parsed.data;
  if (config.filesBackend === 's3' && !config.s3Bucket) throw new ConfigError('invalid configuration: filesBackend "s3" needs s3Bucket (RUNLET_S3_BUCKET)');
  return Object.freeze({
    ...config,
    database: config.database && withDefaultUser(config.database, env),
    dataDir: path.resolve(config.dataDir),
    servicesDir: path.resolve(config.servicesDir),
  });
}

/** Makes the data folder (secrets, the embedded store, local files) or says why it cannot be used. */
export function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new ConfigError(`cannot use the data folder ${dir}: ${(err as Error).message} (set it with --data or RUNLET_DATA_DIR)`);
  }
}

/**
 * A PostgreSQL URL without a user name means the operating system's user, as it does to psql
 * (node-postgres would take $USER, which services started by systemd or in containers lack).
 */
export function withDefaultUser(database: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.PGUSER) return database;
  let url: URL;
  try {
    url = new URL(database);
  } catch {
    return database;
  }
  // No host (a Unix socket named in the query string): a URL without one cannot carry a user.
  if (url.username || !url.host) return database;
  url.username = os.userInfo().username;
  return url.href;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
