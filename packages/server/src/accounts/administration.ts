import { RunletError } from '../errors.js';
import type { Account, Store, UserRow } from '../store/store.js';
import { auditEvent, type Actor } from './audit.js';
import { newUser } from './sessions.js';

/** Accounts and users, as administrators (and `runlet users create`) make them. */
export async function createUser(store: Store, actor: Actor, input: { email: string; password: string; role: UserRow['role']; accountId: string }): Promise<UserRow> {
  if (!(await store.getAccount(input.accountId))) throw new RunletError('ACCOUNT_NOT_FOUND', `No account "${input.accountId}".`);
  const user = await newUser(input.email, input.password, input.role, input.accountId);
  const created = await store.directory.createUser(user, auditEvent(actor, 'user.create', user.id, { email: user.email, role: user.role }, user.accountId));
  if (!created) throw new RunletError('EMAIL_TAKEN');
  return user;
}

export async function createAccount(store: Store, actor: Actor, name: string): Promise<Account> {
  const account = await store.createAccount(name);
  await store.directory.recordAudit(auditEvent(actor, 'account.create', account.id, { name }, account.id));
  return account;
}
