import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../accounts/audit.js';
import { SESSION_COOKIE } from '../accounts/sessions.js';
import { RunletError } from '../errors.js';
import { actorOf, isOneTimeKey, type Principal } from '../keys/principal.js';
import type { Runtime } from '../runtime.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * A preHandler that authenticates the call: an API key in `Authorization` (the API's way), else
 * the dashboard's session cookie, whose state-changing calls must also carry its CSRF token. A
 * key wins over a cookie: a call made with a key is never a forged one.
 */
export function requireCaller(runtime: Runtime) {
  return async (request: FastifyRequest): Promise<void> => {
    const cookie = sessionCookieOf(request);
    request.principal =
      request.headers.authorization || !cookie
        ? await runtime.access.authenticate(request.headers.authorization)
        : await runtime.sessions.principalOf(cookie, request.method, headerOf(request, 'x-csrf-token'));
    // Every caller's calls count against its rate: a key's, or a signed-in user's.
    runtime.engine.keyRates.take(request.principal.key?.id ?? request.principal.user!.id);
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new RunletError('AUTH_MISSING');
  return request.principal;
}

/** For account-wide reads and management: a one-time key is handed to a third party, who may see its own run only. */
export function requireAccountCaller(runtime: Runtime) {
  const authenticate = requireCaller(runtime);
  return async (request: FastifyRequest): Promise<void> => {
    await authenticate(request);
    if (isOneTimeKey(principalOf(request))) throw new RunletError('KEY_NOT_ALLOWED');
  };
}

/** For what only people do (users, accounts, the audit trail): a session, and with `admin`, an administrator's. */
export function requireSession(runtime: Runtime, role: 'admin' | 'member' = 'member') {
  return async (request: FastifyRequest): Promise<void> => {
    const cookie = sessionCookieOf(request);
    if (!cookie || request.headers.authorization) throw new RunletError('SESSION_REQUIRED');
    request.principal = await runtime.sessions.principalOf(cookie, request.method, headerOf(request, 'x-csrf-token'));
    if (role === 'admin' && request.principal.user?.role !== 'admin') throw new RunletError('ADMIN_REQUIRED');
  };
}

/** The caller as the audit trail records them. */
export function actorFrom(request: FastifyRequest): Actor {
  const principal = principalOf(request);
  return { label: actorOf(principal), accountId: principal.accountId, ip: request.ip };
}

export function sessionCookieOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/** HTTP-only, SameSite=Lax (a link from elsewhere still opens the dashboard signed in; a cross-site POST carries no cookie). */
export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number): void {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  reply.header('set-cookie', `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure}`);
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
