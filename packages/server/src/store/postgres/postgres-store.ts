import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { RunletError } from '../../errors.js';
import { newAccountId } from '../../ids.js';
import { IDEMPOTENCY_COLUMNS, idempotencyValues, replayOf } from '../idempotency-rows.js';
import { apiKeyExtras, hasRunOptions, startOf, toApiKey, toLogLine, toRun, type Row } from '../rows.js';
import {
  ACCOUNT_RUN_COUNTS, binder, claimable, distinctQueued, listRunsStatement, queuedServicesStatement, runningOfAccount, runTimingsStatement, toRunCounts, toRunTiming,
  type Bind,
} from '../run-queries.js';
import type { RunListQuery, RunTiming } from '../types.js';
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
import { numberPlaceholders, type Statement } from '../directory/sql-port.js';
import type { AuditEvent } from '../directory/types.js';
import { migratePostgres } from './migrate.js';
import { postgresPort } from './postgres-port.js';
import { query, type Queryable } from './prepared.js';
import { inTransaction } from './transaction.js';
import { Batcher } from './batcher.js';
import { endRuns, insertAttempts, insertRuns, readRunRecords, type RunEnd } from './run-batches.js';
import type { AttemptRow, DeliveryAttemptRow, DeliveryNext, DeliveryRow, PurgePolicy, RunWithAttempts, TombstoneRow } from '../control-types.js';
import { toAttempt, toDelivery, toDeliveryAttempt, toTombstone } from '../control-rows.js';
import type { CompletedUpload, FileRow, NewFile, UploadCompletion } from '../types.js';
import { FILE_COLUMNS, toFile } from '../file-rows.js';

const MIGRATIONS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * The store for several nodes: one PostgreSQL database. Every state change of a run is a
 * conditional write, so nodes racing on one run cannot both win; queued runs are claimed with
 * FOR UPDATE SKIP LOCKED, so nodes never wait on each other's claims.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;

  readonly directory: Directory;

  /** A run's busiest writes and read, batched across concurrent callers (see Batcher). */
  private readonly inserts: Batcher<NewRun, RunRow>;
  private readonly ends: Batcher<RunEnd, RunRow | undefined>;
  private readonly records: Batcher<string, RunWithAttempts | undefined>;

  private constructor(readonly pool: pg.Pool) {
    this.directory = new Directory(postgresPort(pool));
    this.inserts = new Batcher((runs) => insertRuns(pool, runs));
    this.ends = new Batcher((ends) => endRuns(pool, ends), { keyOf: (end) => end.id });
    this.records = new Batcher((ids) => readRunRecords(pool, ids));
  }

  static async open(connectionString: string, options: { max?: number } = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
    pool.on('error', () => {
      // An idle client lost its connection; the pool replaces it on next use.
    });
    await migratePostgres(pool, MIGRATIONS);
    return new PostgresStore(pool);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async rows(sql: string, params: unknown[] = [], db: Queryable = this.pool): Promise<Row[]> {
    return (await query(db, sql, params)).rows as Row[];
  }

  private async one(sql: string, params: unknown[] = [], db: Queryable = this.pool): Promise<Row | undefined> {
    return (await this.rows(sql, params, db))[0];
  }

  private async changes(sql: string, params: unknown[] = [], db: Queryable = this.pool): Promise<number> {
    return (await query(db, sql, params)).rowCount ?? 0;
  }

  private tx<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }

  async defaultAccount(): Promise<Account> {
    const existing = await this.one('SELECT * FROM accounts WHERE is_default');
    if (existing) return toAccount(existing);
    // Two nodes starting together may both try: the unique partial index lets one win.
    await this.changes('INSERT INTO accounts (id, name, is_default, created_at) VALUES ($1, $2, TRUE, $3) ON CONFLICT DO NOTHING', [
      newAccountId(),
      'default',
      Date.now(),
    ]);
    return toAccount((await this.one('SELECT * FROM accounts WHERE is_default'))!);
  }

  async getAccount(id: string): Promise<Account | undefined> {
    const row = await this.one('SELECT * FROM accounts WHERE id = $1', [id]);
    return row && toAccount(row);
  }

  async createAccount(name: string): Promise<Account> {
    const account = { id: newAccountId(), name, createdAt: Date.now() };
    await this.changes('INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)', [account.id, account.name, account.createdAt]);
    return account;
  }

  async createApiKey(key: NewApiKey, audit?: AuditEvent): Promise<ApiKeyRecord> {
    const insert = (db: Queryable) =>
      this.one(
        `INSERT INTO api_keys (id, account_id, kind, name, hash, prefix, internal, created_at, expires_at, services, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
        [key.id, key.accountId, key.kind, key.name, key.hash, key.prefix, key.internal ?? false, key.createdAt, ...apiKeyExtras(key)],
        db,
      );
    // Keys the runtime makes for itself are not audited: one statement, no transaction.
    if (!audit) return toApiKey((await insert(this.pool))!);
    return this.tx(async (db) => {
      const row = await insert(db);
      await this.runStatement(auditStatement(audit), db);
      return toApiKey(row!);
    });
  }

  private async runStatement(statement: Statement, db: Queryable): Promise<void> {
    await query(db, numberPlaceholders(statement.sql), statement.params);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.one('SELECT * FROM api_keys WHERE hash = $1', [hash]);
    return row && toApiKey(row);
  }

  async listApiKeys(accountId: string): Promise<ApiKeyRecord[]> {
    return (await this.rows('SELECT * FROM api_keys WHERE account_id = $1 AND NOT internal ORDER BY created_at', [accountId])).map(toApiKey);
  }

  async revokeApiKey(accountId: string, idOrPrefix: string, at: Millis, audit?: AuditEvent): Promise<ApiKeyRecord | undefined> {
    return this.tx(async (db) => {
      const rows = await this.rows('SELECT id FROM api_keys WHERE account_id = $1 AND NOT internal AND (id = $2 OR prefix = $2) FOR UPDATE', [accountId, idOrPrefix], db);
      // A prefix shared by two keys is ambiguous: revoke nothing rather than the wrong one.
      if (rows.length !== 1) return undefined;
      const revoked = await this.changes('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, rows[0]!.id], db);
      if (revoked && audit) await this.runStatement(auditStatement({ ...audit, target: String(rows[0]!.id) }), db);
      return toApiKey((await this.one('SELECT * FROM api_keys WHERE id = $1', [rows[0]!.id], db))!);
    });
  }

  async recordKeyUsage(usage: ReadonlyMap<string, KeyUsage>): Promise<void> {
    if (usage.size === 0) return;
    const ids = [...usage.keys()];
    await this.changes(
      `UPDATE api_keys k SET use_count = k.use_count + u.count, last_used_at = GREATEST(COALESCE(k.last_used_at, 0), u.last_used_at)
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(id, count, last_used_at) WHERE k.id = u.id`,
      [ids, ids.map((id) => usage.get(id)!.count), ids.map((id) => usage.get(id)!.lastUsedAt)],
    );
  }

  async deleteInternalKeys(): Promise<void> {
    await this.changes('DELETE FROM api_keys WHERE internal');
  }

  async provisionRun(p: NewProvision, options: Pick<CreateRunOptions, 'spendKeyId' | 'idempotency'> = {}): Promise<RecordedRun> {
    return this.tx(async (db) => {
      const replay = options.idempotency && (await this.claimKey(db, p.accountId, p.id, options.idempotency));
      if (replay) return replay;
      if (options.spendKeyId) await this.spendKey(db, options.spendKeyId, p.id, p.createdAt);
      const row = await this.one(
        `INSERT INTO runs (id, account_id, key_id, status, created_at, expires_at, node_id) VALUES ($1, $2, $3, 'provisioned', $4, $5, $6) RETURNING *`,
        [p.id, p.accountId, p.keyId, p.createdAt, p.expiresAt, p.nodeId],
        db,
      );
      return toRun(row!);
    });
  }

  async createRun(run: NewRun, options: CreateRunOptions = {}): Promise<RecordedRun> {
    // The common case is one statement, atomic by itself: no transaction to pay for.
    const inTransaction = options.provisionedId || options.spendKeyId || options.idempotency || hasRunOptions(run);
    const transaction = inTransaction ? this.tx.bind(this) : <T>(fn: (db: Queryable) => Promise<T>) => fn(this.pool);
    return transaction(async (db: Queryable): Promise<RecordedRun> => {
      const id = options.provisionedId ?? run.id;
      // The key first: a duplicate must find the run, not a spent one-time key.
      const replay = options.idempotency && (await this.claimKey(db, run.accountId, id, options.idempotency));
      if (replay) return replay;
      if (options.spendKeyId) await this.spendKey(db, options.spendKeyId, id, run.createdAt);
      if (options.provisionedId) {
        const values = [
          run.accountId, run.keyId, run.serviceId, run.method, run.path, run.query, run.mode, run.input, run.inputContentType,
          JSON.stringify(run.requestHeaders), run.correlationId, run.nodeId, id, run.leaseExpiresAt ?? null, ...startOf(run),
        ];
        const row = await this.one(
          `UPDATE runs SET account_id = $1, key_id = $2, service_id = $3, method = $4, path = $5, query = $6, mode = $7, input = $8,
             input_content_type = $9, request_headers = $10, correlation_id = $11, node_id = $12, lease_expires_at = $14,
             status = $15, started_at = $16, attempt = $17, expires_at = NULL
           WHERE id = $13 AND account_id = $1 AND status = 'provisioned' AND expires_at > $18 RETURNING *`,
          [...values, run.createdAt],
          db,
        );
        if (row) return this.withRunOptions(db, toRun(row), run);
        const existing = await this.one('SELECT status, account_id FROM runs WHERE id = $1', [id], db);
        const usable = existing && existing.account_id === run.accountId && existing.status !== 'provisioned';
        throw new RunletError(usable ? 'PROVISION_USED' : 'PROVISION_NOT_FOUND', undefined, { requestId: id });
      }
      // Alone, the insert joins the batch being gathered; in a transaction it is one of the transaction's statements.
      const row = db === this.pool ? await this.inserts.submit(run) : (await insertRuns(db, [run]))[0]!;
      return this.withRunOptions(db, row, run);
    });
  }

  /** Sets what a run was asked besides its call (callback, retention), in the transaction that records it. */
  private async withRunOptions(db: Queryable, recorded: RunRow, run: NewRun): Promise<RunRow> {
    if (!hasRunOptions(run)) return recorded;
    const updated = await this.one(
      'UPDATE runs SET callback_url = $1, callback_pending = $2, retain_seconds = $3 WHERE id = $4 RETURNING *',
      [run.callbackUrl ?? null, Boolean(run.callbackUrl), run.retainSeconds ?? null, recorded.id],
      db,
    );
    return toRun(updated!);
  }

  /**
   * Claims the account's idempotency key for `runId` (an expired key is taken over); answers the
   * run a live key names instead, or throws IDEMPOTENCY_KEY_REUSED. A concurrent claim of the
   * same key waits on the primary key until the first transaction ends, then finds the key taken
   * (and, READ COMMITTED, the run it names visible). The key's reference to its run is checked at
   * commit, once the run is written.
   */
  private async claimKey(db: Queryable, accountId: string, runId: string, claim: IdempotencyClaim): Promise<RecordedRun | undefined> {
    const claimed = await this.changes(
      `INSERT INTO idempotency_keys (${IDEMPOTENCY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (account_id, idempotency_key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, run_id = EXCLUDED.run_id,
         created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
       WHERE idempotency_keys.expires_at <= EXCLUDED.created_at`,
      idempotencyValues(accountId, runId, claim),
      db,
    );
    if (claimed === 1) return undefined;
    const key = (await this.one('SELECT * FROM idempotency_keys WHERE account_id = $1 AND idempotency_key = $2', [accountId, claim.key], db))!;
    return replayOf(key, claim, (await this.one('SELECT * FROM runs WHERE id = $1', [key.run_id], db))!);
  }

  async countAccountRuns(accountId: string): Promise<{ queued: number; running: number }> {
    return toRunCounts(await this.one(ACCOUNT_RUN_COUNTS, [accountId]));
  }

  async deleteExpiredIdempotencyKeys(now: Millis): Promise<number> {
    return this.changes('DELETE FROM idempotency_keys WHERE expires_at <= $1', [now]);
  }

  /** Spends a one-time key on `runId`; a key already spent on that very run passes (provision, then run). */
  private async spendKey(db: Queryable, keyId: string, runId: string, at: Millis): Promise<void> {
    // Under READ COMMITTED a concurrent spender waits for our row lock, then sees spent_at set and changes nothing.
    if ((await this.changes('UPDATE api_keys SET spent_at = $1, spent_run_id = $2 WHERE id = $3 AND spent_at IS NULL', [at, runId, keyId], db)) === 1) return;
    const key = await this.one('SELECT spent_run_id FROM api_keys WHERE id = $1', [keyId], db);
    if (!key || key.spent_run_id !== runId) throw new RunletError('KEY_SPENT');
  }

  async getRun(id: string): Promise<RunRow | undefined> {
    const row = await this.one('SELECT * FROM runs WHERE id = $1', [id]);
    return row && toRun(row);
  }

  getRunRecord(id: string): Promise<RunWithAttempts | undefined> {
    return this.records.submit(id);
  }

  async markRunning(id: string, nodeId: string, startedAt: Millis, leaseExpiresAt: Millis, within?: ClusterLimit): Promise<boolean> {
    const start = async (db: Queryable) =>
      (await this.changes(
        `UPDATE runs SET status = 'running', started_at = $1, node_id = $2, lease_expires_at = $3, attempt = attempt + 1 WHERE id = $4 AND status = 'queued'`,
        [startedAt, nodeId, leaseExpiresAt, id],
        db,
      )) === 1;
    if (!within) return start(this.pool);
    return this.withServiceLock(within.serviceId, async (db, running) => running < within.max && start(db));
  }

  async claimQueuedRuns(c: RunClaim): Promise<RunRow[]> {
    if (c.clusterMax === undefined && c.accountMax === undefined) return this.claim(this.pool, c, c.limit);
    const { clusterMax, accountMax } = c;
    const claim = () =>
      this.tx(async (db) => {
        const room = clusterMax === undefined ? c.limit : Math.min(c.limit, clusterMax - (await this.lockService(db, c.serviceId)));
        // Claims under account caps take turns across the cluster, so two nodes never both see an account's last place.
        if (accountMax !== undefined && room > 0) await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['runlet.account-caps']);
        return this.claim(db, c, room);
      });
    if (accountMax === undefined) return claim();
    // On one node they take turns here first: a burst of claims (one a run that ends) then holds
    // one connection waiting for the lock, not one each, which starved every other query.
    const turn = this.accountCapClaims.then(claim);
    this.accountCapClaims = turn.catch(() => {});
    return turn;
  }

  /** The last claim under account caps this node made: the next one waits for it (see `claimQueuedRuns`). */
  private accountCapClaims: Promise<unknown> = Promise.resolve();

  async takeClaimedRuns(nodeId: string, claimNumber: number, leaseExpiresAt: Millis): Promise<RunRow[]> {
    const rows = await this.rows(
      `UPDATE runs SET lease_expires_at = $1 WHERE node_id = $2 AND status = 'running' AND claim_number = $3 RETURNING *`,
      [leaseExpiresAt, nodeId, claimNumber],
    );
    return rows.map(toRun).sort((a, b) => a.createdAt - b.createdAt);
  }

  /**
   * Runs `fn` in a transaction that holds the service's advisory lock, with the count of its
   * runs running on every node: nodes that start runs of a capped service take turns, so two
   * of them can never both see the last free place.
   */
  private withServiceLock<T>(serviceId: string, fn: (db: Queryable, running: number) => Promise<T>): Promise<T> {
    return this.tx(async (db) => fn(db, await this.lockService(db, serviceId)));
  }

  /** Takes the service's advisory lock for the transaction; answers how many of its runs run now. */
  private async lockService(db: Queryable, serviceId: string): Promise<number> {
    await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`runlet.service:${serviceId}`]);
    return Number((await this.one(`SELECT count(*) AS n FROM runs WHERE status = 'running' AND service_id = $1`, [serviceId], db))!.n);
  }

  private async claim(db: Queryable, c: RunClaim, limit: number): Promise<RunRow[]> {
    if (limit <= 0) return [];
    const { params, bind } = binder(dollar);
    // The conditions stay on the rows locked, not only in the pick: a row another claimer took
    // meanwhile is checked again once locked, and skipped when no longer queued.
    const picked =
      c.accountMax === undefined
        ? `picked AS (SELECT id FROM runs WHERE ${claimable(c.serviceId, c.now, bind)} ORDER BY created_at LIMIT ${bind(limit)} FOR UPDATE SKIP LOCKED)`
        : withinAccountCaps(c, c.accountMax, limit, bind);
    const rows = await this.rows(
      `WITH RECURSIVE ${picked}
       UPDATE runs r SET status = 'running', started_at = ${bind(c.now)}, node_id = ${bind(c.nodeId)}, lease_expires_at = ${bind(c.leaseExpiresAt)},
         attempt = r.attempt + 1, claim_number = ${bind(c.claimNumber ?? null)}
       FROM picked WHERE r.id = picked.id RETURNING r.*`,
      params,
      db,
    );
    return rows.map(toRun).sort((a, b) => a.createdAt - b.createdAt);
  }

  async servicesWithQueuedRuns(): Promise<string[]> {
    const { sql, params } = queuedServicesStatement(dollar);
    return (await this.rows(sql, params)).map((r) => String(r.value));
  }

  async countQueuedRuns(serviceId: string): Promise<number> {
    return Number((await this.one(`SELECT count(*) AS n FROM runs WHERE status = 'queued' AND mode = 'async' AND service_id = $1`, [serviceId]))!.n);
  }

  async extendLeases(nodeId: string, runIds: readonly string[], leaseExpiresAt: Millis): Promise<void> {
    if (runIds.length === 0) return;
    await this.changes(`UPDATE runs SET lease_expires_at = $1 WHERE id = ANY($2::text[]) AND node_id = $3 AND status IN ('queued', 'running')`, [leaseExpiresAt, runIds, nodeId]);
  }

  completeRun(id: string, outcome: RunOutcome, ownerNodeId?: string, attempt?: AttemptRow): Promise<RunRow | undefined> {
    return this.ends.submit({ id, outcome, ownerNodeId, attempt });
  }

  async cancelRun(id: string, at: Millis, error: string): Promise<boolean> {
    return (
      (await this.changes(
        `UPDATE runs SET status = 'cancelled', completed_at = $1, error = $2, error_code = 'RUN_CANCELLED', lease_expires_at = NULL, expires_at = NULL
         WHERE id = $3 AND status IN ('provisioned', 'queued', 'running')`,
        [at, error, id],
      )) === 1
    );
  }

  async adoptRun(id: string, fromNodeId: string | null, toNodeId: string, leaseExpiredBefore?: Millis): Promise<boolean> {
    const lapsed = leaseExpiredBefore === undefined ? '' : ' AND lease_expires_at < $4';
    const args = leaseExpiredBefore === undefined ? [] : [leaseExpiredBefore];
    return (
      (await this.changes(
        `UPDATE runs SET node_id = $1, claim_number = NULL WHERE id = $2 AND node_id IS NOT DISTINCT FROM $3 AND status IN ('queued', 'running')${lapsed}`,
        [toNodeId, id, fromNodeId, ...args],
      )) === 1
    );
  }

  async requeueRun(id: string): Promise<boolean> {
    return (await this.changes(`UPDATE runs SET status = 'queued', node_id = NULL, lease_expires_at = NULL WHERE id = $1 AND status = 'running'`, [id])) === 1;
  }

  async findOrphanedRuns(filter: OrphanFilter): Promise<RunRow[]> {
    const held = `(status = 'running' OR (status = 'queued' AND mode = 'sync'))`;
    const rows =
      'notNodeId' in filter
        ? await this.rows(`SELECT * FROM runs WHERE ${held} AND node_id IS DISTINCT FROM $1`, [filter.notNodeId])
        : 'nodeId' in filter
          ? await this.rows(`SELECT * FROM runs WHERE ${held} AND node_id = $1`, [filter.nodeId])
          : await this.rows(
            `SELECT * FROM runs WHERE (status = 'running' OR (status = 'queued' AND mode = 'sync')) AND lease_expires_at < $1`,
            [filter.leaseExpiredBefore],
          );
    return rows.map(toRun);
  }

  async deleteExpiredProvisions(now: Millis): Promise<string[]> {
    return (await this.rows(`DELETE FROM runs WHERE status = 'provisioned' AND expires_at <= $1 RETURNING id`, [now])).map((r) => String(r.id));
  }

  async listRuns(query: RunListQuery): Promise<RunRow[]> {
    const { sql, params } = listRunsStatement(query, dollar);
    return (await this.rows(sql, params)).map(toRun);
  }

  async runTimings(accountId: string, since: Millis, limit: number): Promise<RunTiming[]> {
    const { sql, params } = runTimingsStatement(accountId, since, limit, dollar);
    return (await this.rows(sql, params)).map(toRunTiming);
  }

  async appendLogs(lines: readonly StoredLogLine[]): Promise<void> {
    if (lines.length === 0) return;
    // One statement for the whole batch: unnest turns parallel arrays into rows.
    await this.changes(
      `INSERT INTO run_logs (run_id, seq, created_at, time_us, level, source, message, fields, attempt)
       SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[])`,
      [
        lines.map((l) => l.runId),
        lines.map((l) => l.seq),
        lines.map((l) => l.createdAt),
        lines.map((l) => l.timeMicros),
        lines.map((l) => l.level),
        lines.map((l) => l.source),
        lines.map((l) => l.message),
        lines.map((l) => (l.fields ? JSON.stringify(l.fields) : null)),
        lines.map((l) => l.attempt ?? null),
      ],
    );
  }

  async readLogs(runId: string, afterSeq: number, limit: number): Promise<StoredLogLine[]> {
    return (await this.rows('SELECT * FROM run_logs WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [runId, afterSeq, limit])).map(toLogLine);
  }

  async lastLogLine(runId: string): Promise<StoredLogLine | undefined> {
    const row = await this.one('SELECT * FROM run_logs WHERE run_id = $1 ORDER BY seq DESC LIMIT 1', [runId]);
    return row && toLogLine(row);
  }

  async createFile(f: NewFile): Promise<FileRow> {
    const row = await this.one(
      `INSERT INTO files (${FILE_COLUMNS}) VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
      [f.id, f.accountId, f.name, f.backend, f.storageKey, f.contentType, f.declaredSize, f.createdAt, f.uploadExpiresAt, f.expiresAt],
    );
    return toFile(row!);
  }

  async getFile(id: string): Promise<FileRow | undefined> {
    const row = await this.one('SELECT * FROM files WHERE id = $1', [id]);
    return row && toFile(row);
  }

  async claimUpload(id: string, nodeId: string, at: Millis): Promise<boolean> {
    return (await this.changes(`UPDATE files SET status = 'uploading', node_id = $1, upload_started_at = $2 WHERE id = $3 AND status = 'pending'`, [nodeId, at, id])) === 1;
  }

  async releaseUpload(id: string, nodeId: string): Promise<boolean> {
    const sql = `UPDATE files SET status = 'pending', node_id = NULL, upload_started_at = NULL WHERE id = $1 AND status = 'uploading' AND node_id = $2`;
    return (await this.changes(sql, [id, nodeId])) === 1;
  }

  async completeUpload(id: string, nodeId: string, done: CompletedUpload, quotaBytes: number): Promise<UploadCompletion> {
    return this.tx(async (db): Promise<UploadCompletion> => {
      const file = await this.one(`SELECT account_id FROM files WHERE id = $1 AND status = 'uploading' AND node_id = $2`, [id, nodeId], db);
      if (!file) return 'gone';
      if (quotaBytes > 0) {
        // The account row's lock serialises completions of one account, so two cannot both fit.
        await this.one('SELECT id FROM accounts WHERE id = $1 FOR UPDATE', [file.account_id], db);
        const used = await this.one(`SELECT COALESCE(SUM(size), 0) AS used FROM files WHERE account_id = $1 AND status = 'ready'`, [file.account_id], db);
        if (Number(used!.used) + done.size > quotaBytes) return 'quota_exceeded';
      }
      const changed = await this.changes(
        `UPDATE files SET status = 'ready', size = $1, sha256 = $2, content_type = COALESCE($3, content_type), completed_at = $4, node_id = NULL
         WHERE id = $5 AND status = 'uploading' AND node_id = $6`,
        [done.size, done.sha256, done.contentType, done.completedAt, id, nodeId],
        db,
      );
      return changed === 1 ? 'completed' : 'gone';
    });
  }

  async storageUsed(accountId: string): Promise<number> {
    const row = await this.one(`SELECT COALESCE(SUM(size), 0) AS used FROM files WHERE account_id = $1 AND status = 'ready'`, [accountId]);
    return Number(row!.used);
  }

  async listFiles(accountId: string, options: { limit: number; before?: { createdAt: Millis; id: string } }): Promise<FileRow[]> {
    const { limit, before } = options;
    const rows = before
      ? await this.rows('SELECT * FROM files WHERE account_id = $1 AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4', [accountId, before.createdAt, before.id, limit])
      : await this.rows('SELECT * FROM files WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2', [accountId, limit]);
    return rows.map(toFile);
  }

  async deleteFile(id: string, accountId?: string): Promise<FileRow | undefined> {
    const row = accountId
      ? await this.one('DELETE FROM files WHERE id = $1 AND account_id = $2 RETURNING *', [id, accountId])
      : await this.one('DELETE FROM files WHERE id = $1 RETURNING *', [id]);
    return row && toFile(row);
  }

  async findCollectableFiles(now: Millis, staleUploadBefore: Millis, limit: number): Promise<FileRow[]> {
    const rows = await this.rows(
      `SELECT * FROM files WHERE expires_at <= $1 OR (status = 'pending' AND upload_expires_at <= $1)
         OR (status = 'uploading' AND upload_started_at < $2) ORDER BY expires_at LIMIT $3`,
      [now, staleUploadBefore, limit],
    );
    return rows.map(toFile);
  }

  async releaseOrphanedUploads(notNodeId: string): Promise<number> {
    return this.changes(
      `UPDATE files SET status = 'pending', node_id = NULL, upload_started_at = NULL WHERE status = 'uploading' AND node_id IS DISTINCT FROM $1`,
      [notNodeId],
    );
  }

  // retries, completion webhooks, retention

  async retryRun(a: AttemptRow & { retryAt: Millis }, ownerNodeId: string | null): Promise<boolean> {
    return this.tx(async (db) => {
      const requeued = await this.changes(
        `UPDATE runs SET status = 'queued', node_id = NULL, lease_expires_at = NULL, run_after = $1
         WHERE id = $2 AND status = 'running' AND node_id IS NOT DISTINCT FROM $3`,
        [a.retryAt, a.runId, ownerNodeId],
        db,
      );
      if (requeued === 1) await insertAttempts(db, [a]);
      return requeued === 1;
    });
  }


  async listAttempts(runId: string): Promise<AttemptRow[]> {
    return (await this.rows('SELECT * FROM run_attempts WHERE run_id = $1 ORDER BY attempt', [runId])).map(toAttempt);
  }

  async webhookSecret(accountId: string, candidate: string): Promise<string> {
    const row = await this.one(
      `WITH set AS (UPDATE accounts SET webhook_secret = $1 WHERE id = $2 AND webhook_secret IS NULL RETURNING webhook_secret)
       SELECT webhook_secret FROM set UNION ALL SELECT webhook_secret FROM accounts WHERE id = $2 AND webhook_secret IS NOT NULL`,
      [candidate, accountId],
    );
    // A racing first use set it after this statement's snapshot was taken: read what it set.
    return String(row?.webhook_secret ?? (await this.one('SELECT webhook_secret FROM accounts WHERE id = $1', [accountId]))?.webhook_secret);
  }

  async createDueDeliveries(now: Millis, giveUpAfterMs: number, limit: number): Promise<number> {
    // SKIP LOCKED: nodes making deliveries at once each take other runs, and none waits.
    return this.changes(
      `WITH due AS (
         SELECT id, account_id, callback_url FROM runs
         WHERE callback_pending AND status IN ('completed', 'failed', 'timed_out', 'cancelled')
         ORDER BY completed_at LIMIT $1 FOR UPDATE SKIP LOCKED),
       marked AS (UPDATE runs r SET callback_pending = FALSE FROM due WHERE r.id = due.id)
       INSERT INTO webhook_deliveries (id, run_id, account_id, url, status, created_at, next_attempt_at, give_up_at)
       SELECT 'msg_' || regexp_replace(id, '^req_', ''), id, account_id, callback_url, 'pending', $2, $2, $3 FROM due
       ON CONFLICT DO NOTHING`,
      [limit, now, now + giveUpAfterMs],
    );
  }

  async claimDueDeliveries(now: Millis, leaseUntil: Millis, limit: number): Promise<DeliveryRow[]> {
    const rows = await this.rows(
      `WITH picked AS (
         SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
         ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       UPDATE webhook_deliveries d SET next_attempt_at = $3 FROM picked WHERE d.id = picked.id RETURNING d.*`,
      [now, limit, leaseUntil],
    );
    return rows.map(toDelivery);
  }

  async recordDeliveryAttempt(a: DeliveryAttemptRow, next: DeliveryNext): Promise<void> {
    await this.tx(async (db) => {
      await this.changes(
        `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, attempted_at, duration_ms, status_code, error) VALUES ($1, $2, $3, $4, $5, $6)`,
        [a.deliveryId, a.attempt, a.attemptedAt, a.durationMs, a.statusCode, a.error],
        db,
      );
      await this.changes(
        `UPDATE webhook_deliveries SET attempts = $1, status = $2, next_attempt_at = COALESCE($3, next_attempt_at), completed_at = $4 WHERE id = $5`,
        [a.attempt, next.status, next.status === 'pending' ? next.nextAttemptAt : null, next.status === 'pending' ? null : a.attemptedAt, a.deliveryId],
        db,
      );
    });
  }

  async listDeliveries(runId: string): Promise<{ delivery: DeliveryRow; attempts: DeliveryAttemptRow[] }[]> {
    const deliveries = (await this.rows('SELECT * FROM webhook_deliveries WHERE run_id = $1', [runId])).map(toDelivery);
    return Promise.all(
      deliveries.map(async (delivery) => ({
        delivery,
        attempts: (await this.rows('SELECT * FROM webhook_delivery_attempts WHERE delivery_id = $1 ORDER BY attempt', [delivery.id])).map(toDeliveryAttempt),
      })),
    );
  }

  async redeliver(runId: string, now: Millis, giveUpAt: Millis): Promise<DeliveryRow | undefined> {
    const row = await this.one(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, give_up_at = $2, completed_at = NULL WHERE run_id = $3 RETURNING *`,
      [now, giveUpAt, runId],
    );
    return row && toDelivery(row);
  }

  async getAccountRetention(accountId: string): Promise<number | null> {
    const row = await this.one('SELECT retention_seconds FROM accounts WHERE id = $1', [accountId]);
    return row?.retention_seconds === null || row?.retention_seconds === undefined ? null : Number(row.retention_seconds);
  }

  async setAccountRetention(accountId: string, seconds: number | null): Promise<void> {
    await this.changes('UPDATE accounts SET retention_seconds = $1 WHERE id = $2', [seconds, accountId]);
  }

  async purgeExpiredRuns(p: PurgePolicy): Promise<string[]> {
    return this.tx(async (db) => {
      const rows = await this.rows(
        `SELECT r.id, r.account_id FROM runs r JOIN accounts a ON a.id = r.account_id
         WHERE r.completed_at IS NOT NULL AND r.status IN ('completed', 'failed', 'timed_out', 'cancelled')
           AND r.completed_at + 1000 * LEAST(COALESCE(r.retain_seconds, $1), COALESCE(a.retention_seconds, $1)) <= $2
         ORDER BY r.completed_at LIMIT $3 FOR UPDATE OF r SKIP LOCKED`,
        [p.defaultRetentionSeconds, p.now, p.limit],
        db,
      );
      const ids = rows.map((r) => String(r.id));
      if (ids.length > 0) {
        await this.changes('DELETE FROM run_logs WHERE run_id = ANY($1)', [ids], db);
        await this.changes('DELETE FROM run_attempts WHERE run_id = ANY($1)', [ids], db);
        await this.changes('DELETE FROM webhook_delivery_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE run_id = ANY($1))', [ids], db);
        await this.changes('DELETE FROM webhook_deliveries WHERE run_id = ANY($1)', [ids], db);
        await this.changes('DELETE FROM runs WHERE id = ANY($1)', [ids], db);
        await this.changes(
          `INSERT INTO run_tombstones (id, account_id, purged_at, expires_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) ON CONFLICT DO NOTHING`,
          [ids, rows.map((r) => String(r.account_id)), ids.map(() => p.now), ids.map(() => p.now + p.tombstoneSeconds * 1000)],
          db,
        );
      }
      await this.changes('DELETE FROM run_tombstones WHERE id IN (SELECT id FROM run_tombstones WHERE expires_at <= $1 LIMIT $2)', [p.now, p.limit], db);
      return ids;
    });
  }

  async getTombstone(id: string): Promise<TombstoneRow | undefined> {
    const row = await this.one('SELECT * FROM run_tombstones WHERE id = $1', [id]);
    return row && toTombstone(row);
  }
}

function toAccount(r: Row): Account {
  return { id: String(r.id), name: String(r.name), createdAt: Number(r.created_at) };
}

const dollar = (index: number) => `$${index}`;

/**
 * The CTEs that pick, for a claim under account caps, the oldest of the service's queued runs
 * (up to `limit`) whose accounts have places left under `accountMax`: each account waiting
 * (found by skipping from one to the next, see `distinctQueued`) gives its oldest runs the
 * places its running ones leave. Ends in `picked`, locked as the plain claim's pick is.
 */
function withinAccountCaps(c: RunClaim, accountMax: number, limit: number, bind: Bind): string {
  return `${distinctQueued('waiting', 'account_id', bind, c.serviceId)},
    places AS (SELECT value AS account_id, LEAST(${bind(limit)}, ${bind(accountMax)} - ${runningOfAccount('value')}) AS n FROM waiting WHERE value IS NOT NULL),
    candidates AS (
      SELECT oldest.id, oldest.created_at FROM places CROSS JOIN LATERAL (
        SELECT q.id, q.created_at FROM runs q WHERE ${claimable(c.serviceId, c.now, bind, 'q')} AND q.account_id = places.account_id
        ORDER BY q.created_at LIMIT GREATEST(places.n, 0)) oldest),
    picked AS (
      SELECT id FROM runs WHERE ${claimable(c.serviceId, c.now, bind)}
        AND id IN (SELECT id FROM candidates ORDER BY created_at, id LIMIT ${bind(limit)})
      ORDER BY created_at LIMIT ${bind(limit)} FOR UPDATE SKIP LOCKED)`;
}
