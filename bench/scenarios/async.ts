/** Scenario 2: async runs of the no-op service under load, and submit→start latency on an idle server. */
import type { BenchClient } from '../lib/client.js';
import { runLoad, type AsyncBatchResult } from '../lib/loadgen.js';
import { cpuDelta, cpuSnapshot } from '../lib/processes.js';
import { summarize, wallNow, type Summary } from '../lib/stats.js';

export interface AsyncSettings {
  count: number;
  connections: number;
}

export interface AsyncFigures {
  batch: Omit<AsyncBatchResult, 'records'>;
  /** Completed runs per second by the records' own clocks: first createdAt to last completedAt. */
  serverCompletedPerSecond: number;
  /** ms a queued run waited for its worker under load (startedAt - createdAt, ms resolution). */
  queuedUnderLoad: Summary;
  /** CPU ms per completed run, from the first submit to the last result: what shares the machine's CPUs. */
  cpuMsPerRun: { gateway: number; workers: number; generator: number };
}

export async function measureAsyncThroughput(target: { url: string; pid: number }, key: string, settings: AsyncSettings): Promise<AsyncFigures> {
  const before = cpuSnapshot(target.pid);
  const { result, generatorCpuMs } = await runLoad({
    kind: 'async-batch',
    url: target.url,
    key,
    serviceId: 'noop',
    body: '{}',
    count: settings.count,
    connections: settings.connections,
    resultTimeoutMs: 120_000,
  });
  const cpu = cpuDelta(before, cpuSnapshot(target.pid));
  const { records, ...batch } = result;
  const done = records.filter((r) => r.completedAt !== null);
  const first = Math.min(...records.map((r) => r.createdAt));
  const last = Math.max(...done.map((r) => r.completedAt!));
  return {
    batch,
    serverCompletedPerSecond: (done.length / Math.max(1, last - first)) * 1000,
    queuedUnderLoad: summarize(done.filter((r) => r.startedAt !== null).map((r) => r.startedAt! - r.createdAt)),
    cpuMsPerRun: { gateway: cpu.selfMs / done.length, workers: cpu.childrenMs / done.length, generator: generatorCpuMs / done.length },
  };
}

export interface SubmitToStartFigures {
  /** ms from the client sending `run_async` to the worker's handler receiving the call (sub-ms clocks). */
  toHandler: Summary;
  /** startedAt - createdAt from the records (whole ms). */
  recordStartedMinusCreated: Summary;
  /** ms from the client sending to the `request_id` answer. */
  submitAnswer: Summary;
}

/** One run at a time on an otherwise idle server, to the `stamp` service that answers when it got the call. */
export async function measureSubmitToStart(client: BenchClient, samples: number): Promise<SubmitToStartFigures> {
  const toHandler: number[] = [];
  const fromRecords: number[] = [];
  const submitAnswer: number[] = [];
  for (let i = 0; i < samples + 5; i++) {
    const sentAt = wallNow();
    const id = await client.submit('stamp', {});
    const answeredAt = wallNow();
    const record = await client.result(id);
    if (record.status !== 'completed') throw new Error(`stamp run ${id} ended ${String(record.status)}: ${String(record.error)}`);
    if (i < 5) continue; // the first few warm the path (JIT, prepared statements)
    const { receivedAt } = record.responseJson as { receivedAt: number };
    toHandler.push(receivedAt - sentAt);
    submitAnswer.push(answeredAt - sentAt);
    fromRecords.push(Date.parse(String(record.startedAt)) - Date.parse(String(record.createdAt)));
    await new Promise((r) => setTimeout(r, 10));
  }
  return { toHandler: summarize(toHandler), recordStartedMinusCreated: summarize(fromRecords), submitAnswer: summarize(submitAnswer) };
}
