/**
 * Cluster bench (issue 5, "Performance"): completed no-op async runs per second through HTTP, in one run, against the
 * local PostgreSQL — Runlet on SQLite (1 node), on PostgreSQL (1 node, 3 nodes), and two peers built without Runlet
 * (Fastify + graphile-worker, Fastify + pg-boss; see ./peers). Prints a markdown section and puts it at the end of
 * docs/benchmarks.md (replacing an earlier copy of the same section).
 *
 *   node --import tsx bench/cluster/run.ts        (BENCH_ROWS=pg1,graphile for some rows only)
 */
import { randomBytes } from 'node:crypto';
import { spawn, fork, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { machineBusyMs } from '../lib/machine.js';
import { waitForQuiet } from '../lib/processes.js';
import { warmUp } from '../lib/warm-up.js';
import { FIXTURES } from '../lib/services-dir.js';
import type { LoadJob, LoadResult } from './loadgen.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const COUNT = Number(process.env.BENCH_COUNT ?? 3000);
/**
 * Warm-up runs per serving process, not counted. A Node process runs its code unoptimised at
 * first: one Runlet node on PostgreSQL, in five batches of 2000 runs one after another, made
 * 397, 609, 668, 711 and 690 runs/s, so after the 100 warm-up runs this bench used to give, the
 * measured batch told as much of V8's warm-up as of the run path. Three nodes get three times as
 * many, so that each has had as many as one node.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5000);
const CONNECTIONS = 32;
const PG_ADMIN = 'postgres://postgres@127.0.0.1:5432/postgres';
type Row = 'sqlite1' | 'pg1' | 'pg3' | 'graphile' | 'pg-boss';
/** `BENCH_ROWS=pg1,graphile` measures those rows only (and writes nothing to the docs). */
const ONLY = process.env.BENCH_ROWS?.split(',').map((r) => r.trim()) as Row[] | undefined;
const HEADING = '## Cluster: completed no-op async runs per second (bench/cluster/run.ts)';
// One master key for every node, as in a real cluster (docs/deploy.md). Each node's pool is the
// runtime's default size (4 workers), set explicitly and kept warm so no worker boots in the
// measured window; the peers' workers run 8 calls at once.
const RUNLET_ENV = { RUNLET_MIN_WARM_WORKERS: '4', RUNLET_MAX_WORKERS_PER_SERVICE: '4', RUNLET_SECRET_KEY: randomBytes(32).toString('hex') };
const CLI = ['--import', 'tsx', 'packages/server/src/cli/main.ts'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: ChildProcess[] = [];
const databases: string[] = [];
const tmpDirs: string[] = [];
// Below the kernel's ephemeral range (32768–60999 here), so no outgoing connection can hold a port a process is about to listen on.
let nextPort = 27310;

/**
 * A services folder holding `noop` alone: with the whole fixtures folder every node would boot
 * two warm workers for each of twenty-odd services, and on two CPUs that boot work, not the
 * runs, would be what the first rows measure.
 */
function noopServices(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runlet-cluster-services-'));
  tmpDirs.push(dir);
  mkdirSync(join(dir, 'services'));
  symlinkSync(join(FIXTURES, 'noop.ts'), join(dir, 'services', 'noop.ts'));
  return join(dir, 'services');
}

/** Every process of a setup (and what it started) has settled: nothing still booting competes with the load. */
const settle = (processes: ChildProcess[]) => Promise.all(processes.map((p) => waitForQuiet(p.pid!)));

function start(name: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  // Own process group, so stopping it also stops the workers it started.
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let tail = '';
  const keep = (d: Buffer) => { tail = (tail + d.toString()).slice(-4000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('exit', (code, signal) => { if (!(child as any).stopping) console.error(`[${name}] exited early (${code ?? signal}):\n${tail}`); });
  (child as any).label = name;
  children.push(child);
  return child;
}

function waitForLine(child: ChildProcess, text: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${(child as any).label}: no "${text}" within ${timeoutMs} ms`)), timeoutMs);
    const on = (d: Buffer) => { buf += d.toString(); if (buf.includes(text)) { clearTimeout(timer); resolve(); } };
    child.stdout!.on('data', on);
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`${(child as any).label} exited before "${text}"`)); });
  });
}

async function waitHealthy(url: string, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try { if ((await fetch(`${url}/healthz`)).status === 200) return; } catch { /* not up yet */ }
    await sleep(100);
  }
  throw new Error(`${url}/healthz never answered 200`);
}

async function stopAll() {
  const live = children.splice(0);
  await Promise.all(live.map(async (child) => {
    (child as any).stopping = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(t);
  }));
}

/** Runs `fn` on a connection to the server's admin database, closed afterwards. */
async function withAdmin<T>(fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

async function createDatabase(tag: string): Promise<string> {
  const name = `runlet_bench_${process.pid}_${tag}`;
  await withAdmin(async (admin) => {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.query(`create database ${name}`);
  });
  databases.push(name);
  return `postgres://postgres@127.0.0.1:5432/${name}`;
}

/**
 * Transactions the database committed (and rolled back) over a row's whole life: setup, warm-up
 * and measured runs. Read once every connection to it has closed, since a backend reports its
 * counts when it exits (an idle one only every few seconds).
 */
async function transactionsOf(database: string): Promise<number | undefined> {
  const name = new URL(database).pathname.slice(1);
  return withAdmin(async (admin) => {
    for (let waited = 0; waited < 5000; waited += 50) {
      const { rows } = await admin.query<{ n: string; open: number }>(
        'select xact_commit + xact_rollback as n, numbackends as open from pg_stat_database where datname = $1', [name]);
      if (rows[0] && rows[0].open === 0) return Number(rows[0].n);
      await sleep(50);
    }
    return undefined;
  });
}

async function dropDatabases() {
  await withAdmin(async (admin) => {
    for (const name of databases.splice(0)) await admin.query(`drop database if exists ${name} with (force)`);
  });
}

function load(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, 'loadgen.ts'), [], { cwd: root, execArgv: ['--import', 'tsx'] });
    child.once('message', (m) => resolve(m as LoadResult));
    child.once('exit', (code) => reject(new Error(`load generator exited (${code})`)));
    child.send(job);
  });
}

/** A row's figures: the measured batch's, and the database's transactions per run (PostgreSQL rows). */
type RowResult = LoadResult & { transactionsPerRun?: number };

/** Measures a row (warm-up, then the measured batch), stops its processes, then on PostgreSQL counts what its database committed per run submitted. */
async function measureRow(base: Omit<LoadJob, 'count' | 'connections'>, database: string | undefined, warmup = WARMUP): Promise<RowResult> {
  let r: LoadResult;
  try {
    r = await measure(base, warmup);
  } finally {
    await stopAll();
  }
  const transactions = database && (await transactionsOf(database));
  return transactions ? { ...r, transactionsPerRun: transactions / (warmup + r.submitted) } : r;
}

/** Warm-up batch (not counted), then the measured batch. */
async function measure(base: Omit<LoadJob, 'count' | 'connections'>, warmup: number): Promise<LoadResult> {
  await warmUp(warmup, async (count) => {
    const warm = await load({ ...base, count, connections: CONNECTIONS });
    if (warm.completed !== count) throw new Error(`warm-up: ${warm.completed}/${count} completed (${warm.firstError})`);
  });
  return load({ ...base, count: COUNT, connections: CONNECTIONS });
}

async function runlet(nodes: number, onPostgres: boolean, tag: string): Promise<RowResult> {
  const database = onPostgres ? await createDatabase(tag) : undefined;
  const dbArgs = database ? ['--database', database] : [];
  const urls: string[] = [];
  const nodesStarted: ChildProcess[] = [];
  const services = noopServices();
  let firstData = '';
  for (let i = 0; i < nodes; i++) {
    const data = mkdtempSync(join(tmpdir(), `runlet-cluster-${tag}-`));
    tmpDirs.push(data);
    firstData ||= data;
    const port = nextPort++;
    nodesStarted.push(start(`runlet ${tag} #${i + 1}`, [...CLI, 'serve', '--port', String(port), '--data', data, '--services', services, '--log-level', 'warn', ...dbArgs], RUNLET_ENV));
    urls.push(`http://127.0.0.1:${port}`);
  }
  for (const url of urls) await waitHealthy(url);
  await settle(nodesStarted); // warm workers and spare hosts booted
  const key = execFileSync(process.execPath, [...CLI, 'keys', 'create', '--data', firstData, ...dbArgs], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop()!.trim();
  return measureRow({ urls, key, submitPath: '/run_async/noop', resultPath: '/result/' }, database, WARMUP * nodes);
}

async function peer(file: 'graphile' | 'pg-boss'): Promise<RowResult> {
  const database = await createDatabase(file.replace('-', ''));
  const echoPort = nextPort++;
  const apiPort = nextPort++;
  const echo = start(`${file} echo`, ['--import', 'tsx', join(here, 'peers/echo-server.ts'), String(echoPort)]);
  await waitForLine(echo, 'ready');
  const api = start(`${file} api`, ['--import', 'tsx', join(here, `peers/${file}.ts`), 'api', String(apiPort), database]);
  await waitForLine(api, 'ready'); // the API installs the schema, so it goes first
  const worker = start(`${file} worker`, ['--import', 'tsx', join(here, `peers/${file}.ts`), 'worker', `http://127.0.0.1:${echoPort}`, database]);
  await waitForLine(worker, 'ready');
  await settle([echo, api, worker]);
  return measureRow({ urls: [`http://127.0.0.1:${apiPort}`], submitPath: '/run_async', resultPath: '/result/' }, database);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').replace(/,/g, ' ');

async function main() {
  const began = Date.now();
  const rows: Array<{ row: Row; label: string; r?: RowResult; error?: string; load?: number }> = [];
  const loadAtStart = loadavg()[0]!;
  // What the machine does before the bench starts anything: CPUs busy over one second.
  const busyBefore = machineBusyMs();
  await sleep(1000);
  const othersAtStart = (machineBusyMs() - busyBefore) / 1000;
  const scenarios: Array<[Row, string, () => Promise<RowResult>]> = [
    ['sqlite1', 'Runlet, SQLite, 1 node', () => runlet(1, false, 'sqlite1')],
    ['pg1', 'Runlet, PostgreSQL, 1 node', () => runlet(1, true, 'pg1')],
    ['pg3', 'Runlet, PostgreSQL, 3 nodes', () => runlet(3, true, 'pg3')],
    ['graphile', 'Peer: Fastify + graphile-worker 0.17', () => peer('graphile')],
    ['pg-boss', 'Peer: Fastify + pg-boss 10', () => peer('pg-boss')],
  ];
  for (const [row, label, fn] of scenarios.filter(([row]) => !ONLY || ONLY.includes(row))) {
    console.error(`… ${label}`);
    try {
      const r = await fn();
      rows.push({ row, label, r, load: loadavg()[0] });
      console.error(`  ${fmt(r.runsPerSecond)} runs/s (${r.completed}/${COUNT} completed${r.firstError ? `; first error: ${r.firstError}` : ''})`);
    } catch (err) {
      await stopAll();
      rows.push({ row, label, error: (err as Error).message, load: loadavg()[0] });
      console.error(`  FAILED: ${(err as Error).message}`);
    }
  }
  await dropDatabases();
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });

  const rps = (row: Row) => { const r = rows.find((x) => x.row === row)?.r; return r && r.completed === COUNT ? r.runsPerSecond : undefined; };
  const pg1 = rps('pg1'), pg3 = rps('pg3'), gw = rps('graphile'), boss = rps('pg-boss');
  const verdict = (met: boolean | undefined) => met === undefined ? '**not measured**' : met ? '**met**' : '**missed**';
  const aheadMet = pg1 !== undefined && gw !== undefined && boss !== undefined ? pg1 > gw && pg1 > boss : undefined;
  const scaleMet = pg1 !== undefined && pg3 !== undefined ? pg3 >= pg1 : undefined;
  const pgVersion = execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-Atc', 'show server_version'], { encoding: 'utf8' }).trim();

  const lines = [
    HEADING,
    '',
    'Written by `node --import tsx bench/cluster/run.ts`; every figure below was measured in the one run that wrote this section.',
    '',
    '|  |  |',
    '| --- | --- |',
    `| CPUs (\`nproc\`) | ${execFileSync('nproc', { encoding: 'utf8' }).trim()} |`,
    `| CPU model | ${cpus()[0]?.model.trim() ?? 'unknown'} |`,
    `| Node | ${process.version} |`,
    `| PostgreSQL | ${pgVersion} (local, 127.0.0.1:5432) |`,
    `| Date | ${new Date(began).toISOString()} |`,
    `| Load average (1 min) at start → end | ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} (the end includes this bench's own processes) |`,
    `| CPUs busy in the second before the first row | ${othersAtStart.toFixed(2)} |`,
    `| Whole cluster bench run | ${Math.round((Date.now() - began) / 1000)} s |`,
    // Only the time before the bench tells of other work: its own rows keep both CPUs busy
    // (and the load average decays over minutes, so it still counts work that has ended).
    ...(othersAtStart > 0.2
      ? ['', `> **Other work was running when this began** (${othersAtStart.toFixed(2)} CPUs busy in the second before the first row): the rows may have competed with it, so the figures are pessimistic and noisy. Run again on a quiet machine for reference figures.`]
      : []),
    '',
    '### Settings',
    '',
    `- Workload, the same for every row: ${WARMUP} warm-up runs per serving process (not counted; 3 nodes get ${3 * WARMUP}), then ${COUNT} \`POST /run_async/…\` with body \`{}\` from ${CONNECTIONS} callers over keep-alive undici pools, then \`GET /result/{id}?timeout=60\` for each (asked again while not final) until all are completed. runs/s = completed ÷ (first submit → last result). The load generator (\`bench/cluster/loadgen.ts\`) is its own process.`,
    `- Runlet: \`runlet serve --services <dir> --log-level warn\`, each node its own process and data folder, the folder holding only the fixture service \`noop\`, env \`RUNLET_MIN_WARM_WORKERS=4 RUNLET_MAX_WORKERS_PER_SERVICE=4\` (the default pool size, set explicitly and kept warm); load starts once \`/healthz\` answers and every node's process tree has gone quiet (under 5 % of a CPU over 500 ms, at most 15 s), as for the peers' processes. SQLite: the embedded store in the data folder. PostgreSQL: \`--database\` on a fresh \`runlet_bench_*\` database (default pool size). 3 nodes: one shared database; submits spread round-robin over the nodes (${Math.ceil(CONNECTIONS / 3)} connections per node, so ${3 * Math.ceil(CONNECTIONS / 3)} in all), each result asked of the node that took the submit. Key from \`runlet keys create\`.`,
    '- Peers (`bench/cluster/peers/`): a Fastify 5 API process whose `POST /run_async` adds a job and answers its id, and whose `GET /result/:id` waits on one batched query every 10 ms over all ids being waited for; a separate worker process whose task calls `peers/echo-server.ts` (bare `node:http`, answers `{}`) over a keep-alive undici pool (8 connections). Each peer gets its own fresh database.',
    '  - graphile-worker 0.17: `addJob` via `makeWorkerUtils`; worker `run()` with `concurrency: 8`, `preparedStatements: true`, batched fetch `localQueue: { size: 32 }`, batched completion `completeJobBatchDelay: 2` / `failJobBatchDelay: 2`, LISTEN/NOTIFY for new jobs (poll fallback 1 s). Completed = the row has left `graphile_worker._private_jobs` (graphile-worker deletes a job on success).',
    '  - pg-boss 10: `send` on a created queue; worker: 2 × `work(queue, { batchSize: 100, pollingIntervalSeconds: 0.5 })` (0.5 s is pg-boss 10\'s lowest polling interval; it has no LISTEN/NOTIFY wake-up across processes), each batch worked 8 calls at a time and completed by pg-boss in one query. Completed = `pgboss.job.state = \'completed\'`.',
    '',
    '### Results',
    '',
    '|  | runs/s | completed | submit phase (ms) | first submit → last result (ms) | PostgreSQL transactions per run | load avg after | notes |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(({ label, r, error, load }) => r
      ? `| ${label} | ${fmt(r.runsPerSecond)} | ${r.completed} / ${COUNT} | ${fmt(r.submitMs)} | ${fmt(r.totalMs)} | ${r.transactionsPerRun?.toFixed(2) ?? '—'} | ${load!.toFixed(1)} | ${r.firstError ? `first error: ${r.firstError.replace(/\|/g, '/')}` : ''} |`
      : `| ${label} | — | — | — | — | — | ${load!.toFixed(1)} | could not be measured: ${error!.replace(/\|/g, '/').replace(/\n/g, ' ')} |`),
    '',
    `PostgreSQL transactions per run: what the row's database committed or rolled back over the row's whole life (schema, setup, the warm-up runs and the measured ones, and each process's own periodic work), divided by the runs submitted; read from \`pg_stat_database\` once every connection to it had closed. Each statement outside an explicit transaction counts as one.`,
    '',
    '### Targets',
    '',
    '| target | measured | result |',
    '| --- | --- | --- |',
    `| One Runlet node on PostgreSQL ahead of both peers | ${pg1 !== undefined ? fmt(pg1) : '—'} vs graphile-worker ${gw !== undefined ? fmt(gw) : '—'}, pg-boss ${boss !== undefined ? fmt(boss) : '—'} runs/s | ${verdict(aheadMet)} |`,
    `| No loss of throughput from one node to three (PostgreSQL, same machine) | 3 nodes ${pg3 !== undefined ? fmt(pg3) : '—'} vs 1 node ${pg1 !== undefined ? fmt(pg1) : '—'} runs/s${pg1 && pg3 ? ` (${((pg3 / pg1) * 100).toFixed(1)} %)` : ''} | ${verdict(scaleMet)} |`,
    '',
  ];
  const section = lines.join('\n');
  console.log(section);

  // A partial run (BENCH_ROWS) is for comparing changes, not the record.
  if (process.env.BENCH_NO_WRITE || ONLY) return;
  const docPath = join(root, 'docs', 'benchmarks.md');
  let doc = readFileSync(docPath, 'utf8');
  const at = doc.indexOf(HEADING);
  if (at >= 0) doc = doc.slice(0, at);
  doc = doc.replace(/\n*$/, '\n\n') + section;
  writeFileSync(docPath, doc);
}

process.on('SIGINT', async () => { await stopAll(); process.exit(130); });
main().catch(async (err) => {
  console.error(err);
  await stopAll();
  try { await dropDatabases(); } catch { /* best effort */ }
  process.exit(1);
});
