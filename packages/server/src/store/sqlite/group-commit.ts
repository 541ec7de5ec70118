import type Database from 'better-sqlite3';

interface PendingWrite {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the embedded store. A SQLite commit costs far more than the statements in
 * it (WAL frames, locks), and under load many requests write at once: the writes asked for in
 * one turn of the event loop are committed together, in one transaction, at the end of that
 * turn. Each write runs in a savepoint of its own, so one that throws is undone alone and only
 * its caller sees the error; no caller hears of its write before the commit that holds it.
 */
export class GroupCommit {
  private pending: PendingWrite[] = [];

  constructor(private readonly db: Database.Database) {}

  /** Runs `write` in the next group; answers what it returned once that group is committed. */
  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  /** Commits what is pending now (also called before the store closes). */
  flush(): void {
    const group = this.pending;
    if (group.length === 0) return;
    this.pending = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; err: unknown })[] = [];
    try {
      this.db
        .transaction(() => {
          for (const p of group) {
            try {
              // Nested in the group's transaction, this is a savepoint.
              outcomes.push({ ok: true, value: this.db.transaction(p.write)() });
            } catch (err) {
              outcomes.push({ ok: false, err });
            }
          }
        })
        .immediate();
    } catch (err) {
      // The commit itself failed (disk full, I/O error): none of the group was written.
      for (const p of group) p.reject(err);
      return;
    }
    group.forEach((p, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) p.resolve(outcome.value);
      else p.reject(outcome.err);
    });
  }
}
