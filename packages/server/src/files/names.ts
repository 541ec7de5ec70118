import path from 'node:path';
import { RunletError } from '../errors.js';

/** Bytes, not characters: 255 is what common file systems take for one name. */
const MAX_NAME_BYTES = 255;
// C0 and C1 control characters and DEL; `/` and `\` would make a name a path.
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f/\\]/;

/** Checks a file name as given by a caller; answers it unchanged or throws FILENAME_*. */
export function checkFileName(name: unknown): string {
  if (name === undefined || name === null || name === '') throw new RunletError('FILENAME_MISSING');
  if (typeof name !== 'string') throw new RunletError('FILENAME_INVALID', 'Give one filename.');
  if (name === '.' || name === '..') throw new RunletError('FILENAME_INVALID', `"${name}" is not a file name.`);
  if (FORBIDDEN.test(name)) throw new RunletError('FILENAME_INVALID', 'The file name holds a path separator or a control character.');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new RunletError('FILENAME_INVALID', `The file name is longer than ${MAX_NAME_BYTES} bytes.`);
  if (name.trim() === '') throw new RunletError('FILENAME_INVALID', 'The file name is blank.');
  return name;
}

/** `Content-Disposition` naming the file, readable by old clients (ASCII) and new (RFC 6266 UTF-8). */
export function contentDisposition(name: string, type: 'attachment' | 'inline' = 'attachment'): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encodeRfc5987(name)}`;
}

function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

const TYPES: Record<string, string> = {
  '.csv': 'text/csv',
  '.tsv': 'text/tab-separated-values',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.json': 'application/json',
  '.ndjson': 'application/x-ndjson',
  '.xml': 'application/xml',
  '.html': 'text/html',
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  '.xls': 'application/vnd.ms-excel',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
};

/**
 * The type to store: what the uploader sent, unless it is the generic octet-stream (which
 * the seed's clients send for everything), in which case the name's extension decides.
 */
export function contentTypeFor(sent: string | undefined | null, name: string): string {
  const given = sent?.trim();
  if (given && given.split(';')[0]!.trim().toLowerCase() !== 'application/octet-stream') return given;
  return TYPES[path.extname(name).toLowerCase()] ?? given ?? 'application/octet-stream';
}
