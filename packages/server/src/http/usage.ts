import type { FastifyInstance } from 'fastify';
import { UsageReport, UsageWindow } from '@runlet/protocol';
import { z } from 'zod';
import { summarizeUsage, USAGE_MAX_RUNS, usageSince } from '../engine/usage.js';
import type { Runtime } from '../runtime.js';
import { principalOf, requireAccountCaller } from './auth.js';
import { parse } from './params.js';

const UsageQuery = z.object({ window: UsageWindow.default('day') });

/** `GET /usage?window=day|week`: per service, runs per hour, p50/p95 duration and error rate. */
export function registerUsageRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.get('/usage', { preHandler: requireAccountCaller(runtime), config: { doc } }, async (request) => {
    const { window } = parse(UsageQuery, request.query);
    const now = Date.now();
    const timings = await runtime.store.runTimings(principalOf(request).accountId, usageSince(window, now), USAGE_MAX_RUNS);
    return summarizeUsage(window, now, timings);
  });
}

const doc = {
  summary: "The account's usage per service",
  description: 'Over the last day (24 hours) or week (168 hours), hours aligned to the clock.',
  query: { window: 'day (default) or week' },
  responses: { 200: UsageReport },
} as const;
