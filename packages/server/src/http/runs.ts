import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CALLBACK_URL_HEADER, IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER, RequestIdResponse, RETAIN_SECONDS_HEADER } from '@runlet/protocol';
import { forwardedRequestHeaders } from '../engine/forwarding.js';
import { idempotencyKeyOf } from '../engine/idempotency.js';
import { isJsonType } from '../engine/record.js';
import type { RunCall } from '../engine/run-engine.js';
import { RunletError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { SERVICE_ID } from '../workers/service-spec.js';
import { principalOf, requireCaller } from './auth.js';
import { sendError } from './errors.js';
import { callerGone } from './caller-gone.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const RUN_URL = /^\/run(?:_async)?\/([^/?]+)(?:\/([^?]*))?(?:\?(.*))?$/;

/**
 * `/run/{serviceId}/{path}` (sync) and `/run_async/{serviceId}/{path}` (async), with any
 * sub-path and query string, and `/provision-request`.
 */
export function registerRunRoutes(app: FastifyInstance, runtime: Runtime): void {
  const auth = requireCaller(runtime);

  const sync = async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.headers[CALLBACK_URL_HEADER] !== undefined) {
      throw new RunletError('CALLBACK_URL_INVALID', 'X-Callback-Url is for /run_async: a sync caller gets the answer itself.');
    }
    const run = await runtime.engine.submit(principalOf(request), callFrom(request), 'sync');
    const syncLimitMs = runtime.config.syncTimeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), syncLimitMs)));
    const gone = run.replayed ? callerGone(request) : undefined;
    try {
      // A repeated idempotency key: the first call's run is not started again; its answer is.
      const answer = gone ? runtime.engine.storedAnswer(run, syncLimitMs, gone.signal) : runtime.engine.startSync(run).then((e) => e.response);
      const response = await Promise.race([answer, timedOut]);
      if (response === 'timeout') {
        const seconds = runtime.config.syncTimeoutSeconds;
        return sendError(reply, new RunletError('SYNC_TIMEOUT', `The run passed the synchronous limit of ${seconds} s; it goes on, and its result will be at /result/${run.id}.`, { requestId: run.id }));
      }
      if (run.replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return reply.code(response.status).headers(response.headers).header('x-request-id', run.id).send(response.body);
    } finally {
      clearTimeout(timer);
      gone?.settled();
    }
  };

  const async = async (request: FastifyRequest, reply: FastifyReply) => {
    const callback = request.headers[CALLBACK_URL_HEADER];
    const callbackUrl = typeof callback === 'string' ? runtime.webhooks.policy.accept(callback).href : null;
    const run = await runtime.engine.submit(principalOf(request), { ...callFrom(request), callbackUrl }, 'async');
    if (run.replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
    // A run that found a worker free has started; one queued is for any node with room.
    else if (run.status === 'queued') runtime.bus.announce('queued', run.serviceId!);
    return reply.header('x-request-id', run.id).send({ request_id: run.id });
  };

  for (const url of ['/run/:serviceId', '/run/:serviceId/*']) {
    app.route({ method: [...METHODS], url, preHandler: auth, handler: sync, config: { doc: docs.sync } });
  }
  for (const url of ['/run_async/:serviceId', '/run_async/:serviceId/*']) {
    app.route({ method: [...METHODS], url, preHandler: auth, handler: async, config: { doc: docs.async } });
  }
  app.post('/provision-request', { preHandler: auth, config: { doc: docs.provision } }, async (request, reply) => {
    const run = await runtime.engine.provision(principalOf(request), idempotencyKeyOf(request.headers[IDEMPOTENCY_KEY_HEADER]));
    if (run.replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
    return { request_id: run.id };
  });
}

/** What the caller asked to run, read from the raw URL so the sub-path reaches the service as sent. */
function callFrom(request: FastifyRequest): RunCall {
  const match = RUN_URL.exec(request.raw.url ?? '');
  const serviceId = match ? safeDecode(match[1]!) : '';
  if (!SERVICE_ID.test(serviceId)) throw new RunletError('SERVICE_NOT_FOUND', `No service "${serviceId}".`);
  const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body : null;
  const contentType = request.headers['content-type'] ?? null;
  if (body && isJsonType(contentType)) {
    try {
      JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new RunletError('INVALID_JSON', `The request body is not valid JSON: ${(err as Error).message}`);
    }
  }
  const header = (name: string) => {
    const value = request.headers[name];
    return typeof value === 'string' && value.length > 0 ? value : null;
  };
  const correlationId = header('x-correlation-id');
  if (correlationId && correlationId.length > 200) throw new RunletError('INVALID_REQUEST', 'X-Correlation-Id is longer than 200 characters.');
  return {
    serviceId,
    method: request.method,
    path: match?.[2] ?? '',
    query: match?.[3] || null,
    body,
    contentType,
    headers: forwardedRequestHeaders(request.headers),
    correlationId,
    provisionedId: header('x-provisioned-request-id') ?? undefined,
    retainSeconds: retainSecondsOf(header(RETAIN_SECONDS_HEADER)),
    idempotencyKey: idempotencyKeyOf(request.headers[IDEMPOTENCY_KEY_HEADER]),
  };
}

/** `X-Retain-Seconds`: a whole number of seconds, at least 1 (the account's period still caps it). */
function retainSecondsOf(value: string | null): number | null {
  if (value === null) return null;
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(seconds) || seconds < 1) throw new RunletError('RETAIN_INVALID');
  return seconds;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const idempotencyDoc =
  'Sent again by the same account within 24 h (idempotencyHours), answers the run it first started (the same request_id; for /run its stored answer, waiting for it if need be) with Idempotent-Replayed: true; with another request, 422 IDEMPOTENCY_KEY_REUSED.';

const runHeaders = {
  'X-Provisioned-Request-Id': 'Run under an id from POST /provision-request (used once).',
  'X-Correlation-Id': 'Passed to the service and kept in the record.',
  Accept: 'text/event-stream streams the service answer through as it is produced.',
  'X-Retain-Seconds': "Keep the run (input, result, logs) at most this many seconds after it ends; it can only shorten the account's retention.",
  'Idempotency-Key': idempotencyDoc,
};

const docs = {
  sync: {
    summary: 'Run a service and wait for its answer',
    description:
      "Records the run, calls the service, and answers with the service's own status, content type and body (streamed), plus an X-Request-Id header. After the sync limit (default 120 s) it answers 504 SYNC_TIMEOUT with the request_id; the run goes on and its result lands on /result.",
    headers: runHeaders,
    responses: { '2xx-5xx': "The service's own answer.", 504: 'SYNC_TIMEOUT, with request_id.' },
  },
  async: {
    summary: 'Start a run in the background',
    description: 'Records the run as queued and answers at once with its request_id. Runs may take up to the run limit (default 30 minutes).',
    headers: { ...runHeaders, 'X-Callback-Url': 'When the run ends, its record is POSTed here, signed per Standard Webhooks (see GET /account/webhook-secret).' },
    responses: { 200: RequestIdResponse },
  },
  provision: {
    summary: 'Hand out a request id for a later run',
    description: 'The id is used by the next run that sends it as X-Provisioned-Request-Id, once; unused ids lapse after an hour. A one-time key is spent here and may then start exactly this run.',
    headers: { 'Idempotency-Key': idempotencyDoc },
    responses: { 200: RequestIdResponse },
  },
} as const;

