import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Runtime } from '../runtime.js';
import { VERSION } from '../version.js';

const Health = z.object({ status: z.enum(['ok', 'draining']), version: z.string(), node: z.string(), store: z.string(), services: z.number(), activeRuns: z.number() });

/** `/healthz` (no auth, for load balancers: 503 `draining` once the node shuts down) and `/openapi.json`. */
export function registerMetaRoutes(app: FastifyInstance, runtime: Runtime, openapi: () => object): void {
  const doc = { summary: 'Liveness and a few numbers; 503 while the node shuts down', public: true, responses: { 200: Health, 503: Health } };
  app.get('/healthz', { config: { doc } }, async (_request, reply) => {
    const accepting = runtime.engine.isAccepting;
    return reply.code(accepting ? 200 : 503).send({
      status: accepting ? ('ok' as const) : ('draining' as const),
      version: VERSION,
      node: runtime.nodeId,
      store: runtime.store.kind,
      services: runtime.registry.list().length,
      activeRuns: runtime.engine.activeCount,
    });
  });
  let document: object | undefined;
  app.get('/openapi.json', { config: { doc: { summary: 'This document', public: true } } }, async () => (document ??= openapi()));
}
