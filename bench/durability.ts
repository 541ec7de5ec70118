/**
 * What recording a run costs, apart from the rest of Runlet: the sync load of `npm run bench`
 * against the bare floor, the floor that also writes each call to a SQLite store as Runlet's
 * sync path does (two writes: started, ended), the floor that appends the same two facts to a
 * journal file instead (the cheapest durable record), that journal with the ended runs also
 * written to the store's tables in bulk every 100 ms (what a journal-first store would still
 * index), and Runlet itself, taking turns for `ROUNDS` rounds (default 2). Prints req/s, p50
 * and the gateway's CPU per request of each.
 *
 *   node --import tsx bench/durability.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKey, startFloor, startRunlet, warmPoolSettings, type Proc } from './lib/processes.js';
import { buildServicesDir, FIXTURES } from './lib/services-dir.js';
import { measureSync, SYNC_BODY, type SyncSettings } from './scenarios/sync.js';

const WORKERS = 4;
const rounds = Number(process.env.ROUNDS ?? 2);
const load: SyncSettings = {
  connections: 32,
  warmupMs: 10_000,
  durationMs: 10_000,
  body: SYNC_BODY,
};

const tmp = mkdtempSync(path.join(os.tmpdir(), 'runlet-durability-'));
const running: Proc[] = [];
try {
  const { dir: servicesDir } = buildServicesDir(tmp, 0);
  const dataDir = path.join(tmp, 'data');
  const key = createKey(dataDir);
  const [floor, recording, journaling, indexing, runlet] = await Promise.all([
    startFloor(FIXTURES, 'echo', WORKERS),
    startFloor(FIXTURES, 'echo', WORKERS, { store: path.join(tmp, 'floor-store') }),
    startFloor(FIXTURES, 'echo', WORKERS, { journal: path.join(tmp, 'floor-journal.ndjson') }),
    startFloor(FIXTURES, 'echo', WORKERS, { journal: path.join(tmp, 'floor-journal-2.ndjson'), index: path.join(tmp, 'floor-index') }),
    startRunlet({ dataDir, servicesDir, settings: warmPoolSettings(WORKERS) }),
  ]);
  running.push(floor, recording, journaling, indexing, runlet);
  const targets = [
    { name: 'floor', target: floor },
    { name: 'floor + store', target: recording },
    { name: 'floor + journal', target: journaling },
    { name: 'floor + journal + bulk index', target: indexing },
    { name: 'Runlet', target: { url: runlet.url, pid: runlet.pid, key } },
  ];
  console.log('| round | gateway | req/s | p50 (ms) | gateway CPU ms/req | workers CPU ms/req | of the floor |');
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (let round = 1; round <= rounds; round++) {
    let floorRate = 0;
    for (const { name, target } of targets) {
      const f = await measureSync(target, load);
      floorRate ||= f.rps;
      const share = ((100 * f.rps) / floorRate).toFixed(1);
      console.log(`| ${round} | ${name} | ${f.rps.toFixed(0)} | ${f.latency.p50.toFixed(2)} | ${f.gatewayCpuMsPerRequest.toFixed(3)} | ${f.workersCpuMsPerRequest.toFixed(3)} | ${share} % |`);
    }
  }
} finally {
  await Promise.all(running.map((p) => p.stop()));
  rmSync(tmp, { recursive: true, force: true });
}
