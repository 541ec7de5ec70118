import type { KeyKind } from '@runlet/protocol';
import { newKeyId } from '../ids.js';
import type { ApiKeyRecord, AuditEvent, Millis, NewApiKey, Store } from '../store/store.js';
import { displayPrefix, generateApiKey, hashApiKey } from './api-keys.js';

export interface KeyOptions {
  expiresAt?: Millis | null;
  services?: string[] | null;
  createdBy?: string | null;
}

/** Creates a key for an account; the secret is in the answer and nowhere else. */
export async function createKey(
  store: Store,
  accountId: string,
  kind: KeyKind,
  name: string | null,
  options: KeyOptions = {},
  auditOf?: (key: NewApiKey) => AuditEvent,
): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = generateApiKey(kind);
  const row: NewApiKey = { id: newKeyId(), accountId, kind, name, hash: hashApiKey(key), prefix: displayPrefix(key), createdAt: Date.now(), ...options };
  const record = await store.createApiKey(row, auditOf?.(row));
  return { key, record };
}
