import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { KeyKind } from '@runlet/protocol';
import { loadConfig, type ConfigInput } from '../src/config.js';
import { createKey } from '../src/keys/key-admin.js';
import { startServer, type RunningServer } from '../src/server.js';
import { WorkerRegistry } from '../src/workers/worker-registry.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURE_SERVICES = path.join(here, 'fixtures', 'services');
export const EXAMPLE_SERVICES = path.resolve(here, '../../../examples/services');
export const CLI = path.resolve(here, '../src/cli/main.ts');
/** The server package's version, read from its manifest here rather than from the module under test. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(path.join(here, '../package.json'), 'utf8')) as { version: string }).version;

export interface TestServer {
  url: string;
  /** A standard key of the default account. */
  key: string;
  dataDir: string;
  server: RunningServer;
  newKey(kind?: KeyKind): Promise<string>;
  /** fetch against the server with the test key (or `key: null` for none). */
  fetch(pathname: string, init?: RequestInit & { key?: string | null; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Which store the suite runs on: SQLite by default, PostgreSQL when RUNLET_TEST_STORE=postgres
 * (`npm test` runs the server suites on both).
 */
export const TEST_STORE = process.env.RUNLET_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';
export const POSTGRES_ADMIN_URL = process.env.RUNLET_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh, empty PostgreSQL database; `drop()` removes it. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const pg = (await import('pg')).default;
  const name = `runlet_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A real server on a free port with a fresh data folder (and database), silent, unless overridden. */
export async function startTestServer(overrides: ConfigInput = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'runlet-test-'));
  const database = overrides.database === undefined && TEST_STORE === 'postgres' ? await freshDatabase() : undefined;
  const config = loadConfig(
    // Generous worker start-up: CI runs two suites at once on two cores, and starting a worker is CPU-bound.
    { host: '127.0.0.1', port: 0, servicesDir: FIXTURE_SERVICES, logLevel: 'silent', minWarmWorkers: 0, workerStartTimeoutSeconds: 60, database: database?.url, ...overrides, dataDir },
    {},
  );
  const server = await startServer(config, { logger: false });
  const account = await server.runtime.store.defaultAccount();
  const newKey = async (kind: KeyKind = 'standard') => (await createKey(server.runtime.store, account.id, kind, 'test')).key;
  const key = await newKey();
  return {
    url: server.url,
    key,
    dataDir,
    server,
    newKey,
    fetch: (pathname, init = {}) => {
      const { key: k = key, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (k) headers.set('authorization', `Bearer ${k}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(server.url + pathname, { method: json !== undefined ? 'POST' : 'GET', ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
    },
    close: async () => {
      await server.close();
      await database?.drop();
      if (!overrides.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * The database that goes with a data folder in PostgreSQL mode, so that a server process
 * restarted on the same folder finds the same database. Created on first use; the test script
 * drops every `runlet_test_` database when the suite ends.
 */
export async function databaseForDataDir(dataDir: string): Promise<string | undefined> {
  if (TEST_STORE !== 'postgres') return undefined;
  const pg = (await import('pg')).default;
  const name = `runlet_test_dir_${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * `runlet serve` in a child process, for what needs a real process to kill (kill -9, SIGTERM).
 * In PostgreSQL mode it uses the database of its data folder (or `database`, when given).
 */
export async function startServerProcess(options: { dataDir: string; servicesDir?: string; env?: Record<string, string>; database?: string }): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const port = await freePort();
  const database = options.database ?? (await databaseForDataDir(options.dataDir));
  const args = ['serve', '--port', String(port), '--data', options.dataDir, '--services', options.servicesDir ?? FIXTURE_SERVICES, '--log-level', 'info'];
  if (database) args.push('--database', database);
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    // No warm workers unless asked: a fixture folder holds many services, and warming them all slows every start.
    env: { ...process.env, RUNLET_MIN_WARM_WORKERS: '0', RUNLET_WORKER_START_TIMEOUT_SECONDS: '60', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`runlet serve exited: ${output}`);
    if (/"msg":"runtime started"/.test(output)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`runlet serve did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, child, output: () => output };
}

/**
 * A standard key made with `runlet keys create` on a data folder (and its database), before any
 * server process starts, and a fetch that sends it: JSON when given a body, else a GET.
 */
export async function cliKeyFor(dataDir: string): Promise<{ key: string; call(base: string, pathname: string, body?: unknown): Promise<Response> }> {
  const database = await databaseForDataDir(dataDir);
  const key = execFileSync(process.execPath, ['--import', 'tsx', CLI, 'keys', 'create', '--data', dataDir, ...(database ? ['--database', database] : [])], {
    encoding: 'utf8',
  }).trim();
  const call = (base: string, pathname: string, body?: unknown) =>
    fetch(base + pathname, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { key, call };
}

/**
 * SIGKILLs a `runlet serve` process and stops the workers it leaves behind (its SDK workers
 * exit by themselves; a program in another language would live on), as its next start would.
 */
export async function killServerProcess(child: ChildProcess, dataDir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  new WorkerRegistry(path.join(dataDir, 'workers')).reapLeftovers();
}

/** Reads a whole NDJSON log stream into objects (blank heartbeat lines skipped). */
export async function readNdjson(response: Response): Promise<Record<string, unknown>[]> {
  const text = await response.text();
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The most intervals open at once; one that ends as another starts does not overlap it. */
export function maxOverlap(intervals: readonly { start: number; end: number }[]): number {
  const edges = intervals.flatMap((i) => [
    { at: i.start, step: 1 },
    { at: i.end, step: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let open = 0;
  let most = 0;
  for (const e of edges) most = Math.max(most, (open += e.step));
  return most;
}

/** Whether a process of this pid exists (signal 0 asks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Makes temporary folders for a test file; they are removed when the file's tests end. */
export function tempDirs(): (prefix: string, parent?: string) => string {
  const made: string[] = [];
  after(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });
  return (prefix, parent = os.tmpdir()) => {
    const dir = mkdtempSync(path.join(parent, prefix));
    made.push(dir);
    return dir;
  };
}
