import type pg from 'pg';
import type { Row } from '../rows.js';
import { numberPlaceholders, type SqlPort } from '../directory/sql-port.js';
import { query } from './prepared.js';
import { inTransaction } from './transaction.js';

/** The directory's SQL on PostgreSQL: placeholders numbered, a batch in one transaction. */
export function postgresPort(pool: pg.Pool): SqlPort {
  const texts = new Map<string, string>();
  const text = (sql: string) => {
    let t = texts.get(sql);
    if (t === undefined) texts.set(sql, (t = numberPlaceholders(sql)));
    return t;
  };
  return {
    all: async (sql, params = []) => (await query(pool, text(sql), params)).rows as Row[],
    run: async (sql, params = []) => (await query(pool, text(sql), params)).rowCount ?? 0,
    batch: (list) =>
      inTransaction(pool, async (client) => {
        const counts: number[] = [];
        for (const s of list) counts.push((await query(client, text(s.sql), s.params)).rowCount ?? 0);
        return counts;
      }),
  };
}
