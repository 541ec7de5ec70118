import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { RunletError } from '../../errors.js';
import { newAccountId } from '../../ids.js';
import type { ClusterLimit, OrphanFilter, RunClaim, Store } from '../store.js';
import type {
  Account,
  ApiKeyRecord,
  CreateRunOptions,
  IdempotencyClaim,
  KeyUsage,
  Millis,
  NewApiKey,
  NewProvision,
  NewRun,
  RecordedRun,
  RunOutcome,
  RunRow,
  StoredLogLine,
} from '../types.js';
import { auditStatement, Directory } from '../directory/directory.js';
import type { Statement } from '../directory/sql-port.js';
import type { AuditEvent } from '../directory/types.js';
import { Checkpointer } from './checkpointer.js';
import { GroupCommit } from './group-commit.js';
import { isActive, JournaledRuns } from './journaled-runs.js';
import { RunJournal, type JournaledRun } from './run-journal.js';
import { sqlitePort } from './sqlite-port.js';
import { migrateSqlite } from './migrate.js';
import type { AttemptRow, DeliveryAttemptRow, DeliveryNext, DeliveryRow, PurgePolicy, RunWithAttempts, TombstoneRow } from '../control-types.js';
import { ATTEMPT_COLUMNS, attemptValues, deliveryIdOf, toAttempt, toDelivery, toDeliveryAttempt, toTombstone } from '../control-rows.js';
import type { CompletedUpload, FileRow, NewFile, UploadCompletion } from '../types.js';
import { FILE_COLUMNS, toFile } from '../file-rows.js';
import { IDEMPOTENCY_COLUMNS, idempotencyValues, replayOf } from '../idempotency-rows.js';
import { ACCOUNT_RUN_COUNTS, binder, claimable, queuedServicesStatement, runningOfAccount, toRunCounts, waitingAccountsStatement } from '../run-queries.js';
import { apiKeyExtras, hasRunOptions, startOf, toApiKey, toLogLine, toRun, type Row } from '../rows.js';
import { inRunList, inRunTimings, listRunsStatement, newestFirst, runTimingsStatement, toRunTiming } from '../run-queries.js';
import type { RunListQuery, RunTiming } from '../types.js';

const MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
const ACTIVE = `status IN ('queued', 'running')`;
/** The columns `createRun` inserts, in the order of its values (the id and creation time apart). */
const INSERTED_COLUMNS = [
  'account_id', 'key_id', 'service_id', 'method', 'path', 'query', 'mode', 'input', 'input_content_type', 'request_headers',
  'correlation_id', 'node_id', 'lease_expires_at', 'status', 'started_at', 'attempt',
] as const;
/** The async runs of a service (`?`) due by a time (`?`): what a claim picks from. */
const QUEUED_OF_SERVICE = `SELECT id, account_id, created_at FROM runs WHERE status = 'queued' AND mode = 'async' AND service_id = ? AND (run_after IS NULL OR run_after <= ?)`;

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
    this.runDefaults = columnDefaults(this.db, 'runs');
    this.commits = new GroupCommit(this.db, () => this.checkpointer?.wrote());
    if (file !== ':memory:') {
      this.db.pragma('wal_autocheckpoint = 0');
      // Without its thread, the connection checkpoints itself again, as SQLite does by default.
      this.checkpointer = new Checkpointer(file, this.commits, () => this.db.open && this.db.pragma('wal_autocheckpoint = 1000'));
    }
    this.directory = new Directory(sqlitePort(this.db));
    // A database in memory has no file beside it, and nothing to survive a crash: its runs
    // go to the tables like the rest.
    if (file !== ':memory:') {
      // What a crashed process journaled and did not index, first of all.
      for (const left of RunJournal.leftBehind(file)) {
        this.replayRuns(RunJournal.read(left));
        rmSync(left, { force: true });
        // A compaction cut short: the journal it was to replace was whole, and has just been replayed.
        rmSync(`${left}.new`, { force: true });
      }
      this.journal = RunJournal.create(file);
      this.recent = new JournaledRuns(this.journal, (runs) => this.indexRuns(runs), () => !this.commits.isHeld);
    }
  }

  /** Each column of `runs` with its default: a replayed run lacks the columns that were null. */
  private readonly runDefaults: Row;
  private readonly journal: RunJournal | undefined;
  /** Runs journaled and not yet in the tables (see `JournaledRuns`); none for a database in memory. */
  private readonly recent: JournaledRuns | undefined;

  /**
   * Writes journaled runs into the tables, in one transaction. A journaled run has never been in
   * the tables, so each is a plain insert.
   */
  private indexRuns(runs: readonly JournaledRun[]): void {
    if (runs.length === 0) return;
    const columns = Object.keys(this.runDefaults);
    const insert = this.stmt(`INSERT INTO runs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
    this.db.transaction(() => {
      for (const { row, attempts } of runs) {
        if (row.status === 'queued' && row.mode === 'async') this.noQueuedInTables.delete(String(row.service_id));
        insert.run(...this.columnValues(columns, row));
        for (const a of attempts) this.insertAttempt(a);
      }
    }).immediate();
    this.checkpointer?.wrote();
  }

  /** The values of `columns` in a journaled row: a replayed one lacks the columns that were null, and takes their defaults. */
  private columnValues(columns: readonly string[], row: Row): unknown[] {
    return columns.map((c) => (row[c] === undefined ? this.runDefaults[c] : row[c]));
  }

  /**
   * Writes the runs of a journal left behind into the tables, in one transaction. A replay may
   * carry lines the tables already hold (a crash between an indexing and the journal's mark):
   * a run already there is updated only while it has not ended there, and a purged run (its
   * tombstone kept) is not written again.
   */
  private replayRuns(runs: readonly JournaledRun[]): void {
    const columns = Object.keys(this.runDefaults);
    const upsert = this.stmt(
      `INSERT INTO runs (${columns.join(', ')}) SELECT ${columns.map(() => '?').join(', ')}
       WHERE NOT EXISTS (SELECT 1 FROM run_tombstones WHERE id = ?)
       ON CONFLICT (id) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')} WHERE runs.${ACTIVE}`,
    );
    this.db.transaction(() => {
      for (const { row, attempts } of runs) {
        upsert.run(...this.columnValues(columns, row), row.id);
        for (const a of attempts) this.insertAttempt(a);
      }
    }).immediate();
  }

  /**
   * Services known to have no queued async run in the tables, so a claim of theirs need not look
   * there: every claim would otherwise read the tables for a queue that lives in the journal.
   * Whatever may put a queued run in the tables forgets what it knew of its service, when it writes.
   */
  private readonly noQueuedInTables = new Set<string>();

  /** Indexes every journaled run, so a read of the tables sees them all. */
  private indexed(): void {
    this.recent?.indexAll();
  }

  /** Indexes the run `id` when it is journaled, so a write to the tables finds it there. */
  private indexedRun(id: string): void {
    this.recent?.indexRun(id);
  }

  /** Indexes the service's journaled runs: a cap of the service counts them in the tables. */
  private indexedService(serviceId: string): void {
    this.recent?.indexWhere((row) => row.service_id === serviceId);
  }

  readonly directory: Directory;

  /** The writes of the run path (create, start, end, logs, leases) commit in groups. */
  private readonly commits: GroupCommit;

  /** Checkpoints the WAL off the event loop (none for a database in memory). */
  private readonly checkpointer: Checkpointer | undefined;

  async close(): Promise<void> {
    this.commits.flush();
    try {
      this.recent?.close();
      this.journal?.remove();
    } catch {
      // The tables would not take them: the journal keeps them for the next start.
      this.journal?.close();
    }
    await this.checkpointer?.close();
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

  async createApiKey(key: NewApiKey, audit?: AuditEvent): Promise<ApiKeyRecord> {
    return this.db.transaction(() => {
      this.run(
        `INSERT INTO api_keys (id, account_id, kind, name, hash, prefix, internal, created_at, expires_at, services, created_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        key.id, key.accountId, key.kind, key.name, key.hash, key.prefix, key.internal ? 1 : 0, key.createdAt, ...apiKeyExtras(key),
      );
      if (audit) this.runStatement(auditStatement(audit));
      return toApiKey(this.get('SELECT * FROM api_keys WHERE id = ?', key.id)!);
    })();
  }

  private runStatement(statement: Statement): void {
    this.run(statement.sql, ...statement.params);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.get('SELECT * FROM api_keys WHERE hash = ?', hash);
    return row && toApiKey(row);
  }

  async listApiKeys(accountId: string): Promise<ApiKeyRecord[]> {
    return this.all('SELECT * FROM api_keys WHERE account_id = ? AND internal = 0 ORDER BY created_at', accountId).map(toApiKey);
  }

  async revokeApiKey(accountId: string, idOrPrefix: string, at: Millis, audit?: AuditEvent): Promise<ApiKeyRecord | undefined> {
    return this.db.transaction(() => {
      const rows = this.all(
        'SELECT * FROM api_keys WHERE account_id = ? AND internal = 0 AND (id = ? OR prefix = ?)',
        accountId, idOrPrefix, idOrPrefix,
      );
      // A prefix shared by two keys is ambiguous: revoke nothing rather than the wrong one.
      if (rows.length !== 1) return undefined;
      const revoked = this.run('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', at, rows[0]!.id);
      if (revoked && audit) this.runStatement(auditStatement({ ...audit, target: String(rows[0]!.id) }));
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

  async provisionRun(p: NewProvision, options: Pick<CreateRunOptions, 'spendKeyId' | 'idempotency'> = {}): Promise<RecordedRun> {
    return this.db.transaction(() => {
      const replay = options.idempotency && this.replayOf(p.accountId, options.idempotency);
      if (replay) return replay;
      if (options.spendKeyId) this.spendKey(options.spendKeyId, p.id, p.createdAt);
      this.run(
        `INSERT INTO runs (id, account_id, key_id, status, created_at, expires_at, node_id) VALUES (?, ?, ?, 'provisioned', ?, ?, ?)`,
        p.id, p.accountId, p.keyId, p.createdAt, p.expiresAt, p.nodeId,
      );
      if (options.idempotency) this.claimKey(p.accountId, p.id, options.idempotency);
      return toRun(this.get('SELECT * FROM runs WHERE id = ?', p.id)!);
    }).immediate();
  }

  async createRun(run: NewRun, options: CreateRunOptions = {}): Promise<RecordedRun> {
    const values = [
      run.accountId, run.keyId, run.serviceId, run.method, run.path, run.query, run.mode, run.input, run.inputContentType,
      JSON.stringify(run.requestHeaders), run.correlationId, run.nodeId, run.leaseExpiresAt ?? null, ...startOf(run),
    ];
    const insert = () => {
      // At the write itself, not at the call: a claim between the two may have looked already.
      if (run.mode === 'async') this.noQueuedInTables.delete(run.serviceId);
      return this.withRunOptions(
        this.get(
          `INSERT INTO runs (account_id, key_id, service_id, method, path, query, mode, input, input_content_type, request_headers,
             correlation_id, node_id, lease_expires_at, status, started_at, attempt, id, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          ...values, run.id, run.createdAt,
        )!,
        run,
      );
    };
    const takeOver = (id: string) => {
      if (run.mode === 'async') this.noQueuedInTables.delete(run.serviceId);
      const row = this.get(
        `UPDATE runs SET account_id = ?, key_id = ?, service_id = ?, method = ?, path = ?, query = ?, mode = ?, input = ?,
           input_content_type = ?, request_headers = ?, correlation_id = ?, node_id = ?, lease_expires_at = ?,
           status = ?, started_at = ?, attempt = ?, expires_at = NULL
         WHERE id = ? AND account_id = ? AND status = 'provisioned' AND expires_at > ? RETURNING *`,
        ...values, id, run.accountId, run.createdAt,
      );
      if (row) return this.withRunOptions(row, run);
      const existing = this.get('SELECT status, account_id FROM runs WHERE id = ?', id);
      const usable = existing && existing.account_id === run.accountId && existing.status !== 'provisioned';
      throw new RunletError(usable ? 'PROVISION_USED' : 'PROVISION_NOT_FOUND', undefined, { requestId: id });
    };
    if (!options.provisionedId && !options.spendKeyId && !options.idempotency && !hasRunOptions(run)) {
      return this.recent ? this.journalRun(this.recent, run, values) : this.commits.run(insert);
    }
    return this.commits.run(() => {
      const id = options.provisionedId ?? run.id;
      const replay = options.idempotency && this.replayOf(run.accountId, options.idempotency);
      if (replay) return replay;
      if (options.spendKeyId) this.spendKey(options.spendKeyId, id, run.createdAt);
      const recorded = options.provisionedId ? takeOver(id) : insert();
      if (options.idempotency) this.claimKey(run.accountId, id, options.idempotency);
      return recorded;
    });
  }

  /** Records a plain run in the journal: the row the table would hold, with `values` in the insert's column order. */
  private async journalRun(recent: JournaledRuns, run: NewRun, values: unknown[]): Promise<RecordedRun> {
    // Every column, as the table would default it, then those the insert sets: a row of one
    // fixed shape stays a fast object through its changes (see `changed` in journaled-runs.ts).
    const row: Row = { ...this.runDefaults };
    row.id = run.id;
    row.created_at = run.createdAt;
    INSERTED_COLUMNS.forEach((column, i) => (row[column] = values[i]));
    await recent.add(row);
    return toRun(row);
  }

  /** Sets what a run was asked besides its call (callback, retention); called inside the run's own write. */
  private withRunOptions(row: Row, run: NewRun): RunRow {
    if (!hasRunOptions(run)) return toRun(row);
    return toRun(
      this.get(
        'UPDATE runs SET callback_url = ?, callback_pending = ?, retain_seconds = ? WHERE id = ? RETURNING *',
        run.callbackUrl ?? null, run.callbackUrl ? 1 : 0, run.retainSeconds ?? null, row.id,
      )!,
    );
  }

  /**
   * The run a live idempotency key of the account names (or IDEMPOTENCY_KEY_REUSED); undefined
   * when the key is free. One writer at a time: nothing can claim the key between this and `claimKey`.
   */
  private replayOf(accountId: string, claim: IdempotencyClaim): RecordedRun | undefined {
    const key = this.get('SELECT * FROM idempotency_keys WHERE account_id = ? AND idempotency_key = ?', accountId, claim.key);
    if (!key) return undefined;
    const run = Number(key.expires_at) > claim.createdAt && this.get('SELECT * FROM runs WHERE id = ?', key.run_id);
    if (run) return replayOf(key, claim, run);
    this.run('DELETE FROM idempotency_keys WHERE account_id = ? AND idempotency_key = ?', accountId, claim.key);
    return undefined;
  }

  /** Inserts the key's row (after `replayOf` found it free, and once its run exists); the primary key refuses a second claim. */
  private claimKey(accountId: string, runId: string, claim: IdempotencyClaim): void {
    this.run(`INSERT INTO idempotency_keys (${IDEMPOTENCY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`, ...idempotencyValues(accountId, runId, claim));
  }

  async countAccountRuns(accountId: string): Promise<{ queued: number; running: number }> {
    // A journaled run is in the journal or in the tables, never both: the two counts add up.
    // Back-pressure asks this on every call of an account near its limits, so nothing is indexed.
    const inTables = toRunCounts(this.get(ACCOUNT_RUN_COUNTS.replace('$1', '?'), accountId));
    const journaled = this.recent?.countActive(accountId) ?? { queued: 0, running: 0 };
    return { queued: inTables.queued + journaled.queued, running: inTables.running + journaled.running };
  }

  async deleteExpiredIdempotencyKeys(now: Millis): Promise<number> {
    return this.run('DELETE FROM idempotency_keys WHERE expires_at <= ?', now);
  }

  /** Spends a one-time key on `runId`; a key already spent on that very run passes (provision, then run). */
  private spendKey(keyId: string, runId: string, at: Millis): void {
    const changed = this.run('UPDATE api_keys SET spent_at = ?, spent_run_id = ? WHERE id = ? AND spent_at IS NULL', at, runId, keyId);
    if (changed === 1) return;
    const key = this.get('SELECT spent_run_id FROM api_keys WHERE id = ?', keyId);
    if (!key || key.spent_run_id !== runId) throw new RunletError('KEY_SPENT');
  }

  async getRun(id: string): Promise<RunRow | undefined> {
    const journaled = this.recent?.read(id);
    return journaled ? toRun(journaled.row) : this.runOf(id);
  }

  async getRunRecord(id: string): Promise<RunWithAttempts | undefined> {
    // Read in the same synchronous step, so no write lands between the run and its attempts. A
    // run that never started made no attempt.
    const journaled = this.recent?.read(id);
    const run = journaled ? toRun(journaled.row) : this.runOf(id);
    return run && { run, attempts: run.attempt > 0 ? this.attemptsOf(id) : [] };
  }

  private runOf(id: string): RunRow | undefined {
    const row = this.get('SELECT * FROM runs WHERE id = ?', id);
    return row && toRun(row);
  }

  async markRunning(id: string, nodeId: string, startedAt: Millis, leaseExpiresAt: Millis, within?: ClusterLimit): Promise<boolean> {
    if (this.recent?.has(id)) {
      // A cap counts the service's running runs in the tables.
      if (within) this.indexedService(within.serviceId);
      else {
        const started = (r: Row): Row => ({ status: 'running', started_at: startedAt, node_id: nodeId, lease_expires_at: leaseExpiresAt, attempt: Number(r.attempt) + 1 });
        return (await this.recent.change(id, (r) => (r.status === 'queued' ? started(r) : undefined))) !== undefined;
      }
    }
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

  async claimQueuedRuns(c: RunClaim): Promise<RunRow[]> {
    const recent = this.recent;
    // A service's cap counts its running runs in the tables: such a claim indexes the service's
    // journaled runs first. Accounts' caps count the journal's runs where they are.
    if (!recent || c.clusterMax !== undefined) {
      this.indexedService(c.serviceId);
      return this.claimInTables(c);
    }
    if (c.accountMax !== undefined) return this.claimWithinAccountCaps(c, c.accountMax, recent);
    // The oldest queued runs of the journal and of the tables together, each taken where it is.
    const journaled = recent.queuedOf(c.serviceId, c.now, c.limit).map((r) => ({ id: String(r.id), createdAt: Number(r.created_at), journaled: true }));
    const inTables = this.queuedInTables(c.serviceId, c.now, c.limit).map((r) => ({ id: String(r.id), createdAt: Number(r.created_at), journaled: false }));
    const oldest = [...journaled, ...inTables].sort((a, b) => a.createdAt - b.createdAt).slice(0, c.limit);
    const fromTables = oldest.filter((o) => !o.journaled).map((o) => o.id);
    const take = this.stmt(
      `UPDATE runs SET status = 'running', started_at = ?, node_id = ?, lease_expires_at = ?, attempt = attempt + 1, claim_number = ?
       WHERE id = ? AND status = 'queued' RETURNING *`,
    );
    const [taken, takenInTables] = await Promise.all([
      Promise.all(oldest.filter((o) => o.journaled).map((o) => recent.change(o.id, claimedBy(c)))),
      // Picked now, taken at the end of the turn: one cancelled meanwhile is left as it is.
      fromTables.length === 0
        ? []
        : this.commits.run(() => fromTables.flatMap((id): Row[] => {
          const row = take.get(c.now, c.nodeId, c.leaseExpiresAt, c.claimNumber ?? null, id) as Row | undefined;
          return row ? [row] : [];
        })),
    ]);
    return [...taken.flatMap((row) => (row ? [row] : [])), ...takenInTables].map(toRun).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Up to `limit` queued async runs of the service in the tables, due by `now`, oldest first. */
  private queuedInTables(serviceId: string, now: Millis, limit: number): Row[] {
    if (this.noQueuedInTables.has(serviceId)) return [];
    const due = this.all(`${QUEUED_OF_SERVICE} ORDER BY created_at LIMIT ?`, serviceId, now, limit);
    // None due, and none waiting to be (a retry's run_after): none at all, until a write puts one there.
    if (due.length === 0 && !this.get(`SELECT 1 FROM runs WHERE status = 'queued' AND mode = 'async' AND service_id = ? LIMIT 1`, serviceId)) {
      this.noQueuedInTables.add(serviceId);
    }
    return due;
  }

  /**
   * A claim in the tables alone, under the service's cap (its journaled runs indexed first) and
   * the accounts' caps (which count the journal's running runs too).
   */
  private claimInTables(c: RunClaim): Promise<RunRow[]> {
    // Claims come one a freed worker under load: each in a commit of its own cost more than the run.
    return this.commits.run(() => {
      // One node, one writer: the count and the claim cannot interleave with another claim.
      const room = c.clusterMax === undefined ? c.limit : Math.min(c.limit, c.clusterMax - this.runningCount(c.serviceId));
      if (room <= 0) return [];
      // Picked, then taken one by one in the same synchronous step (nothing can come between):
      // an UPDATE … WHERE id IN (that pick) cost SQLite four times as much per claim.
      const picked =
        c.accountMax === undefined
          ? (this.stmt(`${QUEUED_OF_SERVICE} ORDER BY created_at LIMIT ?`).all(c.serviceId, c.now, room) as Row[]).map((r) => String(r.id))
          : this.pickWithinAccountCaps(c, c.accountMax, room, this.recent).map((p) => p.id);
      return picked.map((id) => this.takeInTables(c, id));
    });
  }

  /** Takes a queued run the claim picked from the tables. */
  private takeInTables(c: RunClaim, id: string): RunRow {
    const take = this.stmt(
      `UPDATE runs SET status = 'running', started_at = ?, node_id = ?, lease_expires_at = ?, attempt = attempt + 1, claim_number = ? WHERE id = ? RETURNING *`,
    );
    return toRun(take.get(c.now, c.nodeId, c.leaseExpiresAt, c.claimNumber ?? null, id) as Row);
  }

  /**
   * A claim under account caps, of the journal's queued runs and the tables' together. Picked
   * and taken in one step of the commit group, after every claim before it in the group, so
   * that each one counts the runs the others took.
   */
  private async claimWithinAccountCaps(c: RunClaim, accountMax: number, recent: JournaledRuns): Promise<RunRow[]> {
    const { inTables, journaled } = await this.commits.run(() => {
      const picked = this.pickWithinAccountCaps(c, accountMax, c.limit, recent);
      return {
        inTables: picked.filter((p) => !p.journaled).map((p) => this.takeInTables(c, p.id)),
        // A journaled run changes at once (the next claim counts it); its line is written with the turn's.
        journaled: picked.filter((p) => p.journaled).map((p) => recent.change(p.id, claimedBy(c))),
      };
    });
    const taken = (await Promise.all(journaled)).flatMap((row) => (row ? [toRun(row)] : []));
    return [...inTables, ...taken].sort((a, b) => a.createdAt - b.createdAt);
  }

  /**
   * The oldest of the service's queued runs (up to `room`) whose accounts have places left under
   * `accountMax`: each account waiting gives its oldest runs the places its running ones leave
   * (in the tables and in the journal, when given, together).
   */
  private pickWithinAccountCaps(c: RunClaim, accountMax: number, room: number, recent?: JournaledRuns): { id: string; journaled: boolean }[] {
    const places = new Map<string, number>();
    const runningOf = this.stmt(`SELECT ${runningOfAccount('?')}`).pluck();
    const placesOf = (accountId: string): number => {
      let left = places.get(accountId);
      if (left === undefined) {
        left = Math.min(room, accountMax - Number(runningOf.get(accountId)) - (recent?.countActive(accountId).running ?? 0));
        places.set(accountId, left);
      }
      return left;
    };
    type Candidate = { id: string; accountId: string; createdAt: number; journaled: boolean };
    const candidates: Candidate[] = [];
    const add = (row: Row, journaled: boolean) => candidates.push({ id: String(row.id), accountId: String(row.account_id), createdAt: Number(row.created_at), journaled });
    // From each place: each account's oldest, as many as it has places.
    const fromJournal = new Map<string, number>();
    const fits = (row: Row) => {
      const accountId = String(row.account_id);
      const seen = fromJournal.get(accountId) ?? 0;
      if (seen >= placesOf(accountId)) return false;
      fromJournal.set(accountId, seen + 1);
      return true;
    };
    // No more than `room` of them: at least as many older ones would each be picked, or have
    // left their account no place for a younger one.
    for (const row of recent?.queuedOf(c.serviceId, c.now, room, fits) ?? []) add(row, true);
    const waiting = waitingAccountsStatement(c.serviceId, () => '?');
    const { params, bind } = binder(() => '?');
    const oldestOf = this.stmt(`SELECT id, account_id, created_at FROM runs WHERE ${claimable(c.serviceId, c.now, bind)} AND account_id = ? ORDER BY created_at LIMIT ?`);
    for (const accountId of this.stmt(waiting.sql).pluck().all(...waiting.params) as string[]) {
      const left = placesOf(accountId);
      if (left > 0) for (const row of oldestOf.all(...params, accountId, left) as Row[]) add(row, false);
    }
    // Then the oldest of them all, each account up to its places.
    const picked: Candidate[] = [];
    for (const candidate of candidates.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))) {
      if (picked.length === room) break;
      const left = places.get(candidate.accountId)!;
      if (left <= 0) continue;
      places.set(candidate.accountId, left - 1);
      picked.push(candidate);
    }
    return picked;
  }

  async takeClaimedRuns(nodeId: string, claimNumber: number, leaseExpiresAt: Millis): Promise<RunRow[]> {
    this.indexed();
    return this.commits.run(() =>
      (this.stmt(`UPDATE runs SET lease_expires_at = ? WHERE node_id = ? AND status = 'running' AND claim_number = ? RETURNING *`).all(leaseExpiresAt, nodeId, claimNumber) as Row[])
        .map(toRun)
        .sort((a, b) => a.createdAt - b.createdAt),
    );
  }

  private runningCount(serviceId: string): number {
    return Number(this.stmt(`SELECT count(*) FROM runs WHERE status = 'running' AND service_id = ?`).pluck().get(serviceId));
  }

  async servicesWithQueuedRuns(): Promise<string[]> {
    const { sql, params } = queuedServicesStatement(() => '?');
    const inTables = this.stmt(sql).pluck().all(...params) as string[];
    return [...new Set([...inTables, ...(this.recent?.queuedServices() ?? [])])];
  }

  async countQueuedRuns(serviceId: string): Promise<number> {
    // A journaled run is in the journal or in the tables, never both: the two counts add up.
    const inTables = Number(this.stmt(`SELECT count(*) FROM runs WHERE status = 'queued' AND mode = 'async' AND service_id = ?`).pluck().get(serviceId));
    return inTables + (this.recent?.queuedCount(serviceId) ?? 0);
  }

  async extendLeases(nodeId: string, runIds: readonly string[], leaseExpiresAt: Millis): Promise<void> {
    const recent = this.recent;
    const journaled = recent ? runIds.filter((id) => recent.has(id)) : [];
    const renew = (r: Row) => (r.node_id === nodeId && isActive(r) ? { lease_expires_at: leaseExpiresAt } : undefined);
    const update = this.stmt(`UPDATE runs SET lease_expires_at = ? WHERE id = ? AND node_id = ? AND ${ACTIVE}`);
    await Promise.all([
      ...journaled.map((id) => recent!.change(id, renew)),
      this.commits.run(() => {
        for (const id of runIds) if (!journaled.includes(id)) update.run(leaseExpiresAt, id, nodeId);
      }),
    ]);
  }

  async completeRun(id: string, o: RunOutcome, ownerNodeId?: string, attempt?: AttemptRow): Promise<RunRow | undefined> {
    if (this.recent?.has(id)) {
      const ended: Row = {
        status: o.status, completed_at: o.completedAt, response_status: o.responseStatus ?? null, response_content_type: o.responseContentType ?? null,
        response_body: o.responseBody ?? null, error: o.error ?? null, error_code: o.errorCode ?? null, lease_expires_at: null,
      };
      const row = await this.recent.change(id, (r) => (isActive(r) && (ownerNodeId == null || r.node_id === ownerNodeId) ? ended : undefined), attempt);
      return row && toRun(row);
    }
    return this.commits.run(() => {
      if (attempt) this.insertAttempt(attempt);
      const ended = this.get(
        `UPDATE runs SET status = ?, completed_at = ?, response_status = ?, response_content_type = ?, response_body = ?,
           error = ?, error_code = ?, lease_expires_at = NULL
         WHERE id = ? AND ${ACTIVE} AND (? IS NULL OR node_id = ?)
         RETURNING *`,
        o.status, o.completedAt, o.responseStatus ?? null, o.responseContentType ?? null, o.responseBody ?? null,
        o.error ?? null, o.errorCode ?? null, id, ownerNodeId ?? null, ownerNodeId ?? null,
      );
      return ended && toRun(ended);
    });
  }

  async cancelRun(id: string, at: Millis, error: string): Promise<boolean> {
    if (this.recent?.has(id)) {
      const cancelled: Row = { status: 'cancelled', completed_at: at, error, error_code: 'RUN_CANCELLED', lease_expires_at: null, expires_at: null };
      return (await this.recent.change(id, (r) => (isActive(r) ? cancelled : undefined))) !== undefined;
    }
    return this.commits.run(
      () =>
        this.run(
          `UPDATE runs SET status = 'cancelled', completed_at = ?, error = ?, error_code = 'RUN_CANCELLED', lease_expires_at = NULL, expires_at = NULL
           WHERE id = ? AND status IN ('provisioned', 'queued', 'running')`,
          at, error, id,
        ) === 1,
    );
  }

  async adoptRun(id: string, fromNodeId: string | null, toNodeId: string, leaseExpiredBefore?: Millis): Promise<boolean> {
    this.indexedRun(id);
    const lapsed = leaseExpiredBefore === undefined ? '' : ' AND lease_expires_at < ?';
    const args = leaseExpiredBefore === undefined ? [] : [leaseExpiredBefore];
    return this.run(`UPDATE runs SET node_id = ?, claim_number = NULL WHERE id = ? AND node_id IS ? AND ${ACTIVE}${lapsed}`, toNodeId, id, fromNodeId, ...args) === 1;
  }

  async requeueRun(id: string): Promise<boolean> {
    this.indexedRun(id);
    const requeued = this.get(`UPDATE runs SET status = 'queued', node_id = NULL, lease_expires_at = NULL WHERE id = ? AND status = 'running' RETURNING service_id`, id);
    if (requeued) this.noQueuedInTables.delete(String(requeued.service_id));
    return requeued !== undefined;
  }

  async findOrphanedRuns(filter: OrphanFilter): Promise<RunRow[]> {
    // The sweep for lapsed leases comes every few seconds: it indexes the journaled runs whose
    // lease lapsed (normally none), not a queued backlog, which holds no lease.
    if ('leaseExpiredBefore' in filter) this.recent?.indexWhere((row) => isActive(row) && row.lease_expires_at !== null && Number(row.lease_expires_at) < filter.leaseExpiredBefore);
    else this.indexed();
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
    return this.withJournaled(this.all(sql, ...params), inRunList(query), query.limit).map(toRun);
  }

  async runTimings(accountId: string, since: Millis, limit: number): Promise<RunTiming[]> {
    const { sql, params } = runTimingsStatement(accountId, since, limit, () => '?');
    return this.withJournaled(this.all(sql, ...params), inRunTimings(accountId, since), limit).map(toRunTiming);
  }

  /**
   * Rows read from the tables, newest first, with the journal's runs that `belongs` takes, in
   * the same order, up to `limit`. The dashboard reads these pages often: indexing a queued
   * backlog to read them would move its claims to the tables, about twice as dear a run.
   */
  private withJournaled(fromTables: Row[], belongs: (row: Row) => boolean, limit: number): Row[] {
    const journaled = [...(this.recent?.held() ?? [])].filter((run) => belongs(run.row)).map((run) => run.row);
    if (journaled.length === 0) return fromTables;
    return [...fromTables, ...journaled].sort(newestFirst).slice(0, limit);
  }

  async appendLogs(lines: readonly StoredLogLine[]): Promise<void> {
    const insert = this.stmt(
      'INSERT INTO run_logs (run_id, seq, created_at, time_us, level, source, message, fields, attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    await this.commits.run(() => {
      for (const l of lines) {
        insert.run(l.runId, l.seq, l.createdAt, l.timeMicros, l.level, l.source, l.message, l.fields ? JSON.stringify(l.fields) : null, l.attempt ?? null);
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

  // retries, completion webhooks, retention

  async retryRun(a: AttemptRow & { retryAt: Millis }, ownerNodeId: string | null): Promise<boolean> {
    this.indexedRun(a.runId);
    return this.db.transaction(() => {
      const requeued = this.get(
        `UPDATE runs SET status = 'queued', node_id = NULL, lease_expires_at = NULL, run_after = ? WHERE id = ? AND status = 'running' AND node_id IS ?
         RETURNING service_id`,
        a.retryAt, a.runId, ownerNodeId,
      );
      if (!requeued) return false;
      this.noQueuedInTables.delete(String(requeued.service_id));
      this.insertAttempt(a);
      return true;
    }).immediate();
  }

  private insertAttempt(a: AttemptRow): void {
    this.run(`INSERT INTO run_attempts (${ATTEMPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, ...attemptValues(a));
  }

  async listAttempts(runId: string): Promise<AttemptRow[]> {
    return this.attemptsOf(runId);
  }

  private attemptsOf(runId: string): AttemptRow[] {
    const journaled = this.recent?.read(runId);
    if (journaled) return [...journaled.attempts].sort((a, b) => a.attempt - b.attempt);
    return this.all('SELECT * FROM run_attempts WHERE run_id = ? ORDER BY attempt', runId).map(toAttempt);
  }

  async webhookSecret(accountId: string, candidate: string): Promise<string> {
    this.run('UPDATE accounts SET webhook_secret = ? WHERE id = ? AND webhook_secret IS NULL', candidate, accountId);
    return String(this.stmt('SELECT webhook_secret FROM accounts WHERE id = ?').pluck().get(accountId));
  }

  async createDueDeliveries(now: Millis, giveUpAfterMs: number, limit: number): Promise<number> {
    return this.db.transaction(() => {
      const runs = this.all(
        `SELECT id, account_id, callback_url FROM runs WHERE callback_pending = 1 AND status IN ('completed', 'failed', 'timed_out', 'cancelled')
         ORDER BY completed_at LIMIT ?`,
        limit,
      );
      for (const r of runs) {
        this.run(
          `INSERT INTO webhook_deliveries (id, run_id, account_id, url, status, created_at, next_attempt_at, give_up_at)
           VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT DO NOTHING`,
          deliveryIdOf(String(r.id)), r.id, r.account_id, r.callback_url, now, now, now + giveUpAfterMs,
        );
        this.run('UPDATE runs SET callback_pending = 0 WHERE id = ?', r.id);
      }
      return runs.length;
    }).immediate();
  }

  async claimDueDeliveries(now: Millis, leaseUntil: Millis, limit: number): Promise<DeliveryRow[]> {
    return this.all(
      `UPDATE webhook_deliveries SET next_attempt_at = ?
       WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?)
       RETURNING *`,
      leaseUntil, now, limit,
    ).map(toDelivery);
  }

  async recordDeliveryAttempt(a: DeliveryAttemptRow, next: DeliveryNext): Promise<void> {
    this.db.transaction(() => {
      this.run(
        `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, attempted_at, duration_ms, status_code, error) VALUES (?, ?, ?, ?, ?, ?)`,
        a.deliveryId, a.attempt, a.attemptedAt, a.durationMs, a.statusCode, a.error,
      );
      this.run(
        `UPDATE webhook_deliveries SET attempts = ?, status = ?, next_attempt_at = COALESCE(?, next_attempt_at), completed_at = ? WHERE id = ?`,
        a.attempt, next.status, next.status === 'pending' ? next.nextAttemptAt : null, next.status === 'pending' ? null : a.attemptedAt, a.deliveryId,
      );
    }).immediate();
  }

  async listDeliveries(runId: string): Promise<{ delivery: DeliveryRow; attempts: DeliveryAttemptRow[] }[]> {
    return this.all('SELECT * FROM webhook_deliveries WHERE run_id = ?', runId).map((row) => ({
      delivery: toDelivery(row),
      attempts: this.all('SELECT * FROM webhook_delivery_attempts WHERE delivery_id = ? ORDER BY attempt', row.id).map(toDeliveryAttempt),
    }));
  }

  async redeliver(runId: string, now: Millis, giveUpAt: Millis): Promise<DeliveryRow | undefined> {
    const row = this.get(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, give_up_at = ?, completed_at = NULL WHERE run_id = ? RETURNING *`,
      now, giveUpAt, runId,
    );
    return row && toDelivery(row);
  }

  async getAccountRetention(accountId: string): Promise<number | null> {
    const value = this.stmt('SELECT retention_seconds FROM accounts WHERE id = ?').pluck().get(accountId);
    return value === null || value === undefined ? null : Number(value);
  }

  async setAccountRetention(accountId: string, seconds: number | null): Promise<void> {
    this.run('UPDATE accounts SET retention_seconds = ? WHERE id = ?', seconds, accountId);
  }

  async purgeExpiredRuns(p: PurgePolicy): Promise<string[]> {
    // Only a run that ended can be due: the journal's queued backlog stays where it is.
    this.recent?.indexWhere((row) => !isActive(row));
    return this.db.transaction(() => {
      const d = p.defaultRetentionSeconds;
      const rows = this.all(
        `SELECT r.id, r.account_id FROM runs r JOIN accounts a ON a.id = r.account_id
         WHERE r.completed_at IS NOT NULL AND r.status IN ('completed', 'failed', 'timed_out', 'cancelled')
           AND r.completed_at + 1000 * MIN(COALESCE(r.retain_seconds, ?), COALESCE(a.retention_seconds, ?)) <= ?
         ORDER BY r.completed_at LIMIT ?`,
        d, d, p.now, p.limit,
      );
      for (const r of rows) {
        this.run('DELETE FROM run_logs WHERE run_id = ?', r.id);
        this.run('DELETE FROM run_attempts WHERE run_id = ?', r.id);
        this.run('DELETE FROM webhook_delivery_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE run_id = ?)', r.id);
        this.run('DELETE FROM webhook_deliveries WHERE run_id = ?', r.id);
        this.run('DELETE FROM runs WHERE id = ?', r.id);
        this.run('INSERT INTO run_tombstones (id, account_id, purged_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING', r.id, r.account_id, p.now, p.now + p.tombstoneSeconds * 1000);
      }
      this.run('DELETE FROM run_tombstones WHERE id IN (SELECT id FROM run_tombstones WHERE expires_at <= ? LIMIT ?)', p.now, p.limit);
      return rows.map((r) => String(r.id));
    }).immediate();
  }

  async getTombstone(id: string): Promise<TombstoneRow | undefined> {
    const row = this.get('SELECT * FROM run_tombstones WHERE id = ?', id);
    return row && toTombstone(row);
  }
}

/** Each column of `table` with its declared default (null when it has none). */
function columnDefaults(db: Database.Database, table: string): Row {
  const columns = db.pragma(`table_info(${table})`) as { name: string; dflt_value: string | null }[];
  return Object.fromEntries(columns.map((c) => [c.name, literalOf(c.dflt_value)]));
}

/** The value of a default as SQLite declares it: a quoted string or a number. */
function literalOf(sql: string | null): unknown {
  if (sql === null) return null;
  return sql.startsWith("'") ? sql.slice(1, -1).replaceAll("''", "'") : Number(sql);
}

function toAccount(r: Row): Account {
  return { id: String(r.id), name: String(r.name), createdAt: Number(r.created_at) };
}

/** The change a claim makes to a journaled run it takes: running here, as that claim's; none to a run no longer queued. */
function claimedBy(c: RunClaim): (row: Row) => Row | undefined {
  return (row) =>
    row.status === 'queued'
      ? { status: 'running', started_at: c.now, node_id: c.nodeId, lease_expires_at: c.leaseExpiresAt, claim_number: c.claimNumber ?? null, attempt: Number(row.attempt) + 1 }
      : undefined;
}
