import type { FastifyInstance } from 'fastify';
import { LoginRequest, SessionView, SetupRequest } from '@runlet/protocol';
import type { SignedIn } from '../accounts/sessions.js';
import { RunletError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { sessionCookieOf, setSessionCookie } from './auth.js';
import { jsonBody } from './params.js';
import { sessionView } from './views.js';

/** Signing in to the dashboard: the setup link, email and password, the session, signing out. */
export function registerSessionRoutes(app: FastifyInstance, runtime: Runtime): void {
  const ttlSeconds = Math.floor(runtime.config.sessionTtlSeconds);
  const answer = (signedIn: SignedIn) => sessionView(signedIn.user, signedIn.account, signedIn.session.csrfToken);

  app.post('/auth/login', { config: { doc: docs.login } }, async (request, reply) => {
    const { email, password } = jsonBody(LoginRequest, request.body);
    const signedIn = await runtime.sessions.signIn(email, password, request.ip);
    setSessionCookie(request, reply, signedIn.cookie, ttlSeconds);
    return answer(signedIn);
  });

  app.post('/auth/setup', { config: { doc: docs.setup } }, async (request, reply) => {
    const { token, email, password } = jsonBody(SetupRequest, request.body);
    const signedIn = await runtime.sessions.completeSetup(token, email, password, request.ip);
    runtime.setupToken = undefined;
    setSessionCookie(request, reply, signedIn.cookie, ttlSeconds);
    return reply.code(201).send(answer(signedIn));
  });

  app.get('/auth/session', { config: { doc: docs.session } }, async (request) => {
    const cookie = sessionCookieOf(request);
    const found = cookie && (await runtime.sessions.describe(cookie));
    if (!found) throw new RunletError('SESSION_REQUIRED');
    return sessionView(found.user, found.account, found.csrfToken);
  });

  app.post('/auth/logout', { config: { doc: docs.logout } }, async (request, reply) => {
    const cookie = sessionCookieOf(request);
    if (cookie) {
      // Signing out is a state change too: a forged request must not end someone's session.
      await runtime.sessions.principalOf(cookie, 'POST', request.headers['x-csrf-token'] as string | undefined).then(
        () => runtime.sessions.signOut(cookie),
        (err: unknown) => {
          if (err instanceof RunletError && err.code === 'CSRF_INVALID') throw err;
        },
      );
    }
    setSessionCookie(request, reply, '', 0);
    return reply.code(204).send();
  });
}

const docs = {
  login: {
    summary: 'Sign in with email and password',
    description: 'Sets an HTTP-only session cookie; send the answer\'s csrfToken as X-CSRF-Token on every state-changing call made with it. Failed attempts are rate-limited per email and address.',
    responses: { 200: SessionView, 401: 'LOGIN_FAILED', 429: 'LOGIN_RATE_LIMITED' },
    public: true,
  },
  setup: {
    summary: 'Create the first administrator with the setup link',
    description: 'The token is the one in the link Runlet prints at start while no user exists; it works once, for a day.',
    responses: { 201: SessionView, 403: 'SETUP_LINK_INVALID' },
    public: true,
  },
  session: { summary: 'The signed-in user, their account and the CSRF token', responses: { 200: SessionView, 401: 'SESSION_REQUIRED' }, public: true },
  logout: { summary: 'Sign out: the session ends on the server too', responses: { 403: 'CSRF_INVALID' }, public: true },
} as const;
