/** A long job: logs `tick N` every interval, so its live logs have something to show. */
import { defineService, z } from '@runlet/sdk';

export default defineService({
  description: 'Sleeps for `seconds`, logging a tick every `interval` seconds.',
  input: z.object({
    seconds: z.number().min(0).max(1800),
    interval: z.number().positive().default(1),
  }),
  async handler({ seconds, interval }) {
    const end = Date.now() + seconds * 1000;
    for (let n = 1; Date.now() < end; n++) {
      console.log(`tick ${n}`);
      await sleep(Math.min(interval * 1000, end - Date.now()));
    }
    return { slept: seconds };
  },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
