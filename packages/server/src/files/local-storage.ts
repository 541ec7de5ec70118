import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RunletError } from '../errors.js';
import { randomId } from '../ids.js';
import type { FileRow, Millis } from '../store/store.js';
import { isFileId } from './ids.js';
import { UploadMeter } from './meter.js';
import { openStored } from './send-file.js';
import type { UrlSigner } from './signing.js';
import type { FileStorage, StoredObject, WriteOptions, WrittenFile } from './storage.js';

/**
 * Files on local disk under `root`: `objects/<2 chars>/<file id>` for complete files, `tmp/` for
 * uploads in flight. An upload streams into a temporary file and is renamed into place only
 * when it is complete, so a reader never sees a half-written file; the URLs are the runtime's
 * own signed URLs (`/files/{id}/{name}?expires=&sig=`).
 */
export class LocalDiskStorage implements FileStorage {
  readonly kind = 'local' as const;
  private readonly objects: string;
  private readonly tmp: string;

  constructor(
    readonly root: string,
    private readonly signer: UrlSigner,
    private readonly baseUrl: () => string,
  ) {
    this.objects = path.join(root, 'objects');
    this.tmp = path.join(root, 'tmp');
  }

  /** Creates the folders and drops temporary files left by a previous process (its uploads died with it). */
  async start(): Promise<void> {
    await mkdir(this.objects, { recursive: true, mode: 0o700 });
    await rm(this.tmp, { recursive: true, force: true });
    await mkdir(this.tmp, { recursive: true, mode: 0o700 });
  }

  async close(): Promise<void> {}

  keyFor(fileId: string): string {
    return fileId;
  }

  async uploadUrl(file: FileRow): Promise<string> {
    return `${this.urlOf(file)}?${this.signer.query(file.id, 'PUT', file.uploadExpiresAt)}`;
  }

  async downloadUrl(file: FileRow, expiresAt: Millis): Promise<string> {
    return `${this.urlOf(file)}?${this.signer.query(file.id, 'GET', expiresAt)}`;
  }

  private urlOf(file: FileRow): string {
    return `${this.baseUrl()}/files/${file.id}/${encodeURIComponent(file.name)}`;
  }

  /**
   * The path of a file's bytes. Only ids of the runtime's own shape get one, and the result is
   * checked to lie inside the storage root, so no id can name a path outside it.
   */
  pathOf(storageKey: string): string {
    if (!isFileId(storageKey)) throw new RunletError('FILE_NOT_FOUND');
    const full = path.resolve(this.objects, storageKey.slice(-2), storageKey);
    if (!full.startsWith(this.objects + path.sep)) throw new RunletError('FILE_NOT_FOUND');
    return full;
  }

  async write(file: FileRow, source: Readable, options: WriteOptions): Promise<WrittenFile> {
    const target = this.pathOf(file.storageKey);
    const temp = path.join(this.tmp, `${file.storageKey}.${randomId(8)}.part`);
    const meter = new UploadMeter(options.limits);
    // 1 MiB of buffering: socket chunks of ~64 KiB are gathered into large writes (writev).
    const sink = createWriteStream(temp, { flags: 'wx', mode: 0o600, highWaterMark: 1024 * 1024 });
    try {
      await pipeline(source, meter, sink);
      if (options.exactBytes !== undefined && meter.size !== options.exactBytes) {
        throw new RunletError('UPLOAD_INCOMPLETE', `The upload was ${meter.size} bytes; ${options.exactBytes} were declared.`);
      }
      await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await rename(temp, target);
      return { size: meter.size, sha256: meter.digest() };
    } catch (err) {
      // A failed pipeline answers at once, even while the temporary file's open still waits in
      // libuv's thread pool: removed before that open ran, the file would be created after.
      if (!sink.closed) await new Promise<void>((resolve) => sink.once('close', () => resolve()));
      await rm(temp, { force: true });
      throw err;
    }
  }

  async stat(file: FileRow): Promise<StoredObject | undefined> {
    try {
      const s = await stat(this.pathOf(file.storageKey));
      return { size: s.size, contentType: null };
    } catch {
      return undefined;
    }
  }

  async delete(file: FileRow): Promise<void> {
    await rm(this.pathOf(file.storageKey), { force: true });
  }

  /** An open descriptor of the file's bytes, for `sendFileRange`; FILE_NOT_FOUND when they are gone. */
  openFd(file: FileRow): Promise<number> {
    return openStored(this.pathOf(file.storageKey));
  }

  /** Ids of every stored object, for the sweep of objects whose record is gone. */
  async *storedIds(): AsyncGenerator<string> {
    for (const shard of await readdir(this.objects).catch(() => [] as string[])) {
      for (const name of await readdir(path.join(this.objects, shard)).catch(() => [] as string[])) if (isFileId(name)) yield name;
    }
  }
}
