import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const DRIVER = createRequire(import.meta.url).resolve('better-sqlite3');
/**
 * Least time between two checkpoints: the WAL grows for up to a second in between, and a page
 * written many times in that second is copied once. At 100 ms, async runs cost the process
 * more CPU than with SQLite's own checkpoints (docs/performance.md), most likely because hot
 * pages were copied up to ten times as often.
 */
const MIN_INTERVAL_MS = 1000;
/** Most time between two checkpoints when no commit says the WAL grew (writes outside the group commit). */
const MAX_INTERVAL_MS = 2000;

/**
 * Longest the thread waits for the store to hold its writes before it checkpoints anyway. The
 * store answers between two turns of its event loop, so this is only reached when one turn runs
 * very long.
 */
const HOLD_WAIT_MS = 100;
/**
 * Catching up: at most ROUNDS checkpoints while the store writes on, fewer once one takes no
 * longer than SHORT_ROUND_MS; then one more with the store's writes held.
 */
const ROUNDS = 4;
const SHORT_ROUND_MS = 2;
/**
 * A WAL larger than this when the store has gone quiet (no commit for MAX_INTERVAL_MS) is cut
 * to nothing. SQLite reuses the WAL from its first frame but keeps the file at the largest size
 * it ever reached: after a burst (a service printing hundreds of thousands of log lines) that
 * would be hundreds of MB held for good. Cutting it under load instead would cost every restart
 * of the WAL fresh blocks from the file system.
 */
const IDLE_WAL_BYTES = 4 * 1024 * 1024;

/** Slots of the state shared with the thread. */
const WROTE = 0;
const CLOSING = 1;
/** The last hold the store has granted (holds are numbered, so a late answer is never taken for a new one). */
const HELD = 2;

/**
 * The thread's source: CommonJS, so it needs no loader. It sleeps until told of a commit (or for
 * MAX_INTERVAL_MS), checkpoints, and rests MIN_INTERVAL_MS before the next one; told to close,
 * it stops at once (the main connection, closing last, checkpoints what is left).
 *
 * SQLite starts the WAL over from its first frame only when a write begins with every frame
 * already copied into the database. Under steady load the store commits while a checkpoint
 * copies, so no checkpoint ever copies them all: the WAL would grow for as long as the load
 * lasts (by tens of MB a second under the sync bench), every new frame costing the file
 * system a fresh block. So when commits came while a checkpoint copied, the thread copies again
 * in rounds that shrink, syncs the database file, asks the store to hold its writes, copies the
 * few frames that came last, and lets the writes go: the next commit starts the WAL over.
 */
const THREAD_SOURCE = `
const fs = require('node:fs');
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const state = new Int32Array(workerData.state);
const closing = () => Atomics.load(state, ${CLOSING}) === 1;
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');

/**
 * A PASSIVE checkpoint: it never blocks a writer, and copies the WAL as it was when it began.
 * TRUNCATE, with the writes held and the WAL already copied, only empties the file.
 */
function checkpoint(mode = 'PASSIVE') {
  try {
    db.pragma('wal_checkpoint(' + mode + ')');
  } catch {
    // Busy or locked: the next round tries again.
  }
}

// A checkpoint that copies the whole WAL syncs the database file before SQLite may start the
// WAL over, and only such a checkpoint does: the pages of every round before would be written to
// disk during the hold. Synced here first, they are written while the store still writes.
const dbFile = fs.openSync(workerData.file, 'r');

let holds = 0;
function catchUp(mode) {
  fs.fsyncSync(dbFile);
  const hold = ++holds;
  parentPort.postMessage({ hold });
  const deadline = Date.now() + workerData.holdWaitMs;
  for (let granted = Atomics.load(state, ${HELD}); granted !== hold && !closing(); granted = Atomics.load(state, ${HELD})) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    Atomics.wait(state, ${HELD}, granted, left);
  }
  try {
    if (Atomics.load(state, ${HELD}) === hold) checkpoint(mode);
  } finally {
    parentPort.postMessage({ resume: hold });
  }
}

function walBytes() {
  try {
    return fs.statSync(workerData.file + '-wal').size;
  } catch {
    return 0;
  }
}

let seen = 0;
while (!closing()) {
  const quiet = Atomics.wait(state, ${WROTE}, seen, workerData.maxMs) === 'timed-out';
  seen = Atomics.load(state, ${WROTE});
  if (closing()) break;
  if (quiet && walBytes() > workerData.idleWalBytes) {
    checkpoint();
    catchUp('TRUNCATE');
    continue;
  }
  // Each round copies what was committed while the last one copied, so under steady load the
  // rounds shrink: the store's writes are held only for the last, short one.
  for (let round = 0; round < workerData.rounds; round++) {
    const began = Date.now();
    checkpoint();
    // No commit while it copied: nothing was left behind it.
    if (Atomics.load(state, ${WROTE}) === seen || closing()) break;
    seen = Atomics.load(state, ${WROTE});
    if (round === workerData.rounds - 1 || Date.now() - began <= workerData.shortMs) {
      catchUp();
      break;
    }
  }
  Atomics.wait(state, ${CLOSING}, 0, workerData.minMs);
}
db.close();
fs.closeSync(dbFile);
`;

/** What the checkpointer needs of the store's writes: to hold them for a moment, and let them go. */
export interface HeldWrites {
  hold(): void;
  resume(): void;
}

/**
 * Checkpoints the embedded store's WAL from a thread of its own. SQLite's automatic checkpoint
 * runs inside whichever commit crosses its threshold, on the event loop, and with
 * synchronous=NORMAL it syncs the WAL and the database file there: the commit that crosses
 * 1000 WAL pages would stall every caller for two fsyncs and the copy of those pages. With this, the main
 * connection never checkpoints; the thread does, PASSIVE (it never blocks a writer), soon
 * after commits. Should the thread fail, the main connection checkpoints itself again.
 */
export class Checkpointer {
  private readonly state = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  private readonly thread: Worker;
  private readonly exited: Promise<void>;

  /**
   * `writes` are held while the thread catches up; `fallBack` is called if the thread cannot
   * run: the caller then turns automatic checkpoints back on.
   */
  constructor(file: string, writes: HeldWrites, fallBack: (err: Error) => void) {
    this.thread = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { driver: DRIVER, file, state: this.state.buffer, minMs: MIN_INTERVAL_MS, maxMs: MAX_INTERVAL_MS, holdWaitMs: HOLD_WAIT_MS, rounds: ROUNDS, shortMs: SHORT_ROUND_MS, idleWalBytes: IDLE_WAL_BYTES },
    });
    this.thread.unref();
    this.thread.on('message', (message: { hold: number } | { resume: number }) => {
      if ('resume' in message) return writes.resume();
      // Between two turns of the event loop no write is under way: from here none begins until `resume`.
      writes.hold();
      Atomics.store(this.state, HELD, message.hold);
      Atomics.notify(this.state, HELD);
    });
    this.thread.once('error', fallBack);
    // A thread gone in the middle of a hold must not hold the writes for ever.
    this.exited = new Promise((resolve) => this.thread.once('exit', () => resolve(writes.resume())));
  }

  /** Something was committed: the WAL grew. Cheap enough to call after every commit. */
  wrote(): void {
    Atomics.add(this.state, WROTE, 1);
    Atomics.notify(this.state, WROTE);
  }

  /** Stops the thread and closes its connection (before the main one closes, so that one is last: it checkpoints the rest and removes the WAL). */
  async close(): Promise<void> {
    // Kept out of the way of a process exiting on its own until now; now the exit is awaited.
    this.thread.ref();
    Atomics.store(this.state, CLOSING, 1);
    Atomics.notify(this.state, CLOSING);
    this.wrote();
    await this.exited;
  }
}
