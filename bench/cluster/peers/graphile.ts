/**
 * Peer 1: the same work without Runlet, on graphile-worker 0.17.
 *   node --import tsx bench/cluster/peers/graphile.ts api    <port> <databaseUrl>
 *   node --import tsx bench/cluster/peers/graphile.ts worker <echoUrl> <databaseUrl>
 * The API adds a job per `POST /run_async` and answers its id; `GET /result/:id` waits until the job is gone from
 * the jobs table (graphile-worker deletes a job when it succeeds; a failed one stays with `last_error`).
 */
import Fastify from 'fastify';
import pg from 'pg';
import { makeWorkerUtils, run } from 'graphile-worker';
import { echoCaller, resultPoller } from './common.js';

const [role, arg, databaseUrl] = process.argv.slice(2);

if (role === 'api') {
  const utils = await makeWorkerUtils({ connectionString: databaseUrl });
  await utils.migrate();
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const waitFor = resultPoller(db, async (db, ids) => {
    const { rows } = await db.query<{ id: string; last_error: string | null }>(
      'select id::text, last_error from graphile_worker._private_jobs where id = any($1::bigint[])', [ids]);
    const left = new Map(rows.map((r) => [r.id, r.last_error]));
    const done = new Map<string, string>();
    for (const id of ids) {
      if (!left.has(id)) done.set(id, 'completed');
      else if (left.get(id)) done.set(id, 'failed');
    }
    return done;
  });
  const app = Fastify();
  app.post('/run_async', async () => {
    const job = await utils.addJob('echo', {});
    return { request_id: String(job.id) };
  });
  app.get<{ Params: { id: string }; Querystring: { timeout?: string } }>('/result/:id', async (req, reply) => {
    const status = await waitFor(req.params.id, Number(req.query.timeout ?? 60) * 1000);
    return reply.code(status === 'pending' ? 202 : 200).send({ request_id: req.params.id, status });
  });
  await app.listen({ port: Number(arg), host: '127.0.0.1' });
  console.log('ready');
} else if (role === 'worker') {
  const callEcho = echoCaller(arg!, 8);
  await run({
    connectionString: databaseUrl,
    concurrency: 8,
    pollInterval: 1000, // new jobs arrive by LISTEN/NOTIFY; polling is only the fallback
    noHandleSignals: false,
    preset: {
      worker: {
        preparedStatements: true,
        localQueue: { size: 32 }, // batched fetch: lock 32 jobs per query
        completeJobBatchDelay: 2, // batched completion: one query per 2 ms of completions
        failJobBatchDelay: 2,
      },
    },
    taskList: {
      echo: async () => {
        await callEcho();
      },
    },
  });
  console.log('ready');
} else {
  throw new Error(`unknown role ${role}`);
}
