import { ATTEMPT_COLUMNS, attemptValues, toAttempt } from '../control-rows.js';
import type { AttemptRow, RunWithAttempts } from '../control-types.js';
import { startOf, toRun, type Row } from '../rows.js';
import type { NewRun, RunOutcome, RunRow } from '../types.js';
import { query, queryPlannedEachTime, type Queryable } from './prepared.js';

/**
 * The statements of a run's busiest moments (recorded, ended, read), each written for a batch of
 * runs: `unnest` turns one array per column into rows, so one text serves a batch of any size and
 * stays one prepared statement. Rows come back in no promised order; each is matched by id.
 */

/** A column of a batch: its name, its SQL array type, and how an item gives its value. */
type Column<T> = readonly [name: string, type: string, value: (item: T) => unknown];

function unnest<T>(columns: readonly Column<T>[], items: readonly T[], first = 1): { sql: string; params: unknown[][] } {
  return {
    sql: `unnest(${columns.map(([, type], i) => `$${first + i}::${type}[]`).join(', ')}) AS b(${columns.map(([name]) => name).join(', ')})`,
    params: columns.map(([, , value]) => items.map(value)),
  };
}

const byId = (rows: readonly Row[]): Map<string, Row> => new Map(rows.map((r) => [String(r.id), r]));

/** A run to record, with its status, start and attempt worked out once (`startOf`). */
interface NewRunEntry {
  run: NewRun;
  start: ReturnType<typeof startOf>;
}

const NEW_RUN: readonly Column<NewRunEntry>[] = [
  ['id', 'text', ({ run }) => run.id],
  ['account_id', 'text', ({ run }) => run.accountId],
  ['key_id', 'text', ({ run }) => run.keyId],
  ['service_id', 'text', ({ run }) => run.serviceId],
  ['method', 'text', ({ run }) => run.method],
  ['path', 'text', ({ run }) => run.path],
  ['query', 'text', ({ run }) => run.query],
  ['mode', 'text', ({ run }) => run.mode],
  ['input', 'bytea', ({ run }) => run.input],
  ['input_content_type', 'text', ({ run }) => run.inputContentType],
  ['request_headers', 'text', ({ run }) => JSON.stringify(run.requestHeaders)],
  ['correlation_id', 'text', ({ run }) => run.correlationId],
  ['node_id', 'text', ({ run }) => run.nodeId],
  ['lease_expires_at', 'bigint', ({ run }) => run.leaseExpiresAt ?? null],
  ['created_at', 'bigint', ({ run }) => run.createdAt],
  ['status', 'text', ({ start }) => start[0]],
  ['started_at', 'bigint', ({ start }) => start[1]],
  ['attempt', 'int', ({ start }) => start[2]],
];

/** Records runs, queued or (`startedAt` set) started; answers their rows in the order given. */
export async function insertRuns(db: Queryable, runs: readonly NewRun[]): Promise<RunRow[]> {
  const { sql, params } = unnest(NEW_RUN, runs.map((run) => ({ run, start: startOf(run) })));
  const names = NEW_RUN.map(([name]) => name).join(', ');
  const rows = byId((await query(db, `INSERT INTO runs (${names}) SELECT ${names} FROM ${sql} RETURNING *`, params)).rows);
  return runs.map((r) => toRun(rows.get(r.id)!));
}

export interface RunEnd {
  id: string;
  outcome: RunOutcome;
  /** When set, the run ends only if this node holds it. */
  ownerNodeId?: string;
  attempt?: AttemptRow;
}

const RUN_END: readonly Column<RunEnd>[] = [
  ['id', 'text', (e) => e.id],
  ['status', 'text', (e) => e.outcome.status],
  ['completed_at', 'bigint', (e) => e.outcome.completedAt],
  ['response_status', 'int', (e) => e.outcome.responseStatus ?? null],
  ['response_content_type', 'text', (e) => e.outcome.responseContentType ?? null],
  ['response_body', 'bytea', (e) => e.outcome.responseBody ?? null],
  ['error', 'text', (e) => e.outcome.error ?? null],
  ['error_code', 'text', (e) => e.outcome.errorCode ?? null],
  ['owner', 'text', (e) => e.ownerNodeId ?? null],
];

/** ATTEMPT_COLUMNS' types, in its order. */
const ATTEMPT_TYPES = ['text', 'int', 'text', 'int', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint'];
/** Columns of an attempt's `attemptValues`, the order the embedded store writes them in too. */
const ATTEMPT: readonly Column<readonly unknown[]>[] = ATTEMPT_COLUMNS.split(', ').map((name, i) => [name, ATTEMPT_TYPES[i]!, (values) => values[i]]);

/** Records attempts; one already recorded (a repeated end) is left as it was. */
function attemptsInsert(attempts: readonly AttemptRow[], first = 1): { sql: string; params: unknown[][] } {
  const { sql, params } = unnest(ATTEMPT, attempts.map(attemptValues), first);
  return { sql: `INSERT INTO run_attempts (${ATTEMPT.map(([name]) => name).join(', ')}) SELECT * FROM ${sql} ON CONFLICT DO NOTHING`, params };
}

export async function insertAttempts(db: Queryable, attempts: readonly AttemptRow[]): Promise<void> {
  const { sql, params } = attemptsInsert(attempts);
  await query(db, sql, params);
}

/**
 * "Still queued or running", written so that no partial index on status matches it. As
 * `status IN ('queued', 'running')` it did, and a plan made while few runs were active read
 * every queued and running run for each batch of ends, hashing the batch against them: an end
 * cost as much as the queue was long (docs/performance.md). Now the batch reaches its rows by
 * primary key, and the statement is planned afresh on each call, so a plan made while the
 * table was nearly empty (a sequential scan, cheap then) is not kept once it has grown.
 */
const STILL_ACTIVE = `CASE r.status WHEN 'queued' THEN true WHEN 'running' THEN true ELSE false END`;

/**
 * Ends runs that are still queued or running (and held by `ownerNodeId`, when given), with
 * their attempts' records, in one statement; answers each ended row, or undefined for a run
 * that had already ended or moved. Ends of one run must come in separate batches: an UPDATE
 * changes a row once, however many of the batch's rows name it.
 */
export async function endRuns(db: Queryable, ends: readonly RunEnd[]): Promise<(RunRow | undefined)[]> {
  const end = unnest(RUN_END, ends);
  const attempt = attemptsInsert(ends.flatMap((e) => (e.attempt ? [e.attempt] : [])), RUN_END.length + 1);
  const sets = RUN_END.slice(1, -1).map(([name]) => `${name} = b.${name}`).join(', ');
  const rows = byId(
    (
      await queryPlannedEachTime(
        db,
        `WITH attempt AS (${attempt.sql})
         UPDATE runs r SET ${sets}, lease_expires_at = NULL FROM ${end.sql}
         WHERE r.id = b.id AND ${STILL_ACTIVE} AND (b.owner IS NULL OR r.node_id = b.owner)
         RETURNING r.*`,
        [...end.params, ...attempt.params],
      )
    ).rows,
  );
  return ends.map((e) => {
    const row = rows.get(e.id);
    return row && toRun(row);
  });
}

/** Reads runs with their attempts (oldest first); undefined for an id with no run. */
export async function readRunRecords(db: Queryable, ids: readonly string[]): Promise<(RunWithAttempts | undefined)[]> {
  const rows = byId(
    (
      await query(
        db,
        `SELECT r.*, (SELECT COALESCE(json_agg(a ORDER BY a.attempt), '[]'::json) FROM run_attempts a WHERE a.run_id = r.id) AS attempts_json
         FROM runs r WHERE r.id = ANY($1::text[])`,
        [ids],
      )
    ).rows,
  );
  return ids.map((id) => {
    const row = rows.get(id);
    return row && { run: toRun(row), attempts: (row.attempts_json as Row[]).map(toAttempt) };
  });
}
