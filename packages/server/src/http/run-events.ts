import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { RequestRecord } from '@runlet/protocol';
import { toRequestRecord } from '../engine/record.js';
import type { Runtime } from '../runtime.js';
import { principalOf, requireAccountCaller } from './auth.js';

/**
 * What a reader whose stream broke waits before connecting again (the SSE `retry:` field): long
 * enough that a restarting node is not hammered, short enough that the table is soon live again.
 */
const RECONNECT_MS = 3000;

/** `GET /runs/events`: the account's runs, each time one changes status, as Server-Sent Events. */
export function registerRunEventRoutes(app: FastifyInstance, runtime: Runtime): void {
  const open = new Set<ServerResponse>();
  // The stream never ends by itself: on shutdown it is ended, so the server need not wait to cut it.
  app.addHook('preClose', (done) => {
    for (const res of open) res.end();
    done();
  });

  app.get('/runs/events', { preHandler: requireAccountCaller(runtime), config: { doc } }, async (request, reply) => {
    const { accountId } = principalOf(request);
    reply.hijack();
    const res = reply.raw;
    // Headers set on the reply so far (CORS among them) go out with the stream's own.
    res.writeHead(200, { ...(reply.getHeaders() as OutgoingHttpHeaders), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
    res.socket?.setNoDelay(true);
    res.write(`retry: ${RECONNECT_MS}\n\n`);
    open.add(res);
    const unfollow = runtime.runFeed.follow(accountId, (run) => {
      res.write(`event: run\ndata: ${JSON.stringify(toRequestRecord(run))}\n\n`);
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), runtime.config.heartbeatSeconds * 1000);
    res.once('close', () => {
      clearInterval(heartbeat);
      unfollow();
      open.delete(res);
    });
  });
}

const doc = {
  summary: "The account's runs as they change",
  description:
    'Server-Sent Events: `event: run` with a request record (as `GET /runs` lists it) each time one of the account\'s runs is queued, starts, ends or is requeued for a retry, on any node (changes within 50 ms of each other told once, as the run then is). Nothing is replayed: a reader that connects (or reconnects) reads `GET /runs` for the state so far. Comments (`: keep-alive`) every 15 s; `retry:` says when to reconnect. One-time keys are refused.',
  responses: { 200: RequestRecord },
} as const;
