/**
 * `Idempotency-Key` on `/run`, `/run_async` and `/provision-request`: the same key from the same
 * account, within the configured period (24 h by default), answers the run its first call
 * started instead of starting another. The clients send one with every such call and reuse it
 * when they retry.
 */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Set (`true`) on an answer that repeats an earlier call's run rather than starting one. */
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';
