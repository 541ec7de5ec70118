import { keyTypeOf, type KeyType } from './config.js';
import { errorFromResponse, isJsonType, parseBody, RunTimeoutError } from './errors.js';
import { RunletClient, type CallOptions, type ClientOptions, type UploadContent } from './client.js';
import type { LogsOptions } from './logs.js';
import type { LogLine, RequestRecord } from './types.js';

export interface StreamLogsOptions extends LogsOptions {
  requestId?: string;
}

/**
 * The surface of the official `@codewords/client`, so code written for it runs by changing the
 * import, plus everything of `RunletClient` (`run`, `start`, ...). The client remembers the
 * request it last provisioned or started (`requestId`): `pollResult`, `streamLogs` and
 * `getRequestDetails` default to it.
 */
export class ServiceClient extends RunletClient {
  /** The current request: given to `createServiceClient`, or the last one provisioned or started. */
  requestId: string | undefined;

  constructor(apiKey?: string, requestId?: string, runtimeUri?: string, options: Omit<ClientOptions, 'apiKey' | 'baseUrl'> = {}) {
    super({ ...options, apiKey, baseUrl: runtimeUri });
    this.requestId = requestId;
  }

  /**
   * Runs a service synchronously and answers its JSON (or text). Provisions the request id
   * first, as the official client does. Throws when the answer is not 2xx: `error.response.status`
   * is 504 when the run passed the sync limit (`RunTimeoutError`, with `requestId` to poll).
   */
  // The official client answers `any`, and the seed's code reads fields off it directly.
  async runService<T = any>(serviceId: string, path = '', data?: unknown, options: CallOptions & { headers?: Record<string, string> } = {}): Promise<T> {
    const requestId = await this.provisionRequest(options);
    const res = await this.sendOnce((idempotencyKey) => this.postRun('run', serviceId, data, { ...options, path, provisionedId: requestId, idempotencyKey }), undefined, options.signal);
    if (!res.ok) throw await errorFromResponse(res, requestId);
    const text = await res.text();
    const type = res.headers.get('content-type');
    return (isJsonType(type) ? parseBody(text, type) : text) as T;
  }

  /** Starts a run in the background; answers its request id (and remembers it). */
  async runAsync(serviceId: string, path = '', data?: unknown, options: CallOptions & { headers?: Record<string, string>; callbackUrl?: string; retainSeconds?: number } = {}): Promise<string> {
    const res = await this.sendOnce((idempotencyKey) => this.postRun('run_async', serviceId, data, { ...options, path, idempotencyKey }), undefined, options.signal);
    if (!res.ok) throw await errorFromResponse(res);
    this.requestId = ((await res.json()) as { request_id: string }).request_id;
    return this.requestId;
  }

  /**
   * Waits up to `timeoutMs` (default 10 minutes) for the current request (or `requestId`) to end,
   * and answers its record (`responseStatus`, `responseJson`, ...). Throws `RunTimeoutError`
   * (`response.status` 408) when it has not ended by then.
   */
  async pollResult(timeoutMs = 600_000, requestId = this.requestId, options: CallOptions = {}): Promise<RequestRecord> {
    const id = this.requireId(requestId);
    try {
      return await this.wait(id, { timeoutMs, signal: options.signal, wireUnit: 'milliseconds' });
    } catch (err) {
      if (err instanceof RunTimeoutError && !err.response) {
        throw new RunTimeoutError(err.message, { code: 'RUN_RESULT_PENDING', requestId: id, response: { status: 408, statusText: 'Request Timeout', headers: new Headers(), data: { code: 'RUN_RESULT_PENDING', request_id: id } }, cause: err });
      }
      throw err;
    }
  }

  /**
   * The log lines of the current request (or `options.requestId`), live until the run ends.
   * With a callback, calls it for each line and resolves at the end; without, answers an async
   * iterator.
   */
  streamLogs(onLine: (line: LogLine) => void, options?: StreamLogsOptions): Promise<void>;
  streamLogs(options?: StreamLogsOptions): AsyncGenerator<LogLine>;
  streamLogs(a?: ((line: LogLine) => void) | StreamLogsOptions, b?: StreamLogsOptions): Promise<void> | AsyncGenerator<LogLine> {
    const options = typeof a === 'function' ? (b ?? {}) : (a ?? {});
    const lines = this.logs(this.requireId(options.requestId ?? this.requestId), options);
    if (typeof a !== 'function') return lines;
    return (async () => {
      for await (const line of lines) a(line);
    })();
  }

  /**
   * Runs a service that answers Server-Sent Events and yields each event's `data` (parsed when
   * it is JSON). The request id is provisioned first, so `streamLogs` can follow it meanwhile.
   */
  async *runServiceStream<T = any>(serviceId: string, path = '', data?: unknown, options: CallOptions = {}): AsyncGenerator<T> {
    const provisionedId = await this.provisionRequest(options);
    for await (const event of this.runStream(serviceId, data, { ...options, path, provisionedId })) yield event.data as T;
  }

  /** Provisions a request id for a run yet to start, and makes it the current request. */
  async provisionRequest(options: CallOptions = {}): Promise<string> {
    this.requestId = await this.provision(options);
    return this.requestId;
  }

  /** The record of the current request (or `requestId`) now. */
  getRequestDetails(requestId = this.requestId, options: CallOptions = {}): Promise<RequestRecord> {
    return this.details(this.requireId(requestId), options);
  }

  /**
   * Uploads a file and answers its download URL, to pass to a service as input:
   * `uploadFileAndGetUrl(file)` for a `File` (its own name), `uploadFileAndGetUrl(content, 'name.csv')`
   * for bytes, a Blob or text.
   */
  async uploadFileAndGetUrl(file: UploadContent | File, filename?: string, contentType?: string): Promise<string> {
    const name = filename ?? (typeof File !== 'undefined' && file instanceof File ? file.name : undefined);
    if (!name) throw new TypeError('uploadFileAndGetUrl needs a file name: pass a File, or (content, filename).');
    return (await this.uploadFile(file, { filename: name, contentType })).downloadUrl;
  }

  /** `standard` (`cwk-`), `one_time` (`cwotk-`), or `unknown`. */
  getApiKeyType(): KeyType {
    return keyTypeOf(this.apiKey);
  }

  private requireId(requestId: string | undefined): string {
    if (!requestId) throw new TypeError('No request id: start a run (runService, runAsync) or pass one.');
    return requestId;
  }
}

/**
 * Creates a client with the official `@codewords/client` surface (and Runlet's typed one).
 * The key defaults to `CODEWORDS_API_KEY`/`RUNLET_API_KEY`; the base URL to `RUNLET_URL`,
 * then `NEXT_PUBLIC_RUNTIME_URI`.
 *
 * @example
 * const client = createServiceClient(process.env.CODEWORDS_API_KEY!);
 * const result = await client.runService('linkedin-enricher', '', { spreadsheet: '1Bx...' });
 */
export function createServiceClient(apiKey?: string, requestId?: string, runtimeUri?: string, options?: Omit<ClientOptions, 'apiKey' | 'baseUrl'>): ServiceClient {
  return new ServiceClient(apiKey, requestId, runtimeUri, options);
}
