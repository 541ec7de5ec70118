/**
 * Not part of `npm run bench`: the CPU one `echo` worker spends per call when calls come back
 * to back, and when they come with a pause between them (as when the gateway is slower), to
 * show how much of a worker's cost per call is waking up. `node --import tsx bench/worker-gaps.ts`
 * (`CALLS=N`, `GAPS=0,1,5`).
 */
import { cpuMsOf } from './lib/processes.js';
import { FIXTURES } from './lib/services-dir.js';
import { discoverServices } from '../packages/server/src/workers/service-spec.js';
import { outputLinesOf, WorkerProcess } from '../packages/server/src/workers/worker-process.js';

const calls = Number(process.env.CALLS ?? 2000);
const gaps = (process.env.GAPS ?? '0,1,5').split(',').map(Number);
const spec = discoverServices(FIXTURES).services.find((s) => s.id === 'echo')!;
const worker = await WorkerProcess.start({ spec, accountId: 'bench', env: {}, startTimeoutMs: 30_000 });
const body = Buffer.from(JSON.stringify({ name: 'bench', items: [1, 2, 3] }));
let n = 0;

async function call(): Promise<void> {
  const requestId = String(++n);
  const res = await worker.request({ method: 'POST', path: '/', headers: { 'content-type': 'application/json', 'x-runlet-request-id': requestId }, body });
  await res.body.arrayBuffer();
  await worker.callEnded(requestId, 1000, outputLinesOf(res.headers));
}

for (let i = 0; i < 500; i++) await call();
for (const gap of gaps) {
  const cpu = cpuMsOf(worker.pid!);
  for (let i = 0; i < calls; i++) {
    await call();
    if (gap > 0) await new Promise((r) => setTimeout(r, gap));
  }
  console.log(`pause ${gap} ms between calls: worker CPU ${((cpuMsOf(worker.pid!) - cpu) / calls).toFixed(3)} ms per call`);
}
await worker.stop(1000);
