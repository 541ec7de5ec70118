import { z } from 'zod';
import { RunletError } from '../errors.js';

/** Parses route params or a query string with a schema; a mismatch is INVALID_REQUEST naming the field. */
export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ');
  throw new RunletError('INVALID_REQUEST', `Invalid request: ${problems}.`, { details: result.error.issues });
}

export const RequestIdParams = z.object({ id: z.string().min(1).max(100) });
