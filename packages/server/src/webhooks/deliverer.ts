import { Agent, request } from 'undici';
import { webhookHeaders } from '@runlet/protocol';
import type { Config } from '../config.js';
import type { ServerLog } from '../engine/run-engine.js';
import { fullRequestRecord } from '../engine/run-record.js';
import type { DeliveryNext, DeliveryRow, Millis, Store } from '../store/store.js';
import { CallbackPolicy, hostOf } from './callback-policy.js';
import { isIP } from 'node:net';
import { newWebhookSecret, signWebhook } from './signing.js';

/** Deliveries one node sends at once; the rest wait for the next round. */
const BATCH = 16;
/** A claimed delivery is another node's to take again after this, should this node die mid-send. */
const CLAIM_MS = 60_000;
/** The longest wait between two attempts of one delivery. */
const MAX_RETRY_MS = 3600_000;
/** What is kept of an endpoint's answer in an attempt's error. */
const MAX_ERROR_CHARS = 500;

/**
 * Sends completion webhooks. Each round it turns ended runs that asked for a callback into
 * deliveries, claims the deliveries that are due (SKIP LOCKED on PostgreSQL: nodes never take
 * the same one), POSTs each signed record, and records the attempt with what follows: done on
 * a 2xx, else another try after an exponential backoff, until the delivery's deadline.
 */
export class WebhookDeliverer {
  readonly policy: CallbackPolicy;
  private readonly agent: Agent;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly log: ServerLog,
  ) {
    this.policy = new CallbackPolicy({ allowedHosts: config.callbackAllowedHosts, allowedNetworks: config.callbackAllowedNetworks });
    const timeout = config.webhookTimeoutSeconds * 1000;
    this.agent = new Agent({ connect: { lookup: this.policy.lookup, timeout }, headersTimeout: timeout, bodyTimeout: timeout });
  }

  start(): void {
    this.timer = setInterval(() => this.nudge(), this.config.webhookPollSeconds * 1000);
    this.timer.unref();
    this.nudge();
  }

  /** Runs a round now (or right after the one in progress). */
  nudge(): void {
    if (this.stopped) return;
    if (this.round) {
      this.again = true;
      return;
    }
    this.round = this.runRound().finally(() => {
      this.round = undefined;
      if (this.again) {
        this.again = false;
        this.nudge();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.round;
    await this.agent.close();
  }

  private async runRound(): Promise<void> {
    try {
      const now = Date.now();
      await this.store.createDueDeliveries(now, this.config.webhookGiveUpSeconds * 1000, BATCH * 4);
      const due = await this.store.claimDueDeliveries(now, now + CLAIM_MS, BATCH);
      await Promise.all(due.map((d) => this.deliver(d)));
      if (due.length === BATCH) this.again = true;
    } catch (err) {
      this.log.warn({ err }, 'could not deliver completion webhooks');
    }
  }

  private async deliver(delivery: DeliveryRow): Promise<void> {
    const attempt = delivery.attempts + 1;
    const attemptedAt = Date.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const found = await this.store.getRunRecord(delivery.runId);
      if (!found) throw new Error('the run no longer exists');
      const body = JSON.stringify(fullRequestRecord(found));
      const secret = await this.store.webhookSecret(delivery.accountId, newWebhookSecret());
      const url = new URL(delivery.url);
      // A literal address is never looked up, so the lookup's check does not see it: check it here.
      const host = hostOf(url);
      const refusal = isIP(host) ? this.policy.refusalOf(host) : undefined;
      if (refusal) throw new Error(`${host} may not be reached: ${refusal}`);
      const timestamp = Math.floor(attemptedAt / 1000);
      const res = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Runlet-Webhooks',
          [webhookHeaders.id]: delivery.id,
          [webhookHeaders.timestamp]: String(timestamp),
          [webhookHeaders.signature]: signWebhook(secret, delivery.id, timestamp, body),
        },
        body,
      });
      statusCode = res.statusCode;
      const answer = await res.body.text().catch(() => '');
      if (statusCode < 200 || statusCode >= 300) error = `The endpoint answered ${statusCode}${answer ? `: ${answer.slice(0, MAX_ERROR_CHARS)}` : ''}`;
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      error = messageOf(cause instanceof Error ? cause : err);
    }
    const next = nextStep(delivery, attempt, attemptedAt, error === null, this.config.webhookRetryInitialSeconds * 1000);
    try {
      await this.store.recordDeliveryAttempt({ deliveryId: delivery.id, attempt, attemptedAt, durationMs: Date.now() - attemptedAt, statusCode, error }, next);
    } catch (err) {
      this.log.warn({ err, requestId: delivery.runId }, 'could not record a webhook delivery attempt');
    }
  }
}

/** What follows an attempt: done, another try after the backoff, or given up past the deadline. */
export function nextStep(delivery: Pick<DeliveryRow, 'giveUpAt'>, attempt: number, at: Millis, succeeded: boolean, initialMs: number): DeliveryNext {
  if (succeeded) return { status: 'delivered' };
  const base = Math.min(MAX_RETRY_MS, initialMs * 2 ** (attempt - 1));
  // Up to a fifth more at random, so that endpoints coming back are not hit by every retry at once.
  const nextAttemptAt = at + Math.round(base * (1 + 0.2 * Math.random()));
  return nextAttemptAt > delivery.giveUpAt ? { status: 'failed' } : { status: 'pending', nextAttemptAt };
}

function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_CHARS);
}
