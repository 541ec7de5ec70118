import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EnvScopeQuery, EnvVarList, EnvVarView, PutEnvVarRequest } from '@runlet/protocol';
import { z } from 'zod';
import type { Runtime } from '../runtime.js';
import { actorFrom, principalOf, requireAccountCaller } from './auth.js';
import { jsonBody, parse } from './params.js';
import { envVarView } from './views.js';

const NameParams = z.object({ name: z.string().min(1).max(200) });

/**
 * The account's environment variables, for every service or one (`?service=`): listed with
 * masked values, set (create or replace) and deleted. Values are write-only once set.
 */
export function registerEnvRoutes(app: FastifyInstance, runtime: Runtime): void {
  const auth = requireAccountCaller(runtime);
  const scopeOf = (request: FastifyRequest) => parse(EnvScopeQuery, request.query).service ?? null;

  app.get('/env', { preHandler: auth, config: { doc: docs.list } }, async (request) => ({
    variables: (await runtime.envVars.list(principalOf(request).accountId, scopeOf(request))).map(envVarView),
  }));

  app.put('/env/:name', { preHandler: auth, config: { doc: docs.put } }, async (request) => {
    const { name } = parse(NameParams, request.params);
    const { value, service } = jsonBody(PutEnvVarRequest, request.body);
    return envVarView(await runtime.envVars.set(actorFrom(request), principalOf(request).accountId, service ?? null, name, value));
  });

  app.delete('/env/:name', { preHandler: auth, config: { doc: docs.remove } }, async (request, reply) => {
    const { name } = parse(NameParams, request.params);
    await runtime.envVars.remove(actorFrom(request), principalOf(request).accountId, scopeOf(request), name);
    return reply.code(204).send();
  });
}

const docs = {
  list: { summary: "The account's environment variables (masked)", query: { service: 'a service id: its own variables; without: those for every service' }, responses: { 200: EnvVarList } },
  put: {
    summary: 'Set an environment variable',
    description: "Sealed with AES-256-GCM at rest. The account's warm workers are replaced, so the next run sees the new value; runs in flight keep the old one.",
    responses: { 200: EnvVarView, 400: 'ENV_NAME_INVALID' },
  },
  remove: { summary: 'Delete an environment variable', query: { service: 'the scope it was set in' }, responses: { 404: 'ENV_NOT_FOUND' } },
} as const;
