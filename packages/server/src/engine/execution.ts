import { PassThrough, type Readable } from 'node:stream';
import { NO_RETRY_HEADER, workerHeaders, type ErrorCode, type TerminalRunStatus } from '@runlet/protocol';
import { RunletError } from '../errors.js';
import { storeFailureOf } from '../store/store-failure.js';
import type { LogRecorder } from '../logs/log-recorder.js';
import type { RunOutcome, RunRow } from '../store/store.js';
import { nowMicros, outputLinesOf } from '../workers/worker-process.js';
import type { WorkerLease } from '../workers/worker-pool.js';
import { forwardedResponseHeaders } from './forwarding.js';
import type { AttemptHints } from './retry-policy.js';

/** How long to wait for a worker to say a call's log is whole, once its answer has arrived. */
const CALL_END_WAIT_MS = 2000;
/** How long a cancelled call's worker has to exit on SIGTERM before it is killed. */
const CANCEL_GRACE_MS = 2000;

/** A service's answer as it streams back to a synchronous caller. */
export interface ProxiedResponse {
  status: number;
  headers: Record<string, string | string[]>;
  /** The whole answer, when the service sent its length and it is small; else the stream of it. */
  body: Buffer | PassThrough;
}

export interface ExecutionOptions {
  run: RunRow;
  lease: WorkerLease;
  logs: LogRecorder;
  /** When the run must be over, in ms since the epoch. */
  deadlineAt: number;
  storedResponseLimit: number;
  /** Whether someone will read the answer as a stream (a sync caller). */
  streamToCaller: boolean;
  /**
   * The write recording the run as started, when it commits while the call goes out: false
   * when the run had ended first (a cancel of the queued run won the race), and the answer is then not taken.
   */
  marked?: Promise<boolean>;
  /** Records the outcome (a conditional write: a run that already ended stays as it was), or retries the run. */
  finish(outcome: RunOutcome, hints: AttemptHints): Promise<unknown>;
}

/**
 * One call of a run on one worker: sends the request, streams the answer to the caller (if
 * any) while keeping a copy for the record, routes the worker's output to the run's log, and
 * ends the run exactly once. The answer keeps flowing into the record after the caller hangs
 * up, so a run never stalls on a reader that left.
 */
export class Execution {
  readonly response: Promise<ProxiedResponse>;
  readonly done: Promise<void>;
  /** Settles when the call gives its worker back, which is before its end is written. */
  readonly released: Promise<void>;
  private resolveReleased!: () => void;
  private resolveResponse!: (r: ProxiedResponse) => void;
  private rejectResponse!: (e: RunletError) => void;
  private timedOut = false;
  private readonly hints: AttemptHints = {};
  private aborted = false;
  private cancelled = false;
  /** Where on its channel the worker's output of this call ends, when its answer said (OUTPUT_LINES_HEADER). */
  private outputLines: number | undefined;

  constructor(private readonly o: ExecutionOptions) {
    this.response = new Promise((resolve, reject) => {
      this.resolveResponse = resolve;
      this.rejectResponse = reject;
    });
    // Callers that never look at the response (async runs) must not see an unhandled rejection.
    this.response.catch(() => {});
    this.released = new Promise((resolve) => (this.resolveReleased = resolve));
    this.done = this.execute().finally(() => this.resolveReleased());
  }

  get runId(): string {
    return this.o.run.id;
  }

  /** Stops the call because its run was cancelled: SIGTERM to the worker, SIGKILL after a short grace. */
  cancel(): void {
    this.cancelled = true;
    void this.o.lease.worker.stop(CANCEL_GRACE_MS);
  }

  /** Stops the call now (shutdown past its grace): the worker is killed and the run fails. */
  abort(): void {
    this.aborted = true;
    this.o.lease.worker.kill('SIGKILL');
  }

  private async execute(): Promise<void> {
    const { run, lease, logs } = this.o;
    const worker = lease.worker;
    worker.onOutput = (line) => logs.write(run.id, line);
    const timer = setTimeout(() => {
      this.timedOut = true;
      worker.kill('SIGKILL');
    }, Math.max(0, this.o.deadlineAt - Date.now()));
    const captured: Buffer[] = [];
    let capturedBytes = 0;
    try {
      const headers: Record<string, string> = { ...run.requestHeaders, [workerHeaders.requestId]: run.id };
      if (run.correlationId) headers[workerHeaders.correlationId] = run.correlationId;
      const res = await worker.request({
        method: run.method as 'POST',
        path: '/' + run.path + (run.query ? `?${run.query}` : ''),
        headers,
        body: run.input ?? undefined,
      });
      this.outputLines = outputLinesOf(res.headers);
      await this.confirmStarted(res);
      const outcome = { status: 'completed' as const, responseStatus: res.statusCode, responseContentType: headerValue(res.headers['content-type']) };
      this.hints.noRetry = res.headers[NO_RETRY_HEADER] !== undefined;
      const length = Number(res.headers['content-length']);
      if (Number.isFinite(length) && length <= this.o.storedResponseLimit) {
        // A small answer of known length (the usual JSON): read it whole, answer it in one write.
        const body = Buffer.from(await res.body.arrayBuffer());
        await this.settleOutput();
        this.release(true);
        clearTimeout(timer);
        await this.end({ ...outcome, completedAt: Date.now(), responseBody: body });
        this.resolveResponse({ status: res.statusCode, headers: forwardedResponseHeaders(res.headers), body });
        return;
      }
      const out = this.o.streamToCaller ? new PassThrough() : undefined;
      this.resolveResponse({ status: res.statusCode, headers: forwardedResponseHeaders(res.headers), body: out ?? new PassThrough() });
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (capturedBytes < this.o.storedResponseLimit) {
            const keep = chunk.subarray(0, this.o.storedResponseLimit - capturedBytes);
            captured.push(keep);
            capturedBytes += keep.length;
          }
          if (out && !out.destroyed && !out.write(chunk)) await drained(out);
        }
      } catch (err) {
        out?.destroy(err as Error);
        throw err;
      }
      await this.settleOutput();
      this.release(true);
      clearTimeout(timer);
      await this.end({ ...outcome, completedAt: Date.now(), responseBody: Buffer.concat(captured) });
      // Only now: a caller that reads the record right after the answer must find the run ended.
      out?.end();
    } catch (err) {
      clearTimeout(timer);
      const failure = await this.classify(err);
      await this.settleOutput();
      this.release(false);
      logs.write(run.id, { level: 'error', source: 'runtime', message: failure.message, timeMicros: nowMicros() });
      await this.end({ status: failure.status, completedAt: Date.now(), error: failure.message, errorCode: failure.code });
      this.rejectResponse(new RunletError(failure.code, failure.message, { requestId: run.id }));
    }
  }

  private release(reusable: boolean): void {
    this.o.lease.release(reusable);
    this.resolveReleased();
  }

  /** A run whose start could not be recorded does not take its answer: it was cancelled just before. */
  private async confirmStarted(res: { body: Readable }): Promise<void> {
    const marked = await this.o.marked?.catch((err: unknown) => {
      discard(res.body);
      throw storeFailureOf(err) ?? new RunletError('INTERNAL', `The start of the run could not be recorded: ${err instanceof Error ? err.message : String(err)}`);
    });
    if (marked !== false) return;
    this.cancelled = true;
    discard(res.body);
    throw new RunletError('RUN_CANCELLED', 'The run was cancelled.');
  }

  /** Output printed just before the answer may still be on its way: take all of it before moving on. */
  private async settleOutput(): Promise<void> {
    await this.o.lease.worker.callEnded(this.o.run.id, CALL_END_WAIT_MS, this.outputLines);
  }

  private async end(outcome: RunOutcome): Promise<void> {
    await this.o.logs.close(this.o.run.id);
    await this.o.finish(outcome, this.hints);
  }

  private async classify(err: unknown): Promise<{ status: TerminalRunStatus; code: ErrorCode; message: string }> {
    const worker = this.o.lease.worker;
    if (this.cancelled) return { status: 'cancelled', code: 'RUN_CANCELLED', message: 'The run was cancelled.' };
    if (this.timedOut) {
      const seconds = Math.round((this.o.deadlineAt - (this.o.run.startedAt ?? Date.now())) / 1000);
      return { status: 'timed_out', code: 'RUN_TIMED_OUT', message: `The run passed its time limit of ${seconds} s and was stopped.` };
    }
    if (this.aborted) return { status: 'failed', code: 'SHUTTING_DOWN', message: 'The runtime shut down while this run was in flight.' };
    if (err instanceof RunletError) return { status: 'failed', code: err.code, message: err.message };
    // The socket error usually comes a moment before the exit event: give the exit a chance.
    await Promise.race([worker.exited, new Promise((r) => setTimeout(r, 200))]);
    if (!worker.alive) {
      return { status: 'failed', code: 'WORKER_CRASHED', message: `The service worker ${worker.exitDescription} during the call.` };
    }
    const reason = err instanceof Error ? err.message : String(err);
    return { status: 'failed', code: 'WORKER_CRASHED', message: `The call to the service worker failed: ${reason}` };
  }
}

function drained(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

/**
 * Drops an answer that will not be taken. Destroying undici's body before its end makes it emit
 * an 'error' (RequestAbortedError): with nobody listening, that would crash the node.
 */
function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}
