import type { ApiKeyRecord } from '../store/store.js';

/** A person signed in to the dashboard, as a call made with their session sees them. */
export interface SessionUser {
  id: string;
  email: string;
  role: 'admin' | 'member';
}

/** Who is calling: an account, through one of its keys or a signed-in user's session. */
export interface Principal {
  accountId: string;
  /** The key the call came with; absent for a session. */
  key?: ApiKeyRecord;
  /** The signed-in user; absent for a key. */
  user?: SessionUser;
}

/** One-time keys are handed to third parties: they may start one run and read only that one. */
export const isOneTimeKey = (principal: Principal): boolean => principal.key?.kind === 'one_time';

/** How records and the audit trail name the caller: "user ann@example.com", "key cwk-abc123". */
export function actorOf(principal: Principal): string {
  if (principal.user) return `user ${principal.user.email}`;
  const key = principal.key!;
  return `${key.kind === 'one_time' ? 'one-time key' : 'key'} ${key.prefix}`;
}

/** Whether the caller may see run `runId` of `accountId`: its own account's, and a one-time key only its own run. */
export function mayRead(principal: Principal, accountId: string, runId: string): boolean {
  return accountId === principal.accountId && (!isOneTimeKey(principal) || principal.key!.spentRunId === runId);
}
