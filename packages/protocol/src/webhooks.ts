import { z } from 'zod';

/** Headers of a completion webhook, per the Standard Webhooks scheme (standardwebhooks.com). */
export const webhookHeaders = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** `X-Callback-Url` on `/run_async`: where the record goes when the run ends. */
export const CALLBACK_URL_HEADER = 'x-callback-url';
/** `X-Retain-Seconds` on a run: keep it (input, result, logs) at most this long after it ends. */
export const RETAIN_SECONDS_HEADER = 'x-retain-seconds';

export const DeliveryAttempt = z.object({
  attempt: z.number().int().positive(),
  attemptedAt: z.string(),
  durationMs: z.number().int().nonnegative(),
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
});
export type DeliveryAttempt = z.infer<typeof DeliveryAttempt>;

/** One webhook message about a run, with every attempt to deliver it. */
export const WebhookDelivery = z.object({
  id: z.string().describe('The webhook-id header: the same on every attempt and redelivery.'),
  requestId: z.string(),
  url: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  createdAt: z.string(),
  nextAttemptAt: z.string().nullable(),
  giveUpAt: z.string(),
  completedAt: z.string().nullable(),
  attempts: z.array(DeliveryAttempt),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const DeliveryList = z.object({ deliveries: z.array(WebhookDelivery) });
export type DeliveryList = z.infer<typeof DeliveryList>;

export const WebhookSecretResponse = z.object({ secret: z.string().describe('whsec_ followed by the base64 key.') });
