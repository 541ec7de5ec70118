import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FileInfo, FileList, FileUploadUrls } from '@runlet/protocol';
import busboy from 'busboy';
import { z } from 'zod';
import { RunletError } from '../errors.js';
import { contentDisposition } from '../files/names.js';
import { parseRange } from '../files/range.js';
import { sendFileRange } from '../files/send-file.js';
import type { FileRow } from '../store/store.js';
import type { Runtime } from '../runtime.js';
import { principalOf, requireCaller } from './auth.js';
import { parse } from './params.js';

const CreateQuery = z.object({
  filename: z.string().optional(),
  size: z.coerce.number().int().nonnegative().optional(),
  content_type: z.string().max(255).optional(),
});
const SignedQuery = z.object({ expires: z.string().optional(), sig: z.string().optional() });
const SignedParams = z.object({ id: z.string().max(100), name: z.string().max(1024) });
const IdParams = z.object({ id: z.string().max(100) });
const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).optional(), before: z.string().max(100).optional() });

/**
 * Files: `POST /file` (signed upload and download URLs, or a one-step upload of the body),
 * `PUT`/`GET /files/{id}/{name}` (the signed URLs of the local backend), `GET /files`,
 * `GET /files/{id}` and `DELETE /files/{id}`.
 *
 * Registered in a plugin of their own: the app hands every other body over as a buffer, but
 * these stream request bodies of up to gigabytes straight to storage, so here the parser
 * passes the raw request stream through untouched.
 */
export function registerFileRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.register(async (files) => {
    files.removeAllContentTypeParsers();
    files.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    // An error answered before the body was read: close the connection rather than read on.
    files.addHook('onSend', async (request, reply) => {
      if (reply.statusCode >= 400 && !request.raw.complete) reply.header('connection', 'close');
    });
    routes(files, runtime);
  });
}

function routes(app: FastifyInstance, runtime: Runtime): void {
  const auth = requireCaller(runtime);
  const maxBody = runtime.config.maxFileSizeBytes + 1024 * 1024;

  app.post('/file', { preHandler: auth, bodyLimit: maxBody, config: { doc: docs.create } }, async (request, reply) => {
    const query = parse(CreateQuery, request.query);
    const principal = principalOf(request);
    if (isMultipart(request.headers)) {
      const file = await receiveMultipart(request, async (part) => {
        const created = await runtime.files.create(principal, { name: query.filename ?? part.filename, contentType: part.mimeType });
        return runtime.files.receive(created, { source: part.stream, contentType: part.mimeType });
      });
      return reply.code(201).send(await runtime.files.info(file));
    }
    if (hasBody(request.headers)) {
      const contentLength = contentLengthOf(request.headers);
      const created = await runtime.files.create(principal, { name: query.filename, declaredSize: query.size ?? contentLength, contentType: query.content_type });
      const file = await runtime.files.receive(created, { source: request.raw, contentType: request.headers['content-type'], contentLength });
      return reply.code(201).send(await runtime.files.info(file));
    }
    const created = await runtime.files.create(principal, { name: query.filename, declaredSize: query.size, contentType: query.content_type });
    return runtime.files.uploadUrls(created);
  });

  app.put('/files/:id/:name', { bodyLimit: maxBody, config: { doc: docs.upload } }, async (request, reply) => {
    const { id } = parse(SignedParams, request.params);
    const file = await runtime.files.bySignedUrl(id, 'PUT', parse(SignedQuery, request.query));
    const stored = await runtime.files.receive(file, {
      source: request.raw,
      contentType: request.headers['content-type'],
      contentLength: contentLengthOf(request.headers),
    });
    if (stored.sha256) reply.header('etag', etagOf(stored));
    return runtime.files.info(stored);
  });

  // HEAD is its own route: Fastify's automatic one would answer Content-Length: 0.
  const download = async (request: FastifyRequest, reply: FastifyReply) => {
    const { id } = parse(SignedParams, request.params);
    const file = await runtime.files.bySignedUrl(id, 'GET', parse(SignedQuery, request.query));
    return sendFile(runtime, request, reply, file);
  };
  app.get('/files/:id/:name', { exposeHeadRoute: false, config: { doc: docs.download } }, download);
  app.head('/files/:id/:name', download);

  app.get('/files', { preHandler: auth, config: { doc: docs.list } }, async (request) => {
    const query = parse(ListQuery, request.query);
    return runtime.files.list(principalOf(request), query);
  });

  app.get('/files/:id', { preHandler: auth, config: { doc: docs.info } }, async (request) => {
    const { id } = parse(IdParams, request.params);
    return runtime.files.info(await runtime.files.ofAccount(principalOf(request), id));
  });

  app.delete('/files/:id', { preHandler: auth, config: { doc: docs.delete } }, async (request, reply) => {
    const { id } = parse(IdParams, request.params);
    await runtime.files.delete(principalOf(request), id);
    return reply.code(204).send();
  });
}

/** The bytes, with type, name, ETag and byte ranges; only a file whose upload completed. */
async function sendFile(runtime: Runtime, request: FastifyRequest, reply: FastifyReply, file: FileRow): Promise<FastifyReply> {
  if (file.status !== 'ready' || file.size === null) {
    throw new RunletError('FILE_NOT_READY', file.status === 'uploading' ? 'The file is still being uploaded.' : 'Nothing has been uploaded to this file yet.');
  }
  const etag = etagOf(file);
  reply.headers({
    'content-type': file.contentType ?? 'application/octet-stream',
    'content-disposition': contentDisposition(file.name),
    etag,
    'last-modified': new Date(file.completedAt ?? file.createdAt).toUTCString(),
    'accept-ranges': 'bytes',
    'cache-control': 'private, max-age=0, must-revalidate',
    // Uploaded bytes are served from the API's own origin: never let a browser run them there.
    'x-content-type-options': 'nosniff',
    'content-security-policy': "sandbox; default-src 'none'",
  });
  if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send();
  const ifRange = request.headers['if-range'];
  const range = ifRange && ifRange !== etag ? undefined : parseRange(request.headers.range, file.size);
  if (range === 'unsatisfiable') {
    return reply.code(416).header('content-range', `bytes */${file.size}`).header('x-runlet-error', 'RANGE_NOT_SATISFIABLE').type('application/json')
      .send(new RunletError('RANGE_NOT_SATISFIABLE').toBody());
  }
  const length = range ? range.end - range.start + 1 : file.size;
  reply.header('content-length', length);
  if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${file.size}`);
  if (request.method === 'HEAD' || length === 0) return reply.send();
  const fd = await runtime.files.openLocal(file);
  // The bytes go out through a few reused buffers (see sendFileRange), written by hand.
  reply.hijack();
  reply.raw.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
  await sendFileRange(fd, reply.raw, range ?? { start: 0, end: file.size - 1 });
  return reply;
}

interface FilePart {
  filename: string | undefined;
  mimeType: string;
  stream: Readable;
}

/**
 * The first file part of a multipart body, handed to `store` as a stream; other parts are
 * skipped. Resolves once the stored file is complete and the whole body has been read.
 */
function receiveMultipart(request: FastifyRequest, store: (part: FilePart) => Promise<FileRow>): Promise<FileRow> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: request.headers, limits: { files: 1, fields: 50, parts: 100, fieldSize: 64 * 1024 } });
    } catch (err) {
      return reject(new RunletError('INVALID_REQUEST', `The multipart body cannot be read: ${(err as Error).message}`));
    }
    let stored: Promise<FileRow> | undefined;
    const fail = (err: unknown) => {
      request.raw.unpipe(parser);
      reject(err);
    };
    parser.on('file', (_field, stream, info) => {
      if (stored) return void stream.resume();
      stored = store({ filename: info.filename, mimeType: info.mimeType, stream });
      stored.catch((err: unknown) => {
        stream.resume();
        fail(err);
      });
    });
    parser.on('error', (err: Error) => fail(new RunletError('INVALID_REQUEST', `The multipart body cannot be read: ${err.message}`)));
    parser.on('close', () => {
      if (!stored) return fail(new RunletError('FILENAME_MISSING', 'The multipart body holds no file part.'));
      stored.then(resolve, () => {});
    });
    request.raw.on('error', fail);
    request.raw.pipe(parser);
  });
}

function isMultipart(headers: IncomingHttpHeaders): boolean {
  return /^multipart\/form-data\b/i.test(headers['content-type'] ?? '');
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (contentLengthOf(headers) ?? 0) > 0;
}

function contentLengthOf(headers: IncomingHttpHeaders): number | undefined {
  const value = headers['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function etagOf(file: FileRow): string {
  return `"${file.sha256 ?? `${file.id}-${file.size}`}"`;
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.trim() === '*' || header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

const signedQuery = { expires: 'expiry of the signed URL, in seconds since the epoch', sig: 'the signature' };

const docs = {
  create: {
    summary: 'Upload a file, or get URLs to upload it',
    description:
      'Without a body: answers a signed, single-use `upload_uri` (PUT the raw bytes there, no Authorization; valid 1 hour) and a signed `download_uri` (GET, no Authorization; valid 7 days). With a body (raw, with `?filename=`, or `multipart/form-data` with one file part): stores it and answers 201 with the file and its `download_uri`. `size` binds the upload to that many bytes.',
    query: { filename: 'the file name (required unless a multipart part names it)', size: 'the exact size to expect, in bytes', content_type: 'the type to serve it with' },
    responses: { 200: FileUploadUrls, 201: FileInfo, 400: 'FILENAME_MISSING, FILENAME_INVALID', 413: 'FILE_TOO_LARGE', 507: 'QUOTA_EXCEEDED' },
  },
  upload: {
    summary: 'PUT the bytes to a signed upload URL',
    description: 'No Authorization: the URL is the capability. Single use; the body streams to storage and is kept only when complete. An interrupted upload keeps nothing and the URL stays usable until it expires.',
    query: signedQuery,
    public: true,
    responses: { 200: FileInfo, 403: 'URL_INVALID, URL_EXPIRED', 405: 'URL_WRONG_METHOD', 409: 'UPLOAD_URL_USED, UPLOAD_IN_PROGRESS', 413: 'FILE_TOO_LARGE', 507: 'QUOTA_EXCEEDED' },
  },
  download: {
    summary: 'GET the bytes from a signed download URL',
    description: 'No Authorization. Answers 200 with the bytes (206 for a range): the uploaded Content-Type, a Content-Disposition with the name, ETag, and single byte ranges (206). 404 FILE_NOT_READY while the upload has not completed.',
    query: signedQuery,
    public: true,
    responses: { 403: 'URL_INVALID, URL_EXPIRED', 404: 'FILE_NOT_FOUND, FILE_NOT_READY', 416: 'RANGE_NOT_SATISFIABLE' },
  },
  list: {
    summary: "The account's files, newest first",
    query: { limit: 'at most this many (default 100, at most 1000)', before: 'next_cursor of the previous page' },
    responses: { 200: FileList },
  },
  info: { summary: 'One file', responses: { 200: FileInfo, 404: 'FILE_NOT_FOUND' } },
  delete: { summary: 'Delete a file now', description: 'Answers 204 with no body.', responses: { 404: 'FILE_NOT_FOUND' } },
} as const;
