import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { RunletError } from '../errors.js';
import { randomId } from '../ids.js';
import type { Principal } from '../keys/principal.js';
import type { Account, SessionRow, Store, UserRow } from '../store/store.js';
import { auditEvent, type Actor } from './audit.js';
import { LoginLimiter } from './login-limiter.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';

export const SESSION_COOKIE = 'runlet_session';
const SETUP_LINK_MS = 24 * 3600_000;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const secret = () => randomBytes(32).toString('base64url');

/** A signed-in user: the cookie's secret (the only copy), the session and whose it is. */
export interface SignedIn {
  cookie: string;
  session: SessionRow;
  user: UserRow;
  account: Account;
}

/**
 * Sign-in with email and password, the sessions it opens, and the first-run setup link. A
 * session's cookie holds a random secret of which only a hash is stored; its CSRF token is
 * sent back in a header on every state-changing call (the cookie alone never suffices).
 */
export class Sessions {
  private readonly limiter = new LoginLimiter();

  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
  ) {}

  async signIn(email: string, password: string, ip: string): Promise<SignedIn> {
    this.limiter.check(email, ip);
    const user = await this.store.directory.findUserByEmail(email);
    // An unknown email costs the same scrypt as a wrong password: timing tells nothing.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()));
    if (!user || !ok || user.disabledAt !== null) {
      this.limiter.fail(email, ip);
      throw new RunletError('LOGIN_FAILED');
    }
    this.limiter.succeed(email, ip);
    return this.open(user, ip);
  }

  /** The session a cookie stands for, as a principal; state-changing calls must carry its CSRF token. */
  async principalOf(cookie: string, method: string, csrfHeader: string | undefined): Promise<Principal> {
    const found = await this.store.directory.findSession(sha256(cookie), Date.now());
    if (!found) throw new RunletError('AUTH_MISSING', 'The session has ended: sign in again, or send an API key.');
    if (!SAFE_METHODS.has(method) && !sameToken(csrfHeader, found.session.csrfToken)) throw new RunletError('CSRF_INVALID');
    const { user } = found;
    return { accountId: user.accountId, user: { id: user.id, email: user.email, role: user.role } };
  }

  async describe(cookie: string): Promise<{ user: UserRow; account: Account; csrfToken: string } | undefined> {
    const found = await this.store.directory.findSession(sha256(cookie), Date.now());
    if (!found) return undefined;
    const account = (await this.store.getAccount(found.user.accountId))!;
    return { user: found.user, account, csrfToken: found.session.csrfToken };
  }

  async signOut(cookie: string): Promise<void> {
    await this.store.directory.deleteSession(sha256(cookie));
  }

  /**
   * When no user exists yet: a new setup link token (it replaces any earlier one), valid for a
   * day. Answers undefined once someone has set Runlet up.
   */
  async newSetupToken(): Promise<string | undefined> {
    if ((await this.store.directory.countUsers()) > 0) return undefined;
    const token = secret();
    const now = Date.now();
    await this.store.directory.replaceSetupToken(sha256(token), now, now + SETUP_LINK_MS);
    return token;
  }

  /** Spends the setup link: creates the first administrator, in the default account, and signs them in. */
  async completeSetup(token: string, email: string, password: string, ip: string): Promise<SignedIn> {
    const account = await this.store.defaultAccount();
    const user = await newUser(email, password, 'admin', account.id);
    const actor: Actor = { label: `user ${email}`, accountId: account.id, ip };
    const created = await this.store.directory.createFirstAdmin(user, sha256(token), Date.now(), auditEvent(actor, 'user.create', user.id, { email, role: 'admin', via: 'setup link' }));
    if (!created) throw new RunletError('SETUP_LINK_INVALID');
    return this.open(user, ip);
  }

  private async open(user: UserRow, ip: string): Promise<SignedIn> {
    const cookie = secret();
    const now = Date.now();
    const session: SessionRow = { hash: sha256(cookie), userId: user.id, csrfToken: secret(), ip, createdAt: now, expiresAt: now + this.ttlMs };
    await this.store.directory.createSession(session);
    const account = (await this.store.getAccount(user.accountId))!;
    return { cookie, session, user, account };
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameToken(given: string | undefined, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A user row ready to insert, its password hashed. */
export async function newUser(email: string, password: string, role: UserRow['role'], accountId: string): Promise<UserRow> {
  return { id: `usr_${randomId(16)}`, email, passwordHash: await hashPassword(password), role, accountId, createdAt: Date.now(), disabledAt: null };
}
