import { z } from 'zod';

export const LogLevel = z.enum(['debug', 'info', 'warn', 'error']);
export type LogLevel = z.infer<typeof LogLevel>;

/** Where a line came from: the worker's stdout or stderr, the SDK logger, or the runtime itself. */
export const LogSource = z.enum(['stdout', 'stderr', 'logger', 'runtime']);
export type LogSource = z.infer<typeof LogSource>;

/**
 * One line of a run's log. `createdAt` has millisecond precision and is strictly increasing
 * within a run (the official TypeScript client drops a line whose `createdAt` is not later
 * than the previous one), so it is bumped on collisions; `time` keeps the exact moment, in
 * microseconds.
 */
export const LogLine = z.object({
  requestId: z.string(),
  seq: z.number().int().positive(),
  createdAt: z.string(),
  time: z.string(),
  level: LogLevel,
  source: LogSource,
  message: z.string(),
  fields: z.record(z.string(), z.unknown()).optional(),
  /** Which attempt of the run printed the line (absent on lines written before any attempt). */
  attempt: z.number().int().positive().optional(),
});
export type LogLine = z.infer<typeof LogLine>;
