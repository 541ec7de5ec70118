/** Entry of the load-generator process: runs one job from the parent (IPC) and sends back the figures. */
import { Pool } from 'undici';
import type { AsyncBatchJob, AsyncBatchResult, AsyncRecordTimes, ClosedLoopJob, ClosedLoopResult, Job } from './loadgen.js';
import { summarize, wallNow } from './stats.js';

async function closedLoop(job: ClosedLoopJob): Promise<ClosedLoopResult> {
  const pool = new Pool(job.url, { connections: job.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let firstError: string | undefined;
  let recording = false;
  let stopping = false;
  let windowEnd = Infinity;

  const loop = async () => {
    while (!stopping) {
      const t0 = performance.now();
      let status = 'error';
      try {
        const res = await pool.request({ path: job.path, method: job.method, headers: job.headers, body: job.body });
        await res.body.arrayBuffer();
        status = String(res.statusCode);
      } catch (err) {
        firstError ??= (err as Error).message;
      }
      const t1 = performance.now();
      if (recording && t1 <= windowEnd) {
        latencies.push(t1 - t0);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (!status.startsWith('2')) {
          errors++;
          if (status !== 'error') firstError ??= `HTTP ${status}`;
        }
      }
    }
  };

  const loops = Array.from({ length: job.connections }, loop);
  await sleep(job.warmupMs);
  const windowStart = performance.now();
  windowEnd = windowStart + job.durationMs;
  recording = true;
  process.send!({ window: 'start' });
  await sleep(job.durationMs);
  stopping = true;
  process.send!({ window: 'end' });
  await Promise.all(loops);
  await pool.close();
  const elapsedMs = windowEnd - windowStart;
  return { requests: latencies.length, errors, statuses, elapsedMs, rps: (latencies.length / elapsedMs) * 1000, latency: summarize(latencies), firstError };
}

async function asyncBatch(job: AsyncBatchJob): Promise<AsyncBatchResult> {
  const pool = new Pool(job.url, { connections: job.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const auth = { authorization: `Bearer ${job.key}` };
  const ids: string[] = [];
  const submitLatency: number[] = [];
  let submitErrors = 0;
  let firstError: string | undefined;

  // Phase 1: submit every run as fast as `connections` callers can.
  const started = wallNow();
  let next = 0;
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (next < job.count) {
        next++;
        const t0 = performance.now();
        try {
          const res = await pool.request({ path: `/run_async/${job.serviceId}`, method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: job.body });
          const text = await res.body.text();
          if (res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
          ids.push((JSON.parse(text) as { request_id: string }).request_id);
          submitLatency.push(performance.now() - t0);
        } catch (err) {
          submitErrors++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  const submitMs = wallNow() - started;

  // Phase 2: wait for every result (long-poll), in submission order.
  const records: AsyncRecordTimes[] = [];
  const notCompleted: Record<string, number> = {};
  let completed = 0;
  let cursor = 0;
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (cursor < ids.length) {
        const id = ids[cursor++]!;
        try {
          const res = await pool.request({ path: `/result/${id}?timeout=${job.resultTimeoutMs}`, method: 'GET', headers: auth });
          const record = (await res.body.json()) as Record<string, unknown>;
          const rec = (res.statusCode === 200 ? record : (record.record as Record<string, unknown>)) ?? {};
          const status = String(rec.status ?? `HTTP ${res.statusCode}`);
          if (status === 'completed') completed++;
          else notCompleted[status] = (notCompleted[status] ?? 0) + 1;
          records.push({ status, createdAt: toMs(rec.createdAt)!, startedAt: toMs(rec.startedAt), completedAt: toMs(rec.completedAt) });
        } catch (err) {
          notCompleted.error = (notCompleted.error ?? 0) + 1;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  const totalMs = wallNow() - started;
  await pool.close();
  return {
    submitted: ids.length,
    submitErrors,
    submitMs,
    submitRps: (ids.length / submitMs) * 1000,
    submitLatency: summarize(submitLatency),
    completed,
    notCompleted,
    totalMs,
    completedPerSecond: (completed / totalMs) * 1000,
    records,
    firstError,
  };
}

function toMs(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'number' ? value : Date.parse(String(value));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

process.once('message', (job: Job) => {
  // From here: the CPU of loading this process (Node, tsx, undici) is not the load's.
  const atStart = process.cpuUsage();
  const cpuMs = () => {
    const u = process.cpuUsage(atStart);
    return (u.user + u.system) / 1000;
  };
  const run = job.kind === 'closed-loop' ? closedLoop(job) : asyncBatch(job);
  run.then(
    (result) => process.send!({ ok: true, result, cpuMs: cpuMs() }, () => process.exit(0)),
    (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? err.stack : String(err), cpuMs: cpuMs() }, () => process.exit(1)),
  );
});
