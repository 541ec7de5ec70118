import type Database from 'better-sqlite3';

interface PendingWrite {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

/** A write of the group threw: the group's transaction was rolled back because of it. */
class WriteFailed {
  constructor(readonly err: unknown) {}
}

/**
 * Group commit for the embedded store. A SQLite commit costs far more than the statements in
 * it (WAL frames, locks), and under load many requests write at once: the writes asked for in
 * one turn of the event loop are committed together, in one transaction, at the end of that
 * turn. No caller hears of its write before the commit that holds it, and a write that throws
 * is undone alone: only its caller sees the error.
 *
 * Writes are pure database work (a closure of statements), so they can run again: a group is
 * first tried plainly, and only when one of its writes throws is it rolled back and written
 * again with each write in a savepoint of its own. A savepoint per write would cost every
 * group two more statements a write for the rare one that fails.
 */
export class GroupCommit {
  private pending: PendingWrite[] = [];
  /** A flush is due at the end of this turn of the event loop. */
  private scheduled = false;
  /** Writes wait (their callers too, not the event loop) while the WAL checkpoint catches up. */
  private held = false;

  /** `committed` is told after every group that committed. */
  constructor(
    private readonly db: Database.Database,
    private readonly committed: () => void = () => {},
  ) {}

  /** Runs `write` in the next group; answers what it returned once that group is committed. */
  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Holds every write back until `resume`: nothing is committed in between. */
  hold(): void {
    this.held = true;
  }

  /** Whether writes are held now (see `hold`). */
  get isHeld(): boolean {
    return this.held;
  }

  /** Ends a hold: what waited commits at the end of this turn. */
  resume(): void {
    this.held = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.held || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.held) this.flush();
    });
  }

  /** Commits what is pending now, held or not (also called before the store closes). */
  flush(): void {
    const group = this.pending;
    if (group.length === 0) return;
    this.pending = [];
    let outcomes: Outcome[];
    try {
      outcomes = this.commit(group, false);
    } catch (err) {
      try {
        if (!(err instanceof WriteFailed)) throw err;
        // A group of one needs no second try: its write failed, and nothing of it was kept.
        outcomes = group.length === 1 ? [{ ok: false, err: err.err }] : this.commit(group, true);
      } catch (commitErr) {
        // The commit itself failed (disk full, I/O error): none of the group was written.
        for (const p of group) p.reject(commitErr);
        return;
      }
    }
    this.committed();
    group.forEach((p, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) p.resolve(outcome.value);
      else p.reject(outcome.err);
    });
  }

  /** One transaction for the group; `isolated`: each write in a savepoint, so one that throws is undone alone. */
  private commit(group: PendingWrite[], isolated: boolean): Outcome[] {
    return this.db
      .transaction(() =>
        group.map((p): Outcome => {
          if (!isolated) {
            try {
              return { ok: true, value: p.write() };
            } catch (err) {
              throw new WriteFailed(err);
            }
          }
          try {
            // Nested in the group's transaction, this is a savepoint.
            return { ok: true, value: this.db.transaction(p.write)() };
          } catch (err) {
            return { ok: false, err };
          }
        }),
      )
      .immediate();
  }
}
