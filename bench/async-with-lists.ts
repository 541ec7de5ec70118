/**
 * Not part of `npm run bench`: a batch of async runs while a dashboard-like client lists the
 * account's runs (`GET /runs?limit=50`) every POLL_MS (default 100; 0 for none), as the
 * dashboard's live table does while runs arrive. Prints completed runs/s and the gateway's CPU a
 * run. RUNS (default 9000) after 6000 runs of warm-up, on the embedded store.
 *
 *   POLL_MS=100 node --import tsx bench/async-with-lists.ts
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad } from './lib/loadgen.js';
import { cpuMsOf, createKey, startRunlet, warmPoolSettings } from './lib/processes.js';
import { buildServicesDir } from './lib/services-dir.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'runlet-lists-'));
const { dir } = buildServicesDir(tmp, 0);
const dataDir = path.join(tmp, 'data');
const key = createKey(dataDir);
const server = await startRunlet({ dataDir, servicesDir: dir, settings: warmPoolSettings(4) });
const batch = (count: number) => runLoad({ kind: 'async-batch', url: server.url, key, serviceId: 'noop', body: '{}', count, connections: 32, resultTimeoutMs: 120_000 });
await batch(6000);

const pollMs = Number(process.env.POLL_MS ?? 100);
let lists = 0;
const list = () =>
  fetch(`${server.url}/runs?limit=50`, { headers: { authorization: `Bearer ${key}` } }).then(async (res) => {
    await res.text();
    lists++;
  });
const timer = pollMs > 0 ? setInterval(() => void list(), pollMs) : undefined;
const cpuBefore = cpuMsOf(server.pid);
const { result } = await batch(Number(process.env.RUNS ?? 9000));
const cpuMs = cpuMsOf(server.pid) - cpuBefore;
clearInterval(timer);
console.log(
  `lists every ${pollMs || '-'} ms (${lists} lists): ${result.completed} completed, ${Math.round(result.completedPerSecond)} runs/s, gateway CPU ${(cpuMs / result.completed).toFixed(3)} ms a run`,
);
await server.stop();
