import type { LogLine, RequestRecord, RunStatus } from '@runlet/protocol';

export type { LogLine, RequestRecord, RunStatus };

/**
 * What a service written with `@runlet/sdk` carries for its callers: `defineService` brands it
 * and records its input and output types, so `client.run<typeof import('./svc.js').default>`
 * types both ends of the call.
 */
export interface TypedService<In = unknown, Out = unknown> {
  readonly __runlet: 'service';
  readonly __types?: { input: In; output: Out };
}

export type ServiceInput<S> = S extends TypedService<infer In, unknown> ? In : never;
export type ServiceOutput<S> = S extends TypedService<unknown, infer Out> ? Out : never;

/** `T` is a service type (then its own input), or the input type itself. */
export type InputFor<T> = [T] extends [TypedService<unknown, unknown>] ? ServiceInput<T> : T;
/** A service type gives its own output; otherwise the explicit `Out`. */
export type OutputFor<T, Out> = [T] extends [TypedService<unknown, unknown>] ? ServiceOutput<T> : Out;

const TERMINAL: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'timed_out', 'cancelled']);

/** Whether a run has ended (its record will not change again). */
export function isRunOver(status: RunStatus | string): boolean {
  return TERMINAL.has(status as RunStatus);
}
