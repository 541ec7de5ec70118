import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isTerminal, RequestRecord } from '@runlet/protocol';
import { z } from 'zod';
import { fullRequestRecord, missingRunError } from '../engine/run-record.js';
import { RunletError } from '../errors.js';
import type { RunWithAttempts } from '../store/store.js';
import type { Runtime } from '../runtime.js';
import { principalOf, requireCaller } from './auth.js';
import { parse, RequestIdParams } from './params.js';
import { callerGone } from './caller-gone.js';

/**
 * `timeout` is seconds from the Python client (at most 110 a poll) and milliseconds from the
 * TypeScript client (e.g. 600000): no real poll waits half an hour in seconds, so a value up
 * to 1800 is read as seconds and a larger one as milliseconds.
 */
export const SECONDS_UP_TO = 1800;
const MAX_WAIT_MS = SECONDS_UP_TO * 1000;

export function waitMsOf(timeout: number | undefined, defaultSeconds: number): number {
  if (timeout === undefined) return defaultSeconds * 1000;
  return Math.min(timeout <= SECONDS_UP_TO ? timeout * 1000 : timeout, MAX_WAIT_MS);
}

const ResultQuery = z.object({ timeout: z.coerce.number().nonnegative().optional() });

/** Thrown by `/result`'s vetting of the run it waits for: the caller may not see it. */
const NOT_VISIBLE = Symbol('not visible');

/** `/result/{id}` (long-poll until the run ends) and `/request/{id}` (the record, now). */
export function registerResultRoutes(app: FastifyInstance, runtime: Runtime): void {
  const auth = requireCaller(runtime);

  /** The error for a run this caller may not see: another account's run is as unknown as a missing one. */
  const notVisible = async (request: FastifyRequest, id: string, found: RunWithAttempts | undefined): Promise<RunletError> =>
    found ? new RunletError('RUN_NOT_FOUND', `No request "${id}".`) : missingRunError(runtime.store, principalOf(request), id);

  app.get('/result/:id', { preHandler: auth, config: { doc: docs.result } }, async (request, reply) => {
    const { id } = parse(RequestIdParams, request.params);
    const { timeout } = parse(ResultQuery, request.query);
    const gone = callerGone(request);
    // The wait's own first read vets the run: one read fewer than looking before waiting.
    let first: RunWithAttempts | undefined;
    const vet = (found: RunWithAttempts | undefined) => {
      first = found;
      if (!runtime.access.canRead(principalOf(request), found?.run)) throw NOT_VISIBLE;
    };
    let last: RunWithAttempts | undefined;
    try {
      last = await runtime.engine.waitForEnd(id, waitMsOf(timeout, runtime.config.resultDefaultWaitSeconds), gone.signal, vet);
    } catch (err) {
      if (err !== NOT_VISIBLE) throw err;
      throw await notVisible(request, id, first);
    } finally {
      gone.settled();
    }
    // Purged while we waited: the record as first seen is all there is.
    const found = last ?? first!;
    if (isTerminal(found.run.status)) return fullRequestRecord(found);
    const pending = new RunletError('RUN_RESULT_PENDING', `The run is ${found.run.status}; ask again later.`, { requestId: id });
    return reply.code(pending.status).header('x-runlet-error', pending.code).send({ ...pending.toBody(), record: fullRequestRecord(found) });
  });

  app.get('/request/:id', { preHandler: auth, config: { doc: docs.request } }, async (request) => {
    const { id } = parse(RequestIdParams, request.params);
    const found = await runtime.store.getRunRecord(id);
    if (!runtime.access.canRead(principalOf(request), found?.run)) throw await notVisible(request, id, found);
    return fullRequestRecord(found!);
  });
}

const docs = {
  result: {
    summary: 'Wait for a run to finish',
    description: `Long-polls: answers 200 with the request record as soon as the run ends, or 408 RUN_RESULT_PENDING (with the record so far) when \`timeout\` passes first. \`timeout\` up to ${SECONDS_UP_TO} is seconds, larger is milliseconds; without it the wait is a few seconds.`,
    query: { timeout: 'seconds (<= 1800) or milliseconds (> 1800)' },
    responses: { 200: RequestRecord, 408: 'RUN_RESULT_PENDING', 410: 'RUN_EXPIRED' },
  },
  request: {
    summary: 'The request record, at any time',
    responses: { 200: RequestRecord, 410: 'RUN_EXPIRED' },
  },
} as const;
