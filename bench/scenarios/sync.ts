/** Scenario 1: sync `POST /run/echo`, closed-loop load, against a target and its process tree. */
import { runLoad, type ClosedLoopResult } from '../lib/loadgen.js';
import { cpuDelta, cpuSnapshot } from '../lib/processes.js';

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
}

export async function measureSync(target: { url: string; pid: number; key?: string }, settings: SyncSettings): Promise<SyncFigures> {
  let before: ReturnType<typeof cpuSnapshot> | undefined;
  let after: ReturnType<typeof cpuSnapshot> | undefined;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.key) headers.authorization = `Bearer ${target.key}`;
  const outcome = await runLoad(
    { kind: 'closed-loop', url: target.url, path: '/run/echo', method: 'POST', headers, body: settings.body, connections: settings.connections, warmupMs: settings.warmupMs, durationMs: settings.durationMs },
    (edge) => {
      if (edge === 'start') before = cpuSnapshot(target.pid);
      else after = cpuSnapshot(target.pid);
    },
  );
  const r = outcome.result;
  const cpu = before && after ? cpuDelta(before, after) : { selfMs: NaN, childrenMs: NaN };
  return {
    ...r,
    connections: settings.connections,
    gatewayCpuMsPerRequest: cpu.selfMs / r.requests,
    workersCpuMsPerRequest: cpu.childrenMs / r.requests,
    // Includes the warm-up: a rough upper bound is all that is needed here.
    generatorCpuShare: outcome.generatorCpuMs / (settings.warmupMs + settings.durationMs),
  };
}
