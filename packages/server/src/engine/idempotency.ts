import { createHash } from 'node:crypto';
import { RunletError } from '../errors.js';
import type { IdempotencyClaim } from '../store/store.js';

/** What an idempotency key is checked against: the endpoint and everything the call asked. */
export interface IdempotentRequest {
  /** `run`, `run_async` or `provision-request`: the same key on another endpoint is another request. */
  endpoint: string;
  method: string;
  serviceId: string;
  path: string;
  query: string | null;
  body: Buffer | null;
}

/** Keys are opaque to Runlet; this bounds them to what fits a header and an index (Stripe's own bound). */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The `Idempotency-Key` header, checked; null when the call sent none. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw new RunletError('INVALID_REQUEST', 'Idempotency-Key must be 1 to 255 printable ASCII characters, without spaces, sent once.');
  }
  return header;
}

/**
 * SHA-256 over each part, length-prefixed so that no two different requests can run together
 * into the same bytes (path "a" with query "b=c" is not path "ab" with query "=c").
 */
export function fingerprintOf(r: IdempotentRequest): string {
  const hash = createHash('sha256');
  const parts: (string | Buffer)[] = [r.endpoint, r.method, r.serviceId, r.path, r.query ?? '', r.body ?? Buffer.alloc(0)];
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    hash.update(`${bytes.length}:`).update(bytes);
  }
  return hash.digest('hex');
}

/** The claim a call makes on its key now, living `hours`. */
export function claimOf(key: string, request: IdempotentRequest, hours: number, now = Date.now()): IdempotencyClaim {
  return { key, fingerprint: fingerprintOf(request), createdAt: now, expiresAt: now + hours * 3600 * 1000 };
}
