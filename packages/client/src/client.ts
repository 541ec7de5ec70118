import { resolveApiKey, resolveBaseUrl, keyTypeOf, type KeyType } from './config.js';
import { errorForCode, errorFromResponse, isAbortError, isJsonType, isNetworkError, parseBody, RunFailedError, RunletError, RunTimeoutError, ServiceError, type ErrorResponse } from './errors.js';
import { followLogs, type LogsOptions } from './logs.js';
import { backoff, retryDelay } from './retries.js';
import { linkSignals, sleep } from './signals.js';
import { readServerSentEvents, type ServerSentEvent } from './streams.js';
import { isRunOver, type InputFor, type LogLine, type OutputFor, type RequestRecord } from './types.js';

export interface ClientOptions {
  /** Default: `CODEWORDS_API_KEY`, else `RUNLET_API_KEY`. */
  apiKey?: string;
  /** Default: `RUNLET_URL`, else `NEXT_PUBLIC_RUNTIME_URI`, else `CODEWORDS_RUNTIME_URI`, else http://127.0.0.1:8080. */
  baseUrl?: string;
  /** `bearer` (default) sends `Authorization: Bearer <key>`; `bare` sends the key alone, as the official clients do. */
  authScheme?: 'bearer' | 'bare';
  /** A fetch to use instead of the global one (to add tracing, a proxy agent, ...). */
  fetch?: typeof fetch;
  /** Headers sent with every call. */
  headers?: Record<string, string>;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface RunOptions extends CallOptions {
  /** The sub-path after the service id (`''` for the main endpoint). */
  path?: string;
  /** How long to wait for the answer, in all, before `RunTimeoutError` (the run itself goes on). */
  timeoutMs?: number;
  /** HTTP method for the service (default POST). */
  method?: string;
  query?: Record<string, string> | URLSearchParams;
  correlationId?: string;
  headers?: Record<string, string>;
  /**
   * Async runs (`start`, `runAsync`) only: when the run ends, Runlet POSTs its record to this
   * URL, signed; check it with `verifyWebhook`.
   */
  callbackUrl?: string;
  /** Keep the run at most this many seconds after it ends (it can only shorten the account's retention). */
  retainSeconds?: number;
  /**
   * The call's `Idempotency-Key`. Default: a fresh one per call, sent again on each retry, so a
   * call retried after a network error or a gateway's 502/503/504 never starts its run twice.
   */
  idempotencyKey?: string;
}

export interface WaitOptions extends CallOptions {
  /** How long to wait in all before `RunTimeoutError`; default: until the run ends. */
  timeoutMs?: number;
}

export interface UploadOptions extends CallOptions {
  filename: string;
  /** Default: the Blob's own type, else `application/octet-stream`. */
  contentType?: string;
}

export interface UploadedFile {
  /** Where anyone (a service, a browser) can GET the bytes, without a key. */
  downloadUrl: string;
  uploadUrl: string;
  fileId: string | undefined;
  filename: string;
  expiresAt: string | undefined;
}

export type UploadContent = Blob | ArrayBuffer | ArrayBufferView | string;

/** The longest single `/result` long-poll, in seconds: short enough that proxies leave it alone. */
const POLL_SECONDS = 60;
/** Failed polls in a row (network errors, gateway 502/503/504, the runtime's 503s to retry) before giving up. */
const MAX_POLL_FAILURES = 8;
/**
 * Tries of a call that starts work (run, start, provision), or of a read, before its error is
 * thrown. Each try of a call carries its one idempotency key, so a retry cannot start the work
 * again; a few tries ride out a dropped connection or a restarting proxy without hiding a real
 * outage.
 */
const MAX_SEND_TRIES = 4;

/**
 * A client of a Runlet (or CodeWords) runtime: typed calls with errors to branch on.
 *
 * @example
 * const client = new RunletClient({ apiKey: process.env.CODEWORDS_API_KEY });
 * const out = await client.run<{ name: string }, { hello: string }>('greeter', { name: 'Ada' });
 * const handle = await client.start('csv-processor', { csv_file: url });
 * for await (const line of handle.logs()) console.log(line.message);
 * console.log(await handle.result());
 */
export class RunletClient {
  readonly baseUrl: string;
  protected readonly apiKey: string;
  private readonly authScheme: 'bearer' | 'bare';
  private readonly fetchImpl: typeof fetch;
  private readonly extraHeaders: Record<string, string>;

  constructor(options: ClientOptions = {}) {
    this.apiKey = resolveApiKey(options.apiKey);
    this.baseUrl = resolveBaseUrl(options.baseUrl);
    this.authScheme = options.authScheme ?? 'bearer';
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.extraHeaders = options.headers ?? {};
  }

  /** `standard` for a reusable `cwk-` key, `one_time` for a `cwotk-` key. */
  get keyType(): KeyType {
    return keyTypeOf(this.apiKey);
  }

  /**
   * Runs a service and answers its output (its JSON, or its text). A run that passes the
   * runtime's sync limit (HTTP 504) is not started again: the client waits for that same run's
   * result. Throws `ServiceError` when the service answers non-2xx, `RunTimeoutError` (with the
   * `requestId`) when `timeoutMs` passes, `AuthError`, `NotFoundError`, `RunFailedError`.
   *
   * Type it with the input and output types, or with a service's own type:
   * `client.run<In, Out>(...)`, `client.run<typeof import('./services/greeter.js').default>(...)`.
   */
  async run<T = unknown, Out = unknown>(serviceId: string, input?: InputFor<T>, options: RunOptions = {}): Promise<OutputFor<T, Out>> {
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    const remaining = () => (deadline === undefined ? undefined : deadline - Date.now());
    // Provisioning first means the run's id is known before it starts: a 504 or a dropped
    // connection can then wait on that run instead of starting the work again.
    const requestId = await this.provision({ signal: options.signal });
    const link = linkSignals([options.signal], remaining());
    let res: Response;
    try {
      // Retried with its idempotency key: a try that reached the runtime is answered its run.
      res = await this.sendOnce((idempotencyKey) => this.postRun('run', serviceId, input, { ...options, signal: link.signal, provisionedId: requestId, idempotencyKey }), options.idempotencyKey, link.signal);
      if (res.ok) return (await readOutput(res)) as OutputFor<T, Out>;
    } catch (err) {
      if (link.timedOut()) throw this.timeoutError(requestId, options.timeoutMs!, err);
      if (!isNetworkError(err)) throw err;
      // Every try dropped: if the run started, its result will be on /result.
      const record = await this.details(requestId, { signal: options.signal }).catch(() => undefined);
      if (!record || record.status === 'provisioned') throw err;
      return (await this.resultOf(requestId, { signal: options.signal, timeoutMs: remaining() })) as OutputFor<T, Out>;
    } finally {
      link.dispose();
    }
    const error = await errorFromResponse(res, requestId);
    // PROVISION_USED: a runtime that knows no idempotency keys refused a retry of a run that did start.
    if (error.code !== 'SYNC_TIMEOUT' && error.code !== 'PROVISION_USED') throw error;
    return (await this.resultOf(error.requestId ?? requestId, { signal: options.signal, timeoutMs: remaining() })) as OutputFor<T, Out>;
  }

  /** Starts a run in the background and answers a handle to follow it. */
  async start<T = unknown, Out = unknown>(serviceId: string, input?: InputFor<T>, options: Omit<RunOptions, 'timeoutMs'> = {}): Promise<RunHandle<OutputFor<T, Out>>> {
    const res = await this.sendOnce((idempotencyKey) => this.postRun('run_async', serviceId, input, { ...options, idempotencyKey }), options.idempotencyKey, options.signal);
    if (!res.ok) throw await errorFromResponse(res);
    const { request_id } = (await res.json()) as { request_id: string };
    return new RunHandle(this, request_id);
  }

  /** A handle on a run started earlier (by anyone with a key of the same account). */
  handle<Out = unknown>(requestId: string): RunHandle<Out> {
    return new RunHandle<Out>(this, requestId);
  }

  /** Runs a service that answers Server-Sent Events, yielding each event as it arrives. */
  async *runStream<T = unknown>(serviceId: string, input?: T, options: Omit<RunOptions, 'timeoutMs'> & { provisionedId?: string } = {}): AsyncGenerator<ServerSentEvent> {
    const res = await this.postRun('run', serviceId, input, { ...options, accept: 'text/event-stream' });
    if (!res.ok) throw await errorFromResponse(res, options.provisionedId);
    if (!res.body) return;
    yield* readServerSentEvents(res.body);
  }

  /** A request id for a run yet to start (send it as `X-Provisioned-Request-Id`). */
  async provision(options: CallOptions & { idempotencyKey?: string } = {}): Promise<string> {
    const res = await this.sendOnce((key) => this.fetchRaw('POST', '/provision-request', { ...options, headers: { 'idempotency-key': key } }), options.idempotencyKey, options.signal);
    if (!res.ok) throw await errorFromResponse(res);
    return ((await res.json()) as { request_id: string }).request_id;
  }

  /**
   * Cancels a run: one not started never starts, a running one has its worker stopped. Answers
   * the cancelled record; a run that had already ended otherwise is a `RunletError` with code
   * `RUN_ALREADY_ENDED` (409).
   */
  async cancel(requestId: string, options: CallOptions = {}): Promise<RequestRecord> {
    const res = await this.call('POST', `/cancel/${encodeURIComponent(requestId)}`, options);
    return (await res.json()) as RequestRecord;
  }

  /** The run's record now (status, timestamps, and the answer once it has ended). */
  async details(requestId: string, options: CallOptions = {}): Promise<RequestRecord> {
    const res = await this.call('GET', `/request/${encodeURIComponent(requestId)}`, options);
    return (await res.json()) as RequestRecord;
  }

  /**
   * Waits for the run to end and answers its record, long-polling `/result` (in seconds) and
   * riding out dropped connections and gateway timeouts. `RunTimeoutError` when `timeoutMs` passes.
   */
  async wait(requestId: string, options: WaitOptions & { wireUnit?: 'seconds' | 'milliseconds' } = {}): Promise<RequestRecord> {
    const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
    // A wait between two polls ends at the deadline too: the caller's limit is the caller's.
    const pause = (ms: number) => sleep(deadline === undefined ? ms : Math.max(0, Math.min(ms, deadline - Date.now())), options.signal);
    let failures = 0;
    for (;;) {
      const left = deadline === undefined ? POLL_SECONDS * 1000 : deadline - Date.now();
      if (left <= 0) throw this.timeoutError(requestId, options.timeoutMs!);
      const pollMs = Math.min(left, POLL_SECONDS * 1000);
      const timeout = options.wireUnit === 'milliseconds' && pollMs > 1800 ? pollMs : Math.max(1, Math.ceil(pollMs / 1000));
      const link = linkSignals([options.signal], deadline === undefined ? undefined : left + 1000);
      try {
        const res = await this.fetchRaw('GET', `/result/${encodeURIComponent(requestId)}?timeout=${timeout}`, { signal: link.signal });
        if (res.ok) return (await res.json()) as RequestRecord;
        const delay = retryDelay(res, failures + 1);
        if (res.status !== 408 && delay === undefined) throw await errorFromResponse(res, requestId);
        if (delay !== undefined && ++failures > MAX_POLL_FAILURES) throw await errorFromResponse(res, requestId);
        await res.body?.cancel();
        if (delay !== undefined) await pause(delay);
        else failures = 0;
      } catch (err) {
        if (link.timedOut()) throw this.timeoutError(requestId, options.timeoutMs!, err);
        if (!isNetworkError(err) || ++failures > MAX_POLL_FAILURES) throw err;
        await pause(backoff(failures));
      } finally {
        link.dispose();
      }
    }
  }

  /** Waits for the run to end and answers the service's output, or throws what went wrong. */
  async resultOf(requestId: string, options: WaitOptions = {}): Promise<unknown> {
    return outputOf(await this.wait(requestId, options));
  }

  /**
   * The run's log lines: those written so far, then live ones, ending when the run ends. A
   * dropped connection is resumed after the last line seen (`after=<createdAt>`), so no line
   * is lost or repeated.
   */
  logs(requestId: string, options: LogsOptions = {}): AsyncGenerator<LogLine> {
    return followLogs(
      {
        open: (after, signal) => this.fetchRaw('GET', `/logs/${encodeURIComponent(requestId)}${after ? `?after=${encodeURIComponent(after)}` : ''}`, { signal, accept: 'application/x-ndjson' }),
        isOver: async (signal) => isRunOver((await this.details(requestId, { signal })).status),
        errorOf: (res) => errorFromResponse(res, requestId),
      },
      options,
    );
  }

  /** Uploads bytes (`POST /file`, then a PUT to the signed upload URL) and answers where they can be downloaded. */
  async uploadFile(content: UploadContent, options: UploadOptions): Promise<UploadedFile> {
    const res = await this.call('POST', `/file?filename=${encodeURIComponent(options.filename)}`, options);
    const urls = (await res.json()) as { upload_uri: string; download_uri: string; file_id?: string; expires_at?: string };
    const uploadUrl = new URL(urls.upload_uri, this.baseUrl + '/').toString();
    const contentType = options.contentType ?? (content instanceof Blob && content.type ? content.type : 'application/octet-stream');
    // The upload URL is a capability of its own (possibly S3's): it gets no Authorization header.
    const put = await this.fetchImpl(uploadUrl, {
      method: 'PUT',
      body: content as BodyInit,
      headers: { 'content-type': contentType, 'x-amz-acl': 'public-read' },
      signal: options.signal,
    });
    if (!put.ok) throw await errorFromResponse(put);
    await put.body?.cancel();
    return {
      downloadUrl: new URL(urls.download_uri, this.baseUrl + '/').toString(),
      uploadUrl,
      fileId: urls.file_id,
      filename: options.filename,
      expiresAt: urls.expires_at,
    };
  }

  /**
   * Sends a call that starts work, with one idempotency key (`key`, or a fresh one) on every
   * try (see `retrying`): the runtime answers a try that follows one it received with the run
   * that one started.
   */
  protected sendOnce(send: (idempotencyKey: string) => Promise<Response>, key: string | undefined, signal: AbortSignal | undefined): Promise<Response> {
    const idempotencyKey = key ?? newIdempotencyKey();
    return this.retrying(() => send(idempotencyKey), signal);
  }

  /**
   * Sends a request that is safe to send again (a read, or a call with an idempotency key) until
   * its answer is final: after a network error, a gateway's 502/503/504 or the runtime's own
   * "unavailable, retry" (see `retryDelay`) it is sent again, up to MAX_SEND_TRIES tries.
   */
  private async retrying(send: () => Promise<Response>, signal: AbortSignal | undefined): Promise<Response> {
    for (let tries = 1; ; tries++) {
      let delay: number | undefined;
      try {
        const res = await send();
        delay = retryDelay(res, tries);
        if (delay === undefined || tries >= MAX_SEND_TRIES) return res;
        await res.body?.cancel();
      } catch (err) {
        if (!isNetworkError(err) || signal?.aborted || tries >= MAX_SEND_TRIES) throw err;
      }
      await sleep(delay ?? backoff(tries), signal);
    }
  }

  /** POSTs (or another method) a call to `/run/...` or `/run_async/...`; answers the raw response. */
  protected postRun(kind: 'run' | 'run_async', serviceId: string, input: unknown, options: RunOptions & { provisionedId?: string; accept?: string }): Promise<Response> {
    const path = (options.path ?? '').replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
    const query = options.query ? `?${new URLSearchParams(options.query as Record<string, string>).toString()}` : '';
    const headers: Record<string, string> = { ...options.headers };
    if (options.provisionedId) headers['x-provisioned-request-id'] = options.provisionedId;
    if (options.correlationId) headers['x-correlation-id'] = options.correlationId;
    if (options.callbackUrl) headers['x-callback-url'] = options.callbackUrl;
    if (options.retainSeconds !== undefined) headers['x-retain-seconds'] = String(options.retainSeconds);
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const { body, contentType } = encodeInput(input);
    if (contentType) headers['content-type'] = contentType;
    return this.fetchRaw(options.method ?? 'POST', `/${kind}/${encodeURIComponent(serviceId)}/${path}${query}`, {
      signal: options.signal,
      headers,
      body,
      accept: options.accept,
    });
  }

  /** A call to the runtime that must answer 2xx; anything else becomes the matching error. A read is retried as `retrying` says. */
  protected async call(method: string, pathname: string, options: CallOptions & { body?: BodyInit; headers?: Record<string, string> } = {}): Promise<Response> {
    const send = () => this.fetchRaw(method, pathname, options);
    const res = await (method === 'GET' ? this.retrying(send, options.signal) : send());
    if (!res.ok) throw await errorFromResponse(res);
    return res;
  }

  protected fetchRaw(method: string, pathname: string, options: CallOptions & { body?: BodyInit | null; headers?: Record<string, string>; accept?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = {
      ...this.extraHeaders,
      ...options.headers,
      authorization: this.authScheme === 'bare' ? this.apiKey : `Bearer ${this.apiKey}`,
    };
    if (options.accept) headers.accept = options.accept;
    return this.fetchImpl(this.baseUrl + pathname, { method, headers, body: options.body ?? null, signal: options.signal });
  }

  protected timeoutError(requestId: string, timeoutMs: number, cause?: unknown): RunTimeoutError {
    return new RunTimeoutError(`Stopped waiting for run ${requestId} after ${timeoutMs} ms; it goes on, and its result will be at /result/${requestId}.`, {
      code: 'CLIENT_TIMEOUT',
      requestId,
      cause,
    });
  }
}

/** A run started in the background. */
export class RunHandle<Out = unknown> {
  constructor(
    private readonly client: RunletClient,
    readonly requestId: string,
  ) {}

  /** Waits for the run to end and answers the service's output (see `RunletClient.run` for the errors). */
  async result(options: WaitOptions = {}): Promise<Out> {
    return (await this.client.resultOf(this.requestId, options)) as Out;
  }

  /** Waits for the run to end and answers its whole record. */
  wait(options: WaitOptions = {}): Promise<RequestRecord> {
    return this.client.wait(this.requestId, options);
  }

  /** The record now. */
  details(options: CallOptions = {}): Promise<RequestRecord> {
    return this.client.details(this.requestId, options);
  }

  /** Cancels the run (see `RunletClient.cancel`) and answers its record. */
  cancel(options: CallOptions = {}): Promise<RequestRecord> {
    return this.client.cancel(this.requestId, options);
  }

  /** The run's log lines, live, resuming after dropped connections; ends when the run ends. */
  logs(options: LogsOptions = {}): AsyncGenerator<LogLine> {
    return this.client.logs(this.requestId, options);
  }

  toString(): string {
    return this.requestId;
  }
}

/** The service's output from a finished run's record, or the error it ended with. */
export function outputOf(record: RequestRecord): unknown {
  const body = record.responseJson !== undefined ? record.responseJson : record.responseContent;
  if (record.status === 'completed' && record.responseStatus !== null) {
    if (record.responseStatus >= 200 && record.responseStatus < 300) return body;
    const response: ErrorResponse = { status: record.responseStatus, statusText: '', headers: new Headers(record.responseContentType ? { 'content-type': record.responseContentType } : {}), data: body };
    throw new ServiceError(`The service answered ${record.responseStatus}${body == null ? '' : `: ${typeof body === 'string' ? body : JSON.stringify(body)}`}`, { response, requestId: record.id, record });
  }
  const code = record.errorCode ?? record.status.toUpperCase();
  const message = `Run ${record.id} ${record.status}: ${record.error ?? code}`;
  const init = { code, requestId: record.id, record };
  const err = errorForCode(code, message, init);
  throw err.constructor === RunletError ? new RunFailedError(message, init) : err;
}

async function readOutput(res: Response): Promise<unknown> {
  const type = res.headers.get('content-type');
  const text = await res.text();
  return isJsonType(type) ? parseBody(text, type) : text;
}

/** How an input travels: raw for bytes, streams and forms; JSON for everything else. */
function encodeInput(input: unknown): { body: BodyInit | null; contentType?: string } {
  if (input === undefined) return { body: null };
  if (input instanceof Blob) return { body: input, contentType: input.type || 'application/octet-stream' };
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) return { body: input as BodyInit, contentType: 'application/octet-stream' };
  if (input instanceof URLSearchParams || input instanceof FormData) return { body: input };
  return { body: JSON.stringify(input), contentType: 'application/json' };
}

/** 128 random bits, hex: `crypto.randomUUID` is missing from pages not served over https. */
function newIdempotencyKey(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export { isAbortError };
