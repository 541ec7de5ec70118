/**
 * The floor: the least a gateway must do to run a service in a warm worker. A bare Fastify
 * route that forwards the request body to a worker of the same echo service Runlet runs
 * (started by the same `WorkerProcess.start`, answering over the same keep-alive undici
 * client on its unix socket), with the same one-call-per-worker discipline and the same
 * number of workers as Runlet's pool, and records nothing: no auth, no store, no logs.
 *
 * With `FLOOR_STORE_DIR` set it also records each call as Runlet's sync fast path does, and
 * nothing else: the same SQLite store code writes the run as started before the call and its
 * end after it. That prices durability alone, apart from the rest of Runlet's work. (Since
 * 2026-12-07, 17:30 UTC the store journals such runs and indexes them in bulk, as the
 * `FLOOR_JOURNAL` + `FLOOR_INDEX_DIR` rows below first priced; before, each write was a
 * statement in a group commit.)
 *
 * With `FLOOR_JOURNAL` (a file) set instead, it records the same two facts as lines appended
 * to that file, the lines asked for in one turn of the event loop in one write, awaited before
 * the call and before the answer: as durable as the store's commits (in the kernel's hands,
 * so a crashed process loses nothing; `synchronous=NORMAL` does not sync each commit either),
 * with no index at all. That prices the cheapest durable record, what a journal-first store
 * design could get down to. With `FLOOR_INDEX_DIR` too, the ended runs are also written to a
 * store's tables in bulk (see `bulkIndexer`).
 *
 * Run as a process of its own: `node --import tsx floor-gateway.ts <servicesDir> <serviceId> <workers>`;
 * prints `{"floor":"<url>","workerPids":[...]}` on stdout when it listens.
 */
import { openSync, writeSync } from 'node:fs';
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

type Call = () => Promise<{ status: number; type?: string; body: Buffer }>;
type Recorder = (body: Buffer, contentType: string, call: Call) => ReturnType<Call>;

/** Runlet's two writes of a sync run that finds a worker free, with its store: recorded as running, then ended. */
async function storeRecorder(dataDir: string): Promise<Recorder> {
  const store = await openStore({ dataDir, database: undefined, databasePoolSize: 1 });
  const accountId = (await store.defaultAccount()).id;
  const node = 'floor';
  closers.push(() => store.close());
  return async (body, contentType, call) => {
    const now = Date.now();
    const run = await store.createRun({
      id: newRequestId(now), accountId, keyId: null, serviceId: serviceId!, method: 'POST', path: '', query: null, mode: 'sync',
      input: body, inputContentType: contentType, requestHeaders: {}, correlationId: null, createdAt: now, nodeId: node,
      leaseExpiresAt: now + 30_000, startedAt: now,
    });
    const answer = await call();
    const outcome = { status: 'completed' as const, completedAt: Date.now(), responseStatus: answer.status, responseContentType: answer.type ?? null, responseBody: answer.body };
    await store.completeRun(run.id, outcome, node, attemptRowOf(run, outcome, node, null));
    return answer;
  };
}

/**
 * The ended runs, written to the store's tables in bulk every 100 ms: one transaction, one
 * complete row and one attempt a run, instead of a row written as started and again as ended.
 * Prices the index a journal-first store would still keep, for lists and lookups.
 */
async function bulkIndexer(dataDir: string): Promise<(row: Record<string, unknown>) => void> {
  const store = await openStore({ dataDir, database: undefined, databasePoolSize: 1 });
  const accountId = (await store.defaultAccount()).id;
  const db = (store as unknown as { db: import('better-sqlite3').Database }).db;
  const insertRun = db.prepare(`INSERT INTO runs (id, account_id, service_id, method, path, mode, status, input, input_content_type, created_at, started_at,
    completed_at, response_status, response_content_type, response_body, node_id, attempt) VALUES (@id, '${accountId}', @serviceId, 'POST', '', 'sync', 'completed',
    @input, @inputContentType, @createdAt, @createdAt, @completedAt, @responseStatus, @responseContentType, @responseBody, 'floor', 1)`);
  const insertAttempt = db.prepare(`INSERT INTO run_attempts (run_id, attempt, status, response_status, node_id, started_at, ended_at)
    VALUES (@id, 1, 'completed', @responseStatus, 'floor', @createdAt, @completedAt)`);
  let rows: Record<string, unknown>[] = [];
  const write = db.transaction((batch: Record<string, unknown>[]) => {
    for (const row of batch) {
      insertRun.run(row);
      insertAttempt.run(row);
    }
  });
  const timer = setInterval(() => {
    const batch = rows;
    rows = [];
    if (batch.length > 0) write(batch);
  }, 100);
  closers.push(async () => {
    clearInterval(timer);
    await store.close();
  });
  return (row) => void rows.push(row);
}

/** The same two facts as lines appended to one file, a turn's lines in one write; then indexed in bulk when `index` is given. */
function journalRecorder(file: string, index?: (row: Record<string, unknown>) => void): Recorder {
  const fd = openSync(file, 'a');
  let pending: { line: string; done: () => void }[] = [];
  const flush = () => {
    const group = pending;
    pending = [];
    writeSync(fd, group.map((p) => p.line).join(''));
    for (const p of group) p.done();
  };
  const append = (record: object) =>
    new Promise<void>((done) => {
      if (pending.push({ line: JSON.stringify(record) + '\n', done }) === 1) setImmediate(flush);
    });
  return async (body, contentType, call) => {
    const now = Date.now();
    const id = newRequestId(now);
    await append({ id, serviceId, status: 'running', createdAt: now, inputContentType: contentType, input: body.toString('base64') });
    const answer = await call();
    const completedAt = Date.now();
    await append({ id, status: 'completed', completedAt, responseStatus: answer.status, responseContentType: answer.type, responseBody: answer.body.toString('base64') });
    index?.({ id, serviceId, input: body, inputContentType: contentType, createdAt: now, completedAt, responseStatus: answer.status, responseContentType: answer.type ?? null, responseBody: answer.body });
    return answer;
  };
}

const closers: (() => Promise<void>)[] = [];
const recorded: Recorder = process.env.FLOOR_STORE_DIR
  ? await storeRecorder(process.env.FLOOR_STORE_DIR)
  : process.env.FLOOR_JOURNAL
    ? journalRecorder(process.env.FLOOR_JOURNAL, process.env.FLOOR_INDEX_DIR ? await bulkIndexer(process.env.FLOOR_INDEX_DIR) : undefined)
    : (_body, _type, call) => call();

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
  await Promise.all(closers.map((close) => close()));
  await Promise.all(workers.map((w) => w.stop(1000)));
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
