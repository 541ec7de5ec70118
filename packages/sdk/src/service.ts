import type { RetryPolicyInput } from '@runlet/protocol';
import type { StandardSchemaV1 } from './standard-schema.js';
import type { FileHelpers } from './files.js';
import type { Logger } from './logger.js';

/** What a handler knows about the call it serves. */
export interface ServiceContext {
  requestId: string;
  correlationId: string | null;
  /** The sub-path after `/run/{serviceId}`, without a leading slash (`""` for the main endpoint). */
  path: string;
  query: URLSearchParams;
  headers: Headers;
  /** The raw request, for handlers that need more than the parsed input. */
  request: Request;
  logger: Logger;
  env: Readonly<Record<string, string | undefined>>;
  /** Calls another service on the same runtime, as the same account, and answers its JSON. */
  runService<T = unknown>(serviceId: string, input?: unknown, options?: { path?: string }): Promise<T>;
  /** Reads download URLs given as input; uploads produced files and answers their download URLs. */
  files: FileHelpers;
}

export interface ServiceOptions {
  description?: string;
  /** Most workers (and so calls at once) this service may have on each node. */
  maxWorkers?: number;
  /**
   * Most runs of this service executing at once across the whole cluster (say, for an API
   * that allows only so many calls at a time); runs past it wait their turn, in order.
   */
  concurrency?: number;
  /** Async runs of this service that die with their node are run again rather than failed. */
  retryable?: boolean;
  /**
   * How failed async runs are retried: `{ maxAttempts: 3 }` retries a crash, a timeout, a 5xx
   * or a 429 answer twice, 1 s then 2 s later (plus jitter). Throw `NonRetryableError` to fail
   * one run for good. Sync runs never retry.
   */
  retry?: RetryPolicyInput;
  /**
   * Environment variables the service needs (`['OPENAI_API_KEY']`), set per account in the
   * dashboard: a call from an account that lacks one answers 424 ENV_MISSING before any work starts.
   */
  requiredEnv?: string[];
}

export interface HandlerService<In, Out> extends ServiceOptions {
  /** Validated before the handler runs; a call that does not match gets 422 with the issues. */
  input?: StandardSchemaV1<unknown, In>;
  output?: StandardSchemaV1<unknown, Out>;
  /** Answers a plain value (sent as JSON with status 200) or a `Response` for full control. */
  handler(input: In, ctx: ServiceContext): Promise<Out | Response> | Out | Response;
}

export interface FetchService extends ServiceOptions {
  /** Full control of paths, methods and the response, like a fetch handler. */
  fetch(request: Request, ctx: ServiceContext): Promise<Response> | Response;
}

export type ServiceDefinition<In = unknown, Out = unknown> = HandlerService<In, Out> | FetchService;

/** The definition, branded so the host can tell it from any other default export. */
export type Service<In = unknown, Out = unknown> = ServiceDefinition<In, Out> & {
  readonly __runlet: 'service';
  /** Type-only markers, so a client can write `client.run<typeof import('./svc').default>`. */
  readonly __types?: { input: In; output: Out };
};

/**
 * Declares a service. Export it as the module's default.
 *
 * @example
 * export default defineService({
 *   description: 'Says hello',
 *   input: z.object({ name: z.string() }),
 *   handler: ({ name }, ctx) => { ctx.logger.info('greeting', { name }); return { hello: name }; },
 * });
 */
export function defineService<In, Out>(definition: HandlerService<In, Out>): Service<In, Out>;
export function defineService(definition: FetchService): Service;
export function defineService(definition: ServiceDefinition): Service {
  return Object.freeze({ ...definition, __runlet: 'service' as const });
}

export function isService(value: unknown): value is Service {
  return typeof value === 'object' && value !== null && (value as Service).__runlet === 'service';
}

export type InputOf<S> = S extends Service<infer In, unknown> ? In : never;
export type OutputOf<S> = S extends Service<unknown, infer Out> ? Out : never;
