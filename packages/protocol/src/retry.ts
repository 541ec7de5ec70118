import { z } from 'zod';

/** What can end an attempt of a run in a way worth trying again. */
export const RetryOutcome = z.enum(['crash', 'timeout', '5xx', '429']);
export type RetryOutcome = z.infer<typeof RetryOutcome>;

/**
 * How a service wants its async runs retried, declared in its definition (`defineService({
 * retry })`) or its `runlet.json`. Sync runs never retry: their caller is waiting and decides.
 * The delay before attempt n+1 is `initialDelayMs * backoffFactor^(n-1)`, capped at
 * `maxDelayMs`, plus up to `jitter` of it at random (never less, so a service can rely on the
 * delay it asked for).
 */
export const RetryPolicy = z
  .object({
    /** Attempts in all, the first included: 1 means no retry. */
    maxAttempts: z.number().int().min(1).max(100),
    initialDelayMs: z.number().int().nonnegative().default(1000),
    maxDelayMs: z.number().int().nonnegative().default(5 * 60_000),
    backoffFactor: z.number().min(1).max(10).default(2),
    /** Extra random delay, as a fraction of the computed one (0.2: up to 20 % more). */
    jitter: z.number().min(0).max(1).default(0.2),
    on: z.array(RetryOutcome).min(1).default(['crash', 'timeout', '5xx', '429']),
  })
  .strict();
export type RetryPolicy = z.infer<typeof RetryPolicy>;
export type RetryPolicyInput = z.input<typeof RetryPolicy>;

/**
 * Response header by which a service says "do not retry this one", whatever its policy (the
 * SDK sets it for a thrown `NonRetryableError`; any other service may send it itself).
 */
export const NO_RETRY_HEADER = 'x-runlet-no-retry';

/** One attempt of a run, as `/request` and `/result` list it. */
export const RunAttempt = z.object({
  attempt: z.number().int().positive(),
  status: z.string().describe('How the attempt ended: completed, failed or timed_out.'),
  responseStatus: z.number().int().nullable(),
  error: z.string().nullable(),
  errorCode: z.string().nullable(),
  startedAt: z.string().nullable(),
  endedAt: z.string(),
  /** When the next attempt is due, for an attempt that is retried. */
  retryAt: z.string().nullable(),
});
export type RunAttempt = z.infer<typeof RunAttempt>;
