import { RunletError } from '../errors.js';

/** What Retry-After tells a caller turned away because the store failed. */
const RETRY_AFTER_SECONDS = 5;

/** What the data folder's disk does to the embedded store's files: the database's and the run journal's. */
export const DISK_CAUSES = {
  full: 'the disk holding the data folder is full',
  io: 'the disk holding the data folder failed a read or a write',
} as const;

/** SQLite's result codes of a store that cannot work now, by their primary code. */
const SQLITE_CAUSES: Record<string, string> = {
  SQLITE_FULL: DISK_CAUSES.full,
  SQLITE_IOERR: DISK_CAUSES.io,
  SQLITE_READONLY: 'the database file cannot be written (read-only file or folder)',
  SQLITE_CANTOPEN: 'the database file cannot be opened',
  SQLITE_BUSY: 'another process holds the database file locked',
  SQLITE_LOCKED: 'the database is locked',
  SQLITE_NOMEM: 'SQLite ran out of memory',
};

/** PostgreSQL's SQLSTATEs of a database that cannot work now (class 08 is handled apart). */
const POSTGRES_CAUSES: Record<string, string> = {
  '53100': 'PostgreSQL is out of disk space',
  '53200': 'PostgreSQL is out of memory',
  '53300': 'PostgreSQL has no connection slots left',
  '57P01': 'PostgreSQL is shutting down',
  '57P02': 'PostgreSQL is restarting after a crash',
  '57P03': 'PostgreSQL is not accepting connections yet',
};

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** node-postgres says these in words only, without a code. */
const POSTGRES_CONNECTION_LOST = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable|is not currently accepting connections/i;

/**
 * The store's own failure behind `err`, if it is one: the disk is full, the database is out of
 * reach or going down. Such a failure is no bug of the request (500 INTERNAL) and no fault of
 * the caller's; it passes, so the caller is told to retry (503 STORE_UNAVAILABLE, naming the
 * cause), and the runtime writes again what it must not lose (a run's end). Undefined for
 * anything else, including constraint violations, which are answers rather than outages.
 */
export function storeFailureOf(err: unknown): RunletError | undefined {
  if (isTranslated(err)) return err;
  const cause = causeOf(err);
  return cause === undefined ? undefined : storeUnavailable(cause);
}

/** The store cannot work now, for `cause` (said in words for the caller). */
export function storeUnavailable(cause: string): RunletError {
  return new RunletError('STORE_UNAVAILABLE', `The store cannot take this request now: ${cause}. Nothing of it was carried out; retry shortly.`, {
    headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
  });
}

/** Whether `err` is the store's own failure (see `storeFailureOf`), as the store raised it or already translated. */
export function isStoreFailure(err: unknown): boolean {
  return isTranslated(err) || causeOf(err) !== undefined;
}

const isTranslated = (err: unknown): err is RunletError => err instanceof RunletError && err.code === 'STORE_UNAVAILABLE';

function causeOf(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = String((err as { code?: unknown }).code ?? '');
  if (code.startsWith('SQLITE_')) return SQLITE_CAUSES[code.split('_', 2).join('_')];
  if (POSTGRES_CAUSES[code]) return POSTGRES_CAUSES[code];
  if (code.startsWith('08') && code.length === 5) return 'the connection to PostgreSQL failed';
  if (NETWORK_CODES.has(code)) return `PostgreSQL is out of reach (${code})`;
  if (POSTGRES_CONNECTION_LOST.test(err.message)) return 'the connection to PostgreSQL was lost';
  return undefined;
}
