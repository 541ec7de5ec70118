/**
 * SIGTERM during a load of sync and async runs: the node refuses new runs (503 SHUTTING_DOWN
 * with Retry-After) while it drains, keeps serving results and logs, lets the sync calls in
 * flight finish, and hands the async runs that outlast the grace back to the queue. After a
 * restart on the same data every acknowledged run ends, and none ran to the end twice.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { cliKeyFor, killServerProcess, startServerProcess, waitFor } from '../helpers.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'runlet-shutdown-'));
/** Where the `tally` service writes the id of every run it finishes. */
const tallyFile = path.join(dataDir, 'tally.txt');
const children: ChildProcess[] = [];
/** The second test's node, killed in the middle of its drain. */
const killedDir = mkdtempSync(path.join(os.tmpdir(), 'runlet-shutdown-killed-'));
const killedChildren: ChildProcess[] = [];
after(async () => {
  for (const c of children) await killServerProcess(c, dataDir);
  for (const c of killedChildren) await killServerProcess(c, killedDir);
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(killedDir, { recursive: true, force: true });
});

/** How many times each run reached the end of the `tally` service, by its own count. */
function tallies(file: string): Map<string, number> {
  const times = new Map<string, number>();
  for (const id of existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []) times.set(id, (times.get(id) ?? 0) + 1);
  return times;
}

interface Record {
  id: string;
  status: string;
  mode: string;
  attempt: number;
  attempts?: { attempt: number; errorCode: string | null }[];
  responseJson?: unknown;
}

test('SIGTERM drains: new runs get 503, sync calls finish, async runs go back to the queue; a restart ends every acknowledged run once', async () => {
  const { call } = await cliKeyFor(dataDir);
  // A grace long enough for the sync calls (2 s each), shorter than the long async runs.
  const env = { RUNLET_MAX_WORKERS_PER_SERVICE: '4', RUNLET_SHUTDOWN_GRACE_SECONDS: '8' };
  const first = await startServerProcess({ dataDir, env });
  children.push(first.child);
  /** The record now (`/request`), or once the run ends when `wait` is given (`/result`). */
  const record = async (base: string, id: string, wait?: number) =>
    (await (await call(base, wait === undefined ? `/request/${id}` : `/result/${id}?timeout=${wait}`)).json()) as Record;
  /** Every run the runtime acknowledged (answered with its id): each must end, exactly once. */
  const acknowledged = new Set<string>();
  const submitAsync = async (seconds: number): Promise<Response> => {
    const res = await call(first.url, '/run_async/tally', { seconds, file: tallyFile });
    if (res.status === 200) acknowledged.add(((await res.clone().json()) as { request_id: string }).request_id);
    return res;
  };
  const idOf = async (res: Response) => ((await res.json()) as { request_id: string }).request_id;

  // Far longer than the grace: on a slow machine the sync calls may start seconds after these do.
  const long = [await idOf(await submitAsync(25)), await idOf(await submitAsync(25))];
  for (let i = 0; i < 8; i++) await submitAsync(0.5);
  await waitFor(async () => {
    const states = await Promise.all(long.map(async (id) => (await record(first.url, id)).status));
    return states.every((s) => s === 'running') || undefined;
  }, 30_000, 'both long async runs to be running');
  const syncCalls = [0, 1].map(() => call(first.url, '/run/tally', { seconds: 2, file: tallyFile }));
  await waitFor(async () => {
    const { runs } = (await (await call(first.url, '/runs?service=tally&status=running')).json()) as { runs: Record[] };
    return runs.filter((r) => r.mode === 'sync').length === 2 || undefined;
  }, 30_000, 'both sync calls to be running');

  first.child.kill('SIGTERM');
  const exited = new Promise<number | null>((resolve) => first.child.once('exit', (code) => resolve(code)));

  // Draining: new runs are refused (a call that slipped in before the signal was handled counts as acknowledged).
  const refused = await waitFor(async () => {
    const res = await submitAsync(0.1);
    return res.status === 200 ? undefined : res;
  }, 10_000, 'new async runs to be refused');
  const expectShuttingDown = async (res: Response) => {
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('x-runlet-error'), 'SHUTTING_DOWN');
    assert.match(res.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After says when to come back');
    assert.equal(((await res.json()) as { code: string }).code, 'SHUTTING_DOWN');
  };
  await expectShuttingDown(refused);
  await expectShuttingDown(await call(first.url, '/run/tally', { seconds: 0.1, file: tallyFile }));
  await expectShuttingDown(await call(first.url, '/provision-request', {}));
  const health = await fetch(`${first.url}/healthz`);
  assert.equal(health.status, 503);
  assert.equal(((await health.json()) as { status: string }).status, 'draining');

  // Readers are still served while the node drains.
  assert.equal((await record(first.url, long[0]!)).status, 'running');
  const logs = await call(first.url, `/logs/${long[0]}`);
  assert.equal(logs.status, 200);
  await logs.body?.cancel();

  // The sync calls in flight finish with their answers.
  for (const res of await Promise.all(syncCalls)) {
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { slept: 2 });
    acknowledged.add(res.headers.get('x-request-id')!);
  }
  assert.equal(await exited, 0, 'the process exits cleanly once drained');
  assert.match(first.output(), /shutdown grace period over/, 'the long async runs outlasted the grace');

  // Restarted on the same data: every acknowledged run ends, completed.
  const second = await startServerProcess({ dataDir, env });
  children.push(second.child);
  for (const id of acknowledged) {
    const r = await record(second.url, id, 60);
    assert.equal(r.status, 'completed', `run ${id} ended completed: ${JSON.stringify(r)}`);
  }
  for (const id of long) {
    const r = await record(second.url, id);
    assert.equal(r.attempt, 2, 'a long async run ran again after being handed back');
    // Handed back by the drain, not found orphaned by the restart (that would say RUNTIME_RESTARTED).
    assert.equal(r.attempts?.[0]?.errorCode, 'SHUTTING_DOWN', 'its first attempt says the node shut down');
  }
  // The service's own count: each acknowledged run ran to the end exactly once, and nothing else ran.
  const times = tallies(tallyFile);
  assert.deepEqual([...times.keys()].sort(), [...acknowledged].sort());
  for (const [id, n] of times) assert.equal(n, 1, `run ${id} ran to the end ${n} times`);
});

test('SIGKILL in the middle of a drain loses nothing acknowledged', async () => {
  const tally = path.join(killedDir, 'tally.txt');
  const { call } = await cliKeyFor(killedDir);
  // A grace far longer than the test: the kill always lands during the drain.
  const env = { RUNLET_MAX_WORKERS_PER_SERVICE: '2', RUNLET_SHUTDOWN_GRACE_SECONDS: '600' };
  const first = await startServerProcess({ dataDir: killedDir, env });
  killedChildren.push(first.child);
  const acknowledged: string[] = [];
  for (const seconds of [30, 30, 0.2, 0.2, 0.2]) {
    const res = await call(first.url, '/run_async/tally', { seconds, file: tally });
    assert.equal(res.status, 200);
    acknowledged.push(((await res.json()) as { request_id: string }).request_id);
  }
  const status = async (base: string, id: string) => ((await (await call(base, `/request/${id}`)).json()) as Record).status;
  await waitFor(async () => ((await status(first.url, acknowledged[0]!)) === 'running' && (await status(first.url, acknowledged[1]!)) === 'running') || undefined, 30_000, 'the long runs to be running');

  first.child.kill('SIGTERM');
  await waitFor(async () => ((await call(first.url, '/provision-request', {})).status === 503 ? true : undefined), 10_000, 'the node to be draining');
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  const second = await startServerProcess({ dataDir: killedDir, env });
  killedChildren.push(second.child);
  for (const id of acknowledged) {
    const r = (await (await call(second.url, `/result/${id}?timeout=60`)).json()) as Record & { errorCode: string | null };
    // The long runs were cut by the kill (tally declares no retries): they end failed, and say why.
    if (acknowledged.indexOf(id) < 2) assert.deepEqual([r.status, r.errorCode], ['failed', 'RUNTIME_RESTARTED']);
    else assert.equal(r.status, 'completed', `queued run ${id} ran after the restart`);
  }
  const times = tallies(tally);
  for (const id of acknowledged.slice(2)) assert.equal(times.get(id), 1, `run ${id} ran to the end once`);
  for (const id of acknowledged.slice(0, 2)) assert.equal(times.get(id), undefined, `the interrupted run ${id} never reached its end`);
});
