import type { AccountView, AuditEventView, EnvVarView as WireEnvVar, KeyView, SessionView, UserView } from '@runlet/protocol';
import type { EnvVarView } from '../accounts/env-vars.js';
import type { Account, ApiKeyRecord, AuditEvent, UserRow } from '../store/store.js';

/** Store records as the management API shows them: times as ISO strings, never a secret or a hash. */
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export const keyView = (k: ApiKeyRecord): KeyView => ({
  id: k.id,
  name: k.name,
  kind: k.kind,
  prefix: k.prefix,
  createdAt: iso(k.createdAt)!,
  createdBy: k.createdBy,
  lastUsedAt: iso(k.lastUsedAt),
  useCount: k.useCount,
  expiresAt: iso(k.expiresAt),
  services: k.services,
  spentAt: iso(k.spentAt),
  spentRunId: k.spentRunId,
  revokedAt: iso(k.revokedAt),
});

export const envVarView = (v: EnvVarView): WireEnvVar => ({ ...v, updatedAt: iso(v.updatedAt)! });

export const userView = (u: UserRow): UserView => ({ id: u.id, email: u.email, role: u.role, accountId: u.accountId, createdAt: iso(u.createdAt)! });

export const accountView = (a: Account & { users?: number }): AccountView => ({ id: a.id, name: a.name, createdAt: iso(a.createdAt)!, ...(a.users !== undefined && { users: a.users }) });

export const auditView = (e: AuditEvent): AuditEventView => ({ ...e, at: iso(e.at)! });

export const sessionView = (user: UserRow, account: Account, csrfToken: string): SessionView => ({
  user: { id: user.id, email: user.email, role: user.role },
  account: { id: account.id, name: account.name },
  csrfToken,
});
