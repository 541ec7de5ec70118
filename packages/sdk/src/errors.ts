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
