import { RunletClient, type ClientOptions } from './client.js';

export { RunletClient, RunHandle, outputOf } from './client.js';
export type { ClientOptions, CallOptions, RunOptions, WaitOptions, UploadOptions, UploadedFile, UploadContent } from './client.js';
export { ServiceClient, createServiceClient } from './service-client.js';
export type { StreamLogsOptions } from './service-client.js';
export { AuthError, NotFoundError, RunFailedError, RunletError, RunTimeoutError, ServiceError } from './errors.js';
export type { ErrorResponse } from './errors.js';
export { verifyWebhook, WebhookVerificationError } from './webhooks.js';
export type { WebhookHeaders, VerifyWebhookOptions } from './webhooks.js';
export type { LogsOptions } from './logs.js';
export type { ServerSentEvent } from './streams.js';
export { isRunOver } from './types.js';
export type { InputFor, LogLine, OutputFor, RequestRecord, RunStatus, ServiceInput, ServiceOutput, TypedService } from './types.js';
export { keyTypeOf, DEFAULT_BASE_URL } from './config.js';
export type { KeyType } from './config.js';

/** A client from options (key and URL default to the environment). */
export function createClient(options: ClientOptions = {}): RunletClient {
  return new RunletClient(options);
}
