import { isStoreFailure } from '../store/store-failure.js';

/** While the store fails, the next try comes after 0.1 s, then twice as long each time, up to 1 s. */
const retryDelay = (failedTries: number): number => Math.min(100 * 2 ** failedTries, 1000);

/**
 * Runs `attempt` now (on the next turn), and again, backing off, for as long as it throws: for
 * settling a write whose answer was lost, which can only be done once the store answers again.
 * Answers a function that stops trying.
 */
export function untilStoreAnswers(attempt: () => Promise<void>): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = (tries: number) => {
    timer = setTimeout(() => void attempt().catch(() => !stopped && run(tries + 1)), tries === 0 ? 0 : retryDelay(tries - 1));
    timer.unref();
  };
  run(0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/**
 * Runs `attempt` and, while it fails for the store's sake and `giveUpAt` is not reached, again,
 * backing off: for a step its caller waits on, so that a blip of the store costs the caller a
 * wait rather than an error. Any other error, or the store's past `giveUpAt`, is thrown.
 */
export async function retryWhileStoreFails<T>(attempt: () => Promise<T>, giveUpAt: number): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      const delay = retryDelay(tries);
      if (!isStoreFailure(err) || Date.now() + delay > giveUpAt) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
