/**
 * The floor: the least a gateway must do to run a service in a warm worker. A bare Fastify
 * route that forwards the request body to a worker of the same echo service Runlet runs
 * (started by the same `WorkerProcess.start`, answering over the same keep-alive undici
 * client on its unix socket), with the same one-call-per-worker discipline and the same
 * number of workers as Runlet's pool, and records nothing: no auth, no store, no logs.
 *
 * With `FLOOR_STORE_DIR` set it also records each call as Runlet's sync fast path does, and
 * nothing else: the same SQLite store code writes the run as started before the call and its
 * end after it. That prices durability alone, apart from the rest of Runlet's work.
 *
 * Run as a process of its own: `node --import tsx floor-gateway.ts <servicesDir> <serviceId> <workers>`;
 * prints `{"floor":"<url>","workerPids":[...]}` on stdout when it listens.
 */
import Fastify from 'fastify';
import { attemptRowOf } from '../../packages/server/src/engine/attempts.js';
import { newRequestId } from '../../packages/server/src/ids.js';
import { openStore } from '../../packages/server/src/store/open-store.js';
import { discoverServices } from '../../packages/server/src/workers/service-spec.js';
import { WorkerProcess } from '../../packages/server/src/workers/worker-process.js';

const [servicesDir, serviceId, workerCount] = process.argv.slice(2);
if (!servicesDir || !serviceId) {
  console.error('usage: floor-gateway.ts <servicesDir> <serviceId> [workers]');
  process.exit(2);
}
const spec = discoverServices(servicesDir).services.find((s) => s.id === serviceId);
if (!spec) throw new Error(`no service "${serviceId}" in ${servicesDir}`);

const workers = await Promise.all(
  Array.from({ length: Number(workerCount ?? 4) }, () => WorkerProcess.start({ spec, accountId: 'floor', env: {}, startTimeoutMs: 30_000 })),
);

/** One call at a time per worker; callers past the free workers wait in FIFO order. */
const idle = [...workers];
const waiting: ((w: WorkerProcess) => void)[] = [];
const acquire = (): Promise<WorkerProcess> | WorkerProcess => idle.pop() ?? new Promise((resolve) => waiting.push(resolve));
const release = (w: WorkerProcess) => {
  const next = waiting.shift();
  if (next) next(w);
  else idle.push(w);
};

const storeDir = process.env.FLOOR_STORE_DIR;
const store = storeDir ? await openStore({ dataDir: storeDir, database: undefined, databasePoolSize: 1 }) : undefined;
const accountId = store ? (await store.defaultAccount()).id : '';
const NODE = 'floor';

/** Runlet's two writes of a sync run that finds a worker free: recorded as running, then ended. */
async function recorded(body: Buffer, contentType: string, call: () => Promise<{ status: number; type?: string; body: Buffer }>) {
  if (!store) return call();
  const now = Date.now();
  const run = await store.createRun({
    id: newRequestId(now), accountId, keyId: null, serviceId: serviceId!, method: 'POST', path: '', query: null, mode: 'sync',
    input: body, inputContentType: contentType, requestHeaders: {}, correlationId: null, createdAt: now, nodeId: NODE,
    leaseExpiresAt: now + 30_000, startedAt: now,
  });
  const answer = await call();
  const outcome = { status: 'completed' as const, completedAt: Date.now(), responseStatus: answer.status, responseContentType: answer.type ?? null, responseBody: answer.body };
  await store.completeRun(run.id, outcome, NODE, attemptRowOf(run, outcome, NODE, null));
  return answer;
}

const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post(`/run/${serviceId}`, async (request, reply) => {
  const contentType = request.headers['content-type'] ?? 'application/octet-stream';
  const answer = await recorded(request.body as Buffer, contentType, async () => {
    const worker = await acquire();
    try {
      const res = await worker.request({ method: 'POST', path: '/', headers: { 'content-type': contentType }, body: request.body as Buffer });
      const type = res.headers['content-type'];
      return { status: res.statusCode, type: typeof type === 'string' ? type : undefined, body: Buffer.from(await res.body.arrayBuffer()) };
    } finally {
      release(worker);
    }
  });
  if (answer.type) reply.header('content-type', answer.type);
  return reply.code(answer.status).send(answer.body);
});

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address() as { port: number };
process.stdout.write(JSON.stringify({ floor: `http://127.0.0.1:${address.port}`, workerPids: workers.map((w) => w.pid) }) + '\n');

const stop = async () => {
  await app.close();
  await store?.close();
  await Promise.all(workers.map((w) => w.stop(1000)));
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
