/**
 * The SDK's errors are recognised by a mark rather than by their class, so `instanceof` holds
 * across copies of the SDK: a service's own install, or the CommonJS copy a service outside this
 * checkout is given (see sdk-resolution.ts), each have classes of their own.
 */
const HTTP_ERROR = Symbol.for('runlet.HttpError');
const NON_RETRYABLE = Symbol.for('runlet.NonRetryableError');

function isMarked(value: unknown, mark: symbol): boolean {
  return typeof value === 'object' && value !== null && mark in value;
}

/**
 * Throw from a handler to answer with a given HTTP status and JSON body, e.g.
 * `throw new HttpError(404, { error: 'no such profile' })`.
 */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly [HTTP_ERROR] = true;

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isMarked(value, HTTP_ERROR);
  }

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
  readonly [NON_RETRYABLE] = true;

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isMarked(value, NON_RETRYABLE);
  }

  constructor(message: string, status = 500, body: unknown = { error: message }) {
    super(status, body);
    this.message = message;
  }
}
