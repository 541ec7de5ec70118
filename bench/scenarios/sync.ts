/** Scenario 1: sync `POST /run/echo`, closed-loop load, against a target and its process tree. */
import { runLoad, type ClosedLoopResult } from '../lib/loadgen.js';
import { machineBusyMs } from '../lib/machine.js';
import { cpuDelta, cpuMsOf, cpuSnapshot, waitForQuiet } from '../lib/processes.js';

/** The body of every sync call of the benches: a small JSON object, as most calls carry. */
export const SYNC_BODY = JSON.stringify({ name: 'bench', items: [1, 2, 3], text: 'the quick brown fox jumps over the lazy dog' });

export interface SyncSettings {
  connections: number;
  warmupMs: number;
  durationMs: number;
  body: string;
}

export interface SyncFigures extends ClosedLoopResult {
  connections: number;
  /** CPU ms per answered request: the gateway process itself, and its worker processes. */
  gatewayCpuMsPerRequest: number;
  workersCpuMsPerRequest: number;
  /** Share of the window the generator's own process was on a CPU (near 100 % would mean it was the limit). */
  generatorCpuShare: number;
  /** CPUs' worth of work done during the window by processes outside this bench (other users of a shared machine). */
  otherCpus: number;
  /** Processes the gateway started during the window (new or replaced workers, spare hosts). */
  newProcesses: number;
  /** ms waited, before the load, for the gateway's process tree to go quiet. */
  quietWaitMs: number;
}

export async function measureSync(target: { url: string; pid: number; key?: string }, settings: SyncSettings): Promise<SyncFigures> {
  type Edge = { tree: ReturnType<typeof cpuSnapshot>; generator: number; machine: number; bench: number };
  let before: Edge | undefined;
  let after: Edge | undefined;
  const edge = (generatorPid: number): Edge => ({ tree: cpuSnapshot(target.pid), generator: cpuMsOf(generatorPid), machine: machineBusyMs(), bench: cpuMsOf(process.pid) });
  const quietWaitMs = await waitForQuiet(target.pid);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.key) headers.authorization = `Bearer ${target.key}`;
  const outcome = await runLoad(
    { kind: 'closed-loop', url: target.url, path: '/run/echo', method: 'POST', headers, body: settings.body, connections: settings.connections, warmupMs: settings.warmupMs, durationMs: settings.durationMs },
    (which, generatorPid) => {
      if (which === 'start') before = edge(generatorPid);
      else after = edge(generatorPid);
    },
  );
  const r = outcome.result;
  if (!before || !after) throw new Error('the load generator did not report its measured window');
  const cpu = cpuDelta(before.tree, after.tree);
  const generatorMs = after.generator - before.generator;
  const ours = cpu.selfMs + cpu.childrenMs + generatorMs + (after.bench - before.bench);
  return {
    ...r,
    connections: settings.connections,
    gatewayCpuMsPerRequest: cpu.selfMs / r.requests,
    workersCpuMsPerRequest: cpu.childrenMs / r.requests,
    generatorCpuShare: generatorMs / r.elapsedMs,
    otherCpus: Math.max(0, after.machine - before.machine - ours) / r.elapsedMs,
    newProcesses: cpu.newProcesses,
    quietWaitMs,
  };
}
