import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { RUNTIME_ERROR_HEADER } from '@runlet/protocol';
import { RunletError } from '../errors.js';
import { storeFailureOf } from '../store/store-failure.js';

/** Sends a runtime error: its status, its JSON body, and the header that marks it as Runlet's own. */
export function sendError(reply: FastifyReply, err: RunletError): FastifyReply {
  for (const [name, value] of Object.entries(err.extra.headers ?? {})) reply.header(name, value);
  if (err.extra.requestId) reply.header('x-request-id', err.extra.requestId);
  return reply.code(err.status).header(RUNTIME_ERROR_HEADER, err.code).type('application/json').send(err.toBody());
}

/** Fastify's own failures, in the catalogue's words. */
function fromFastify(err: FastifyError): RunletError {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RunletError('BODY_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // Raised for a Content-Type header that does not parse (e.g. "csv"); runs take any valid type.
      return new RunletError('UNSUPPORTED_MEDIA_TYPE', 'The Content-Type header is not a valid media type (type/subtype).');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new RunletError('INVALID_JSON');
    default:
      if (err.validation) return new RunletError('INVALID_REQUEST', err.message);
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new RunletError('INVALID_REQUEST', err.message);
      return new RunletError('INTERNAL');
  }
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const err = error instanceof RunletError ? error : (storeFailureOf(error) ?? fromFastify(error));
    if (err.code === 'INTERNAL') request.log.error({ err: error }, 'unhandled error');
    else if (err.code === 'STORE_UNAVAILABLE') request.log.error({ err: error }, 'the store failed a request');
    return sendError(reply, err);
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, new RunletError('ROUTE_NOT_FOUND', `No endpoint ${request.method} ${request.url.split('?')[0]}.`)));
}
