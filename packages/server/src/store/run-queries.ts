import type { Row } from './rows.js';
import type { Millis, RunListQuery, RunTiming } from './types.js';

/** A statement and its parameters, with placeholders in the dialect's own spelling. */
export interface Statement {
  sql: string;
  params: unknown[];
}

/** `?` for SQLite, `$1, $2, ...` for PostgreSQL. */
export type Placeholder = (index: number) => string;

/**
 * One page of an account's runs, newest first. Both stores build the same SQL here so the two
 * cannot disagree on what a filter or a cursor means; provisioned ids are not runs yet and are
 * listed only when asked for by status.
 */
export function listRunsStatement(query: RunListQuery, placeholder: Placeholder): Statement {
  const params: unknown[] = [];
  const bind = (value: unknown) => {
    params.push(value);
    return placeholder(params.length);
  };
  const where = [`account_id = ${bind(query.accountId)}`];
  if (query.serviceId !== undefined) where.push(`service_id = ${bind(query.serviceId)}`);
  where.push(query.status !== undefined ? `status = ${bind(query.status)}` : `status <> 'provisioned'`);
  if (query.before) where.push(`(created_at, id) < (${bind(query.before.createdAt)}, ${bind(query.before.id)})`);
  const sql = `SELECT * FROM runs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${bind(query.limit)}`;
  return { sql, params };
}

/**
 * The same page's filter for runs held in memory (the embedded store's run journal): whether a
 * run's row belongs in the list `listRunsStatement` reads. journal-equivalence.test.ts holds the
 * two to the same answers.
 */
export function inRunList(query: RunListQuery): (row: Row) => boolean {
  const { accountId, serviceId, status, before } = query;
  return (row) =>
    row.account_id === accountId &&
    (serviceId === undefined || row.service_id === serviceId) &&
    (status !== undefined ? row.status === status : row.status !== 'provisioned') &&
    (!before || Number(row.created_at) < before.createdAt || (Number(row.created_at) === before.createdAt && String(row.id) < before.id));
}

/** The order of `listRunsStatement`: newest first, then by id. */
export function newestFirst(a: Row, b: Row): number {
  const byTime = Number(b.created_at) - Number(a.created_at);
  if (byTime !== 0) return byTime;
  return a.id === b.id ? 0 : String(a.id) < String(b.id) ? 1 : -1;
}

/** The timing columns of an account's runs created since `since` (no bodies: usage charts only). */
export function runTimingsStatement(accountId: string, since: Millis, limit: number, placeholder: Placeholder): Statement {
  return {
    sql: `SELECT service_id, status, created_at, started_at, completed_at, response_status FROM runs
            WHERE account_id = ${placeholder(1)} AND created_at >= ${placeholder(2)} AND status <> 'provisioned'
            ORDER BY created_at DESC LIMIT ${placeholder(3)}`,
    params: [accountId, since, limit],
  };
}

/** The same runs' filter for runs held in memory, as `inRunList` is for lists. */
export function inRunTimings(accountId: string, since: Millis): (row: Row) => boolean {
  return (row) => row.account_id === accountId && Number(row.created_at) >= since && row.status !== 'provisioned';
}

export function toRunTiming(r: Row): RunTiming {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    serviceId: r.service_id === null ? null : String(r.service_id),
    status: String(r.status) as RunTiming['status'],
    createdAt: Number(r.created_at),
    startedAt: num(r.started_at),
    completedAt: num(r.completed_at),
    responseStatus: num(r.response_status),
  };
}

/**
 * The account's queued and running runs, for its back-pressure limits (`$1`: the account id).
 * The partial index `runs_account_active` (008) holds exactly these rows.
 */
export const ACCOUNT_RUN_COUNTS = `SELECT
    COALESCE(SUM(CASE WHEN status = 'queued' THEN 1 ELSE 0 END), 0) AS queued,
    COALESCE(SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END), 0) AS running
  FROM runs WHERE account_id = $1 AND status IN ('queued', 'running')`;

export function toRunCounts(row: Row | undefined): { queued: number; running: number } {
  return { queued: Number(row?.queued ?? 0), running: Number(row?.running ?? 0) };
}

/** Binds a value into the statement being built: answers its placeholder. */
export type Bind = (value: unknown) => string;

/** A fresh list of parameters and the `bind` that fills it, in the dialect's spelling. */
export function binder(placeholder: Placeholder): { params: unknown[]; bind: Bind } {
  const params: unknown[] = [];
  return { params, bind: (value) => (params.push(value), placeholder(params.length)) };
}

/**
 * The recursive CTE `name (value)`: the distinct values of `column` among the queued async
 * runs (of one service, when `serviceId` is given), found by skipping from each value to the
 * next in an index that leads with them (`runs_queued`, `runs_queued_accounts`). It costs the
 * values, not the runs queued: a plain DISTINCT read the whole queue. For a `WITH RECURSIVE`.
 */
export function distinctQueued(name: string, column: 'service_id' | 'account_id', bind: Bind, serviceId?: string): string {
  const queued = (alias: string) => `${alias}.status = 'queued' AND ${alias}.mode = 'async'${serviceId === undefined ? '' : ` AND ${alias}.service_id = ${bind(serviceId)}`}`;
  return `${name} (value) AS (
      SELECT (SELECT q.${column} FROM runs q WHERE ${queued('q')} ORDER BY q.${column} LIMIT 1)
      UNION ALL
      SELECT (SELECT q.${column} FROM runs q WHERE ${queued('q')} AND q.${column} > p.value ORDER BY q.${column} LIMIT 1)
      FROM ${name} p WHERE p.value IS NOT NULL)`;
}

/** The services with queued async runs. */
export function queuedServicesStatement(placeholder: Placeholder): Statement {
  const { params, bind } = binder(placeholder);
  return { sql: `WITH RECURSIVE ${distinctQueued('services', 'service_id', bind)} SELECT value FROM services WHERE value IS NOT NULL`, params };
}

/**
 * How many runs the account (`column`, an account id) has running now, of any service, on every
 * node. The first status condition is the partial index's own (`runs_account_active`): SQLite
 * uses a partial index only for a query that names its condition, and would otherwise read
 * every run the account ever made.
 */
export const runningOfAccount = (column: string) =>
  `(SELECT count(*) FROM runs b WHERE b.account_id = ${column} AND b.status IN ('queued', 'running') AND b.status = 'running')`;

/** The accounts with queued async runs of the service: a claim under account caps gives each the places its running runs leave. */
export function waitingAccountsStatement(serviceId: string, placeholder: Placeholder): Statement {
  const { params, bind } = binder(placeholder);
  return { sql: `WITH RECURSIVE ${distinctQueued('waiting', 'account_id', bind, serviceId)} SELECT value FROM waiting WHERE value IS NOT NULL`, params };
}

/** The condition on the runs a claim may take: the service's queued async runs due by `now`. */
export function claimable(serviceId: string, now: Millis, bind: Bind, alias = 'runs'): string {
  return `${alias}.status = 'queued' AND ${alias}.mode = 'async' AND ${alias}.service_id = ${bind(serviceId)} AND (${alias}.run_after IS NULL OR ${alias}.run_after <= ${bind(now)})`;
}
