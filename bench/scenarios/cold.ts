/** Scenario 4a: the first call of a TypeScript service that has no warm worker. */
import type { BenchClient } from '../lib/client.js';
import { summarize, wallNow, type Summary } from '../lib/stats.js';

export interface ColdFigures {
  samples: number[];
  /** ms from sending `POST /run/{service}` to the whole answer. */
  total: Summary;
  /** ms from sending to the worker process existing (its performance.timeOrigin). */
  untilProcess: Summary;
  /** ms from the worker process existing to its handler receiving the call (Node + tsx boot, module load, ready). */
  processToHandler: Summary;
  /** CPU ms the fresh worker process had used when its handler received the call. */
  bootCpu: Summary;
}

/**
 * Each `serviceIds` entry is a distinct service with `minWarm: 0`, so each first call starts a
 * worker. `beforeEach` runs before every call: waiting for the server to be at rest measures
 * the cold start a caller meets; without it, the calls come back to back, as in a burst.
 */
export async function measureColdStart(client: BenchClient, serviceIds: string[], beforeEach: () => Promise<unknown> = async () => {}): Promise<ColdFigures> {
  const total: number[] = [];
  const untilProcess: number[] = [];
  const processToHandler: number[] = [];
  const bootCpu: number[] = [];
  for (const id of serviceIds) {
    await beforeEach();
    const sentAt = wallNow();
    const answer = await client.call('POST', `/run/${id}`, {});
    const doneAt = wallNow();
    if (answer.status !== 200) throw new Error(`cold call to ${id}: HTTP ${answer.status} ${answer.text}`);
    const { receivedAt, processStartedAt, cpuMs } = answer.json<{ receivedAt: number; processStartedAt: number; cpuMs: number }>();
    bootCpu.push(cpuMs);
    total.push(doneAt - sentAt);
    untilProcess.push(processStartedAt - sentAt);
    processToHandler.push(receivedAt - processStartedAt);
  }
  return { samples: total, total: summarize(total), untilProcess: summarize(untilProcess), processToHandler: summarize(processToHandler), bootCpu: summarize(bootCpu) };
}
