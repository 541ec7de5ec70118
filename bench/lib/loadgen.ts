/**
 * The load generator runs in a process of its own (so it never shares an event loop with
 * what it measures): `runLoad(job)` forks `loadgen-child.ts`, hands it the job over IPC and
 * answers what it measured.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Summary } from './stats.js';

const CHILD = fileURLToPath(new URL('./loadgen-child.ts', import.meta.url));

/** Closed loop: `connections` keep-alive connections, each sending the next request as soon as the last answered. */
export interface ClosedLoopJob {
  kind: 'closed-loop';
  url: string;
  path: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  body?: string;
  connections: number;
  warmupMs: number;
  durationMs: number;
}

export interface ClosedLoopResult {
  /** Answers received inside the measured window, and how many were not 2xx (or failed). */
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  elapsedMs: number;
  rps: number;
  /** Milliseconds, from just before the request was handed to the client to the end of the body. */
  latency: Summary;
  firstError?: string;
}

/** `count` async runs submitted over `connections`, then every result fetched (long-poll). */
export interface AsyncBatchJob {
  kind: 'async-batch';
  url: string;
  key: string;
  serviceId: string;
  body: string;
  count: number;
  connections: number;
  resultTimeoutMs: number;
}

export interface AsyncRecordTimes {
  status: string;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
}

export interface AsyncBatchResult {
  submitted: number;
  submitErrors: number;
  submitMs: number;
  submitRps: number;
  submitLatency: Summary;
  completed: number;
  notCompleted: Record<string, number>;
  /** From the first submit sent to the last result received. */
  totalMs: number;
  completedPerSecond: number;
  records: AsyncRecordTimes[];
  firstError?: string;
}

export type Job = ClosedLoopJob | AsyncBatchJob;
type ResultOf<J extends Job> = J extends ClosedLoopJob ? ClosedLoopResult : AsyncBatchResult;

export interface LoadOutcome<R> {
  result: R;
  /** CPU time the generator process used on the job, from when it received it (to see whether it, not the target, was the limit). */
  generatorCpuMs: number;
  generatorPid: number;
}

type ChildMessage<R> = { window: 'start' | 'end' } | { ok: boolean; result?: R; error?: string; cpuMs: number };

/** `onWindow` is told when the measured window of a closed loop starts and ends (after the warm-up). */
export function runLoad<J extends Job>(job: J, onWindow: (edge: 'start' | 'end', generatorPid: number) => void = () => {}): Promise<LoadOutcome<ResultOf<J>>> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let settled = false;
    child.on('message', (message: ChildMessage<ResultOf<J>>) => {
      if ('window' in message) return onWindow(message.window, child.pid!);
      settled = true;
      if (message.ok) resolve({ result: message.result!, generatorCpuMs: message.cpuMs, generatorPid: child.pid! });
      else reject(new Error(`load generator failed: ${message.error}`));
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`load generator exited with code ${code} before answering`));
    });
    child.send(job);
  });
}
