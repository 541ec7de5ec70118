import { z } from 'zod';
import { RunAttempt } from './retry.js';

/**
 * A run's life: `provisioned` (an id handed out, nothing started) → `queued` → `running` →
 * one terminal state. A closed union: `switch` over it with `assertNever` so that a new
 * state breaks the build wherever it must be handled.
 */
export const runStatuses = ['provisioned', 'queued', 'running', 'completed', 'failed', 'timed_out', 'cancelled'] as const;
export const RunStatus = z.enum(runStatuses);
export type RunStatus = z.infer<typeof RunStatus>;

export type TerminalRunStatus = Extract<RunStatus, 'completed' | 'failed' | 'timed_out' | 'cancelled'>;

export function isTerminal(status: RunStatus): status is TerminalRunStatus {
  switch (status) {
    case 'completed':
    case 'failed':
    case 'timed_out':
    case 'cancelled':
      return true;
    case 'provisioned':
    case 'queued':
    case 'running':
      return false;
    default:
      return assertNever(status);
  }
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}

export const RunMode = z.enum(['sync', 'async']);
export type RunMode = z.infer<typeof RunMode>;

/**
 * The request record returned by `/result` and `/request`. Field names follow the official
 * CodeWords TypeScript client (`responseStatus`, `responseJson`, ...), so its code reads it as is.
 */
export const RequestRecord = z.object({
  id: z.string(),
  userId: z.string().describe('The account that owns the run.'),
  serviceId: z.string().nullable(),
  path: z.string(),
  mode: RunMode.nullable(),
  status: RunStatus,
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  responseStatus: z.number().int().nullable(),
  responseContentType: z.string().nullable(),
  responseJson: z.unknown().optional(),
  responseContent: z.string().nullable(),
  error: z.string().nullable(),
  errorCode: z.string().nullable(),
  correlationId: z.string().nullable(),
  attempt: z.number().int(),
  /** Every attempt that has ended, oldest first (a run that was retried has several). */
  attempts: z.array(RunAttempt).optional(),
});
export type RequestRecord = z.infer<typeof RequestRecord>;

export const RequestIdResponse = z.object({ request_id: z.string() });
export type RequestIdResponse = z.infer<typeof RequestIdResponse>;
