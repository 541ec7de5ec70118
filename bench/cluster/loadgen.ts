/**
 * Load generator, its own process (forked by run.ts; job in by IPC, figures out by IPC).
 * Submits `count` runs (`POST submitPath`, body `{}`) from `connections` callers, spread round-robin over `urls`,
 * then `GET resultPath{id}?timeout=60` for each (asked again while the answer is not final) until all are done.
 * runs/s = completed ÷ (first submit → last result).
 */
import { Pool } from 'undici';

export interface LoadJob { urls: string[]; key?: string; count: number; connections: number; submitPath: string; resultPath: string }
export interface LoadResult { submitted: number; completed: number; failed: number; errors: number; firstError?: string; submitMs: number; totalMs: number; runsPerSecond: number }

async function runJob(job: LoadJob): Promise<LoadResult> {
  const perNode = Math.ceil(job.connections / job.urls.length);
  const pools = job.urls.map((u) => new Pool(u, { connections: perNode, pipelining: 1, keepAliveTimeout: 60_000 }));
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (job.key) headers.authorization = `Bearer ${job.key}`;
  const ids: Array<{ id: string; node: number }> = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: job.connections }, async () => {
    while (next < job.count) {
      const node = next++ % pools.length;
      try {
        const res = await pools[node]!.request({ path: job.submitPath, method: 'POST', headers, body: '{}' });
        const text = await res.body.text();
        if (res.statusCode >= 300) throw new Error(`submit HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
        ids.push({ id: (JSON.parse(text) as { request_id: string }).request_id, node });
      } catch (err) { errors++; firstError ??= (err as Error).message; }
    }
  }));
  const submitMs = performance.now() - t0;
  let completed = 0;
  let failed = 0;
  let cursor = 0;
  const deadline = performance.now() + 120_000;
  await Promise.all(Array.from({ length: job.connections }, async () => {
    while (cursor < ids.length) {
      const { id, node } = ids[cursor++]!;
      for (;;) {
        try {
          const res = await pools[node]!.request({ path: `${job.resultPath}${id}?timeout=60`, method: 'GET', headers: job.key ? { authorization: headers.authorization! } : {} });
          const body = (await res.body.json()) as Record<string, unknown>;
          const rec = (body.record as Record<string, unknown> | undefined) ?? body;
          const status = String(rec.status ?? `HTTP ${res.statusCode}`);
          if (status === 'completed') { completed++; break; }
          if (status === 'failed' || status === 'cancelled' || status.startsWith('HTTP') || performance.now() > deadline) {
            failed++; firstError ??= `result ${status} (HTTP ${res.statusCode})`; break;
          }
        } catch (err) { errors++; firstError ??= (err as Error).message; break; }
      }
    }
  }));
  const totalMs = performance.now() - t0;
  await Promise.all(pools.map((p) => p.close()));
  return { submitted: ids.length, completed, failed, errors, firstError, submitMs, totalMs, runsPerSecond: (completed / totalMs) * 1000 };
}

process.once('message', async (job: LoadJob) => {
  const result = await runJob(job);
  process.send!(result, () => process.exit(0));
});
