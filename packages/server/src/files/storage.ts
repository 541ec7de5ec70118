import type { Readable } from 'node:stream';
import type { FileRow, Millis } from '../store/store.js';
import type { ByteLimit } from './meter.js';

/** What one upload wrote. */
export interface WrittenFile {
  size: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
}

/** What a backend holds for a file whose upload Runlet did not see (a presigned S3 PUT). */
export interface StoredObject {
  size: number;
  contentType: string | null;
}

export interface WriteOptions {
  limits: readonly ByteLimit[];
  /** The upload must be exactly this long (declared with `?size=`, or its Content-Length). */
  exactBytes?: number;
  contentType: string;
}

/**
 * Where file bytes live. A backend hands out the URLs clients use, and writes streamed uploads
 * completely or not at all: what it is given ends up whole under the file's key, or nowhere.
 */
export interface FileStorage {
  readonly kind: 'local' | 's3';
  start(): Promise<void>;
  close(): Promise<void>;
  /** The key a new file's bytes will be stored under. */
  keyFor(fileId: string, name: string): string;
  uploadUrl(file: FileRow): Promise<string>;
  downloadUrl(file: FileRow, expiresAt: Millis): Promise<string>;
  write(file: FileRow, source: Readable, options: WriteOptions): Promise<WrittenFile>;
  /** What is stored under the file's key, if anything. */
  stat(file: FileRow): Promise<StoredObject | undefined>;
  /** Removes the bytes; a missing object is not an error. */
  delete(file: FileRow): Promise<void>;
}
