/**
 * Not part of `npm run bench`: a batch of async runs of `noop` while another client does, every
 * EVERY_MS (default 100; 0 for nothing), what a busy account's other users do:
 *
 * - `BESIDE=lists` (the default): lists the account's runs (`GET /runs?limit=50`), as the
 *   dashboard's live table does while runs arrive;
 * - `BESIDE=flaky`: starts a run of the `flaky-status` fixture that answers 503 and is retried;
 * - `BESIDE=feed`: follows the account's runs on `GET /runs/events` all along, as the dashboard
 *   does (EVERY_MS does not apply).
 *
 * Prints completed runs/s and the gateway's CPU a run. RUNS (default 9000) after 6000 runs of
 * warm-up, on the embedded store.
 *
 *   BESIDE=flaky EVERY_MS=50 node --import tsx bench/async-beside.ts
 */
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad } from './lib/loadgen.js';
import { cpuMsOf, createKey, startRunlet, warmPoolSettings } from './lib/processes.js';
import { FIXTURES } from './lib/services-dir.js';

const beside = process.env.BESIDE ?? 'lists';
if (beside !== 'lists' && beside !== 'flaky' && beside !== 'feed') throw new Error(`BESIDE is lists, flaky or feed, not "${beside}"`);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'runlet-beside-'));
const servicesDir = path.join(tmp, 'services');
mkdirSync(servicesDir);
for (const file of ['noop.ts', 'flaky-status.ts']) symlinkSync(path.join(FIXTURES, file), path.join(servicesDir, file));
const dataDir = path.join(tmp, 'data');
const key = createKey(dataDir);
const server = await startRunlet({ dataDir, servicesDir, settings: warmPoolSettings(4) });
const batch = (count: number) => runLoad({ kind: 'async-batch', url: server.url, key, serviceId: 'noop', body: '{}', count, connections: 32, resultTimeoutMs: 120_000 });
await batch(6000);

const auth = { authorization: `Bearer ${key}` };
const other = () =>
  beside === 'lists'
    ? fetch(`${server.url}/runs?limit=50`, { headers: auth })
    : fetch(`${server.url}/run_async/flaky-status`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"status":503}' });
const everyMs = beside === 'feed' ? 0 : Number(process.env.EVERY_MS ?? 100);
let done = 0;
const timer = everyMs > 0 ? setInterval(() => void other().then(async (res) => (await res.text(), done++)), everyMs) : undefined;
const feed = new AbortController();
if (beside === 'feed') {
  const res = await fetch(`${server.url}/runs/events`, { headers: { ...auth, accept: 'text/event-stream' }, signal: feed.signal });
  void (async () => {
    for await (const chunk of res.body!) done += (chunk as Uint8Array).length;
  })().catch(() => {});
}
const cpuBefore = cpuMsOf(server.pid);
const { result } = await batch(Number(process.env.RUNS ?? 9000));
const cpuMs = cpuMsOf(server.pid) - cpuBefore;
clearInterval(timer);
feed.abort();
const besideDone = beside === 'feed' ? `${done} bytes streamed` : `every ${everyMs || '-'} ms, ${done} done`;
console.log(`${beside} (${besideDone}): ${result.completed} completed, ${Math.round(result.completedPerSecond)} runs/s, gateway CPU ${(cpuMs / result.completed).toFixed(3)} ms a run`);
await server.stop();
