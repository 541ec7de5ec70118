import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, ftruncateSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { AttemptRow } from '../control-types.js';
import type { Row } from '../rows.js';
import { DISK_CAUSES, storeUnavailable } from '../store-failure.js';

/** A run as the journal keeps it: its row in the tables' own columns, and every attempt it made. */
export interface JournaledRun {
  row: Row;
  attempts: readonly AttemptRow[];
}

/**
 * A journal past this size is written anew with only what it still has to keep. Not much less:
 * runs with bodies of 1 MB pass 8 MiB in a tenth of a second, and writing the ones in flight
 * anew at every mark cost a tenth of the gateway's time (bench/big-bodies.ts).
 */
const COMPACT_BYTES = 64 * 1024 * 1024;

/**
 * The append-only file beside the database that makes a recent run durable before it is
 * indexed in the tables (see `JournaledRuns`). A line holds a run whole (`runLine`) or a change
 * of it (`changeLine`: the columns it set, the attempt it made), which applies to what the lines
 * before it made of that run. A mark line names runs that are in the tables now: a replay leaves
 * them out (a run never comes back to the journal once indexed).
 *
 * Appends are plain `write`s, not synced: like the database's commits under
 * `synchronous = NORMAL`, a line survives a crashed process, not a lost machine.
 */
export class RunJournal {
  private fd: number;
  private bytes: number;
  /** The last write was cut short: its line has no end. */
  private torn = false;
  /** What the last rewrite kept: the journal is written anew only once it has grown to twice that. */
  private keptBytes = 0;

  /** `compactBytes`: past this size, a mark writes the journal anew. */
  constructor(
    readonly file: string,
    private readonly compactBytes = COMPACT_BYTES,
  ) {
    this.fd = openSync(file, 'a');
    this.bytes = fstatSync(this.fd).size;
    openJournals.add(file);
  }

  /**
   * A new journal for a store of the database `dbFile`. Each store has its own, named after its
   * process, so that another process opening the same database (`runlet keys create` beside a
   * running server) neither replays nor removes a journal still being written.
   */
  static create(dbFile: string): RunJournal {
    return new RunJournal(`${dbFile}-runs-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  /**
   * The journals beside `dbFile` that no store has open: left by processes that are gone, or by a
   * store of this process that closed without indexing its runs. What a store opening it replays.
   */
  static leftBehind(dbFile: string): string[] {
    const prefix = `${path.basename(dbFile)}-runs-`;
    const ownerOf = (name: string) => Number(name.slice(prefix.length).split('-')[0]);
    return readdirSync(path.dirname(dbFile))
      .filter((name) => name.startsWith(prefix) && !name.endsWith('.new'))
      .map((name) => [name, path.join(path.dirname(dbFile), name)] as const)
      .filter(([name, file]) => !openJournals.has(file) && (ownerOf(name) === process.pid || !isAlive(ownerOf(name))))
      .map(([, file]) => file);
  }

  /**
   * The runs a journal holds that no mark names, each in its latest state, in the order they
   * were first written. A line cut short by a crash mid-write is the last one, and is skipped,
   * as is a change to a run whose whole line a compaction left out (the tables hold that run).
   */
  static read(file: string): JournaledRun[] {
    if (!existsSync(file)) return [];
    const runs = new Map<string, JournaledRun>();
    const indexed = new Set<string>();
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const parsed = decode(line);
      if (!parsed) continue;
      if (parsed.indexed) {
        for (const id of parsed.indexed) indexed.add(id);
        continue;
      }
      const run = parsed.row ? { row: parsed.row, attempts: parsed.attempts ?? [] } : runs.get(parsed.id);
      if (!run) continue;
      runs.set(parsed.id, { row: { ...run.row, ...parsed.set }, attempts: withAttempt(run.attempts, parsed.attempt) });
    }
    return [...runs.values()].filter((run) => !indexed.has(String(run.row.id)));
  }

  /** Appends lines (of `runLine` and `changeLine`) in one write. Throws STORE_UNAVAILABLE when the disk refuses it. */
  append(lines: string): void {
    if (lines) this.write(lines);
  }

  /**
   * Records that the runs `indexed` are in the tables. A journal grown past its limit is instead
   * replaced by one holding the runs `kept` alone, written beside it first, so that a crash
   * leaves one or the other whole. Not before it has doubled since the last rewrite, though: a
   * backlog of queued runs larger than the limit would otherwise be written again at every mark.
   */
  mark(indexed: readonly string[], kept: () => Iterable<JournaledRun>): void {
    const line = JSON.stringify({ indexed }) + '\n';
    if (this.bytes + line.length <= Math.max(this.compactBytes, 2 * this.keptBytes)) return this.write(line);
    let text = '';
    for (const run of kept()) text += runLine(run);
    const fresh = `${this.file}.new`;
    let fd: number | undefined;
    try {
      // Appending, like the journal it replaces: after a `clear` the next line goes at the start.
      fd = openSync(fresh, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND);
      writeSync(fd, text);
      renameSync(fresh, this.file);
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      throw failure(err);
    }
    closeSync(this.fd);
    this.fd = fd;
    this.bytes = Buffer.byteLength(text);
    this.keptBytes = this.bytes;
    this.torn = false;
  }

  /** Empties the journal: for when the tables hold every run it had. */
  clear(): void {
    try {
      ftruncateSync(this.fd, 0);
    } catch (err) {
      throw failure(err);
    }
    this.bytes = 0;
    this.keptBytes = 0;
    this.torn = false;
  }

  close(): void {
    closeSync(this.fd);
    openJournals.delete(this.file);
  }

  /** Closes the journal and deletes its file: for a store closed with every run in its tables. */
  remove(): void {
    this.close();
    rmSync(this.file, { force: true });
  }

  private write(text: string): void {
    // A line cut short by a failed write must not swallow the next one written.
    const line = this.torn ? '\n' + text : text;
    let written: number;
    try {
      written = writeSync(this.fd, line);
    } catch (err) {
      throw failure(err);
    }
    this.bytes += written;
    this.torn = written < Buffer.byteLength(line);
    if (this.torn) throw failure(Object.assign(new Error('short write'), { code: 'ENOSPC' }));
  }
}

/** The journals this process has open. */
const openJournals = new Set<string>();

/** Whether the process `pid` is running (signal 0 only asks). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code === 'EPERM';
  }
}

/** A journal write the system refused is the store's failure, with the same causes as SQLite's. */
function failure(err: unknown): unknown {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (code === 'ENOSPC' || code === 'EDQUOT') return storeUnavailable(DISK_CAUSES.full);
  if (code === 'EROFS' || code === 'EBADF' || code === 'EACCES' || code === 'EPERM') return storeUnavailable('the run journal cannot be written (read-only file or folder)');
  if (code === 'EIO') return storeUnavailable(DISK_CAUSES.io);
  return err;
}

/** The line that records a run whole (its columns that are not null). */
export function runLine(run: JournaledRun): string {
  return `{"id":${JSON.stringify(run.row.id)},"row":${columnsJson(run.row, false)},"attempts":${JSON.stringify(run.attempts)}}\n`;
}

/** The line that records a change of a run: the columns it set, and the attempt it made, if any. */
export function changeLine(id: string, set: Row, attempt?: AttemptRow): string {
  return `{"id":${JSON.stringify(id)},"set":${columnsJson(set, true)}${attempt === undefined ? '' : `,"attempt":${JSON.stringify(attempt)}`}}\n`;
}

/** `attempts` with `attempt` added, unless one of its number is there already (as the table's key would refuse it). */
export function withAttempt(attempts: readonly AttemptRow[], attempt: AttemptRow | undefined): readonly AttemptRow[] {
  return attempt && !attempts.some((a) => a.attempt === attempt.attempt) ? [...attempts, attempt] : attempts;
}

/**
 * A row's columns as a line holds them, in JSON: blobs (a run's input and answer) are Buffers in
 * a row, base64 in the journal. A run's whole row leaves its nulls out (`withNulls` false): a
 * replay reads a missing column as its default, and most of a new run's columns are null.
 * Blobs are put in after `JSON.stringify` has written the rest, since base64 needs no escaping:
 * stringified, a body of 1 MB cost twice its concatenation.
 */
function columnsJson(row: Row, withNulls: boolean): string {
  const plain: Row = {};
  let blobs = '';
  for (const column in row) {
    const value = row[column];
    if (value === null && !withNulls) continue;
    if (Buffer.isBuffer(value)) blobs += `,${JSON.stringify(column)}:{"b64":"${value.toString('base64')}"}`;
    else plain[column] = value;
  }
  const json = JSON.stringify(plain);
  if (blobs === '') return json;
  return json === '{}' ? `{${blobs.slice(1)}}` : `${json.slice(0, -1)}${blobs}}`;
}

function decoded(row: Row | undefined): Row | undefined {
  if (!row) return undefined;
  for (const [column, value] of Object.entries(row)) {
    const b64 = value !== null && typeof value === 'object' ? (value as { b64?: unknown }).b64 : undefined;
    if (typeof b64 === 'string') row[column] = Buffer.from(b64, 'base64');
  }
  return row;
}

interface Line {
  id: string;
  indexed?: string[];
  row?: Row;
  attempts?: AttemptRow[];
  set?: Row;
  attempt?: AttemptRow;
}

function decode(text: string): Line | undefined {
  if (!text) return undefined;
  let line: Line;
  try {
    line = JSON.parse(text) as Line;
  } catch {
    return undefined;
  }
  if (Array.isArray(line.indexed)) return { id: '', indexed: line.indexed.map(String) };
  if (typeof line.id !== 'string') return undefined;
  const row = decoded(line.row);
  return { ...line, row: row && { ...row }, set: decoded(line.set) };
}
