import { z } from 'zod';

/**
 * The management API behind the dashboard's Advanced tab: sign-in, API keys, environment
 * variables, users, accounts and the audit trail. Times are ISO 8601 strings.
 */

const Email = z.string().trim().toLowerCase().max(254).pipe(z.email());
const Password = z.string().min(8, 'at least 8 characters').max(1024);
const ServiceIdText = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/i, 'a service id');

export const UserRole = z.enum(['admin', 'member']);

export const UserView = z.object({ id: z.string(), email: z.string(), role: UserRole, accountId: z.string(), createdAt: z.string() });
export type UserView = z.infer<typeof UserView>;

export const AccountView = z.object({ id: z.string(), name: z.string(), createdAt: z.string(), users: z.number().int().optional() });
export type AccountView = z.infer<typeof AccountView>;

/** `GET /auth/session`, and the answer to sign-in and setup: send `csrfToken` as `X-CSRF-Token`. */
export const SessionView = z.object({
  user: z.object({ id: z.string(), email: z.string(), role: UserRole }),
  account: z.object({ id: z.string(), name: z.string() }),
  csrfToken: z.string(),
});
export type SessionView = z.infer<typeof SessionView>;

export const LoginRequest = z.object({ email: Email, password: z.string().min(1).max(1024) }).strict();
export const SetupRequest = z.object({ token: z.string().min(1).max(200), email: Email, password: Password }).strict();

export const KeyView = z.object({
  id: z.string(),
  name: z.string().nullable(),
  kind: z.enum(['standard', 'one_time']),
  /** The first characters of the key, to recognise it by. */
  prefix: z.string(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  useCount: z.number().int(),
  expiresAt: z.string().nullable(),
  /** The only services it may start runs of; null for every service. */
  services: z.array(z.string()).nullable(),
  spentAt: z.string().nullable(),
  spentRunId: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
export type KeyView = z.infer<typeof KeyView>;

export const KeyList = z.object({ keys: z.array(KeyView) });
export const RevokedKey = z.object({ key: KeyView });

/** The one answer that holds the secret: it is never shown again. */
export const CreatedKey = z.object({ key: KeyView, secret: z.string() });
export type CreatedKey = z.infer<typeof CreatedKey>;

const Expiry = {
  /** When the key stops working (ISO 8601), or... */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  /** ...how many seconds from now. */
  expiresInSeconds: z.number().int().positive().max(10 * 365 * 24 * 3600).optional(),
};

export const CreateKeyRequest = z
  .object({
    name: z.string().trim().min(1).max(100).optional(),
    kind: z.enum(['standard', 'one_time']).default('standard'),
    services: z.array(ServiceIdText).min(1).max(100).optional(),
    ...Expiry,
  })
  .strict();
export type CreateKeyRequest = z.input<typeof CreateKeyRequest>;

/** `POST /keys/one-time`: a key for one run, by default for one hour. */
export const MintOneTimeKeyRequest = z
  .object({ name: z.string().trim().min(1).max(100).optional(), service: ServiceIdText.optional(), ...Expiry })
  .strict();
export type MintOneTimeKeyRequest = z.input<typeof MintOneTimeKeyRequest>;

export const EnvVarView = z.object({
  name: z.string(),
  /** null: every service of the account. */
  service: z.string().nullable(),
  /** Never the value: it is write-only once set. */
  maskedValue: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string().nullable(),
});
export type EnvVarView = z.infer<typeof EnvVarView>;

export const EnvVarList = z.object({ variables: z.array(EnvVarView) });
export const PutEnvVarRequest = z.object({ value: z.string(), service: ServiceIdText.optional() }).strict();
export const EnvScopeQuery = z.object({ service: ServiceIdText.optional() }).strict();

export const CreateUserRequest = z
  .object({
    email: Email,
    password: Password,
    role: UserRole.default('member'),
    /** The account the user works in; default: the administrator's own. */
    accountId: z.string().min(1).max(100).optional(),
  })
  .strict();

export const CreateAccountRequest = z.object({ name: z.string().trim().min(1).max(100) }).strict();

export const AuditEventView = z.object({
  id: z.string(),
  at: z.string(),
  accountId: z.string().nullable(),
  actor: z.string(),
  ip: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditEventView = z.infer<typeof AuditEventView>;

export const AuditList = z.object({ events: z.array(AuditEventView), nextCursor: z.string().nullable() });
export const AuditQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).optional(), cursor: z.string().max(200).optional(), accountId: z.string().max(100).optional() }).strict();
