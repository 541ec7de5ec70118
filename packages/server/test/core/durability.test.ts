/**
 * kill -9 of the runtime: nothing acknowledged is lost. Queued runs run after the restart,
 * runs in flight end (or run again, for a retryable service), finished ones (sync runs answered
 * a moment before, too) keep their results and logs, and no record stays `running`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { cliKeyFor, killServerProcess, readNdjson, startServerProcess, waitFor } from '../helpers.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'runlet-durability-'));
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) await killServerProcess(c, dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

test('a runtime killed with SIGKILL loses nothing it acknowledged', async () => {
  const { call } = await cliKeyFor(dataDir);
  const env = { RUNLET_MAX_WORKERS_PER_SERVICE: '1' };
  const first = await startServerProcess({ dataDir, env });
  children.push(first.child);
  const submit = async (service: string, input: unknown) => ((await (await call(first.url, `/run_async/${service}`, input)).json()) as { request_id: string }).request_id;

  const done = await call(first.url, '/run/noisy', { lines: 3 });
  const doneId = done.headers.get('x-request-id')!;
  const inFlight = await submit('slow', { seconds: 30, interval: 0.2 });
  const queued = [await submit('slow', { seconds: 0.2 }), await submit('slow', { seconds: 0.2 })];
  const retried = await submit('retryable', { seconds: 30 });
  // Both long runs have started (each service has one worker; the short ones wait behind the first).
  await waitFor(async () => {
    const states = await Promise.all([inFlight, retried].map(async (id) => ((await (await call(first.url, `/request/${id}`)).json()) as { status: string }).status));
    return states.every((s) => s === 'running') || undefined;
  }, 20_000, 'both long runs to be running');
  // Let the in-flight run print a few ticks before the crash.
  await new Promise((r) => setTimeout(r, 600));
  // Sync runs answered just before the crash: the last of them are still in the run journal,
  // not yet indexed in the tables (they are every 0.1 s).
  const answered = await Promise.all(Array.from({ length: 20 }, (_, i) => call(first.url, '/run/echo', { i })));
  assert.deepEqual(answered.map((r) => r.status), Array(20).fill(200));

  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  // The retryable run's stored input is replayed (30 s again): that its second attempt starts is what matters.
  const second = await startServerProcess({ dataDir, env });
  children.push(second.child);
  const record = async (id: string, wait = 0) => (await (await call(second.url, `/result/${id}?timeout=${wait}`)).json()) as Record<string, unknown>;

  const failed = await record(inFlight);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.errorCode, 'RUNTIME_RESTARTED');
  const lines = await readNdjson(await call(second.url, `/logs/${inFlight}`));
  assert.ok(lines.some((l) => String(l.message).startsWith('tick')), 'lines written before the crash are kept');
  assert.ok(lines.some((l) => l.source === 'runtime' && /restarted/.test(String(l.message))), 'the log says why it failed');

  for (const id of queued) {
    const r = await record(id, 30);
    assert.equal(r.status, 'completed', `queued run ${id} ran after the restart`);
    assert.deepEqual(r.responseJson, { slept: 0.2 });
  }

  const again = await waitFor(async () => {
    const r = (await (await call(second.url, `/request/${retried}`)).json()) as { status: string; attempt: number };
    return r.status === 'running' && r.attempt === 2 ? r : undefined;
  }, 20_000, 'the retryable run to run again');
  assert.equal(again.attempt, 2);

  for (const [i, res] of answered.entries()) {
    const r = await record(res.headers.get('x-request-id')!);
    assert.equal(r.status, 'completed', `answered sync run ${i} is kept`);
    assert.deepEqual((r.responseJson as { input: unknown }).input, { i });
  }

  const kept = await record(doneId);
  assert.equal(kept.status, 'completed');
  assert.deepEqual(kept.responseJson, { printed: 3 });
  const keptLines = await readNdjson(await call(second.url, `/logs/${doneId}`));
  assert.ok(keptLines.some((l) => l.message === 'line 3'));
});
