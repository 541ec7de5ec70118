/** Renders the figures of one bench run as docs/benchmarks.md. Every number in it was measured in that run. */
import type { AsyncFigures, SubmitToStartFigures } from '../scenarios/async.js';
import type { ColdFigures } from '../scenarios/cold.js';
import type { LogFigures } from '../scenarios/logs.js';
import type { MemoryFigures } from '../scenarios/memory.js';
import type { SyncFigures } from '../scenarios/sync.js';
import type { Machine } from './machine.js';
import { fixed, percent, type Summary } from './stats.js';

export interface Settings {
  connections: number;
  warmupMs: number;
  durationMs: number;
  latencyDurationMs: number;
  body: string;
  workers: number;
  asyncRuns: number;
  /** Async runs before the measured ones, not counted: V8 optimises the run path as it goes. */
  asyncWarmupRuns: number;
  asyncConnections: number;
  idleSamples: number;
  logLines: number;
  logIntervalMs: number;
  coldStarts: number;
  memorySettleMs: number;
  quick: boolean;
}

export interface BenchResults {
  machine: Machine;
  settings: Settings;
  floorLoad: SyncFigures;
  runletLoad: SyncFigures;
  floorOne: SyncFigures;
  runletOne: SyncFigures;
  asyncLoad: AsyncFigures;
  /** The warm-up batch: the first async runs after the server started. */
  asyncWarmup: AsyncFigures;
  submitToStart: SubmitToStartFigures;
  logsStdout: LogFigures;
  logsLogger: LogFigures;
  /** The cold start a caller meets: each first call made with the server at rest. */
  cold: ColdFigures;
  /** First calls of distinct services back to back, faster than spare hosts are replaced. */
  coldBurst: ColdFigures;
  memory: MemoryFigures & { servicesDir: string; runletRssAfterLoad: number; serverStartMs: number };
  totalSeconds: number;
  /** 1-minute load average when the run began and ended (2 CPUs: above ~2 means other work competed). */
  loadBefore: number;
  loadAfter: number;
}

interface Target {
  what: string;
  measured: string;
  target: string;
  met: boolean;
}

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
const ms = (value: number) => `${fixed(value)} ms`;
const yes = (met: boolean) => (met ? '**met**' : '**missed**');
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;

function latencyRow(label: string, s: Summary): string {
  return row([label, s.count, fixed(s.p50), fixed(s.p90), fixed(s.p99), fixed(s.max)]);
}
const latencyHead = [row(['', 'samples', 'p50 (ms)', 'p90 (ms)', 'p99 (ms)', 'max (ms)']), row(['---', '---:', '---:', '---:', '---:', '---:'])];

export function targetsOf(r: BenchResults): Target[] {
  const throughputRatio = r.runletLoad.rps / r.floorLoad.rps;
  const addedP50 = r.runletLoad.latency.p50 - r.floorLoad.latency.p50;
  const addedP50One = r.runletOne.latency.p50 - r.floorOne.latency.p50;
  const asyncRatio = r.asyncLoad.batch.completedPerSecond / r.floorLoad.rps;
  return [
    {
      what: `Sync throughput, Runlet ÷ floor (${r.settings.connections} connections)`,
      measured: `${percent(throughputRatio)} (${fixed(r.runletLoad.rps, 0)} ÷ ${fixed(r.floorLoad.rps, 0)} req/s)`,
      target: '≥ 70 %',
      met: throughputRatio >= 0.7,
    },
    {
      what: `Sync added p50, Runlet − floor (${r.settings.connections} connections)`,
      measured: `${ms(addedP50)} (${fixed(r.runletLoad.latency.p50)} − ${fixed(r.floorLoad.latency.p50)})`,
      target: '≤ 1 ms',
      met: addedP50 <= 1,
    },
    {
      what: 'Sync added p50, Runlet − floor (1 connection: what Runlet adds to a call)',
      measured: `${ms(addedP50One)} (${fixed(r.runletOne.latency.p50)} − ${fixed(r.floorOne.latency.p50)})`,
      target: '≤ 1 ms',
      met: addedP50One <= 1,
    },
    {
      what: 'Async completed runs/s ÷ floor req/s',
      measured: `${percent(asyncRatio)} (${fixed(r.asyncLoad.batch.completedPerSecond, 0)} ÷ ${fixed(r.floorLoad.rps, 0)})`,
      target: '≥ 50 %',
      met: asyncRatio >= 0.5,
    },
    {
      what: 'Async submit→start p50, idle server (client send → handler receives)',
      measured: ms(r.submitToStart.toHandler.p50),
      target: '≤ 5 ms',
      met: r.submitToStart.toHandler.p50 <= 5,
    },
    {
      what: 'Log line latency p50 (stdout print → /logs reader)',
      measured: ms(r.logsStdout.latency.p50),
      target: '≤ 10 ms',
      met: r.logsStdout.latency.p50 <= 10 && r.logsStdout.received === r.logsStdout.expected,
    },
    {
      what: 'Cold start p50, first call of a TypeScript service (server at rest)',
      measured: ms(r.cold.total.p50),
      target: '≤ 300 ms',
      met: r.cold.total.p50 <= 300,
    },
  ];
}

function syncTable(r: BenchResults): string[] {
  const line = (label: string, f: SyncFigures) =>
    row([label, f.connections, fixed(f.rps, 0), f.requests, f.errors, fixed(f.latency.p50), fixed(f.latency.p90), fixed(f.latency.p99), fixed(f.latency.max), fixed(f.gatewayCpuMsPerRequest, 3), fixed(f.workersCpuMsPerRequest, 3), f.newProcesses, fixed(f.otherCpus, 2)]);
  return [
    row(['', 'connections', 'req/s', 'answers', 'errors', 'p50 (ms)', 'p90 (ms)', 'p99 (ms)', 'max (ms)', 'gateway CPU ms/req', 'workers CPU ms/req', 'processes started', 'other CPUs busy']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    line('floor', r.floorLoad),
    line('Runlet', r.runletLoad),
    line('floor', r.floorOne),
    line('Runlet', r.runletOne),
  ];
}

function contention(r: BenchResults): string[] {
  const worst = Math.max(r.floorLoad.otherCpus, r.runletLoad.otherCpus, r.floorOne.otherCpus, r.runletOne.otherCpus);
  if (Math.max(r.loadBefore, r.loadAfter) < r.machine.nproc && worst < 0.25) return [];
  return [
    `> **This machine was shared while the bench ran**: load average ${fixed(r.loadBefore)} → ${fixed(r.loadAfter)} on ${r.machine.nproc} CPUs, and up to ${fixed(worst, 2)} CPUs' worth of other processes' work during a measured window. Wall-clock figures (req/s, latencies, cold start) are then pessimistic and noisy; the CPU-per-request columns are not affected by it. Run again on a quiet machine for reference figures.`,
    '',
  ];
}

export function renderReport(r: BenchResults): string {
  const { machine: m, settings: s } = r;
  const targets = targetsOf(r);
  const missed = targets.filter((t) => !t.met);
  const a = r.asyncLoad;
  const errors = [r.floorLoad, r.runletLoad, r.floorOne, r.runletOne].filter((f) => f.errors > 0);
  const cpuFloor = r.floorLoad.gatewayCpuMsPerRequest;
  const cpuRunlet = r.runletLoad.gatewayCpuMsPerRequest;
  const lines = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (bench/run.ts); every figure below was measured in the one run that wrote this file.',
    'Absolute numbers drift on shared machines, so each Runlet figure is set against a floor measured beside it in the same run.',
    s.quick ? '\n> **BENCH_QUICK=1**: shortened phases, for trying the bench only — these figures are not the reference ones.\n' : '',
    '## Machine',
    '',
    row(['', '']),
    row(['---', '---']),
    row(['CPUs (`nproc`)', m.nproc]),
    row(['CPU model', m.cpuModel]),
    row(['Memory', `${m.memoryGiB.toFixed(1)} GiB`]),
    row(['Node', m.node]),
    row(['OS', m.os]),
    row(['Date', m.date]),
    row(['Whole bench run', `${r.totalSeconds.toFixed(0)} s`]),
    row(['Load average (1 min) at start / end', `${fixed(r.loadBefore)} / ${fixed(r.loadAfter)}`]),
    '',
    ...contention(r),
    '## Targets',
    '',
    row(['figure', 'measured', 'target', 'result']),
    row(['---', '---', '---', '---']),
    ...targets.map((t) => row([t.what, t.measured, t.target, yes(t.met)])),
    '',
    missed.length === 0 ? 'Every target was met in this run.' : `${missed.length} of ${targets.length} targets were **missed** in this run: ${missed.map((t) => t.what).join('; ')}.`,
    '',
    '## Settings',
    '',
    `- Runlet: \`runlet serve\` in its own process, embedded SQLite store (WAL) in a fresh data folder, server log level \`info\`, default limits except \`RUNLET_MAX_WORKERS_PER_SERVICE=${s.workers}\` (the default, set explicitly so the floor matches it) and \`RUNLET_MIN_WARM_WORKERS=${s.workers}\` (so the pool is as warm as the floor's workers before measuring), services: the test fixtures \`echo\` and \`noop\` and the bench services in \`bench/services\`.`,
    `- Floor: \`bench/lib/floor-gateway.ts\` in its own process: a bare Fastify 5 route that forwards the body to ${s.workers} workers of the same fixture \`echo\` service, started by the same \`WorkerProcess.start\` and called over the same keep-alive undici client on their unix sockets, one call per worker at a time (callers past that wait in FIFO order), recording nothing (no auth, no store, no logs).`,
    `- Load generator: \`bench/lib/loadgen-child.ts\`, its own process; a closed loop over an undici keep-alive pool (each connection sends its next request when the last one has answered). Latency runs from just before a request is handed to the client until its whole body is read.`,
    `- Sync: \`POST /run/echo\` with a ${Buffer.byteLength(s.body)}-byte JSON body; ${s.warmupMs} ms warm-up, then a ${s.durationMs} ms window at ${s.connections} connections; then a ${s.latencyDurationMs} ms window at 1 connection (unloaded latency). Floor and Runlet take turns.`,
    `- Async: a warm-up batch of ${s.asyncWarmupRuns} runs (not counted), then ${s.asyncRuns} \`run_async\` calls to \`noop\` over ${s.asyncConnections} connections, then \`/result\` (long-poll) for each; then ${s.idleSamples} single runs of \`stamp\` on the idle server.`,
    `- Logs: ${s.logLines} lines, ${s.logIntervalMs} ms apart, printed by \`bench/services/logline.ts\`, each carrying \`performance.timeOrigin + performance.now()\` at print; the reader (the bench process) reads \`/logs/{id}\` NDJSON and subtracts that from its own clock on arrival.`,
    `- Cold start: ${2 * s.coldStarts} distinct copies of \`bench/services/stamp.ts\` with \`minWarm: 0\`, so the first sync call of each starts a worker. The first ${s.coldStarts} are called with the server at rest (the bench waits for its process tree to go quiet before each call, as before a measured window), which is the cold start a caller meets; the other ${s.coldStarts} back to back, as a burst of first calls, which outruns the spare host's replacement (reported, not a target).`,
    `- Idle memory: a fresh \`runlet serve\` with \`${r.memory.servicesDir}\` (default settings: one warm worker per service), ${s.memorySettleMs} ms after it said "runtime started".`,
    '',
    '## 1. Sync `POST /run/echo`',
    '',
    ...syncTable(r),
    '',
    `- Throughput: Runlet ${fixed(r.runletLoad.rps, 0)} req/s, floor ${fixed(r.floorLoad.rps, 0)} req/s: **${percent(r.runletLoad.rps / r.floorLoad.rps)}** of the floor (target ≥ 70 %).`,
    `- p50 under load: Runlet ${ms(r.runletLoad.latency.p50)}, floor ${ms(r.floorLoad.latency.p50)}: **${ms(r.runletLoad.latency.p50 - r.floorLoad.latency.p50)} added** (target ≤ 1 ms). p99: Runlet ${ms(r.runletLoad.latency.p99)}, floor ${ms(r.floorLoad.latency.p99)}.`,
    `- Unloaded (1 connection) p50: Runlet ${ms(r.runletOne.latency.p50)}, floor ${ms(r.floorOne.latency.p50)}: **${ms(r.runletOne.latency.p50 - r.floorOne.latency.p50)} added per call** (target ≤ 1 ms).`,
    `- In a closed loop each of the ${r.settings.connections} connections sends its next request when the last is answered, so p50 under load is about ${r.settings.connections} ÷ throughput: ≤ 1 ms added there asks for about ${percent(1 / (1 + (0.001 * r.floorLoad.rps) / r.settings.connections))} of the floor's throughput. Both added-p50 rows are in the targets table: the loaded one follows from throughput, the unloaded one is what Runlet adds to a call.`,
    `- CPU per answered request in the gateway process itself (from /proc during the window): Runlet ${fixed(cpuRunlet, 3)} ms, floor ${fixed(cpuFloor, 3)} ms (${fixed(cpuRunlet / cpuFloor, 2)}×). With ${m.nproc} CPUs shared by the gateway, its workers and the load generator, this is what bounds throughput.`,
    `- Load generator CPU during the window: floor run ${percent(r.floorLoad.generatorCpuShare)}, Runlet run ${percent(r.runletLoad.generatorCpuShare)} of one CPU. "Other CPUs busy" is CPU used during the window by processes that are not part of this bench (/proc/stat minus the bench's own processes), in CPUs: on a ${m.nproc}-CPU machine anything well above 0 means the figures of that row were taken while something else competed.`,
    `- "gateway CPU ms/req" and "workers CPU ms/req" are CPU time (not wall time) from /proc, so they stay comparable even when the machine is shared; the workers column counts every descendant process of the gateway, including workers started (or replaced) during the window and, for Runlet, the idle workers and spare hosts of its other services; "processes started" counts those (a TypeScript host costs on the order of a second of CPU to boot, which shows in the column). Before each window the bench waits for the target's process tree to go quiet (under 5 % of a CPU over 500 ms, at most 15 s), so workers or spare hosts still booting from start-up stay out of it.`,
    errors.length ? `- **Errors**: ${errors.map((f) => `${f.errors} (${JSON.stringify(f.statuses)}; first: ${f.firstError})`).join('; ')}.` : '- No errors: every answer was 2xx.',
    '',
    '## 2. Async runs',
    '',
    `- ${a.batch.submitted} runs submitted in ${fixed(a.batch.submitMs, 0)} ms (${fixed(a.batch.submitRps, 0)} submits/s; submit p50 ${ms(a.batch.submitLatency.p50)}, p99 ${ms(a.batch.submitLatency.p99)}); ${a.batch.submitErrors} submit errors.`,
    `- ${a.batch.completed} completed${Object.keys(a.batch.notCompleted).length ? `, not completed: ${JSON.stringify(a.batch.notCompleted)}` : ''}; first submit to last result: ${fixed(a.batch.totalMs, 0)} ms → **${fixed(a.batch.completedPerSecond, 0)} completed runs/s**, ${percent(a.batch.completedPerSecond / r.floorLoad.rps)} of the floor's ${fixed(r.floorLoad.rps, 0)} req/s (target ≥ 50 %).`,
    `- By the records' own clocks (first \`createdAt\` to last \`completedAt\`): ${fixed(a.serverCompletedPerSecond, 0)} runs/s. Queue wait under load (\`startedAt − createdAt\`): p50 ${ms(a.queuedUnderLoad.p50)}, p99 ${ms(a.queuedUnderLoad.p99)}.`,
    `- CPU per completed run, first submit to last result (from /proc, and the load generator's own count): gateway ${fixed(a.cpuMsPerRun.gateway, 3)} ms, its workers ${fixed(a.cpuMsPerRun.workers, 3)} ms, load generator ${fixed(a.cpuMsPerRun.generator, 3)} ms. The ${m.nproc} CPUs hold ${fixed((m.nproc * 1000) / (a.cpuMsPerRun.gateway + a.cpuMsPerRun.workers + a.cpuMsPerRun.generator), 0)} runs/s at that cost, and ${fixed((m.nproc * 1000) / (a.cpuMsPerRun.workers + a.cpuMsPerRun.generator), 0)} with a gateway that cost nothing: an async run is two requests and a worker call, against the floor's one request and call.`,
    `- The warm-up batch before it, the first ${r.asyncWarmup.batch.submitted} async runs of this server (the sync load had run before them): ${fixed(r.asyncWarmup.batch.completedPerSecond, 0)} completed runs/s (${percent(r.asyncWarmup.batch.completedPerSecond / r.floorLoad.rps)} of the floor). The measured batch comes after it, as the sync window comes after its warm-up: a long-running server spends almost all its life past that point.`,
    '',
    'Submit→start on an idle server, one run at a time:',
    '',
    ...latencyHead,
    latencyRow('client sends `run_async` → handler receives it', r.submitToStart.toHandler),
    latencyRow('`startedAt − createdAt` in the record (whole ms)', r.submitToStart.recordStartedMinusCreated),
    latencyRow('client sends → `request_id` answer received', r.submitToStart.submitAnswer),
    '',
    `**Submit→start p50: ${ms(r.submitToStart.toHandler.p50)}** (target ≤ 5 ms).`,
    '',
    '## 3. Log line latency',
    '',
    ...latencyHead,
    latencyRow(`stdout (\`console.log\`), ${r.logsStdout.received}/${r.logsStdout.expected} lines`, r.logsStdout.latency),
    latencyRow(`SDK logger (\`ctx.logger.info\`), ${r.logsLogger.received}/${r.logsLogger.expected} lines`, r.logsLogger.latency),
    '',
    `**Log line p50 (stdout): ${ms(r.logsStdout.latency.p50)}** (target ≤ 10 ms).`,
    '',
    '## 4. Cold start and memory',
    '',
    ...latencyHead,
    latencyRow('first call of a service without a warm worker, server at rest (send → whole answer)', r.cold.total),
    latencyRow('the same, first calls of distinct services back to back (a burst)', r.coldBurst.total),
    '',
    `**Cold start p50: ${ms(r.cold.total.p50)}** (target ≤ 300 ms); every sample at rest: ${r.cold.samples.map((v) => fixed(v, 0)).join(', ')} ms; in the burst: ${r.coldBurst.samples.map((v) => fixed(v, 0)).join(', ')} ms.`,
    '',
    '- A new TypeScript worker is a spare SDK host (Node, the loader and the SDK already loaded, started ahead of need) assigned the service. The spare is replaced in the background; in a burst, a first call that comes before its replacement is ready waits for that host to finish booting (on this machine Node with the TypeScript loader takes several hundred ms), which is what spares save a caller at rest.',
    '',
    `- Idle memory (\`${r.memory.servicesDir}\`, ${r.memory.workers} worker processes, i.e. descendants of the server): **runtime process RSS ${mib(r.memory.serverRssBytes)}**; its workers together ${mib(r.memory.workersRssBytes)}${r.memory.workers ? ` (${mib(r.memory.workersRssBytes / r.memory.workers)} each on average)` : ''}. It took ${fixed(r.memory.serverStartMs, 0)} ms from spawn to "runtime started" (workers warmed).`,
    `- For comparison, the bench server's RSS after all the load above: ${mib(r.memory.runletRssAfterLoad)}.`,
    '',
  ];
  return lines.join('\n');
}
