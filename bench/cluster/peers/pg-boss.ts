/**
 * Peer 2: the same work without Runlet, on pg-boss 10.
 *   node --import tsx bench/cluster/peers/pg-boss.ts api    <port> <databaseUrl>
 *   node --import tsx bench/cluster/peers/pg-boss.ts worker <echoUrl> <databaseUrl>
 * The API sends a job per `POST /run_async` and answers its id; `GET /result/:id` waits until the job's row in
 * `pgboss.job` reaches `completed` (or `failed`).
 */
import Fastify from 'fastify';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { echoCaller, resultPoller } from './common.js';

const [role, arg, databaseUrl] = process.argv.slice(2);
const QUEUE = 'echo';

const boss = new PgBoss({ connectionString: databaseUrl, max: 8, supervise: role === 'api', schedule: false });
boss.on('error', (err) => console.error('pg-boss', err));
await boss.start();

if (role === 'api') {
  await boss.createQueue(QUEUE);
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const waitFor = resultPoller(db, async (db, ids) => {
    const { rows } = await db.query<{ id: string; state: string }>(
      `select id::text, state::text from pgboss.job where id = any($1::uuid[]) and state in ('completed', 'failed', 'cancelled')`, [ids]);
    return new Map(rows.map((r) => [r.id, r.state]));
  });
  const app = Fastify();
  app.post('/run_async', async () => {
    const id = await boss.send(QUEUE, {});
    return { request_id: id };
  });
  app.get<{ Params: { id: string }; Querystring: { timeout?: string } }>('/result/:id', async (req, reply) => {
    const status = await waitFor(req.params.id, Number(req.query.timeout ?? 60) * 1000);
    return reply.code(status === 'pending' ? 202 : 200).send({ request_id: req.params.id, status });
  });
  await app.listen({ port: Number(arg), host: '127.0.0.1' });
  console.log('ready');
} else if (role === 'worker') {
  const callEcho = echoCaller(arg!, 8);
  // pg-boss 10 fetches by polling (at least every 0.5 s) and completes a fetched batch in one query when the handler
  // resolves; tuned: 2 pollers fetching up to 100 jobs each, each batch worked 8 at a time.
  const handler = async (jobs: PgBoss.Job<object>[]) => {
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < jobs.length) { next++; await callEcho(); }
    }));
  };
  for (let i = 0; i < 2; i++) await boss.work(QUEUE, { batchSize: 100, pollingIntervalSeconds: 0.5 }, handler);
  console.log('ready');
} else {
  throw new Error(`unknown role ${role}`);
}
