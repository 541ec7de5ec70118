import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { RunletError } from '../../errors.js';
import { newAccountId } from '../../ids.js';
import type { ClusterLimit, OrphanFilter, Store } from '../store.js';
import type {
  Account,
  ApiKeyRecord,
  CreateRunOptions,
  KeyUsage,
  Millis,
  NewApiKey,
  NewProvision,
  NewRun,
  RunOutcome,
  RunRow,
  StoredLogLine,
} from '../types.js';
import { GroupCommit } from './group-commit.js';
import { migrateSqlite } from './migrate.js';
import type { CompletedUpload, FileRow, NewFile, UploadCompletion } from '../types.js';
import { FILE_COLUMNS, toFile } from '../file-rows.js';
import { toApiKey, toLogLine, toRun, type Row } from '../rows.js';
import { listRunsStatement, runTimingsStatement, toRunTiming } from '../run-queries.js';
import type { RunListQuery, RunTiming } from '../types.js';

const MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
const ACTIVE = `status IN ('queued', 'running')`;

/**
 * The embedded store: one SQLite file in WAL mode. better-sqlite3 is synchronous, so each
 * method runs to completion without interleaving; the async signatures are the interface's.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode loses no committed transaction on a process crash, only on power loss.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    migrateSqlite(this.db, MIGRATIONS);
    this.commits = new GroupCommit(this.db);
  }

  /** The writes of the run path (create, start, end, logs, leases) commit in groups. */
  private readonly commits: GroupCommit;

  async close(): Promise<void> {
    this.commits.flush();
    this.db.close();
  }

  /** Prepared statements, compiled once per SQL text: every request runs the same few. */
  private readonly statements = new Map<string, Database.Statement>();

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  private get(sql: string, ...params: unknown[]): Row | undefined {
    return this.stmt(sql).get(...params) as Row | undefined;
  }

  private all(sql: string, ...params: unknown[]): Row[] {
    return this.stmt(sql).all(...params) as Row[];
  }

  private run(sql: string, ...params: unknown[]): number {
    return this.stmt(sql).run(...params).changes;
  }

  async defaultAccount(): Promise<Account> {
    return this.db.transaction(() => {
      const existing = this.get('SELECT * FROM accounts WHERE is_default = 1');
      if (existing) return toAccount(existing);
      const account = { id: newAccountId(), name: 'default', createdAt: Date.now() };
      this.run('INSERT INTO accounts (id, name, is_default, created_at) VALUES (?, ?, 1, ?)', account.id, account.name, account.createdAt);
      return account;
    }).immediate();
  }

  async getAccount(id: string): Promise<Account | undefined> {
    const row = this.get('SELECT * FROM accounts WHERE id = ?', id);
    return row && toAccount(row);
  }

  async createAccount(name: string): Promise<Account> {
    const account = { id: newAccountId(), name, createdAt: Date.now() };
    this.run('INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)', account.id, account.name, account.createdAt);
    return account;
  }

  async createApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    this.run(
      'INSERT INTO api_keys (id, account_id, kind, name, hash, prefix, internal, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      key.id, key.accountId, key.kind, key.name, key.hash, key.prefix, key.internal ? 1 : 0, key.createdAt,
    );
    return toApiKey(this.get('SELECT * FROM api_keys WHERE id = ?', key.id)!);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.get('SELECT * FROM api_keys WHERE hash = ?', hash);
    return row && toApiKey(row);
  }

  async listApiKeys(accountId: string): Promise<ApiKeyRecord[]> {
    return this.all('SELECT * FROM api_keys WHERE account_id = ? AND internal = 0 ORDER BY created_at', accountId).map(toApiKey);
  }

  async revokeApiKey(accountId: string, idOrPrefix: string, at: Millis): Promise<ApiKeyRecord | undefined> {
    return this.db.transaction(() => {
      const rows = this.all(
        'SELECT * FROM api_keys WHERE account_id = ? AND internal = 0 AND (id = ? OR prefix = ?)',
        accountId, idOrPrefix, idOrPrefix,
      );
      // A prefix shared by two keys is ambiguous: revoke nothing rather than the wrong one.
      if (rows.length !== 1) return undefined;
      this.run('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?', at, rows[0]!.id);
      return toApiKey(this.get('SELECT * FROM api_keys WHERE id = ?', rows[0]!.id)!);
    }).immediate();
  }

  async recordKeyUsage(usage: ReadonlyMap<string, KeyUsage>): Promise<void> {
    const update = this.stmt(
      'UPDATE api_keys SET use_count = use_count + ?, last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?',
    );
    this.db.transaction(() => {
      for (const [id, u] of usage) update.run(u.count, u.lastUsedAt, id);
    })();
  }

  async deleteInternalKeys(): Promise<void> {
    this.run('DELETE FROM api_keys WHERE internal = 1');
  }

  async provisionRun(p: NewProvision, options: { spendKeyId?: string } = {}): Promise<RunRow> {
    return this.db.transaction(() => {
      if (options.spendKeyId) this.spendKey(options.spendKeyId, p.id, p.createdAt);
      this.run(
        `INSERT INTO runs (id, account_id, key_id, status, created_at, expires_at, node_id) VALUES (?, ?, ?, 'provisioned', ?, ?, ?)`,
        p.id, p.accountId, p.keyId, p.createdAt, p.expiresAt, p.nodeId,
      );
      return toRun(this.get('SELECT * FROM runs WHERE id = ?', p.id)!);
    }).immediate();
  }

  async createRun(run: NewRun, options: CreateRunOptions = {}): Promise<RunRow> {
    const values = [
      run.accountId, run.keyId, run.serviceId, run.method, run.path, run.query, run.mode, run.input, run.inputContentType,
      JSON.stringify(run.requestHeaders), run.correlationId, run.nodeId, run.leaseExpiresAt ?? null,
    ];
    const insert = () =>
      toRun(
        this.get(
          `INSERT INTO runs (account_id, key_id, service_id, method, path, query, mode, input, input_content_type, request_headers,
             correlation_id, node_id, lease_expires_at, id, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?)
           RETURNING *`,
          ...values, run.id, run.createdAt,
        )!,
      );
    if (!options.provisionedId && !options.spendKeyId) return this.commits.run(insert);
    return this.commits.run(() => {
      const id = options.provisionedId ?? run.id;
      if (options.spendKeyId) this.spendKey(options.spendKeyId, id, run.createdAt);
      if (!options.provisionedId) return insert();
      const row = this.get(
        `UPDATE runs SET account_id = ?, key_id = ?, service_id = ?, method = ?, path = ?, query = ?, mode = ?, input = ?,
           input_content_type = ?, request_headers = ?, correlation_id = ?, node_id = ?, lease_expires_at = ?, status = 'queued', expires_at = NULL
         WHERE id = ? AND account_id = ? AND status = 'provisioned' AND expires_at > ? RETURNING *`,
        ...values, id, run.accountId, run.createdAt,
      );
      if (row) return toRun(row);
      const existing = this.get('SELECT status, account_id FROM runs WHERE id = ?', id);
      const usable = existing && existing.account_id === run.accountId && existing.status !== 'provisioned';
      throw new RunletError(usable ? 'PROVISION_USED' : 'PROVISION_NOT_FOUND', undefined, { requestId: id });
    });
  }

  /** Spends a one-time key on `runId`; a key already spent on that very run passes (provision, then run). */
  private spendKey(keyId: string, runId: string, at: Millis): void {
    const changed = this.run('UPDATE api_keys SET spent_at = ?, spent_run_id = ? WHERE id = ? AND spent_at IS NULL', at, runId, keyId);
    if (changed === 1) return;
    const key = this.get('SELECT spent_run_id FROM api_keys WHERE id = ?', keyId);
    if (!key || key.spent_run_id !== runId) throw new RunletError('KEY_SPENT');
  }

  async getRun(id: string): Promise<RunRow | undefined> {
    const row = this.get('SELECT * FROM runs WHERE id = ?', id);
    return row && toRun(row);
  }

  async markRunning(id: string, nodeId: string, startedAt: Millis, leaseExpiresAt: Millis, within?: ClusterLimit): Promise<boolean> {
    return this.commits.run(
      () =>
        (!within || this.runningCount(within.serviceId) < within.max) &&
        this.run(
          `UPDATE runs SET status = 'running', started_at = ?, node_id = ?, lease_expires_at = ?, attempt = attempt + 1
           WHERE id = ? AND status = 'queued'`,
          startedAt, nodeId, leaseExpiresAt, id,
        ) === 1,
    );
  }

  async claimQueuedRuns(serviceId: string, limit: number, nodeId: string, now: Millis, leaseExpiresAt: Millis, clusterMax?: number): Promise<RunRow[]> {
    // One node, one writer: the count and the claim cannot interleave with another claim.
    if (clusterMax !== undefined) limit = Math.min(limit, clusterMax - this.runningCount(serviceId));
    if (limit <= 0) return [];
    return this.all(
      `UPDATE runs SET status = 'running', started_at = ?, node_id = ?, lease_expires_at = ?, attempt = attempt + 1
       WHERE id IN (SELECT id FROM runs WHERE status = 'queued' AND mode = 'async' AND service_id = ? ORDER BY created_at LIMIT ?)
       RETURNING *`,
      now, nodeId, leaseExpiresAt, serviceId, limit,
    )
      .map(toRun)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  private runningCount(serviceId: string): number {
    return Number(this.stmt(`SELECT count(*) FROM runs WHERE status = 'running' AND service_id = ?`).pluck().get(serviceId));
  }

  async servicesWithQueuedRuns(): Promise<string[]> {
    return this.stmt(`SELECT DISTINCT service_id FROM runs WHERE status = 'queued' AND mode = 'async'`).pluck().all() as string[];
  }

  async countQueuedRuns(serviceId: string): Promise<number> {
    return Number(this.stmt(`SELECT count(*) FROM runs WHERE status = 'queued' AND mode = 'async' AND service_id = ?`).pluck().get(serviceId));
  }

  async extendLeases(nodeId: string, runIds: readonly string[], leaseExpiresAt: Millis): Promise<void> {
    const update = this.stmt(`UPDATE runs SET lease_expires_at = ? WHERE id = ? AND node_id = ? AND ${ACTIVE}`);
    await this.commits.run(() => {
      for (const id of runIds) update.run(leaseExpiresAt, id, nodeId);
    });
  }

  async completeRun(id: string, o: RunOutcome, ownerNodeId?: string): Promise<boolean> {
    return this.commits.run(
      () =>
        this.run(
          `UPDATE runs SET status = ?, completed_at = ?, response_status = ?, response_content_type = ?, response_body = ?,
             error = ?, error_code = ?, lease_expires_at = NULL
           WHERE id = ? AND ${ACTIVE} AND (? IS NULL OR node_id = ?)`,
          o.status, o.completedAt, o.responseStatus ?? null, o.responseContentType ?? null, o.responseBody ?? null,
          o.error ?? null, o.errorCode ?? null, id, ownerNodeId ?? null, ownerNodeId ?? null,
        ) === 1,
    );
  }

  async cancelRun(id: string, at: Millis, error: string): Promise<boolean> {
    return this.commits.run(
      () =>
        this.run(
          `UPDATE runs SET status = 'cancelled', completed_at = ?, error = ?, error_code = 'RUN_CANCELLED', lease_expires_at = NULL, expires_at = NULL
           WHERE id = ? AND status IN ('provisioned', 'queued', 'running')`,
          at, error, id,
        ) === 1,
    );
  }

  async adoptRun(id: string, fromNodeId: string | null, toNodeId: string): Promise<boolean> {
    return this.run(`UPDATE runs SET node_id = ? WHERE id = ? AND node_id IS ? AND ${ACTIVE}`, toNodeId, id, fromNodeId) === 1;
  }

  async requeueRun(id: string): Promise<boolean> {
    return this.run(`UPDATE runs SET status = 'queued', node_id = NULL, lease_expires_at = NULL WHERE id = ? AND status = 'running'`, id) === 1;
  }

  async findOrphanedRuns(filter: OrphanFilter): Promise<RunRow[]> {
    const held = `(status = 'running' OR (status = 'queued' AND mode = 'sync'))`;
    const rows =
      'notNodeId' in filter
        ? this.all(`SELECT * FROM runs WHERE ${held} AND node_id IS NOT ?`, filter.notNodeId)
        : 'nodeId' in filter
          ? this.all(`SELECT * FROM runs WHERE ${held} AND node_id = ?`, filter.nodeId)
          : this.all(
            `SELECT * FROM runs WHERE (status = 'running' OR (status = 'queued' AND mode = 'sync')) AND lease_expires_at < ?`,
            filter.leaseExpiredBefore,
          );
    return rows.map(toRun);
  }

  async deleteExpiredProvisions(now: Millis): Promise<string[]> {
    return this.stmt(`DELETE FROM runs WHERE status = 'provisioned' AND expires_at <= ? RETURNING id`).pluck().all(now) as string[];
  }

  async listRuns(query: RunListQuery): Promise<RunRow[]> {
    const { sql, params } = listRunsStatement(query, () => '?');
    return this.all(sql, ...params).map(toRun);
  }

  async runTimings(accountId: string, since: Millis, limit: number): Promise<RunTiming[]> {
    const { sql, params } = runTimingsStatement(accountId, since, limit, () => '?');
    return this.all(sql, ...params).map(toRunTiming);
  }

  async appendLogs(lines: readonly StoredLogLine[]): Promise<void> {
    const insert = this.stmt(
      'INSERT INTO run_logs (run_id, seq, created_at, time_us, level, source, message, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    await this.commits.run(() => {
      for (const l of lines) {
        insert.run(l.runId, l.seq, l.createdAt, l.timeMicros, l.level, l.source, l.message, l.fields ? JSON.stringify(l.fields) : null);
      }
    });
  }

  async readLogs(runId: string, afterSeq: number, limit: number): Promise<StoredLogLine[]> {
    return this.all('SELECT * FROM run_logs WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?', runId, afterSeq, limit).map(toLogLine);
  }

  async lastLogLine(runId: string): Promise<StoredLogLine | undefined> {
    const row = this.get('SELECT * FROM run_logs WHERE run_id = ? ORDER BY seq DESC LIMIT 1', runId);
    return row && toLogLine(row);
  }

  async createFile(f: NewFile): Promise<FileRow> {
    this.run(
      `INSERT INTO files (${FILE_COLUMNS}) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)`,
      f.id, f.accountId, f.name, f.backend, f.storageKey, f.contentType, f.declaredSize, f.createdAt, f.uploadExpiresAt, f.expiresAt,
    );
    return toFile(this.get('SELECT * FROM files WHERE id = ?', f.id)!);
  }

  async getFile(id: string): Promise<FileRow | undefined> {
    const row = this.get('SELECT * FROM files WHERE id = ?', id);
    return row && toFile(row);
  }

  async claimUpload(id: string, nodeId: string, at: Millis): Promise<boolean> {
    return this.run(`UPDATE files SET status = 'uploading', node_id = ?, upload_started_at = ? WHERE id = ? AND status = 'pending'`, nodeId, at, id) === 1;
  }

  async releaseUpload(id: string, nodeId: string): Promise<boolean> {
    return this.run(`UPDATE files SET status = 'pending', node_id = NULL, upload_started_at = NULL WHERE id = ? AND status = 'uploading' AND node_id = ?`, id, nodeId) === 1;
  }

  async completeUpload(id: string, nodeId: string, done: CompletedUpload, quotaBytes: number): Promise<UploadCompletion> {
    return this.db.transaction((): UploadCompletion => {
      const file = this.get(`SELECT account_id FROM files WHERE id = ? AND status = 'uploading' AND node_id = ?`, id, nodeId);
      if (!file) return 'gone';
      if (quotaBytes > 0) {
        const used = Number(this.stmt(`SELECT COALESCE(SUM(size), 0) FROM files WHERE account_id = ? AND status = 'ready'`).pluck().get(file.account_id));
        if (used + done.size > quotaBytes) return 'quota_exceeded';
      }
      this.run(
        `UPDATE files SET status = 'ready', size = ?, sha256 = ?, content_type = COALESCE(?, content_type), completed_at = ?, node_id = NULL WHERE id = ?`,
        done.size, done.sha256, done.contentType, done.completedAt, id,
      );
      return 'completed';
    }).immediate();
  }

  async storageUsed(accountId: string): Promise<number> {
    return Number(this.stmt(`SELECT COALESCE(SUM(size), 0) FROM files WHERE account_id = ? AND status = 'ready'`).pluck().get(accountId));
  }

  async listFiles(accountId: string, options: { limit: number; before?: { createdAt: Millis; id: string } }): Promise<FileRow[]> {
    const { limit, before } = options;
    const rows = before
      ? this.all('SELECT * FROM files WHERE account_id = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?', accountId, before.createdAt, before.id, limit)
      : this.all('SELECT * FROM files WHERE account_id = ? ORDER BY created_at DESC, id DESC LIMIT ?', accountId, limit);
    return rows.map(toFile);
  }

  async deleteFile(id: string, accountId?: string): Promise<FileRow | undefined> {
    const row = accountId
      ? this.get('DELETE FROM files WHERE id = ? AND account_id = ? RETURNING *', id, accountId)
      : this.get('DELETE FROM files WHERE id = ? RETURNING *', id);
    return row && toFile(row);
  }

  async findCollectableFiles(now: Millis, staleUploadBefore: Millis, limit: number): Promise<FileRow[]> {
    return this.all(
      `SELECT * FROM files WHERE expires_at <= ? OR (status = 'pending' AND upload_expires_at <= ?)
         OR (status = 'uploading' AND upload_started_at < ?) ORDER BY expires_at LIMIT ?`,
      now, now, staleUploadBefore, limit,
    ).map(toFile);
  }

  async releaseOrphanedUploads(notNodeId: string): Promise<number> {
    return this.run(`UPDATE files SET status = 'pending', node_id = NULL, upload_started_at = NULL WHERE status = 'uploading' AND node_id IS NOT ?`, notNodeId);
  }
}

function toAccount(r: Row): Account {
  return { id: String(r.id), name: String(r.name), createdAt: Number(r.created_at) };
}
