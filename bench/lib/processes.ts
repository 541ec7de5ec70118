/** Starting and stopping the processes under test, and reading their CPU time and memory from /proc. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../packages/server/src/cli/main.ts', import.meta.url));
const FLOOR = fileURLToPath(new URL('./floor-gateway.ts', import.meta.url));

export interface Proc {
  child: ChildProcess;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

function launch(args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // Always drained, so a chatty server never blocks on a full pipe; only the tail is kept.
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid!,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForOutput(proc: Proc, pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = proc.output().match(pattern);
    if (match) return match;
    if (proc.child.exitCode !== null) throw new Error(`${what} exited: ${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs} ms: ${proc.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A key of the data folder's default account, made the way an operator would (`runlet keys create`). */
export function createKey(dataDir: string): string {
  return execFileSync(process.execPath, ['--import', 'tsx', CLI, 'keys', 'create', '--data', dataDir, '--name', 'bench'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

export interface RunletProc extends Proc {
  url: string;
  /** Milliseconds from spawn until the server logged "runtime started" (workers warmed). */
  startMs: number;
}

/** The settings of a Runlet measured against the floor: the same number of workers, all warm before the load. */
export function warmPoolSettings(workers: number): Record<string, string> {
  return { RUNLET_MAX_WORKERS_PER_SERVICE: String(workers), RUNLET_MIN_WARM_WORKERS: String(workers), RUNLET_LOG_LEVEL: 'info' };
}

/** `runlet serve` in its own process, on a free port, with settings as RUNLET_* environment variables. */
export async function startRunlet(options: { dataDir: string; servicesDir: string; settings?: Record<string, string> }): Promise<RunletProc> {
  const t0 = performance.now();
  const proc = launch([CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', options.dataDir, '--services', options.servicesDir], {
    ...process.env,
    ...options.settings,
  });
  const match = await waitForOutput(proc, /^.*"msg":"runtime started".*$/m, 'runlet serve');
  const url = /"url":"([^"]+)"/.exec(match[0])?.[1];
  if (!url) throw new Error(`no url in: ${match[0]}`);
  return { ...proc, url, startMs: performance.now() - t0 };
}

export interface FloorProc extends Proc {
  url: string;
  workerPids: number[];
}

/** What the floor also records of each call (bench/lib/floor-gateway.ts): nothing, by default. */
export type FloorRecording = { store: string } | { journal: string; index?: string };

export async function startFloor(servicesDir: string, serviceId: string, workers: number, recording?: FloorRecording): Promise<FloorProc> {
  const env = !recording
    ? {}
    : 'store' in recording
      ? { FLOOR_STORE_DIR: recording.store }
      : { FLOOR_JOURNAL: recording.journal, ...(recording.index ? { FLOOR_INDEX_DIR: recording.index } : {}) };
  const proc = launch([FLOOR, servicesDir, serviceId, String(workers)], { ...process.env, ...env });
  const match = await waitForOutput(proc, /\{"floor":[^\n]*\}/, 'floor gateway');
  const info = JSON.parse(match[0]) as { floor: string; workerPids: number[] };
  return { ...proc, url: info.floor, workerPids: info.workerPids };
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) a process has used, in ms; 0 once it is gone. */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLK_TCK) * 1000;
  } catch {
    return 0;
  }
}

/** CPU ms used so far by every live process with this command name (`postgres`: the server and all its backends). */
export function cpuMsOfCommand(comm: string): number {
  let ms = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === comm) ms += cpuMsOf(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return ms;
}

/** Resident memory of a process in bytes (VmRSS). */
export function rssOf(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return Number(kb ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Every live descendant of a process (its worker processes, for a server). */
export function descendantsOf(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const visit = (p: number) => {
    for (const [child, parent] of parentOf) if (parent === p) (out.push(child), visit(child));
  };
  visit(pid);
  return out;
}

/** CPU ms of a process and of each of its descendants, now; diff two of these to see who worked. */
export function cpuSnapshot(pid: number): { self: number; children: Map<number, number> } {
  return { self: cpuMsOf(pid), children: new Map(descendantsOf(pid).map((p) => [p, cpuMsOf(p)])) };
}

export function cpuDelta(before: ReturnType<typeof cpuSnapshot>, after: ReturnType<typeof cpuSnapshot>): { selfMs: number; childrenMs: number; newProcesses: number } {
  let childrenMs = 0;
  let newProcesses = 0;
  for (const [p, ms] of after.children) {
    childrenMs += ms - (before.children.get(p) ?? 0);
    if (!before.children.has(p)) newProcesses++;
  }
  return { selfMs: after.self - before.self, childrenMs, newProcesses };
}

/**
 * Waits until a process and its descendants are quiet (under `share` of one CPU over 500 ms),
 * so background work (workers or spare hosts still booting) does not land in a measured
 * window. Answers how long it waited; gives up after `maxMs`.
 */
export async function waitForQuiet(pid: number, maxMs = 15_000, share = 0.05): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < maxMs) {
    const before = cpuSnapshot(pid);
    await new Promise((r) => setTimeout(r, 500));
    const d = cpuDelta(before, cpuSnapshot(pid));
    if ((d.selfMs + d.childrenMs) / 500 < share) break;
  }
  return performance.now() - t0;
}
