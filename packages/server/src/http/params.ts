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

/** A JSON request body checked against a schema: INVALID_JSON when it does not parse, INVALID_REQUEST when it does not fit. */
export function jsonBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  let value: unknown = {};
  if (Buffer.isBuffer(body) && body.length > 0) {
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new RunletError('INVALID_JSON', `The request body is not valid JSON: ${(err as Error).message}`);
    }
  }
  return parse(schema, value);
}
