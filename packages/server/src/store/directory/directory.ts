import type { Row } from '../rows.js';
import type { Millis } from '../types.js';
import { sql, type SqlPort, type Statement } from './sql-port.js';
import type { AccountSummary, AuditEvent, EnvVarRow, SessionRow, UserRole, UserRow } from './types.js';

export type * from './types.js';

const AUDIT_INSERT = 'INSERT INTO audit_events (id, at, account_id, actor, ip, action, target, details)';
const auditValues = (e: AuditEvent) => [e.id, e.at, e.accountId, e.actor, e.ip, e.action, e.target, e.details ? JSON.stringify(e.details) : null];

/** The insert of one audit event, for a backend to run inside a transaction of its own. */
export const auditStatement = (e: AuditEvent): Statement => sql(`${AUDIT_INSERT} VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ...auditValues(e));

/** Records `event` only if `condition` (SQL with its own `?` values) holds when the batch runs. */
const auditIf = (event: AuditEvent, condition: string, ...params: unknown[]): Statement =>
  sql(`${AUDIT_INSERT} SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE ${condition}`, ...auditValues(event), ...params);

const USER_COLUMNS = 'u.id, u.email, u.password_hash, u.role, u.account_id, u.created_at, u.disabled_at';

/**
 * Users, sessions, setup links, environment variables, the audit trail and server settings:
 * the same SQL on SQLite and PostgreSQL through a `SqlPort`. Every change that is audited is
 * written in one transaction with its audit event, so neither is ever kept without the other.
 */
export class Directory {
  constructor(private readonly db: SqlPort) {}

  // users

  async countUsers(): Promise<number> {
    const [row] = await this.db.all('SELECT COUNT(*) AS n FROM users');
    return Number(row!.n);
  }

  /** Answers false when the email is taken. */
  async createUser(user: UserRow, audit: AuditEvent): Promise<boolean> {
    const [inserted] = await this.db.batch([
      sql(
        `INSERT INTO users (id, email, password_hash, role, account_id, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING`,
        user.id, user.email, user.passwordHash, user.role, user.accountId, user.createdAt,
      ),
      auditIf(audit, 'EXISTS (SELECT 1 FROM users WHERE id = ?)', user.id),
    ]);
    return inserted === 1;
  }

  /**
   * Creates the first administrator with a setup link: spends the link and adds the user in one
   * transaction, only while the link is unused and unexpired and no user exists yet.
   */
  async createFirstAdmin(user: UserRow, tokenHash: string, now: Millis, audit: AuditEvent): Promise<boolean> {
    const [spent, inserted] = await this.db.batch([
      sql(
        `UPDATE auth_tokens SET used_at = ? WHERE hash = ? AND purpose = 'setup' AND used_at IS NULL AND expires_at > ?
           AND NOT EXISTS (SELECT 1 FROM users)`,
        now, tokenHash, now,
      ),
      sql(
        `INSERT INTO users (id, email, password_hash, role, account_id, created_at)
         SELECT ?, ?, ?, 'admin', ?, ? WHERE EXISTS (SELECT 1 FROM auth_tokens WHERE hash = ? AND used_at = ?)
           AND NOT EXISTS (SELECT 1 FROM users)`,
        user.id, user.email, user.passwordHash, user.accountId, user.createdAt, tokenHash, now,
      ),
      auditIf(audit, 'EXISTS (SELECT 1 FROM users WHERE id = ?)', user.id),
    ]);
    return spent === 1 && inserted === 1;
  }

  async findUserByEmail(email: string): Promise<UserRow | undefined> {
    const [row] = await this.db.all(`SELECT ${USER_COLUMNS} FROM users u WHERE u.email = ?`, [email]);
    return row && toUser(row);
  }

  async listUsers(accountId?: string): Promise<UserRow[]> {
    const rows = accountId
      ? await this.db.all(`SELECT ${USER_COLUMNS} FROM users u WHERE u.account_id = ? ORDER BY u.created_at`, [accountId])
      : await this.db.all(`SELECT ${USER_COLUMNS} FROM users u ORDER BY u.created_at`);
    return rows.map(toUser);
  }

  async listAccounts(): Promise<AccountSummary[]> {
    const rows = await this.db.all(
      `SELECT a.id, a.name, a.created_at, (SELECT COUNT(*) FROM users u WHERE u.account_id = a.id) AS users FROM accounts a ORDER BY a.created_at`,
    );
    return rows.map((r) => ({ id: String(r.id), name: String(r.name), createdAt: Number(r.created_at), users: Number(r.users) }));
  }

  // sessions and setup links

  async createSession(session: SessionRow): Promise<void> {
    await this.db.run('INSERT INTO sessions (hash, user_id, csrf_token, ip, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [
      session.hash, session.userId, session.csrfToken, session.ip, session.createdAt, session.expiresAt,
    ]);
  }

  /** The live session with that hash and its user (not disabled). */
  async findSession(hash: string, now: Millis): Promise<{ session: SessionRow; user: UserRow } | undefined> {
    const [row] = await this.db.all(
      `SELECT ${USER_COLUMNS}, s.hash, s.csrf_token, s.ip AS session_ip, s.created_at AS session_created_at, s.expires_at
       FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL`,
      [hash, now],
    );
    if (!row) return undefined;
    const user = toUser(row);
    return {
      user,
      session: {
        hash: String(row.hash),
        userId: user.id,
        csrfToken: String(row.csrf_token),
        ip: row.session_ip === null ? null : String(row.session_ip),
        createdAt: Number(row.session_created_at),
        expiresAt: Number(row.expires_at),
      },
    };
  }

  async deleteSession(hash: string): Promise<void> {
    await this.db.run('DELETE FROM sessions WHERE hash = ?', [hash]);
  }

  async deleteExpiredSessions(now: Millis): Promise<number> {
    return this.db.run('DELETE FROM sessions WHERE expires_at <= ?', [now]);
  }

  /** A new setup link replaces any unused one: only the link printed last works. */
  async replaceSetupToken(hash: string, createdAt: Millis, expiresAt: Millis): Promise<void> {
    await this.db.batch([
      sql(`DELETE FROM auth_tokens WHERE purpose = 'setup' AND used_at IS NULL`),
      sql(`INSERT INTO auth_tokens (hash, purpose, created_at, expires_at) VALUES (?, 'setup', ?, ?)`, hash, createdAt, expiresAt),
    ]);
  }

  // environment variables

  async putEnvVar(row: EnvVarRow, audit: AuditEvent): Promise<void> {
    await this.db.batch([
      sql(
        `INSERT INTO env_vars (account_id, service_id, name, sealed, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (account_id, service_id, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        row.accountId, row.serviceId ?? '', row.name, row.sealed, row.updatedAt, row.updatedBy,
      ),
      auditStatement(audit),
    ]);
  }

  /** Answers whether there was such a variable. */
  async deleteEnvVar(accountId: string, serviceId: string | null, name: string, audit: AuditEvent): Promise<boolean> {
    const where = 'account_id = ? AND service_id = ? AND name = ?';
    const slot = [accountId, serviceId ?? '', name];
    const [, deleted] = await this.db.batch([
      auditIf(audit, `EXISTS (SELECT 1 FROM env_vars WHERE ${where})`, ...slot),
      sql(`DELETE FROM env_vars WHERE ${where}`, ...slot),
    ]);
    return deleted === 1;
  }

  /** The account's variables for one scope: every service (`null`) or one service's own. */
  async listEnvVars(accountId: string, serviceId: string | null): Promise<EnvVarRow[]> {
    const rows = await this.db.all('SELECT * FROM env_vars WHERE account_id = ? AND service_id = ? ORDER BY name', [accountId, serviceId ?? '']);
    return rows.map(toEnvVar);
  }

  /** What a worker of the service gets: the account's variables and the service's own, which win. */
  async envVarsFor(accountId: string, serviceId: string): Promise<EnvVarRow[]> {
    const rows = await this.db.all(`SELECT * FROM env_vars WHERE account_id = ? AND service_id IN ('', ?) ORDER BY service_id, name`, [accountId, serviceId]);
    return rows.map(toEnvVar);
  }

  // audit

  async recordAudit(event: AuditEvent): Promise<void> {
    const { sql: text, params } = auditStatement(event);
    await this.db.run(text, params);
  }

  /** Newest first; `before` is the last event of the previous page. */
  async listAudit(options: { limit: number; accountId?: string; before?: { at: Millis; id: string } }): Promise<AuditEvent[]> {
    const filters: Statement[] = [];
    if (options.accountId) filters.push(sql('account_id = ?', options.accountId));
    if (options.before) filters.push(sql('(at < ? OR (at = ? AND id < ?))', options.before.at, options.before.at, options.before.id));
    const where = filters.map((f) => f.sql);
    const params = filters.flatMap((f) => f.params);
    const rows = await this.db.all(
      `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ?`,
      [...params, options.limit],
    );
    return rows.map(toAudit);
  }

  // settings

  /** The setting's value; `candidate` becomes it when it has none yet (of racing nodes, one wins). */
  async settingOr(name: string, candidate: string): Promise<string> {
    await this.db.run('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', [name, candidate]);
    const [row] = await this.db.all('SELECT value FROM settings WHERE name = ?', [name]);
    return String(row!.value);
  }
}

const nullable = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function toUser(r: Row): UserRow {
  return {
    id: String(r.id),
    email: String(r.email),
    passwordHash: String(r.password_hash),
    role: String(r.role) as UserRole,
    accountId: String(r.account_id),
    createdAt: Number(r.created_at),
    disabledAt: r.disabled_at === null || r.disabled_at === undefined ? null : Number(r.disabled_at),
  };
}

function toEnvVar(r: Row): EnvVarRow {
  return {
    accountId: String(r.account_id),
    serviceId: r.service_id === '' ? null : String(r.service_id),
    name: String(r.name),
    sealed: String(r.sealed),
    updatedAt: Number(r.updated_at),
    updatedBy: nullable(r.updated_by),
  };
}

function toAudit(r: Row): AuditEvent {
  return {
    id: String(r.id),
    at: Number(r.at),
    accountId: nullable(r.account_id),
    actor: String(r.actor),
    ip: nullable(r.ip),
    action: String(r.action),
    target: nullable(r.target),
    details: r.details === null || r.details === undefined ? null : (JSON.parse(String(r.details)) as Record<string, unknown>),
  };
}
