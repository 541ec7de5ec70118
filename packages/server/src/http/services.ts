import type { FastifyInstance } from 'fastify';
import { ServiceList, type ServiceDescription, type ServiceInfo } from '@runlet/protocol';
import type { Runtime } from '../runtime.js';
import type { ServiceEntry } from '../workers/service-registry.js';
import { principalOf, requireAccountCaller } from './auth.js';

/**
 * A service's schema is known once one of its workers has started; listing waits this long for
 * a cold one to tell, then answers with what the folder says, so one slow service cannot hold
 * the page.
 */
const DESCRIBE_WAIT_MS = 10_000;

/** `GET /services`: every service with its description and input schema. */
export function registerServiceRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.get('/services', { preHandler: requireAccountCaller(runtime), config: { doc } }, async (request) => {
    const accountId = principalOf(request).accountId;
    const entries = runtime.registry.list().sort((a, b) => a.spec.id.localeCompare(b.spec.id));
    return { services: await Promise.all(entries.map((e) => serviceInfo(e, accountId))), problems: runtime.registry.listProblems() };
  });
}

async function serviceInfo(entry: ServiceEntry, accountId: string): Promise<ServiceInfo> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), DESCRIBE_WAIT_MS)));
  const told: ServiceDescription | undefined = await Promise.race([entry.pool.describe(accountId).catch(() => undefined), late]);
  clearTimeout(timer);
  return {
    id: entry.spec.id,
    description: told?.description ?? entry.spec.description ?? null,
    inputSchema: told?.inputSchema ?? null,
    language: entry.spec.kind === 'sdk' ? 'typescript' : 'command',
  };
}

const doc = {
  summary: 'The services this server runs',
  description: 'Each with its description and the JSON Schema of its input, when the service declares one; and the services of the folder that cannot be loaded, with why.',
  responses: { 200: ServiceList },
} as const;
