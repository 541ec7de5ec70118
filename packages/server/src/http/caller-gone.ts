import type { FastifyRequest } from 'fastify';

/**
 * A signal that aborts if the caller hangs up while the handler still waits on its behalf.
 * `settled()` stops listening: the request's `close` comes at the end of every request, and
 * aborting then would build an AbortError (a DOMException, stack trace included) for nothing.
 */
export function callerGone(request: FastifyRequest): { signal: AbortSignal; settled(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  request.raw.once('close', abort);
  return { signal: controller.signal, settled: () => void request.raw.off('close', abort) };
}
