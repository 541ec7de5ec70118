import type { Row } from '../rows.js';

/** One statement: SQL with `?` placeholders (never a literal `?` in its text) and its values. */
export interface Statement {
  sql: string;
  params: readonly unknown[];
}

/**
 * The little of a database that the directory needs, the same on both backends: so its queries
 * are written once. Statements use `?` placeholders; the PostgreSQL port numbers them.
 */
export interface SqlPort {
  all(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Answers the number of rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Runs the statements in one transaction; answers each one's changed-row count. */
  batch(statements: readonly Statement[]): Promise<number[]>;
}

export const sql = (text: string, ...params: unknown[]): Statement => ({ sql: text, params });

/** `?` → `$1`, `$2`, … for PostgreSQL. */
export function numberPlaceholders(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}
