import type { AttemptRow } from '../control-types.js';
import type { Row } from '../rows.js';
import { changeLine, runLine, withAttempt, type JournaledRun, type RunJournal } from './run-journal.js';

/** How often runs are indexed into the tables. */
const INDEX_EVERY_MS = 100;
/** A run still going after this long is indexed anyway, so that no run waits in memory for long. */
const KEEP_RUNNING_MS = 1000;
/**
 * A queued async run waits this long before it is indexed: a claim takes the oldest queued runs
 * of the tables and of the journal together, but one that finds any in the tables indexes the
 * journal's first, so a backlog indexed early would make every claim an index.
 */
const KEEP_QUEUED_MS = 30_000;

interface Entry {
  /** The run as its latest write left it. */
  current: JournaledRun;
  /** What readers see: the state the journal holds (undefined until its first line is written). */
  seen: JournaledRun | undefined;
  /** When it was recorded, on this process's clock. */
  since: number;
  /** Under which of its account's counts it is (see `countActive`), if any. */
  counted?: ActiveStatus;
}

type ActiveStatus = 'queued' | 'running';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Runs recorded in the journal and not yet indexed in the tables: the embedded store's fast
 * path. A run is written three times, often within milliseconds (recorded; started, or claimed
 * when async; ended), and a SQLite commit costs far more than the row it holds, so each of those
 * writes is instead one line in an append-only journal (the lines of one turn of the event loop
 * in one `write`), and every INDEX_EVERY_MS the runs that ended go into the tables together,
 * each as one row.
 *
 * As with the group commit, no caller hears of a write before it is durable, a write the
 * journal refused is undone, and readers see only what is durable: `read` answers the state
 * the journal holds. A run leaves this set only by being indexed, and never comes back, so a
 * method of the store that reads runs from the tables either adds what is here (counts,
 * claims) or first calls `indexAll` and then sees them all.
 */
export class JournaledRuns {
  private readonly runs = new Map<string, Entry>();
  /** Lines not written yet, with the entry each records. */
  private pending: { entry: Entry; line: string }[] = [];
  private waiting: Waiter[] = [];
  /** The queued async runs held here, by service, in the order they came (see `queuedOf`). */
  private readonly queues = new Map<string, Map<string, Entry>>();
  /** The newest creation time each service's queue took: an older one after it unsorts the queue. */
  private readonly newest = new Map<string, number>();
  private readonly unsorted = new Set<string>();
  /** Each account's queued and running runs held here, kept as they change: counted on every call near a limit. */
  private readonly active = new Map<string, Record<ActiveStatus, number>>();
  /** Runs indexed whose mark the journal refused: owed before its next line, or a replay would redo them. */
  private owed: string[] = [];
  private readonly timer: NodeJS.Timeout;

  /**
   * `index` writes runs into the tables in one transaction (throwing when the store fails, with
   * nothing written); `mayIndex` says whether the tables may be written now.
   */
  constructor(
    private readonly journal: RunJournal,
    private readonly index: (runs: readonly JournaledRun[]) => void,
    private readonly mayIndex: () => boolean = () => true,
  ) {
    this.timer = setInterval(() => this.indexSome(), INDEX_EVERY_MS).unref();
  }

  has(id: string): boolean {
    return this.runs.has(id);
  }

  /** The run as the journal holds it, if it is here. */
  read(id: string): JournaledRun | undefined {
    return this.runs.get(id)?.seen;
  }

  /** Every run held here as the journal holds it: what readers see. */
  *held(): Generator<JournaledRun> {
    for (const { seen } of this.runs.values()) if (seen) yield seen;
  }

  /** Records a new run; settles once its line is written. */
  add(row: Row): Promise<void> {
    const entry: Entry = { current: { row, attempts: [] }, seen: undefined, since: Date.now() };
    this.runs.set(String(row.id), entry);
    this.track(entry);
    return this.written(entry, runLine(entry.current));
  }

  /**
   * Changes a run held here (`has`): `change` answers the columns to set, or undefined to leave
   * the run as it is. `attempt` is recorded either way (once per number). Answers the run's new
   * row once its line is written (undefined when `change` left it).
   */
  async change(id: string, change: (row: Row) => Row | undefined, attempt?: AttemptRow): Promise<Row | undefined> {
    const entry = this.runs.get(id)!;
    const { row, attempts } = entry.current;
    const set = change(row);
    const withNew = withAttempt(attempts, attempt);
    if (!set && withNew === attempts) return undefined;
    entry.current = { row: set ? changed(row, set) : row, attempts: withNew };
    this.track(entry);
    await this.written(entry, changeLine(id, set ?? {}, withNew === attempts ? undefined : attempt));
    return set && entry.current.row;
  }

  /**
   * Up to `limit` of the service's queued async runs held here that are due by `now` (and that
   * `accept` takes, asked oldest first), oldest first, as their latest writes left them: what a
   * claim takes. Costs the runs it answers, not the backlog: a claim comes for every worker
   * freed. (A filter that refuses the oldest, an account at its cap, makes it read on.)
   */
  queuedOf(serviceId: string, now: number, limit: number, accept: (row: Row) => boolean = () => true): Row[] {
    const queue = this.queues.get(serviceId);
    if (!queue) return [];
    if (this.unsorted.delete(serviceId)) {
      const sorted = [...queue].sort(([, a], [, b]) => Number(a.current.row.created_at) - Number(b.current.row.created_at));
      queue.clear();
      for (const [id, e] of sorted) queue.set(id, e);
    }
    const rows: Row[] = [];
    for (const { current } of queue.values()) {
      if (rows.length === limit) break;
      if ((current.row.run_after == null || Number(current.row.run_after) <= now) && accept(current.row)) rows.push(current.row);
    }
    return rows;
  }

  /** The services with queued async runs held here. */
  queuedServices(): Iterable<string> {
    return this.queues.keys();
  }

  /** How many of the service's queued async runs are held here. */
  queuedCount(serviceId: string): number {
    return this.queues.get(serviceId)?.size ?? 0;
  }

  /** How many of the account's runs held here are queued and running (as their latest writes left them). */
  countActive(accountId: string): { queued: number; running: number } {
    const counts = this.active.get(accountId);
    return { queued: counts?.queued ?? 0, running: counts?.running ?? 0 };
  }

  /** Indexes every run held here now. Throws when the tables cannot take them (nothing is lost). */
  indexAll(): void {
    if (this.runs.size > 0 || this.owed.length > 0) this.indexRuns([...this.runs.values()]);
  }

  /**
   * Indexes the run `id` now, if it is held here, and only it: a write to the tables about one
   * run (a retry, a requeue) need not move a queued backlog there. Throws as `indexAll` does.
   */
  indexRun(id: string): void {
    const entry = this.runs.get(id);
    if (entry) this.indexRuns([entry]);
  }

  /**
   * Indexes now the runs held here whose latest write `which` takes, and only those (a capped
   * service's, a sweep's). Throws when the tables cannot take them (nothing is lost).
   */
  indexWhere(which: (row: Row) => boolean): void {
    const entries = [...this.runs.values()].filter((e) => which(e.current.row));
    if (entries.length > 0) this.indexRuns(entries);
  }

  /** Indexes what is left and stops. Throws when the tables cannot take them: the journal keeps them. */
  close(): void {
    clearInterval(this.timer);
    try {
      this.indexAll();
    } finally {
      // Lines of this turn still owed: written (and their callers answered) whatever happened above.
      this.writeLines();
    }
  }

  /** Puts a run in its service's queue and its account's counts, or takes it out, as its state now says. */
  private track(entry: Entry): void {
    const { row } = entry.current;
    const id = String(row.id);
    const held = this.runs.get(id) === entry;
    this.recount(entry, held && isActive(row) ? (row.status as ActiveStatus) : undefined);
    const serviceId = String(row.service_id);
    const queue = this.queues.get(serviceId);
    const queued = row.status === 'queued' && row.mode === 'async' && held;
    if (!queued) {
      if (queue?.delete(id) && queue.size === 0) {
        this.queues.delete(serviceId);
        this.newest.delete(serviceId);
        this.unsorted.delete(serviceId);
      }
      return;
    }
    if (queue?.has(id)) return;
    if (queue) queue.set(id, entry);
    else this.queues.set(serviceId, new Map([[id, entry]]));
    const createdAt = Number(row.created_at);
    if (createdAt < (this.newest.get(serviceId) ?? -Infinity)) this.unsorted.add(serviceId);
    else this.newest.set(serviceId, createdAt);
  }

  /** Moves a run from the account's count it was under to the one of `status` (none when undefined). */
  private recount(entry: Entry, status: ActiveStatus | undefined): void {
    if (entry.counted === status) return;
    const accountId = String(entry.current.row.account_id);
    const counts = this.active.get(accountId) ?? { queued: 0, running: 0 };
    if (entry.counted) counts[entry.counted]--;
    if (status) counts[status]++;
    entry.counted = status;
    if (counts.queued === 0 && counts.running === 0) this.active.delete(accountId);
    else this.active.set(accountId, counts);
  }

  private written(entry: Entry, line: string): Promise<void> {
    if (this.pending.length === 0) setImmediate(() => this.writeLines());
    this.pending.push({ entry, line });
    return new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Journals the lines of this turn in one write, then answers their callers. */
  private writeLines(): void {
    const pending = this.pending;
    const waiting = this.waiting;
    this.pending = [];
    this.waiting = [];
    // A run indexed meanwhile is in the tables already: durable, and no longer read from here.
    const held = pending.filter((p) => this.runs.get(String(p.entry.current.row.id)) === p.entry);
    try {
      if (this.owed.length > 0) this.mark([]);
      this.journal.append(held.map((p) => p.line).join(''));
    } catch (err) {
      // Undone, as a failed commit is: each run goes back to what the journal holds of it.
      for (const { entry } of held) {
        if (entry.seen) entry.current = entry.seen;
        else this.runs.delete(String(entry.current.row.id));
        this.track(entry);
      }
      for (const w of waiting) w.reject(err);
      return;
    }
    for (const { entry } of held) entry.seen = entry.current;
    for (const w of waiting) w.resolve();
  }

  /** The timer's indexing: runs that ended, and those going on for long. A failure waits for the next tick. */
  private indexSome(): void {
    if (!this.mayIndex() || (this.runs.size === 0 && this.owed.length === 0)) return;
    const now = Date.now();
    const due = [...this.runs.values()].filter((e) => !isActive(e.current.row) || now - e.since >= keepFor(e.current.row));
    try {
      if (due.length > 0 || this.owed.length > 0) this.indexRuns(due);
    } catch {
      // The store failed: the journal keeps the runs, and the next tick tries again.
    }
  }

  private indexRuns(entries: readonly Entry[]): void {
    if (entries.length > 0) this.index(entries.map((e) => e.current));
    for (const e of entries) {
      this.runs.delete(String(e.current.row.id));
      this.track(e);
    }
    // The runs are in the tables: a refused mark only means a replay writes them again.
    try {
      this.mark(entries.map((e) => String(e.current.row.id)));
    } catch {
      // `mark` kept them owed.
    }
  }

  /**
   * Marks the journal: the runs `indexed` (and any owed) are in the tables. With no run left
   * here, the journal is emptied; past its size it is written anew with the runs still here, as
   * the journal holds them (their unwritten changes follow in this turn's lines).
   */
  private mark(indexed: readonly string[]): void {
    const ids = [...this.owed, ...indexed];
    this.owed = ids;
    if (this.runs.size === 0) this.journal.clear();
    else if (ids.length > 0) this.journal.mark(ids, () => this.held());
    this.owed = [];
  }
}

/** Whether a run has not ended yet (the tables' `status IN ('queued', 'running')`). */
export const isActive = (row: Row) => row.status === 'queued' || row.status === 'running';
const keepFor = (row: Row) => (row.status === 'queued' && row.mode === 'async' ? KEEP_QUEUED_MS : KEEP_RUNNING_MS);

/**
 * `row` with the columns of `set` changed. A journaled row holds every column of the table (see
 * `SqliteStore.journalRun`), so its copy only overwrites values: it keeps its hidden class, where
 * adding columns one by one would turn it into a dictionary, several times slower to copy,
 * read and encode.
 */
function changed(row: Row, set: Row): Row {
  const next = { ...row };
  for (const column in set) next[column] = set[column];
  return next;
}
