import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { RetryPolicy, type ServiceProblem } from '@runlet/protocol';
import { z } from 'zod';

/** A service as found on disk: how to start its workers, and its own limits. */
export interface ServiceSpec {
  id: string;
  /** `sdk`: a TS/JS module hosted by the SDK; `command`: any program serving HTTP on $PORT. */
  kind: 'sdk' | 'command';
  dir: string;
  entry?: string;
  command?: string[];
  env: Record<string, string>;
  description?: string;
  maxWorkers?: number;
  minWarm?: number;
  /** Most runs executing at once across the cluster (see the SDK's `concurrency`). */
  concurrency?: number;
  retryable?: boolean;
  retry?: RetryPolicy;
  requiredEnv?: string[];
  /** Changes whenever a file of the service changes, so a watcher knows to reload it. */
  fingerprint: string;
}

export const SERVICE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/i;
const SOURCE = /\.(ts|mts|js|mjs)$/;
const ENTRY_NAMES = ['index.ts', 'index.mts', 'index.js', 'index.mjs', 'service.ts', 'service.js'];

/** `runlet.json` in a service folder: a command for any language, or limits for an SDK service. */
const Manifest = z
  .object({
    command: z.array(z.string().min(1)).min(1).optional(),
    entry: z.string().optional(),
    description: z.string().optional(),
    maxWorkers: z.number().int().positive().optional(),
    minWarm: z.number().int().nonnegative().optional(),
    concurrency: z.number().int().positive().optional(),
    retryable: z.boolean().optional(),
    retry: RetryPolicy.optional(),
    env: z.record(z.string(), z.string()).default({}),
    /** Variables each calling account must have set (names only; the values are the account's). */
    requiredEnv: z.array(z.string()).optional(),
  })
  .strict();

/**
 * Finds the services in a folder: `NAME.ts` (or .js) files, and `NAME/` folders holding an
 * `index.ts` or a `runlet.json` manifest. Names that are not valid ids, and folders that hold
 * neither, are reported as problems rather than thrown, so one bad service never hides the rest.
 */
export function discoverServices(root: string): { services: ServiceSpec[]; problems: ServiceProblem[] } {
  const services: ServiceSpec[] = [];
  const problems: ServiceProblem[] = [];
  if (!existsSync(root)) return { services, problems };
  for (const name of readdirSync(root).sort()) {
    const full = path.join(root, name);
    if (name.startsWith('.') || name.startsWith('_') || name === 'node_modules') continue;
    const stat = statSync(full);
    const id = stat.isDirectory() ? name : name.replace(SOURCE, '');
    if (stat.isFile() && (!SOURCE.test(name) || /\.(test|spec|d)\.[mc]?[jt]s$/.test(name))) continue;
    if (!SERVICE_ID.test(id)) {
      problems.push({ id, message: `"${id}" is not a valid service id (letters, digits, - and _, at most 64)` });
      continue;
    }
    try {
      const spec = stat.isDirectory() ? specOfFolder(id, full) : sdkSpec(id, root, full, {}, full);
      if (spec) services.push(spec);
    } catch (err) {
      problems.push({ id, message: err instanceof Error ? err.message : String(err) });
    }
  }
  return { services, problems };
}

function specOfFolder(id: string, dir: string): ServiceSpec | undefined {
  const manifestFile = path.join(dir, 'runlet.json');
  let manifest: z.infer<typeof Manifest> | undefined;
  if (existsSync(manifestFile)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(manifestFile, 'utf8'));
    } catch (err) {
      throw new Error(`runlet.json is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = Manifest.safeParse(json);
    if (!parsed.success) throw new Error(`runlet.json: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    manifest = parsed.data;
  }
  if (manifest?.command) {
    return { id, kind: 'command', dir, command: manifest.command, ...limitsOf(manifest), fingerprint: fingerprintOf(dir) };
  }
  const entryName = manifest?.entry ?? ENTRY_NAMES.find((n) => existsSync(path.join(dir, n)));
  if (!entryName) {
    if (manifest) throw new Error('runlet.json needs a "command", or the folder an index.ts');
    return undefined;
  }
  const entry = path.resolve(dir, entryName);
  if (!entry.startsWith(dir + path.sep)) throw new Error('runlet.json "entry" must stay inside the service folder');
  return sdkSpec(id, dir, entry, manifest ?? {}, dir);
}

/** `watched` is what, when it changes, means a reload: the file of a one-file service, or the whole folder. */
function sdkSpec(id: string, dir: string, entry: string, manifest: Partial<z.infer<typeof Manifest>>, watched: string): ServiceSpec {
  return { id, kind: 'sdk', dir, entry, ...limitsOf(manifest), fingerprint: fingerprintOf(watched) };
}

function limitsOf(m: Partial<z.infer<typeof Manifest>>): Pick<ServiceSpec, 'env' | 'description' | 'maxWorkers' | 'minWarm' | 'concurrency' | 'retryable' | 'retry' | 'requiredEnv'> {
  const { env = {}, description, maxWorkers, minWarm, concurrency, retryable, retry, requiredEnv } = m;
  return { env, description, maxWorkers, minWarm, concurrency, retryable, retry, requiredEnv };
}

/** Newest modification time and total size of a file, or of every file under a folder. */
function fingerprintOf(target: string): string {
  let newest = 0;
  let size = 0;
  const visit = (p: string) => {
    const s = statSync(p);
    if (s.isDirectory()) {
      for (const child of readdirSync(p)) if (child !== 'node_modules' && !child.startsWith('.')) visit(path.join(p, child));
    } else {
      newest = Math.max(newest, s.mtimeMs);
      size += s.size;
    }
  };
  visit(target);
  return `${newest}:${size}`;
}
