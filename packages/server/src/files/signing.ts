import { createHmac, timingSafeEqual } from 'node:crypto';
import { readOrCreateSecretFile } from '../secrets/secret-file.js';

/** The methods a signed URL may be for: PUT the bytes (upload), GET them (download). */
export type SignedMethod = 'PUT' | 'GET';

export type Verdict = { ok: true } | { ok: false; reason: 'invalid' | 'expired' | 'wrong_method'; signedFor?: SignedMethod };

/**
 * Capability URLs: an HMAC-SHA256 over the file id, the method and the expiry, with a secret
 * only the runtime knows. Changing any of the three (or the signature) breaks the MAC; the
 * expiry is checked only once the MAC holds, so a forged expiry reads as tampering.
 */
export class UrlSigner {
  constructor(private readonly secret: Buffer) {
    if (secret.length < 32) throw new Error('the file URL secret must be at least 32 bytes');
  }

  /** The signature for `fileId` and `method`, valid until `expiresAt` (ms; the URL carries seconds). */
  sign(fileId: string, method: SignedMethod, expiresAtSeconds: number): string {
    return createHmac('sha256', this.secret).update(`${fileId}\n${method}\n${expiresAtSeconds}`).digest('base64url');
  }

  /** The query string of a signed URL. */
  query(fileId: string, method: SignedMethod, expiresAtMs: number): string {
    const expires = Math.floor(expiresAtMs / 1000);
    return `expires=${expires}&sig=${this.sign(fileId, method, expires)}`;
  }

  verify(fileId: string, method: SignedMethod, expires: unknown, sig: unknown, nowMs = Date.now()): Verdict {
    if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires) || typeof sig !== 'string') return { ok: false, reason: 'invalid' };
    const seconds = Number(expires);
    if (!this.matches(fileId, method, seconds, sig)) {
      // The same URL signed for the other method: a mistake of method, not a forgery.
      const other: SignedMethod = method === 'PUT' ? 'GET' : 'PUT';
      if (this.matches(fileId, other, seconds, sig)) return { ok: false, reason: 'wrong_method', signedFor: other };
      return { ok: false, reason: 'invalid' };
    }
    if (seconds * 1000 <= nowMs) return { ok: false, reason: 'expired' };
    return { ok: true };
  }

  private matches(fileId: string, method: SignedMethod, seconds: number, sig: string): boolean {
    const expected = Buffer.from(this.sign(fileId, method, seconds));
    const given = Buffer.from(sig);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/**
 * The secret from the configuration, else the one kept in `<dataDir>/files-secret` (created
 * on first start, readable by the runtime's user only). Several nodes sharing files must share
 * the secret: set `filesSecret` on each.
 */
export function loadFilesSecret(configured: string | undefined, dataDir: string): Buffer {
  return Buffer.from(configured ?? readOrCreateSecretFile(dataDir, 'files-secret'), 'utf8');
}
