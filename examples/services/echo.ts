/** Answers what it was sent: the quickest way to see what reaches a service. */
import { defineService } from '@runlet/sdk';

export default defineService({
  description: 'Echoes its input, path, query string and request ids.',
  handler: (input, ctx) => ({
    input,
    path: ctx.path,
    query: Object.fromEntries(ctx.query),
    requestId: ctx.requestId,
    correlationId: ctx.correlationId,
  }),
});
