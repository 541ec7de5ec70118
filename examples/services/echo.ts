/** Answers what it was sent: the quickest way to see what reaches a service. */
import { defineService } from '@runlet/sdk';

export default defineService({
  description: 'Echoes its input, path, query string and request ids.',
  handler: (input, ctx) => ({
    input,
    path: ctx.path,
    query: queryObject(ctx.query),
    requestId: ctx.requestId,
    correlationId: ctx.correlationId,
  }),
});

/** The query string as an object; a key given more than once keeps all its values, in order. */
function queryObject(query: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(query.keys())) {
    const values = query.getAll(key);
    out[key] = values.length === 1 ? values[0]! : values;
  }
  return out;
}
