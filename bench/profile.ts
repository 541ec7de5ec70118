/**
 * Not part of `npm run bench`: a CPU profile of the gateway under the sync load (or, with
 * PROFILE_SCENARIO=async, a batch of async runs), for finding where its time goes. Writes a .cpuprofile to PROFILE_DIR (default /tmp/runlet-profile) and
 * prints the functions with the most self time in the measured window, which comes after a
 * warm-up as in `npm run bench` (V8 optimises the run path over the first thousands of runs):
 * PROFILE_WARMUP_MS (sync, default 10000) or PROFILE_WARMUP_RUNS (async, default 6000).
 * PROFILE_BODY_BYTES pads each request's JSON body to about that size (default: 32 bytes).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad } from './lib/loadgen.js';
import { CLI, cpuDelta, cpuMsOf, cpuMsOfCommand, cpuSnapshot, createKey, waitForQuiet } from './lib/processes.js';
import { buildServicesDir } from './lib/services-dir.js';
import { warmUp } from './lib/warm-up.js';

const dir = process.env.PROFILE_DIR ?? path.join(os.tmpdir(), 'runlet-profile');
mkdirSync(dir, { recursive: true });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'runlet-prof-'));
const { dir: servicesDir } = buildServicesDir(tmp, 0);
const dataDir = path.join(tmp, 'data');
const key = createKey(dataDir);
const profiling = process.env.PROFILE !== '0';
const child = spawn(process.execPath, [...(profiling ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), '--import', 'tsx', CLI, 'serve', '--port', '0', '--data', dataDir, '--services', servicesDir], {
  env: { RUNLET_MAX_WORKERS_PER_SERVICE: '4', RUNLET_MIN_WARM_WORKERS: '4', ...process.env },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
const url = await new Promise<string>((resolve) => {
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    const m = /"msg":"runtime started".*"url":"([^"]+)"/.exec(out) ?? /"url":"([^"]+)".*"msg":"runtime started"/.exec(out);
    if (m) resolve(m[1]!);
  });
});
const before = new Set(readdirSync(dir));
// Workers and spare hosts boot after "runtime started": keep that work out of the window.
await waitForQuiet(child.pid!);
let cpuStart = 0;
let cpuEnd = 0;
/** The measured window on the monotonic clock, in µs: a .cpuprofile's timestamps are on the same clock. */
const window = { start: 0, end: 0 };
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);
let treeStart: ReturnType<typeof cpuSnapshot> | undefined;
const onWindow = (edge: 'start' | 'end') => {
  window[edge] = monotonicMicros();
  if (edge === 'start') {
    cpuStart = cpuMsOf(child.pid!);
    treeStart = cpuSnapshot(child.pid!);
  } else {
    cpuEnd = cpuMsOf(child.pid!);
    // Which workers worked: the busiest descendants by CPU in the window.
    const after = cpuSnapshot(child.pid!);
    const busy = [...after.children].map(([pid, ms]) => [pid, ms - (treeStart?.children.get(pid) ?? 0)] as const).sort((a, b) => b[1] - a[1]);
    console.log(`descendants' CPU ms in the window: ${busy.map(([pid, ms]) => `${pid}:${Math.round(ms)}`).join(' ')}`);
  }
};
const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
const padding = Math.max(0, Number(process.env.PROFILE_BODY_BYTES ?? 0) - 45);
const body = JSON.stringify({ name: 'bench', items: [1, 2, 3], ...(padding > 0 ? { padding: 'x'.repeat(padding) } : {}) });
const profiled = `(profiler ${profiling ? 'on' : 'off'})`;
if (process.env.PROFILE_SCENARIO === 'async') {
  const batch = (count: number) => runLoad({ kind: 'async-batch', url, key, serviceId: 'noop', body, count, connections: 32, resultTimeoutMs: 120_000 });
  await warmUp(Number(process.env.PROFILE_WARMUP_RUNS ?? 6000), batch);
  const before = { tree: cpuSnapshot(child.pid!), postgres: cpuMsOfCommand('postgres') };
  window.start = monotonicMicros();
  const { result, generatorCpuMs } = await batch(Number(process.env.PROFILE_RUNS ?? 3000));
  window.end = monotonicMicros();
  const tree = cpuDelta(before.tree, cpuSnapshot(child.pid!));
  const perRun = (ms: number) => (ms / result.completed).toFixed(3);
  console.log(`gateway CPU ${perRun(tree.selfMs)} ms/run ${profiled}; ${result.completed} completed in ${Math.round(result.totalMs)} ms = ${Math.round(result.completedPerSecond)}/s`);
  console.log(`CPU ms/run: workers ${perRun(tree.childrenMs)}, postgres ${perRun(cpuMsOfCommand('postgres') - before.postgres)}, load generator ${perRun(generatorCpuMs)}`);
} else {
  const durationMs = Number(process.env.PROFILE_MS ?? 8000);
  const { result } = await runLoad({ kind: 'closed-loop', url, path: '/run/echo', method: 'POST', headers, body, connections: Number(process.env.PROFILE_CONNECTIONS ?? 32), warmupMs: Number(process.env.PROFILE_WARMUP_MS ?? 10_000), durationMs }, onWindow);
  console.log(`gateway CPU ${((cpuEnd - cpuStart) / result.requests).toFixed(3)} ms/req ${profiled}; requests ${result.requests} errors ${result.errors} in ${Math.round(result.elapsedMs)} ms = ${Math.round((result.requests / result.elapsedMs) * 1000)}/s`);
}
child.kill('SIGINT');
await new Promise((r) => child.once('exit', r));
if (!profiling) process.exit(0);
const file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.cpuprofile'));
if (!file) throw new Error('no profile written');
type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number };
const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { nodes: Node[]; startTime: number; samples: number[]; timeDeltas: number[] };
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let busy = 0;
let inWindow = 0;
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  at += profile.timeDeltas[i]!;
  if (at < window.start || at > window.end) return;
  inWindow++;
  const n = nodes.get(id)!;
  if (n.callFrame.functionName === '(idle)') return;
  busy++;
  const where = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*node_modules\//, '~/').replace(/^file:\/\/.*\/packages\//, '')}:${n.callFrame.lineNumber + 1}`;
  self.set(where, (self.get(where) ?? 0) + 1);
});
console.log(`measured window: ${inWindow} samples, ${((busy / Math.max(1, inWindow)) * 100).toFixed(1)} % busy; self time as a share of the busy samples:`);
for (const [where, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 40))) {
  console.log(`${((hits / busy) * 100).toFixed(1).padStart(5)}%  ${where}`);
}
console.log(`profile: ${path.join(dir, file)}`);
