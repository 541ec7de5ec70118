/**
 * `npm run bench`: measures Runlet against a floor measured in the same run, prints the
 * figures and writes them to docs/benchmarks.md. See docs/benchmarks.md for what each
 * figure means. `BENCH_QUICK=1` shortens every phase (for trying the bench, not for figures).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchClient } from './lib/client.js';
import { describeMachine, loadAverage } from './lib/machine.js';
import { createKey, rssOf, startFloor, startRunlet, waitForQuiet, warmPoolSettings, type Proc } from './lib/processes.js';
import { renderReport, type BenchResults, type Settings } from './lib/report.js';
import { buildServicesDir, EXAMPLES, FIXTURES } from './lib/services-dir.js';
import { measureAsyncThroughput, measureSubmitToStart } from './scenarios/async.js';
import { measureColdStart } from './scenarios/cold.js';
import { measureLogLatency } from './scenarios/logs.js';
import { measureIdleMemory } from './scenarios/memory.js';
import { measureSync, SYNC_BODY, type SyncSettings } from './scenarios/sync.js';

const quick = process.env.BENCH_QUICK === '1';
const settings: Settings = {
  connections: 32,
  warmupMs: quick ? 1000 : 10_000,
  durationMs: quick ? 2000 : 10_000,
  latencyDurationMs: quick ? 1000 : 5000,
  body: SYNC_BODY,
  workers: 4,
  asyncRuns: quick ? 300 : 3000,
  asyncWarmupRuns: quick ? 300 : 6000,
  asyncConnections: 32,
  idleSamples: quick ? 20 : 100,
  logLines: quick ? 50 : 300,
  logIntervalMs: 5,
  coldStarts: quick ? 3 : 7,
  memorySettleMs: 3000,
  quick,
};
const OUT = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const started = performance.now();
const running: Proc[] = [];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'runlet-bench-'));

/** Sections other benchmarks write (`## Files: …` by bench/files.ts) survive a new run of this one. */
function keptSections(): string {
  if (!existsSync(OUT)) return '';
  const text = readFileSync(OUT, 'utf8');
  const at = text.indexOf('\n## Files:');
  return at === -1 ? '' : text.slice(at);
}

async function main(): Promise<void> {
  const machine = describeMachine();
  const loadBefore = loadAverage();
  const { dir: servicesDir, coldIds } = buildServicesDir(tmp, 2 * settings.coldStarts);

  log('starting the floor gateway and runlet serve');
  const dataDir = path.join(tmp, 'data');
  const key = createKey(dataDir);
  const [floor, runlet] = await Promise.all([
    startFloor(FIXTURES, 'echo', settings.workers),
    startRunlet({ dataDir, servicesDir, settings: warmPoolSettings(settings.workers) }),
  ]);
  running.push(floor, runlet);
  const runletTarget = { url: runlet.url, pid: runlet.pid, key };

  // Floor and Runlet take turns, so drift of a shared machine hits both alike.
  const load: SyncSettings = { connections: settings.connections, warmupMs: settings.warmupMs, durationMs: settings.durationMs, body: settings.body };
  const one: SyncSettings = { ...load, connections: 1, durationMs: settings.latencyDurationMs };
  log(`sync load: floor, ${settings.connections} connections, ${settings.durationMs} ms`);
  const floorLoad = await measureSync(floor, load);
  log(`sync load: runlet, ${settings.connections} connections, ${settings.durationMs} ms`);
  const runletLoad = await measureSync(runletTarget, load);
  log('sync latency: floor, 1 connection');
  const floorOne = await measureSync(floor, one);
  log('sync latency: runlet, 1 connection');
  const runletOne = await measureSync(runletTarget, one);
  await floor.stop();

  log(`async: warm-up, ${settings.asyncWarmupRuns} run_async calls to noop`);
  const asyncWarmup = await measureAsyncThroughput(runlet, key, { connections: settings.asyncConnections, count: settings.asyncWarmupRuns });
  log(`async: ${settings.asyncRuns} run_async calls to noop`);
  const asyncLoad = await measureAsyncThroughput(runlet, key, { connections: settings.asyncConnections, count: settings.asyncRuns });
  const client = new BenchClient(runlet.url, key);
  await new Promise((r) => setTimeout(r, 1000));
  log('async: submit→start on an idle server');
  const submitToStart = await measureSubmitToStart(client, settings.idleSamples);
  log('log line latency');
  const logsStdout = await measureLogLatency(client, 'stdout', { lines: settings.logLines, intervalMs: settings.logIntervalMs });
  const logsLogger = await measureLogLatency(client, 'logger', { lines: settings.logLines, intervalMs: settings.logIntervalMs });
  log('cold starts: at rest, then in a burst');
  const cold = await measureColdStart(client, coldIds.slice(0, settings.coldStarts), () => waitForQuiet(runlet.pid));
  await waitForQuiet(runlet.pid);
  const coldBurst = await measureColdStart(client, coldIds.slice(settings.coldStarts));
  const runletRssAfterLoad = rssOf(runlet.pid);
  await client.close();
  await runlet.stop();

  const examples = readdirSync(EXAMPLES).length > 0 ? EXAMPLES : FIXTURES;
  log(`idle memory with ${examples === EXAMPLES ? 'the example' : 'the fixture'} services`);
  const idleServer = await startRunlet({ dataDir: path.join(tmp, 'data-idle'), servicesDir: examples });
  running.push(idleServer);
  const memory = await measureIdleMemory(idleServer.pid, settings.memorySettleMs);
  await idleServer.stop();

  const results: BenchResults = {
    machine,
    settings,
    floorLoad,
    runletLoad,
    floorOne,
    runletOne,
    asyncLoad,
    asyncWarmup,
    submitToStart,
    logsStdout,
    logsLogger,
    cold,
    coldBurst,
    memory: { ...memory, servicesDir: path.relative(process.cwd(), examples) || '.', runletRssAfterLoad, serverStartMs: idleServer.startMs },
    totalSeconds: (performance.now() - started) / 1000,
    loadBefore,
    loadAfter: loadAverage(),
  };
  const report = renderReport(results);
  writeFileSync(OUT, report + keptSections());
  process.stdout.write(report);
  log(`wrote ${path.relative(process.cwd(), OUT)} in ${results.totalSeconds.toFixed(0)} s`);
}

try {
  await main();
} catch (err) {
  for (const p of running) log(`--- output of pid ${p.pid} (tail) ---\n${p.output().slice(-3000)}`);
  throw err;
} finally {
  await Promise.all(running.map((p) => p.stop()));
  rmSync(tmp, { recursive: true, force: true });
}
