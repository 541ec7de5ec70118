/**
 * Checks completion webhooks from Runlet, signed per Standard Webhooks
 * (https://www.standardwebhooks.com): `webhook-signature` holds `v1,<base64 HMAC-SHA256>` of
 * `webhook-id.webhook-timestamp.body`, keyed with the account's `whsec_` secret (from
 * `GET /account/webhook-secret`). Web Crypto only, so it runs in Node 20+ and browsers.
 */
import type { RequestRecord } from './types.js';

/** The request's headers: a `Headers`, or a plain object as Node's `req.headers` is. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far the timestamp may be from now, either way (default 5 minutes): older messages are replays. */
  toleranceSeconds?: number;
  /** The current time in ms (tests). */
  now?: number;
}

export class WebhookVerificationError extends Error {
  override name = 'WebhookVerificationError';
}

/**
 * Verifies a webhook and answers the request record it carries; throws
 * `WebhookVerificationError` when the signature, id or timestamp does not hold. Pass the body
 * exactly as received (the raw text, not re-serialised JSON).
 *
 * @example
 * app.post('/hooks/runlet', express.text({ type: '*\/*' }), async (req, res) => {
 *   const record = await verifyWebhook(process.env.RUNLET_WEBHOOK_SECRET!, req.headers, req.body);
 *   console.log(record.id, record.status);
 *   res.sendStatus(204);
 * });
 */
export async function verifyWebhook(secret: string, headers: WebhookHeaders, body: string | Uint8Array, options: VerifyWebhookOptions = {}): Promise<RequestRecord> {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
  const seconds = Number(timestamp);
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError('webhook-timestamp is not a number of seconds');
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs((options.now ?? Date.now()) / 1000 - seconds) > tolerance) throw new WebhookVerificationError('webhook-timestamp is too far from now');
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  const key = await crypto.subtle.importKey('raw', fromBase64(secret.replace(/^whsec_/, '')), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${text}`);
  // Several signatures may be sent (while a secret is rotated): one that verifies is enough.
  for (const entry of signatures.split(' ')) {
    const [version, signature] = entry.split(',', 2);
    if (version !== 'v1' || !signature) continue;
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = fromBase64(signature);
    } catch {
      continue;
    }
    // subtle.verify compares in constant time.
    if (await crypto.subtle.verify('HMAC', key, bytes, signed)) return JSON.parse(text) as RequestRecord;
  }
  throw new WebhookVerificationError('no signature matches');
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
