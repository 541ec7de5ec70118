import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RequestRecord } from '@runlet/protocol';
import { toRequestRecord } from '../engine/record.js';
import type { Runtime } from '../runtime.js';
import { principalOf, requireCaller } from './auth.js';
import { parse, RequestIdParams } from './params.js';

/** `POST /cancel/{id}`, and the same as `DELETE /request/{id}`. */
export function registerCancelRoutes(app: FastifyInstance, runtime: Runtime): void {
  const auth = requireCaller(runtime);
  const cancel = async (request: FastifyRequest) => {
    const { id } = parse(RequestIdParams, request.params);
    return toRequestRecord(await runtime.engine.cancel(principalOf(request), id));
  };
  app.post('/cancel/:id', { preHandler: auth, config: { doc } }, cancel);
  app.delete('/request/:id', { preHandler: auth, config: { doc } }, cancel);
}

const doc = {
  summary: 'Cancel a run',
  description:
    'A provisioned or queued run never starts; a running one has its worker stopped (SIGTERM, then SIGKILL after 2 s), on whichever node runs it. The run ends `cancelled`, its `error` saying which key cancelled it and when; `/result` and `/logs` readers see the end at once, and a sync caller waiting on it gets 409 RUN_CANCELLED. Cancelling a cancelled run answers its record again; a run that has already ended otherwise answers 409 RUN_ALREADY_ENDED with its `status` in `details`.',
  responses: { 200: RequestRecord, 409: 'RUN_ALREADY_ENDED' },
} as const;
