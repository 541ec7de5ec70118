/**
 * Most async runs a warm-up submits before it waits for them all: the default account may hold
 * 10 000 queued runs (maxQueuedPerAccount), and a warm-up must never be refused for passing it.
 */
export const WARM_UP_BATCH = 5000;

/** Runs `total` warm-up runs through `batch`, at most WARM_UP_BATCH at a time, one batch after another. */
export async function warmUp(total: number, batch: (count: number) => Promise<unknown>): Promise<void> {
  for (let left = total; left > 0; left -= WARM_UP_BATCH) await batch(Math.min(left, WARM_UP_BATCH));
}
