/**
 * Not part of `npm run bench`: sync calls with big bodies (a CSV or a spreadsheet posted whole),
 * where what a gateway does per byte counts rather than per call. The floor and Runlet take
 * turns for `ROUNDS` rounds (default 2), each a closed loop of `CONNECTIONS` (default 4) calls
 * of `echo` with a JSON body of about `BODY_BYTES` (default 1 MB), which echo answers in full.
 * Prints req/s, p50, the gateway's CPU per call and Runlet's share of the floor.
 *
 *   node --import tsx bench/big-bodies.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKey, startFloor, startRunlet, warmPoolSettings, type Proc } from './lib/processes.js';
import { buildServicesDir, FIXTURES } from './lib/services-dir.js';
import { measureSync, type SyncSettings } from './scenarios/sync.js';

const WORKERS = 4;
const rounds = Number(process.env.ROUNDS ?? 2);
const bytes = Number(process.env.BODY_BYTES ?? 1_000_000);
const load: SyncSettings = {
  connections: Number(process.env.CONNECTIONS ?? 4),
  warmupMs: 5_000,
  durationMs: 10_000,
  body: JSON.stringify({ name: 'bench', blob: 'y'.repeat(Math.max(0, bytes - 30)) }),
};

const tmp = mkdtempSync(path.join(os.tmpdir(), 'runlet-big-bodies-'));
const running: Proc[] = [];
try {
  const { dir: servicesDir } = buildServicesDir(tmp, 0);
  const dataDir = path.join(tmp, 'data');
  const key = createKey(dataDir);
  const [floor, runlet] = await Promise.all([startFloor(FIXTURES, 'echo', WORKERS), startRunlet({ dataDir, servicesDir, settings: warmPoolSettings(WORKERS) })]);
  running.push(floor, runlet);
  console.log(`sync calls of echo with a ${load.body.length}-byte body, ${load.connections} connections`);
  console.log('| round | gateway | req/s | p50 (ms) | gateway CPU ms/call | of the floor |');
  console.log('| ---: | --- | ---: | ---: | ---: | ---: |');
  for (let round = 1; round <= rounds; round++) {
    const f = await measureSync(floor, load);
    const r = await measureSync({ url: runlet.url, pid: runlet.pid, key }, load);
    for (const [name, m] of [['floor', f], ['Runlet', r]] as const) {
      console.log(`| ${round} | ${name} | ${m.rps.toFixed(1)} | ${m.latency.p50.toFixed(1)} | ${m.gatewayCpuMsPerRequest.toFixed(2)} | ${((100 * m.rps) / f.rps).toFixed(1)} % |`);
    }
  }
} finally {
  await Promise.all(running.map((p) => p.stop()));
  rmSync(tmp, { recursive: true, force: true });
}
