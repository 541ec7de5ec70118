import type { Millis } from '../types.js';

export type UserRole = 'admin' | 'member';

export interface UserRow {
  id: string;
  email: string;
  passwordHash: string;
  role: UserRole;
  accountId: string;
  createdAt: Millis;
  disabledAt: Millis | null;
}

export interface SessionRow {
  /** SHA-256 of the cookie's secret. */
  hash: string;
  userId: string;
  csrfToken: string;
  ip: string | null;
  createdAt: Millis;
  expiresAt: Millis;
}

/** An environment variable as stored: its value sealed (see secrets/sealing.ts). */
export interface EnvVarRow {
  accountId: string;
  /** null: every service of the account. */
  serviceId: string | null;
  name: string;
  sealed: string;
  updatedAt: Millis;
  updatedBy: string | null;
}

/** One change to users, keys or variables: who did what, when, from where. */
export interface AuditEvent {
  id: string;
  at: Millis;
  accountId: string | null;
  /** "user ann@example.com", "key cwk-abc123", "cli". */
  actor: string;
  ip: string | null;
  /** `key.create`, `env.set`, `user.create`, ... */
  action: string;
  target: string | null;
  details: Record<string, unknown> | null;
}

export interface AccountSummary {
  id: string;
  name: string;
  createdAt: Millis;
  users: number;
}
