import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { workerEnv } from '@runlet/protocol';

/** What a service can upload: text, bytes, a Blob, or a stream of bytes (web or Node). */
export type FileData = string | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface UploadOptions {
  /** The type the file is served with; by default guessed by the runtime from the name. */
  contentType?: string;
  /** The exact size of a stream, when known: the upload is then checked against it. */
  size?: number;
}

/** A file URL that could not be read, or an upload the runtime refused. */
export class FileError extends Error {
  override name = 'FileError';
  constructor(
    message: string,
    readonly status: number,
    /** The runtime's error code (e.g. `URL_EXPIRED`, `FILE_TOO_LARGE`), when it gave one. */
    readonly code: string | null,
  ) {
    super(message);
  }
}

/** Reading download URLs handed to a service, and uploading the files it produces. */
export interface FileHelpers {
  /** The whole file at a download URL. */
  read(url: string): Promise<Buffer>;
  /** The file at a download URL as UTF-8 text. */
  readText(url: string): Promise<string>;
  /** The file at a download URL as a stream, without holding it in memory (`Readable.fromWeb` makes it a Node stream). */
  stream(url: string): Promise<ReadableStream<Uint8Array>>;
  /**
   * Uploads a file to the runtime that runs this worker and answers its download URL, which
   * the service can return as an output.
   *
   * @example
   * const url = await ctx.files.upload('report.csv', 'name,score\nada,3\n');
   * return { report_url: url };
   */
  upload(name: string, data: FileData, options?: UploadOptions): Promise<string>;
}

async function open(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw await errorOf(response, `GET ${redact(url)}`);
  return response;
}

export const files: FileHelpers = {
  async read(url) {
    return Buffer.from(await (await open(url)).arrayBuffer());
  },
  async readText(url) {
    return (await open(url)).text();
  },
  async stream(url) {
    const response = await open(url);
    return response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  },
  async upload(name, data, options = {}) {
    const base = process.env[workerEnv.runtimeUrl];
    const key = process.env[workerEnv.apiKey];
    if (!base || !key) throw new Error('files.upload works inside a Runlet worker (RUNLET_URL and RUNLET_API_KEY are not set)');
    const body = await bodyOf(data);
    const size = body.size ?? options.size;
    const query = new URLSearchParams({ filename: name });
    if (size !== undefined) query.set('size', String(size));
    if (options.contentType) query.set('content_type', options.contentType);
    const created = await fetch(`${base}/file?${query}`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    if (!created.ok) throw await errorOf(created, `POST /file`);
    const { upload_uri, download_uri } = (await created.json()) as { upload_uri: string; download_uri: string };
    const headers: Record<string, string | number> = { 'content-type': options.contentType ?? 'application/octet-stream' };
    if (size !== undefined) headers['content-length'] = size;
    const answer = await put(upload_uri, body.stream, headers);
    if (answer.status < 200 || answer.status > 299) throw new FileError(`upload of ${name} failed: HTTP ${answer.status} ${answer.text}`, answer.status, codeOf(answer.text));
    return download_uri;
  },
};

async function bodyOf(data: FileData): Promise<{ stream: Readable; size?: number }> {
  if (typeof data === 'string') data = Buffer.from(data, 'utf8');
  if (data instanceof ArrayBuffer) data = new Uint8Array(data);
  if (data instanceof Blob) data = new Uint8Array(await data.arrayBuffer());
  if (data instanceof Uint8Array) return { stream: Readable.from([data]), size: data.byteLength };
  if (data instanceof ReadableStream) return { stream: Readable.fromWeb(data as WebReadableStream<Uint8Array>) };
  return { stream: Readable.from(data) };
}

/** A streamed PUT (fetch cannot send a stream with a Content-Length, which S3 requires). */
function put(url: string, body: Readable, headers: Record<string, string | number>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { method: 'PUT', headers }, (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c.length + text.length <= 64 * 1024 ? c : ''));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  });
}

async function errorOf(response: Response, what: string): Promise<FileError> {
  const text = await response.text().catch(() => '');
  return new FileError(`${what}: HTTP ${response.status} ${text.slice(0, 500)}`, response.status, codeOf(text));
}

function codeOf(text: string): string | null {
  try {
    const body = JSON.parse(text) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : null;
  } catch {
    return null;
  }
}

/** A signed URL without its signature, for error messages that end up in logs. */
function redact(url: string): string {
  return url.replace(/([?&](?:sig|X-Amz-Signature)=)[^&]+/g, '$1…');
}
