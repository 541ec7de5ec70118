import { isStoreFailure } from '../store/store-failure.js';

/** A lost answer is looked up at once, then again after this long, doubling up to the max, until the store answers. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;
/** A step a caller waits on is tried again after this long, doubling up to the max, while the store fails. */
const FIRST_WAIT_MS = 100;
const MAX_WAIT_MS = 1000;

/**
 * Runs `attempt` now (on the next turn), and again, backing off, for as long as it throws: for
 * settling a write whose answer was lost, which can only be done once the store answers again.
 * Answers a function that stops trying.
 */
export function untilStoreAnswers(attempt: () => Promise<void>): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = (tries: number) => {
    const wait = tries === 0 ? 0 : Math.min(FIRST_RETRY_MS * 2 ** (tries - 1), MAX_RETRY_MS);
    timer = setTimeout(() => void attempt().catch(() => !stopped && run(tries + 1)), wait);
    timer.unref();
  };
  run(0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/**
 * Runs `attempt` (given how many tries failed before it) and, while it fails for the store's
 * sake and `giveUpAt` is not reached, again after 0.1 s, doubling up to 1 s: for a step its
 * caller waits on, so that a blip of the store costs the caller a wait rather than an error.
 * Any other error, or the store's past `giveUpAt`, is thrown.
 */
export async function retryWhileStoreFails<T>(attempt: (tries: number) => Promise<T>, giveUpAt: number): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await attempt(tries);
    } catch (err) {
      const delay = Math.min(FIRST_WAIT_MS * 2 ** tries, MAX_WAIT_MS);
      if (!isStoreFailure(err) || Date.now() + delay > giveUpAt) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
