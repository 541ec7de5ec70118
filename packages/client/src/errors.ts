import type { RequestRecord } from '@runlet/protocol';

/** What an error saw of the HTTP response it came from (the shape `error.response?.status` code reads). */
export interface ErrorResponse {
  status: number;
  statusText: string;
  headers: Headers;
  /** The body: parsed JSON when it was JSON, else text. */
  data: unknown;
}

export interface RunletErrorInit {
  /** The runtime's stable error code (`SYNC_TIMEOUT`, `KEY_SPENT`, ...), when the runtime said one. */
  code?: string;
  status?: number;
  requestId?: string;
  response?: ErrorResponse;
  record?: RequestRecord;
  cause?: unknown;
}

/**
 * Every error the client throws. Branch on the subclass or on `code` (the runtime's stable
 * error code); `status`, `requestId` and `response` are there when known.
 */
export class RunletError extends Error {
  override name = 'RunletError';
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly response: ErrorResponse | undefined;
  /** The run's record, for errors about a run that ended. */
  readonly record: RequestRecord | undefined;

  constructor(message: string, init: RunletErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status ?? init.response?.status;
    this.requestId = init.requestId;
    this.response = init.response;
    this.record = init.record;
  }

  /** The body of the response, when there was one. */
  get body(): unknown {
    return this.response?.data;
  }
}

/** The API key is missing, unknown, revoked, or a spent one-time key (401/403). */
export class AuthError extends RunletError {
  override name = 'AuthError';
}

/** The runtime knows no such service, request, file or endpoint (404). */
export class NotFoundError extends RunletError {
  override name = 'NotFoundError';
}

/**
 * Waiting stopped before the run ended: the sync limit passed (HTTP 504 `SYNC_TIMEOUT`), or the
 * caller's own `timeoutMs`. The run goes on: its result will be at `/result/{requestId}`.
 */
export class RunTimeoutError extends RunletError {
  override name = 'RunTimeoutError';
}

/** The service itself answered a non-2xx status; `status` and `body` are its own. */
export class ServiceError extends RunletError {
  override name = 'ServiceError';
}

/** The run ended without an answer of the service: its worker crashed, it passed its time limit, ... (`code` says which). */
export class RunFailedError extends RunletError {
  override name = 'RunFailedError';
}

const AUTH_CODES = new Set(['AUTH_MISSING', 'AUTH_INVALID', 'KEY_REVOKED', 'KEY_SPENT']);
const TIMEOUT_CODES = new Set(['SYNC_TIMEOUT', 'RUN_RESULT_PENDING']);

/** The error for a runtime error code. */
export function errorForCode(code: string, message: string, init: RunletErrorInit): RunletError {
  if (AUTH_CODES.has(code)) return new AuthError(message, init);
  if (TIMEOUT_CODES.has(code)) return new RunTimeoutError(message, init);
  if ((init.status ?? init.response?.status) === 404) return new NotFoundError(message, init);
  return new RunletError(message, init);
}

/** Reads a non-2xx response into the matching error. A body without `x-runlet-error` is the service's own. */
export async function errorFromResponse(res: Response, requestId?: string): Promise<RunletError> {
  const data = await readBody(res);
  const response: ErrorResponse = { status: res.status, statusText: res.statusText, headers: res.headers, data };
  const code = res.headers.get('x-runlet-error');
  const id = requestId ?? res.headers.get('x-request-id') ?? undefined;
  if (code) {
    const body = (typeof data === 'object' && data !== null ? data : {}) as { message?: string; request_id?: string };
    const message = `${res.status} ${code}: ${body.message ?? res.statusText}`;
    return errorForCode(code, message, { code, response, requestId: body.request_id ?? id });
  }
  const message = `The service answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${describeBody(data)}`;
  return new ServiceError(message, { response, requestId: id });
}

/** Parses a body as JSON when it says it is JSON (or looks like it), else answers the text. */
export async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  return parseBody(text, res.headers.get('content-type'));
}

export function parseBody(text: string, contentType: string | null): unknown {
  if (text === '') return contentType && isJsonType(contentType) ? null : '';
  if (isJsonType(contentType) || contentType === null) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

export function isJsonType(contentType: string | null | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

function describeBody(data: unknown): string {
  if (data === '' || data === null || data === undefined) return '';
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return `: ${text.length > 300 ? text.slice(0, 300) + '…' : text}`;
}

/** A network failure (refused, reset, dropped mid-body), as opposed to an answer or an abort. */
export function isNetworkError(err: unknown): boolean {
  return err instanceof TypeError && !(err instanceof RunletError);
}

export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError');
}
