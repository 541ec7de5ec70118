import type Database from 'better-sqlite3';
import type { Row } from '../rows.js';
import type { SqlPort, Statement } from '../directory/sql-port.js';

/** The directory's SQL on the embedded store; better-sqlite3 is synchronous, so a batch cannot interleave. */
export function sqlitePort(db: Database.Database): SqlPort {
  const statements = new Map<string, Database.Statement>();
  const stmt = (text: string) => {
    let s = statements.get(text);
    if (!s) statements.set(text, (s = db.prepare(text)));
    return s;
  };
  const runBatch = db.transaction((list: readonly Statement[]) => list.map((s) => stmt(s.sql).run(...s.params).changes));
  return {
    all: async (text, params = []) => stmt(text).all(...params) as Row[],
    run: async (text, params = []) => stmt(text).run(...params).changes,
    batch: async (list) => runBatch(list),
  };
}
