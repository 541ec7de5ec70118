/** When a request that failed on its way is sent again, and after how long. */

/** The runtime's own refusals that say nothing was carried out and to try again shortly. */
const RETRYABLE_RUNTIME_CODES = new Set(['STORE_UNAVAILABLE', 'SHUTTING_DOWN']);
/** The longest `Retry-After` honoured: a longer one is the runtime's to ask, not the client's to sit through. */
const MAX_RETRY_AFTER_MS = 30_000;

/** Exponential: 250 ms, 500 ms, 1 s, ... up to 5 s. */
export function backoff(attempt: number): number {
  return Math.min(5000, 250 * 2 ** Math.max(0, attempt - 1));
}

/**
 * How long to wait before sending `res`'s request again, or `undefined` when `res` is the
 * answer. Two kinds of answer are tried again: a 502/503/504 from something between the client
 * and the runtime (a proxy, a load balancer), which carries neither the runtime's error mark nor
 * a run's `X-Request-Id`; and the runtime's own 503 refusing a request it did not carry out (its
 * store out of reach, or the node shutting down), after the `Retry-After` it names.
 */
export function retryDelay(res: Response, attempt: number): number | undefined {
  const runtimeCode = res.headers.get('x-runlet-error');
  if (![502, 503, 504].includes(res.status) || res.headers.has('x-request-id')) return undefined;
  if (runtimeCode === null) return backoff(attempt);
  if (res.status !== 503 || !RETRYABLE_RUNTIME_CODES.has(runtimeCode)) return undefined;
  const seconds = Number(res.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : backoff(attempt);
}
