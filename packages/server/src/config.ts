import path from 'node:path';
import { z } from 'zod';

/**
 * Every setting, its default and its environment variable, in one place. Parsed once at
 * start into a frozen object; precedence is flags > environment > defaults, and an unknown
 * setting is an error, not a silent no-op.
 */
const seconds = z.coerce.number().positive();
const count = z.coerce.number().int().nonnegative();

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
    workerIdleSeconds: seconds.default(300),
    workerStartTimeoutSeconds: seconds.default(15),
    /** Calls that may wait for a busy service before the next caller gets 429. */
    maxQueuedPerService: count.default(1000),
    provisionTtlSeconds: seconds.default(3600),
    heartbeatSeconds: seconds.default(15),
    shutdownGraceSeconds: seconds.default(10),
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
  return Object.freeze({
    ...config,
    dataDir: path.resolve(config.dataDir),
    servicesDir: path.resolve(config.servicesDir),
  });
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
