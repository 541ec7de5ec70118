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

/**
 * Of the queued runs `queued` selects (id, account_id, created_at), those that fit under a cap
 * (`placeholder`) on each account's runs running at once: an account's oldest queued runs take
 * the places its running ones leave free.
 */
export function withinAccountCaps(queued: string, placeholder = '?'): string {
  return `SELECT id, created_at FROM (
      SELECT q.id, q.created_at, row_number() OVER (PARTITION BY q.account_id ORDER BY q.created_at)
        + (SELECT count(*) FROM runs b WHERE b.account_id = q.account_id AND b.status = 'running') AS place
      FROM (${queued}) q) ranked
    WHERE place <= ${placeholder}`;
}
