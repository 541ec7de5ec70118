/** A lost answer is looked up at once, then again after this long, doubling up to the max, until the store answers. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;

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
