import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Runtime } from '../runtime.js';

const Health = z.object({ status: z.literal('ok'), node: z.string(), store: z.string(), services: z.number(), activeRuns: z.number() });

/** `/healthz` (no auth, for load balancers) and `/openapi.json`. */
export function registerMetaRoutes(app: FastifyInstance, runtime: Runtime, openapi: () => object): void {
  app.get('/healthz', { config: { doc: { summary: 'Liveness and a few numbers', public: true, responses: { 200: Health } } } }, async () => ({
    status: 'ok' as const,
    node: runtime.nodeId,
    store: runtime.store.kind,
    services: runtime.registry.list().length,
    activeRuns: runtime.engine.activeCount,
  }));
  let document: object | undefined;
  app.get('/openapi.json', { config: { doc: { summary: 'This document', public: true } } }, async () => (document ??= openapi()));
}
