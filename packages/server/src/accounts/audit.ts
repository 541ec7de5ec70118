import { timeOrderedId } from '../ids.js';
import type { AuditEvent } from '../store/store.js';

/** Who made a change, as the audit trail records it. */
export interface Actor {
  /** "user ann@example.com", "key cwk-abc123", "cli". */
  label: string;
  /** The account acted in; null for server-wide changes. */
  accountId: string | null;
  ip: string | null;
}

export function auditEvent(actor: Actor, action: string, target: string | null, details: Record<string, unknown> | null = null, accountId = actor.accountId): AuditEvent {
  const at = Date.now();
  return { id: `aud_${timeOrderedId(10, at)}`, at, accountId, actor: actor.label, ip: actor.ip, action, target, details };
}

export const CLI_ACTOR: Actor = { label: 'cli', accountId: null, ip: null };
