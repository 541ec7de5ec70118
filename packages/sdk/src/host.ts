/**
 * The entry point of a worker process that hosts one TypeScript/JavaScript service: it loads
 * the service module named by RUNLET_SERVICE_ENTRY, serves HTTP on the unix socket named by
 * RUNLET_SOCKET, and says `ready` (with the service's description) on the runtime channel.
 * It serves one call at a time because the runtime sends it one at a time.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { NO_RETRY_HEADER, OUTPUT_LINES_HEADER, RUNTIME_ERROR_HEADER, workerEnv, workerHeaders, type ServiceDescription } from '@runlet/protocol';
import { z } from 'zod';
import { capturePrintedOutput } from './capture.js';
import { channelLinesSent, hasRuntimeChannel, sendToRuntime } from './channel.js';
import { HttpError, NonRetryableError } from './errors.js';
import { files } from './files.js';
import { describeLoadError } from './load-error.js';
import { createLogger } from './logger.js';
import { runService } from './run-service.js';
import { resolveSdkFromAnywhere } from './sdk-resolution.js';
import { isService, type Service, type ServiceContext } from './service.js';
import type { StandardSchemaV1 } from './standard-schema.js';

// The runtime holds our stdin open for as long as it lives: when it goes, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));

// Before any assignment, so that a spare host has paid for it ahead of need.
resolveSdkFromAnywhere();

// A host may be started ahead of need, for no service yet: it then waits for its assignment
// (the service, its folder and its whole environment) as the first line on stdin. Node, the
// TypeScript loader and the SDK are loaded by then, so a first call costs only the import of
// the service itself.
if (!process.env[workerEnv.entry]) {
  const assignment = await firstLine(process.stdin).then((line) => JSON.parse(line) as { cwd: string; env: Record<string, string> });
  for (const name of Object.keys(process.env)) delete process.env[name];
  Object.assign(process.env, assignment.env);
  process.chdir(assignment.cwd);
}
process.stdin.resume();

const printed = capturePrintedOutput();
const entry = process.env[workerEnv.entry];
const socket = process.env[workerEnv.socket];
if (!entry || !socket) {
  console.error(`the Runlet worker host needs ${workerEnv.entry} and ${workerEnv.socket}`);
  process.exit(2);
}

const mod = (await import(pathToFileURL(entry).href).catch((err: unknown) => {
  console.error(`cannot load ${entry}: ${describeLoadError(err)}`);
  printed.flush();
  process.exit(3);
})) as { default?: unknown };
const service = mod.default;
if (!isService(service)) {
  console.error(`${entry} must export a service as its default export: export default defineService({ ... })`);
  process.exit(3);
}

const logger = createLogger();

const server = createServer((req, res) => {
  handle(service, req, res)
    .catch((err: unknown) => {
      console.error(err);
      if (!res.headersSent) sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    })
    .finally(() => {
      if (answeredWhole.has(res)) return;
      // Everything this call printed is on the channel now; say so, so the runtime knows its log is whole.
      printed.flush();
      sendToRuntime({ type: 'done', requestId: req.headers[workerHeaders.requestId]?.toString() ?? '' });
    });
});
server.keepAliveTimeout = 0;
server.listen(socket, () => sendToRuntime({ type: 'ready', service: describe(service) }));

/** Calls answered with `OUTPUT_LINES_HEADER`: their answer already said where their output ends. */
const answeredWhole = new WeakSet<ServerResponse>();

/**
 * Sends an answer whose body is all here: the call's output is over, so the answer itself says
 * how far on the channel it goes (after a last line without a newline is sent too).
 */
function endWhole(res: ServerResponse, status: number, headers: Record<string, string | number>, body?: string | Buffer): void {
  printed.flush();
  if (hasRuntimeChannel) {
    headers = { ...headers, [OUTPUT_LINES_HEADER]: String(channelLinesSent()) };
    answeredWhole.add(res);
  }
  res.writeHead(status, headers).end(body);
}

async function handle(svc: Service, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // A handler service gets its body read straight off the socket and its answer written straight
  // back; the Web Request and Response (streams, Headers) are built only for a fetch service, or
  // when a handler asks for `ctx.request`. They cost a call more CPU than the rest of it together.
  const body = 'handler' in svc ? await readBody(req) : undefined;
  const headers = lazy(() => toWebHeaders(req));
  const request = lazy(() => toWebRequest(req, headers(), body));
  const url = new URL(req.url ?? '/', 'http://service.local');
  const correlationId = req.headers[workerHeaders.correlationId]?.toString() ?? null;
  const ctx: ServiceContext = {
    requestId: req.headers[workerHeaders.requestId]?.toString() ?? '',
    correlationId,
    path: decodeURIComponent(url.pathname).replace(/^\/+/, ''),
    query: url.searchParams,
    get headers() {
      return headers();
    },
    get request() {
      return request();
    },
    logger,
    env: process.env,
    runService: (serviceId, input, options) => runService(serviceId, input, { ...options, correlationId }),
    files,
  };
  let answer: Response | Answer;
  try {
    answer = 'fetch' in svc ? await svc.fetch(request(), ctx) : await callHandler(svc, body!, req.headers['content-type'] ?? '', ctx);
  } catch (err) {
    if (err instanceof NonRetryableError) return sendJson(res, err.status, err.body, { [NO_RETRY_HEADER]: '1' });
    if (err instanceof HttpError) return sendJson(res, err.status, err.body);
    throw err;
  }
  if (answer instanceof Response) return sendResponse(res, answer);
  sendJson(res, answer.status, answer.body, answer.headers);
}

/** A JSON answer the host writes itself, without a Web Response. */
interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

async function callHandler(svc: Service, body: Buffer, type: string, ctx: ServiceContext): Promise<Response | Answer> {
  if (!('handler' in svc)) throw new Error('service has neither handler nor fetch');
  const text = body.toString('utf8');
  let input: unknown = text;
  if (text.trim() === '') input = {};
  else {
    try {
      input = JSON.parse(text);
    } catch {
      if (type.includes('json')) return runtimeError(400, 'INVALID_JSON', 'The request body is not valid JSON.');
      // A schema describes JSON input: a form, a file or bytes cannot match it.
      if (svc.input && !isTextual(type)) return runtimeError(415, 'UNSUPPORTED_MEDIA_TYPE', `This service takes a JSON body, not ${type.split(';')[0]}.`);
    }
  }
  if (svc.input) {
    const result = await svc.input['~standard'].validate(input);
    if (result.issues) {
      const details = result.issues.map((i) => ({ path: (i.path ?? []).map((p) => (typeof p === 'object' ? p.key : p)).map(String), message: i.message }));
      return runtimeError(422, 'INPUT_INVALID', `The input does not match the service input schema: ${details.map((d) => `${d.path.join('.') || '(root)'}: ${d.message}`).join('; ')}`, details);
    }
    input = result.value;
  }
  const out = await svc.handler(input, ctx);
  if (out instanceof Response) return out;
  return { status: 200, body: out ?? null };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function lazy<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/** Types whose body a schema service still reads (as a string): none given, or plain text, which some clients use for JSON. */
function isTextual(contentType: string): boolean {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === '' || type === 'text/plain';
}

function runtimeError(status: number, code: string, message: string, details?: unknown): Answer {
  return { status, body: { code, message, ...(details ? { details } : {}) }, headers: { [RUNTIME_ERROR_HEADER]: code } };
}

function toWebHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

/** The call as a Web Request; with `body` when the host has read it already. */
function toWebRequest(req: IncomingMessage, headers: Headers, body?: Buffer): Request {
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(new URL(req.url ?? '/', 'http://service.local'), {
    method,
    headers,
    body: hasBody ? ((body as Uint8Array<ArrayBuffer> | undefined) ?? (Readable.toWeb(req) as ReadableStream)) : undefined,
    // @ts-expect-error Node's fetch needs `duplex` for a streamed request body; the DOM types lack it.
    duplex: 'half',
  });
}

/** An answer up to this size is sent whole, with its length: one write instead of a chunked stream. */
const WHOLE_ANSWER_BYTES = 256 * 1024;

async function sendResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  if (!response.body) return endWhole(res, response.status, headers);
  const chunks = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream)[Symbol.asyncIterator]();
  // Most answers are small JSON: gather them and send them whole. An event stream, or an answer
  // that outgrows the limit, is streamed as it comes instead.
  const head: Buffer[] = [];
  let size = 0;
  let streaming = (headers['content-type'] ?? '').includes('text/event-stream');
  while (!streaming) {
    const next = await chunks.next();
    if (next.done) {
      const body = Buffer.concat(head);
      return endWhole(res, response.status, { ...headers, 'content-length': String(body.length) }, body);
    }
    head.push(Buffer.from(next.value as Uint8Array));
    size += (next.value as Uint8Array).length;
    streaming = size > WHOLE_ANSWER_BYTES;
  }
  res.writeHead(response.status, headers);
  // flushHeaders: a streaming answer (SSE) must reach the caller before its first event.
  res.flushHeaders();
  for (const chunk of head) res.write(chunk);
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
    if (!res.write(next.value)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body ?? null);
  endWhole(res, status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }, text);
}

function describe(svc: Service): ServiceDescription {
  return {
    description: svc.description,
    inputSchema: 'input' in svc ? jsonSchemaOf(svc.input, 'input') : undefined,
    outputSchema: 'output' in svc ? jsonSchemaOf(svc.output, 'output') : undefined,
    maxWorkers: svc.maxWorkers,
    concurrency: svc.concurrency,
    retryable: svc.retryable,
    retry: svc.retry as ServiceDescription['retry'],
    requiredEnv: svc.requiredEnv,
  };
}

/**
 * `io`: which side of the schema to describe. An input schema is what callers send: a field with
 * a default may be left out, and a transform (which JSON Schema cannot express) describes what
 * it takes in. Described as its output, such a schema came out with every defaulted field
 * required, or not at all.
 */
function jsonSchemaOf(schema: StandardSchemaV1 | undefined, io: 'input' | 'output'): unknown {
  if (!schema || schema['~standard'].vendor !== 'zod') return undefined;
  try {
    return z.toJSONSchema(schema as unknown as z.ZodType, { io });
  } catch {
    return undefined;
  }
}

function firstLine(stream: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const end = buffered.indexOf('\n');
      if (end === -1) return;
      stream.off('data', onData);
      resolve(buffered.slice(0, end));
    };
    stream.on('data', onData);
  });
}
