import type { FastifyRequest } from 'fastify';
import type { Principal } from '../engine/access.js';
import { RunletError } from '../errors.js';
import type { Runtime } from '../runtime.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** A preHandler that authenticates the call and counts it against the key's rate; every route but health and the API description uses it. */
export function requireKey(runtime: Runtime) {
  return async (request: FastifyRequest): Promise<void> => {
    request.principal = await runtime.access.authenticate(request.headers.authorization);
    runtime.engine.keyRates.take(request.principal.key.id);
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new RunletError('AUTH_MISSING');
  return request.principal;
}

/** A preHandler for account-wide reads: a one-time key is handed to a third party, who may see its own run only. */
export function requireStandardKey(runtime: Runtime) {
  const authenticate = requireKey(runtime);
  return async (request: FastifyRequest): Promise<void> => {
    await authenticate(request);
    if (principalOf(request).key.kind === 'one_time') throw new RunletError('KEY_NOT_ALLOWED');
  };
}
