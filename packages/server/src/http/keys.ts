import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CreatedKey, CreateKeyRequest, KeyList, MintOneTimeKeyRequest, RevokedKey } from '@runlet/protocol';
import type { NewKeyRequest } from '../accounts/key-management.js';
import { RunletError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { actorFrom, principalOf, requireAccountCaller } from './auth.js';
import { jsonBody, parse, RequestIdParams } from './params.js';
import { keyView } from './views.js';

/** One-time keys minted over the API live an hour unless asked otherwise: long enough to hand over, short enough to lapse unused. */
const ONE_TIME_DEFAULT_SECONDS = 3600;

/** API keys: list, create (standard or one-time), revoke; with a standard key or a signed-in session. */
export function registerKeyRoutes(app: FastifyInstance, runtime: Runtime): void {
  const auth = requireAccountCaller(runtime);

  app.get('/keys', { preHandler: auth, config: { doc: docs.list } }, async (request) => ({
    keys: (await runtime.keys.list(principalOf(request).accountId)).map(keyView),
  }));

  app.post('/keys', { preHandler: auth, config: { doc: docs.create } }, async (request, reply) => {
    const body = jsonBody(CreateKeyRequest, request.body);
    const wanted = { kind: body.kind, name: body.name ?? null, services: body.services ?? null, expiresAt: expiryOf(body) };
    return reply.code(201).send(await create(request, wanted));
  });

  app.post('/keys/one-time', { preHandler: auth, config: { doc: docs.mint } }, async (request, reply) => {
    const body = jsonBody(MintOneTimeKeyRequest, request.body);
    const wanted = {
      kind: 'one_time' as const,
      name: body.name ?? null,
      services: body.service ? [body.service] : null,
      expiresAt: expiryOf(body) ?? Date.now() + ONE_TIME_DEFAULT_SECONDS * 1000,
    };
    return reply.code(201).send(await create(request, wanted));
  });

  app.delete('/keys/:id', { preHandler: auth, config: { doc: docs.revoke } }, async (request) => {
    const { id } = parse(RequestIdParams, request.params);
    return { key: keyView(await runtime.keys.revoke(actorFrom(request), principalOf(request).accountId, id)) };
  });

  const create = async (request: FastifyRequest, wanted: NewKeyRequest): Promise<CreatedKey> => {
    const { secret, record } = await runtime.keys.create(actorFrom(request), principalOf(request).accountId, withinCaller(request, wanted));
    return { key: keyView(record), secret };
  };
}

/**
 * A key never mints a key that can do more than itself: a key limited to some services makes
 * keys for (some of) those only, and an expiring key none that outlive it.
 */
function withinCaller(request: FastifyRequest, wanted: NewKeyRequest): NewKeyRequest {
  const caller = principalOf(request).key;
  if (!caller) return wanted;
  let { services, expiresAt } = wanted;
  if (caller.services) {
    services ??= caller.services;
    const beyond = services.filter((s) => !caller.services!.includes(s));
    if (beyond.length > 0) throw new RunletError('KEY_SERVICE_NOT_ALLOWED', `This key may not make keys for ${beyond.map((s) => `"${s}"`).join(', ')}.`);
  }
  if (caller.expiresAt !== null) expiresAt = Math.min(expiresAt ?? Infinity, caller.expiresAt);
  return { ...wanted, services, expiresAt };
}

function expiryOf(body: { expiresAt?: string; expiresInSeconds?: number }): number | null {
  if (body.expiresAt && body.expiresInSeconds) throw new RunletError('INVALID_REQUEST', 'Give expiresAt or expiresInSeconds, not both.');
  if (body.expiresAt) return Date.parse(body.expiresAt);
  return body.expiresInSeconds ? Date.now() + body.expiresInSeconds * 1000 : null;
}

const docs = {
  list: { summary: "The account's API keys (never their secrets)", responses: { 200: KeyList, 403: 'KEY_NOT_ALLOWED' } },
  create: {
    summary: 'Create an API key',
    description: 'A `cwk-` (standard) or `cwotk-` (one-time) key, optionally limited to some services and expiring. The secret is in this answer only.',
    responses: { 201: CreatedKey, 400: 'INVALID_REQUEST', 403: 'KEY_SERVICE_NOT_ALLOWED' },
  },
  mint: {
    summary: 'Mint a one-time key',
    description: 'For handing to a browser or a third party: it starts exactly one run (of `service`, when given), then reads only that run; it lapses after an hour unless told otherwise.',
    responses: { 201: CreatedKey, 403: 'KEY_NOT_ALLOWED' },
  },
  revoke: { summary: 'Revoke a key, by id or displayed prefix; it is refused at once', responses: { 200: RevokedKey, 404: 'KEY_NOT_FOUND' } },
} as const;
