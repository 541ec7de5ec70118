/**
 * Throw from a handler to answer with a given HTTP status and JSON body, e.g.
 * `throw new HttpError(404, { error: 'no such profile' })`.
 */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly body: unknown = { error: `HTTP ${status}` },
  ) {
    super(typeof body === 'object' && body && 'error' in body ? String((body as { error: unknown }).error) : `HTTP ${status}`);
  }
}

/**
 * Throw from a handler to fail this run for good: the answer carries the `x-runlet-no-retry`
 * header, so the runtime does not retry it whatever the service's retry policy says (bad input
 * that no second attempt will fix, a charge that must not run twice).
 *
 * @example
 * if (!profile) throw new NonRetryableError('no such profile', 404);
 */
export class NonRetryableError extends HttpError {
  override name = 'NonRetryableError';
  constructor(message: string, status = 500, body: unknown = { error: message }) {
    super(status, body);
    this.message = message;
  }
}
