import type { FastifyInstance } from 'fastify';
import { AccountView, AuditList, AuditQuery, CreateAccountRequest, CreateUserRequest, UserView } from '@runlet/protocol';
import { z } from 'zod';
import { createAccount, createUser } from '../accounts/administration.js';
import { RunletError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { actorFrom, principalOf, requireSession } from './auth.js';
import { jsonBody, parse } from './params.js';
import { accountView, auditView, userView } from './views.js';

/** What administrators do, signed in: accounts, users, and the audit trail of every change. */
export function registerAdminRoutes(app: FastifyInstance, runtime: Runtime): void {
  const admin = requireSession(runtime, 'admin');
  const { store } = runtime;

  app.get('/accounts', { preHandler: admin, config: { doc: docs.accounts } }, async () => ({
    accounts: (await store.directory.listAccounts()).map(accountView),
  }));

  app.post('/accounts', { preHandler: admin, config: { doc: docs.createAccount } }, async (request, reply) => {
    const { name } = jsonBody(CreateAccountRequest, request.body);
    return reply.code(201).send(accountView(await createAccount(store, actorFrom(request), name)));
  });

  app.get('/users', { preHandler: admin, config: { doc: docs.users } }, async () => ({ users: (await store.directory.listUsers()).map(userView) }));

  app.post('/users', { preHandler: admin, config: { doc: docs.createUser } }, async (request, reply) => {
    const body = jsonBody(CreateUserRequest, request.body);
    const user = await createUser(store, actorFrom(request), { ...body, accountId: body.accountId ?? principalOf(request).accountId });
    return reply.code(201).send(userView(user));
  });

  app.get('/audit', { preHandler: admin, config: { doc: docs.audit } }, async (request) => {
    const query = parse(AuditQuery, request.query);
    const limit = query.limit ?? 100;
    const events = await store.directory.listAudit({ limit, accountId: query.accountId, before: cursorOf(query.cursor) });
    const last = events.at(-1);
    return { events: events.map(auditView), nextCursor: events.length === limit && last ? `${last.at}.${last.id}` : null };
  });
}

function cursorOf(cursor: string | undefined): { at: number; id: string } | undefined {
  if (!cursor) return undefined;
  const match = /^(\d+)\.(aud_[a-z0-9]+)$/.exec(cursor);
  if (!match) throw new RunletError('INVALID_REQUEST', 'The cursor is not one this server gave out.');
  return { at: Number(match[1]), id: match[2]! };
}

const docs = {
  accounts: { summary: 'Every account (administrators)', responses: { 200: z.object({ accounts: z.array(AccountView) }), 403: 'ADMIN_REQUIRED' } },
  createAccount: { summary: 'Create an account (administrators)', responses: { 201: AccountView, 403: 'ADMIN_REQUIRED' } },
  users: { summary: 'Every user (administrators)', responses: { 200: z.object({ users: z.array(UserView) }), 403: 'ADMIN_REQUIRED' } },
  createUser: { summary: 'Create a user in an account (administrators)', responses: { 201: UserView, 409: 'EMAIL_TAKEN', 404: 'ACCOUNT_NOT_FOUND' } },
  audit: {
    summary: 'The audit trail: every change to users, keys and variables, newest first (administrators)',
    query: { limit: '1 to 500 (default 100)', cursor: 'nextCursor of the previous page', accountId: 'one account only' },
    responses: { 200: AuditList, 403: 'ADMIN_REQUIRED' },
  },
} as const;
