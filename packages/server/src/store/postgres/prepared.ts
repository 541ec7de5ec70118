import type pg from 'pg';

export type Queryable = pg.Pool | pg.PoolClient;

/**
 * Past this many distinct texts, queries go unnamed: a statement built from filters has a few
 * shapes, but nothing should let a connection's prepared statements grow without end.
 */
const MAX_NAMED = 256;
const names = new Map<string, string>();
let generation = 0;

function nameOf(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMED) names.set(text, (name = `runlet_${generation}_${names.size}`));
  return name;
}

/** PostgreSQL's answer when a prepared `SELECT *` meets a table whose columns changed since. */
const isStalePlan = (err: unknown): boolean => (err as { code?: string }).code === '0A000' && /cached plan must not change result type/.test(String((err as Error).message));

/**
 * Runs `text` as a named prepared statement, so each connection has PostgreSQL parse and plan it
 * once rather than on every call: that was 40 % of the database's CPU per async run (see
 * docs/performance.md).
 *
 * A node that migrates the schema while others run (a rolling upgrade adding a column) makes
 * their prepared `SELECT *` fail once: then every text gets a fresh name, so each connection
 * prepares it again, and a query outside a transaction is retried unnamed. Inside one the
 * transaction is already aborted, so the error goes to the caller, whose retry will succeed.
 */
export async function query(db: Queryable, text: string, readonlyValues: readonly unknown[] = []): Promise<pg.QueryResult> {
  const name = nameOf(text);
  // pg reads the values without changing them; its type only asks for a mutable array.
  const values = readonlyValues as unknown[];
  try {
    return await db.query({ name, text, values });
  } catch (err) {
    if (name === undefined || !isStalePlan(err)) throw err;
    generation++;
    names.clear();
    if (!isPool(db)) throw err;
    return db.query({ text, values });
  }
}

const isPool = (db: Queryable): db is pg.Pool => 'totalCount' in db;

/**
 * Runs `text` unnamed: PostgreSQL plans it afresh on every call, for the values and the table
 * as they are then. For a statement whose best plan turns on something a plan cached earlier
 * cannot know (see `endRuns`).
 */
export function queryPlannedEachTime(db: Queryable, text: string, readonlyValues: readonly unknown[]): Promise<pg.QueryResult> {
  // pg reads the values without changing them; its type only asks for a mutable array.
  return db.query({ text, values: readonlyValues as unknown[] });
}
