import { hash, randomBytes } from 'node:crypto';
import { KEY_PREFIXES, type KeyKind } from '@runlet/protocol';

/** 32 random bytes: a key is a bearer secret, so it carries a full 256 bits. */
export function generateApiKey(kind: KeyKind): string {
  return KEY_PREFIXES[kind] + randomBytes(32).toString('base64url');
}

/**
 * Keys are high-entropy random secrets, so one SHA-256 is enough to store them safely (a slow
 * password hash buys nothing against a 256-bit secret and would cost every request).
 */
export function hashApiKey(key: string): string {
  // The one-shot form: a third of the time of a Hash object, and it runs on every request.
  return hash('sha256', key, 'hex');
}

/** What a listing shows of a key: its prefix and the first characters of its secret. */
export function displayPrefix(key: string): string {
  const dash = key.indexOf('-');
  return key.slice(0, dash + 1 + 6);
}

/** Accepts `Bearer KEY` (the seed) and a bare `KEY` (both official clients). */
export function keyFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  const match = /^bearer\s+(.+)$/i.exec(trimmed);
  const key = (match ? match[1]! : trimmed).trim();
  return key.length > 0 ? key : undefined;
}
