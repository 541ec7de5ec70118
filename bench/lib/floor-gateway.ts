/**
 * The floor: the least a gateway must do to run a service in a warm worker. A bare Fastify
 * route that forwards the request body to a worker of the same echo service Runlet runs
 * (started by the same `WorkerProcess.start`, answering over the same keep-alive undici
 * client on its unix socket), with the same one-call-per-worker discipline and the same
 * number of workers as Runlet's pool, and records nothing: no auth, no store, no logs.
 *
 * Run as a process of its own: `node --import tsx floor-gateway.ts <servicesDir> <serviceId> <workers>`;
 * prints `{"floor":"<url>","workerPids":[...]}` on stdout when it listens.
 */
import Fastify from 'fastify';
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

const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post(`/run/${serviceId}`, async (request, reply) => {
  const worker = await acquire();
  try {
    const res = await worker.request({
      method: 'POST',
      path: '/',
      headers: { 'content-type': request.headers['content-type'] ?? 'application/octet-stream' },
      body: request.body as Buffer,
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    const type = res.headers['content-type'];
    if (type) reply.header('content-type', type);
    return reply.code(res.statusCode).send(body);
  } finally {
    release(worker);
  }
});

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address() as { port: number };
process.stdout.write(JSON.stringify({ floor: `http://127.0.0.1:${address.port}`, workerPids: workers.map((w) => w.pid) }) + '\n');

const stop = async () => {
  await app.close();
  await Promise.all(workers.map((w) => w.stop(1000)));
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
