import type { KeyKind } from '@runlet/protocol';
import { RunletError } from '../errors.js';
import { createKey } from '../keys/key-admin.js';
import type { ApiKeyRecord, Millis, Store } from '../store/store.js';
import { auditEvent, type Actor } from './audit.js';

export interface NewKeyRequest {
  kind: KeyKind;
  name: string | null;
  services: string[] | null;
  expiresAt: Millis | null;
}

/** Keys as people manage them (dashboard, API, CLI): every change is in the audit trail. */
export class KeyManagement {
  constructor(
    private readonly store: Store,
    /** Told of each key revoked, so every node stops taking it at once. */
    private readonly onRevoked: (keyId: string) => void = () => {},
  ) {}

  async create(actor: Actor, accountId: string, request: NewKeyRequest): Promise<{ secret: string; record: ApiKeyRecord }> {
    if (request.expiresAt !== null && request.expiresAt <= Date.now()) throw new RunletError('INVALID_REQUEST', 'The expiry must be in the future.');
    const { key, record } = await createKey(
      this.store,
      accountId,
      request.kind,
      request.name,
      { expiresAt: request.expiresAt, services: request.services, createdBy: actor.label },
      (made) => auditEvent(actor, 'key.create', made.id, { kind: made.kind, name: made.name, prefix: made.prefix, services: made.services, expiresAt: made.expiresAt }, accountId),
    );
    return { secret: key, record };
  }

  list(accountId: string): Promise<ApiKeyRecord[]> {
    return this.store.listApiKeys(accountId);
  }

  /** By id or displayed prefix, in the caller's account only (another account's keys are unknown). */
  async revoke(actor: Actor, accountId: string, idOrPrefix: string): Promise<ApiKeyRecord> {
    // The store records the event (with the key's id) only when this call is the one that revoked it.
    const record = await this.store.revokeApiKey(accountId, idOrPrefix, Date.now(), auditEvent(actor, 'key.revoke', idOrPrefix, null, accountId));
    if (!record) throw new RunletError('KEY_NOT_FOUND', `No key "${idOrPrefix}" in this account.`);
    this.onRevoked(record.id);
    return record;
  }
}
