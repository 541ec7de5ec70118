/** Fails on demand: with a status of its choosing, or by dying mid-call. */
import { defineService, HttpError, z } from '@runlet/sdk';

export default defineService({
  description: 'Answers an error status, or crashes its own worker when `crash` is true.',
  input: z.object({
    // Not 1xx: those are interim answers in HTTP, and a call cannot end with one.
    status: z.number().int().min(200).max(599).default(500),
    message: z.string().default('failed on purpose'),
    crash: z.boolean().default(false),
  }),
  handler({ status, message, crash }, ctx) {
    if (crash) {
      ctx.logger.error('crashing the worker on purpose');
      process.kill(process.pid, 'SIGKILL');
    }
    throw new HttpError(status, { error: message });
  },
});
