/** Streams when asked to: one Server-Sent Event per number with `Accept: text/event-stream`. */
import { defineService, sse, z } from '@runlet/sdk';

export default defineService({
  description: 'Counts down from `from` to 0; streams one SSE event per number when the caller accepts text/event-stream.',
  input: z.object({
    from: z.number().int().min(0).max(100).default(5),
    delayMs: z.number().int().min(0).max(10_000).default(300),
  }),
  handler({ from, delayMs }, ctx) {
    const numbers = Array.from({ length: from + 1 }, (_, i) => from - i);
    if (!ctx.headers.get('accept')?.includes('text/event-stream')) {
      for (const n of numbers) ctx.logger.info('count', { n });
      return { numbers };
    }
    return sse(
      (async function* () {
        for (const n of numbers) {
          ctx.logger.info('count', { n });
          yield { data: { n } };
          if (n > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        }
      })(),
    );
  },
});
