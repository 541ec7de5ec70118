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

/** Slots of the state shared with the thread. */
const WROTE = 0;
const CLOSING = 1;

/**
 * The thread's source: CommonJS, so it needs no loader. It sleeps until told of a commit (or for
 * MAX_INTERVAL_MS), checkpoints, and rests MIN_INTERVAL_MS before the next one; told to close,
 * it stops at once (the main connection, closing last, checkpoints what is left).
 */
const THREAD_SOURCE = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const state = new Int32Array(workerData.state);
const closing = () => Atomics.load(state, ${CLOSING}) === 1;
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
let seen = 0;
while (!closing()) {
  Atomics.wait(state, ${WROTE}, seen, workerData.maxMs);
  seen = Atomics.load(state, ${WROTE});
  if (closing()) break;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or locked: the next round tries again.
  }
  Atomics.wait(state, ${CLOSING}, 0, workerData.minMs);
}
db.close();
`;

/**
 * Checkpoints the embedded store's WAL from a thread of its own. SQLite's automatic checkpoint
 * runs inside whichever commit crosses its threshold, on the event loop, and with
 * synchronous=NORMAL it syncs the WAL and the database file there: the commit that crosses
 * 1000 WAL pages would stall every caller for two fsyncs and the copy of those pages. With this, the main
 * connection never checkpoints; the thread does, PASSIVE (it never blocks a writer), soon
 * after commits. Should the thread fail, the main connection checkpoints itself again.
 */
export class Checkpointer {
  private readonly state = new Int32Array(new SharedArrayBuffer(8));
  private readonly thread: Worker;
  private readonly exited: Promise<void>;

  /** `fallBack` is called if the thread cannot run: the caller then turns automatic checkpoints back on. */
  constructor(file: string, fallBack: (err: Error) => void) {
    this.thread = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { driver: DRIVER, file, state: this.state.buffer, minMs: MIN_INTERVAL_MS, maxMs: MAX_INTERVAL_MS },
    });
    this.thread.unref();
    this.thread.once('error', fallBack);
    this.exited = new Promise((resolve) => this.thread.once('exit', () => resolve()));
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
