/**
 * Bench-only service: prints `count` lines on stdout, `intervalMs` apart, after waiting
 * `delayMs` (so a log reader is attached first). Each line carries the wall-clock moment it
 * was printed, with sub-millisecond precision, so the reader can tell how long it took.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { defineService, z } from '@runlet/sdk';

const wallNow = () => performance.timeOrigin + performance.now();

export default defineService({
  description: 'Prints time-stamped lines (bench)',
  input: z.object({
    count: z.number().int().positive().max(100_000),
    intervalMs: z.number().nonnegative().default(5),
    delayMs: z.number().nonnegative().default(300),
    via: z.enum(['stdout', 'logger']).default('stdout'),
  }),
  handler: async ({ count, intervalMs, delayMs, via }, ctx) => {
    await sleep(delayMs);
    for (let i = 0; i < count; i++) {
      if (via === 'stdout') console.log(JSON.stringify({ i, printedAt: wallNow() }));
      else ctx.logger.info(JSON.stringify({ i, printedAt: wallNow() }));
      await sleep(intervalMs);
    }
    return { printed: count };
  },
});
