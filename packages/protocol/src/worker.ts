import { z } from 'zod';
import { LogLevel } from './logs.js';
import { RetryPolicy } from './retry.js';

/**
 * The channel between a worker process and the runtime that is not the HTTP response:
 * newline-delimited JSON written by the worker on file descriptor 3. A call's answer never
 * travels here, and nothing here is ever treated as an answer.
 */
export const WORKER_CHANNEL_FD = 3;

/** Environment variables the runtime gives a worker (and nothing of its own besides). */
export const workerEnv = {
  socket: 'RUNLET_SOCKET',
  serviceId: 'RUNLET_SERVICE_ID',
  runtimeUrl: 'RUNLET_URL',
  apiKey: 'RUNLET_API_KEY',
  entry: 'RUNLET_SERVICE_ENTRY',
} as const;

/**
 * On an answer a worker sends whole: how many lines it has written on the channel so far, the
 * call's last among them. Once the runtime has read that many, the call's log is whole; no
 * `done` message follows, so a call costs the worker no extra write and the runtime no extra wake-up.
 */
export const OUTPUT_LINES_HEADER = 'x-runlet-output-lines';

/** Headers the runtime adds to a call it forwards to a worker. */
export const workerHeaders = {
  requestId: 'x-runlet-request-id',
  correlationId: 'x-correlation-id',
} as const;

export const ServiceDescription = z.object({
  description: z.string().optional(),
  inputSchema: z.unknown().optional(),
  outputSchema: z.unknown().optional(),
  /** Most workers (calls at once) the service wants; the runtime's own bound still applies. */
  maxWorkers: z.number().int().positive().optional(),
  /** Most runs of the service executing at once across every node of the cluster. */
  concurrency: z.number().int().positive().optional(),
  /** Whether an async run interrupted by a dying node may run again. */
  retryable: z.boolean().optional(),
  /** How its async runs are retried after a failed attempt. */
  retry: RetryPolicy.optional(),
  /** Environment variables the calling account must have set; a call without them answers 424. */
  requiredEnv: z.array(z.string()).optional(),
});
export type ServiceDescription = z.infer<typeof ServiceDescription>;

export const WorkerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), service: ServiceDescription }),
  z.object({
    type: z.literal('log'),
    level: LogLevel,
    message: z.string(),
    fields: z.record(z.string(), z.unknown()).optional(),
    /** What the service printed (stdout/stderr), or wrote with the logger (the default). */
    source: z.enum(['stdout', 'stderr', 'logger']).optional(),
  }),
  /**
   * The call `requestId` is over and every line it produced has been sent before this message.
   * The channel is one ordered stream, so the runtime knows it has all of that call's log.
   * Not sent for an answer that carries `OUTPUT_LINES_HEADER` instead.
   */
  z.object({ type: z.literal('done'), requestId: z.string() }),
]);
export type WorkerMessage = z.infer<typeof WorkerMessage>;
