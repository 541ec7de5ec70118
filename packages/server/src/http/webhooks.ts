import { isOneTimeKey } from '../keys/principal.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DeliveryList, WebhookDelivery, WebhookSecretResponse } from '@runlet/protocol';
import { missingRunError } from '../engine/run-record.js';
import { RunletError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import type { DeliveryAttemptRow, DeliveryRow, RunRow } from '../store/store.js';
import { newWebhookSecret } from '../webhooks/signing.js';
import { principalOf, requireCaller } from './auth.js';
import { parse, RequestIdParams } from './params.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The account's signing secret, and the webhook deliveries of a run: listed and redelivered. */
export function registerWebhookRoutes(app: FastifyInstance, runtime: Runtime): void {
  const auth = requireCaller(runtime);

  const visibleRun = async (request: FastifyRequest, id: string): Promise<RunRow> => {
    const principal = principalOf(request);
    const run = await runtime.store.getRun(id);
    if (runtime.access.canRead(principal, run)) return run;
    throw run ? new RunletError('RUN_NOT_FOUND', `No request "${id}".`) : await missingRunError(runtime.store, principal, id);
  };

  app.get('/account/webhook-secret', { preHandler: auth, config: { doc: docs.secret } }, async (request) => {
    const principal = principalOf(request);
    // A one-time key reads its own run and nothing else of the account.
    if (isOneTimeKey(principal)) throw new RunletError('KEY_NOT_ALLOWED');
    return { secret: await runtime.store.webhookSecret(principal.accountId, newWebhookSecret()) };
  });

  app.get('/request/:id/deliveries', { preHandler: auth, config: { doc: docs.list } }, async (request) => {
    const { id } = parse(RequestIdParams, request.params);
    await visibleRun(request, id);
    const deliveries = await runtime.store.listDeliveries(id);
    return { deliveries: deliveries.map(({ delivery, attempts }) => toWireDelivery(delivery, attempts)) };
  });

  app.post('/request/:id/deliveries/redeliver', { preHandler: auth, config: { doc: docs.redeliver } }, async (request) => {
    const { id } = parse(RequestIdParams, request.params);
    const run = await visibleRun(request, id);
    const now = Date.now();
    const delivery = await runtime.store.redeliver(run.id, now, now + runtime.config.webhookGiveUpSeconds * 1000);
    if (!delivery) throw new RunletError('DELIVERY_NOT_FOUND', `The request "${id}" has no completion webhook (yet): it has no X-Callback-Url, or has not ended.`, { requestId: id });
    runtime.webhooks.nudge();
    return toWireDelivery(delivery, (await runtime.store.listDeliveries(id))[0]?.attempts ?? []);
  });
}

function toWireDelivery(d: DeliveryRow, attempts: readonly DeliveryAttemptRow[]): WebhookDelivery {
  return {
    id: d.id,
    requestId: d.runId,
    url: d.url,
    status: d.status,
    createdAt: iso(d.createdAt)!,
    nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
    giveUpAt: iso(d.giveUpAt)!,
    completedAt: iso(d.completedAt),
    attempts: attempts.map((a) => ({ attempt: a.attempt, attemptedAt: iso(a.attemptedAt)!, durationMs: a.durationMs, statusCode: a.statusCode, error: a.error })),
  };
}

const docs = {
  secret: {
    summary: "The account's webhook signing secret",
    description: 'Completion webhooks are signed with it per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). Made on first use; not for one-time keys.',
    responses: { 200: WebhookSecretResponse, 403: 'KEY_NOT_ALLOWED' },
  },
  list: {
    summary: 'The completion webhook of a run, with every delivery attempt',
    description: 'Empty until the run has ended (and for runs started without X-Callback-Url).',
    responses: { 200: DeliveryList, 410: 'RUN_EXPIRED' },
  },
  redeliver: {
    summary: 'Send the completion webhook of a run again',
    description: 'Makes the delivery due now, with the same webhook-id, retried for another day on failure.',
    responses: { 200: WebhookDelivery, 404: 'DELIVERY_NOT_FOUND' },
  },
} as const;
