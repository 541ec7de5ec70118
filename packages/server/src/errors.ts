import { errorCatalogue, type ErrorBody, type ErrorCode } from '@runlet/protocol';

/** The runtime's one error type: a catalogue code, its HTTP status, and an optional run id. */
export class RunletError extends Error {
  override name = 'RunletError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly extra: { requestId?: string; details?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message ?? errorCatalogue[code].message);
    this.status = errorCatalogue[code].status;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.extra.requestId) body.request_id = this.extra.requestId;
    if (this.extra.details !== undefined) body.details = this.extra.details;
    return body;
  }
}

/** A 429 of a limit: its code and when to come back (`Retry-After`, whole seconds, at least 1). */
export function overLimit(code: ErrorCode, retryAfterSeconds: number, message?: string): RunletError {
  return new RunletError(code, message, { headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });
}
