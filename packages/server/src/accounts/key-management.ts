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
  constructor(private readonly store: Store) {}

  async create(actor: Actor, accountId: string, request: NewKeyRequest): Promise<{ secret: string; record: ApiKeyRecord }> {
    if (request.expiresAt !== null && request.expiresAt <= Date.now()) throw new RunletError('INVALID_REQUEST', 'The expiry must be in the future.');
    const { key, record } = await createKey(this.store, accountId, request.kind, request.name, {
      expiresAt: request.expiresAt,
      services: request.services,
      createdBy: actor.label,
    });
    await this.store.directory.recordAudit(
      auditEvent(actor, 'key.create', record.id, { kind: record.kind, name: record.name, prefix: record.prefix, services: record.services, expiresAt: record.expiresAt }, accountId),
    );
    return { secret: key, record };
  }

  list(accountId: string): Promise<ApiKeyRecord[]> {
    return this.store.listApiKeys(accountId);
  }

  /** By id or displayed prefix, in the caller's account only (another account's keys are unknown). */
  async revoke(actor: Actor, accountId: string, idOrPrefix: string): Promise<ApiKeyRecord> {
    const record = await this.store.revokeApiKey(accountId, idOrPrefix, Date.now());
    if (!record) throw new RunletError('KEY_NOT_FOUND', `No key "${idOrPrefix}" in this account.`);
    await this.store.directory.recordAudit(auditEvent(actor, 'key.revoke', record.id, { prefix: record.prefix, name: record.name }, accountId));
    return record;
  }
}
