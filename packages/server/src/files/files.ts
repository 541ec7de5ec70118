import { isOneTimeKey } from '../keys/principal.js';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FileInfo, FileUploadUrls } from '@runlet/protocol';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import type { Principal } from '../keys/principal.js';
import { RunletError } from '../errors.js';
import type { FileRow, Millis, Store } from '../store/store.js';
import { isFileId, newFileId } from './ids.js';
import { LocalDiskStorage } from './local-storage.js';
import type { ByteLimit } from './meter.js';
import { checkFileName, contentTypeFor } from './names.js';
import { loadFilesSecret, UrlSigner, type SignedMethod } from './signing.js';
import type { FileStorage } from './storage.js';

/**
 * An upload still `uploading` after this long belongs to a node that died mid-upload: the 5 GiB
 * maximum takes minutes even on a slow link, never a day.
 */
const STALE_UPLOAD_MS = 24 * 3600_000;
/** Records collected per store round trip. */
const GC_BATCH = 200;
const LIST_MAX = 1000;

export interface FilesLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** What an upload brings besides its bytes. */
export interface IncomingUpload {
  source: Readable;
  contentType?: string | null;
  /** The request's Content-Length, when it has one (not for chunked or multipart bodies). */
  contentLength?: number;
}

/**
 * The files of every account: metadata in the store, bytes in one backend (local disk by
 * default, or S3). Hands out signed URLs, receives streamed uploads (complete and within the
 * limits, or nothing), and collects expired files and abandoned uploads.
 */
export class Files {
  readonly signer: UrlSigner;
  private gcTimer: NodeJS.Timeout | undefined;
  private gcRunning: Promise<unknown> | undefined;

  private constructor(
    private readonly config: Config,
    private readonly store: Store,
    readonly storage: FileStorage,
    signer: UrlSigner,
    private readonly nodeId: string,
    private readonly log: FilesLog,
  ) {
    this.signer = signer;
  }

  /** The configured backend; the S3 SDK is loaded only when S3 is configured. */
  static async open(config: Config, store: Store, nodeId: string, baseUrl: () => string, log: FilesLog): Promise<Files> {
    if (config.filesBackend !== 's3') return Files.openLocal(config, store, nodeId, baseUrl, log);
    const signer = new UrlSigner(loadFilesSecret(config.filesSecret, config.dataDir));
    const root = filesRoot(config);
    let storage: FileStorage;
    {
      if (!config.s3Bucket) throw new ConfigError('filesBackend "s3" needs s3Bucket (RUNLET_S3_BUCKET)');
      const { S3Storage } = await import('./s3-storage.js');
      storage = new S3Storage(
        {
          bucket: config.s3Bucket,
          endpoint: config.s3Endpoint,
          region: config.s3Region,
          accessKeyId: config.s3AccessKeyId,
          secretAccessKey: config.s3SecretAccessKey,
          forcePathStyle: config.s3ForcePathStyle,
          prefix: config.s3Prefix,
        },
        path.join(root, 'spool'),
        signer,
      );
    }
    return new Files(config, store, storage, signer, nodeId, log);
  }

  /** Local disk storage, which needs nothing loaded. */
  static openLocal(config: Config, store: Store, nodeId: string, baseUrl: () => string, log: FilesLog): Files {
    if (config.filesBackend === 's3') throw new ConfigError('the S3 files backend is opened with Files.open');
    const signer = new UrlSigner(loadFilesSecret(config.filesSecret, config.dataDir));
    return new Files(config, store, new LocalDiskStorage(filesRoot(config), signer, baseUrl), signer, nodeId, log);
  }

  async start(): Promise<void> {
    await this.storage.start();
    // Local disk is one node's: uploads other nodes (earlier processes) held died with them.
    if (this.storage.kind === 'local') {
      const released = await this.store.releaseOrphanedUploads(this.nodeId);
      if (released) this.log.warn({ released }, 'uploads interrupted by a restart are open again');
      void this.sweepOrphanedObjects();
    }
    this.gcTimer = setInterval(() => void this.collectGarbage(), this.config.filesGcIntervalSeconds * 1000);
    this.gcTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.gcTimer);
    await this.gcRunning;
    await this.storage.close();
  }

  /** A new file waiting for its bytes. `declaredSize` (optional) binds the upload to that length. */
  async create(principal: Principal, options: { name: unknown; declaredSize?: number; contentType?: string | null }): Promise<FileRow> {
    assertMayUseFiles(principal);
    const name = checkFileName(options.name);
    if (options.declaredSize !== undefined) {
      this.checkSize(options.declaredSize);
      await this.checkQuota(principal.accountId, options.declaredSize);
    }
    const now = Date.now();
    const id = newFileId();
    return this.store.createFile({
      id,
      accountId: principal.accountId,
      name,
      backend: this.storage.kind,
      storageKey: this.storage.keyFor(id, name),
      contentType: options.contentType ? contentTypeFor(options.contentType, name) : null,
      declaredSize: options.declaredSize ?? null,
      createdAt: now,
      uploadExpiresAt: now + this.config.uploadUrlTtlSeconds * 1000,
      expiresAt: now + this.config.downloadUrlTtlSeconds * 1000,
    });
  }

  async uploadUrls(file: FileRow): Promise<FileUploadUrls> {
    return {
      upload_uri: await this.storage.uploadUrl(file),
      download_uri: await this.storage.downloadUrl(file, file.expiresAt),
      expires_at: new Date(file.expiresAt).toISOString(),
      upload_expires_at: new Date(file.uploadExpiresAt).toISOString(),
      file_id: file.id,
      filename: file.name,
    };
  }

  async info(file: FileRow): Promise<FileInfo> {
    return {
      file_id: file.id,
      filename: file.name,
      status: file.status,
      size: file.size,
      content_type: file.contentType,
      sha256: file.sha256,
      created_at: new Date(file.createdAt).toISOString(),
      completed_at: file.completedAt === null ? null : new Date(file.completedAt).toISOString(),
      expires_at: new Date(file.expiresAt).toISOString(),
      download_uri: file.status === 'ready' ? await this.storage.downloadUrl(file, file.expiresAt) : null,
    };
  }

  /**
   * A file by the id and query of a signed URL: the signature must hold for `method` and be
   * unexpired. Throws URL_INVALID, URL_EXPIRED, URL_WRONG_METHOD or FILE_NOT_FOUND.
   */
  async bySignedUrl(id: string, method: SignedMethod, query: { expires?: unknown; sig?: unknown }): Promise<FileRow> {
    if (!isFileId(id)) throw new RunletError('FILE_NOT_FOUND', 'No file with that id.');
    const verdict = this.signer.verify(id, method, query.expires, query.sig);
    if (!verdict.ok) {
      switch (verdict.reason) {
        case 'expired':
          throw new RunletError('URL_EXPIRED', `This ${method === 'PUT' ? 'upload' : 'download'} URL expired at ${new Date(Number(query.expires) * 1000).toISOString()}.`);
        case 'wrong_method':
          throw new RunletError(
            'URL_WRONG_METHOD',
            verdict.signedFor === 'PUT' ? 'This is an upload URL: PUT the bytes to it.' : 'This is a download URL: GET it.',
            { headers: { allow: verdict.signedFor === 'GET' ? 'GET, HEAD' : 'PUT' } },
          );
        case 'invalid':
          throw new RunletError('URL_INVALID');
      }
    }
    const file = await this.store.getFile(id);
    if (!file) throw new RunletError('FILE_NOT_FOUND', 'The file was deleted or has expired.');
    return file;
  }

  /** A file of the caller's account, by id; another account's is as unknown as a missing one. */
  async ofAccount(principal: Principal, id: string): Promise<FileRow> {
    assertMayUseFiles(principal);
    const file = isFileId(id) ? await this.store.getFile(id) : undefined;
    if (!file || file.accountId !== principal.accountId) throw new RunletError('FILE_NOT_FOUND', `No file "${id}".`);
    return this.reconcile(file);
  }

  /**
   * Streams an upload into the file, once: claims it (`pending` → `uploading`), writes it whole
   * within the limits, and marks it ready within the quota. On any failure nothing is kept and
   * the file is `pending` again, so its upload URL can be used again until it expires.
   */
  async receive(file: FileRow, upload: IncomingUpload): Promise<FileRow> {
    if (file.status === 'ready') throw new RunletError('UPLOAD_URL_USED');
    if (file.status === 'uploading') throw new RunletError('UPLOAD_IN_PROGRESS');
    if (file.uploadExpiresAt <= Date.now()) throw new RunletError('URL_EXPIRED', 'The upload URL has expired.');
    const declared = file.declaredSize ?? undefined;
    if (upload.contentLength !== undefined) {
      if (declared !== undefined && upload.contentLength !== declared) {
        const code = upload.contentLength > declared ? 'FILE_TOO_LARGE' : 'UPLOAD_INCOMPLETE';
        throw new RunletError(code, `The body is ${upload.contentLength} bytes; ${declared} were declared.`);
      }
      this.checkSize(upload.contentLength);
    }
    const used = await this.checkQuota(file.accountId, upload.contentLength ?? 0);
    // A client already gone must not hold the URL, even for the moment its failure takes.
    if (upload.source.destroyed) throw new RunletError('UPLOAD_INCOMPLETE', 'The client went away before the upload began.');
    if (!(await this.store.claimUpload(file.id, this.nodeId, Date.now()))) {
      const now = await this.store.getFile(file.id);
      if (!now) throw new RunletError('FILE_NOT_FOUND', 'The file was deleted.');
      throw new RunletError(now.status === 'ready' ? 'UPLOAD_URL_USED' : 'UPLOAD_IN_PROGRESS');
    }
    const contentType = contentTypeFor(upload.contentType ?? file.contentType, file.name);
    let written;
    try {
      written = await this.storage.write(file, upload.source, { limits: this.limitsFor(used, declared), exactBytes: declared ?? upload.contentLength, contentType });
    } catch (err) {
      await this.store.releaseUpload(file.id, this.nodeId).catch(() => {});
      throw err;
    }
    const outcome = await this.store.completeUpload(file.id, this.nodeId, { ...written, contentType, completedAt: Date.now() }, this.config.accountQuotaBytes);
    if (outcome === 'completed') return (await this.store.getFile(file.id))!;
    await this.storage.delete(file).catch((err: unknown) => this.log.warn({ err, file: file.id }, 'could not remove a refused upload'));
    if (outcome === 'quota_exceeded') {
      await this.store.releaseUpload(file.id, this.nodeId);
      throw new RunletError('QUOTA_EXCEEDED');
    }
    throw new RunletError('FILE_NOT_FOUND', 'The file was deleted while it was being uploaded.');
  }

  /** An open descriptor of a local file's bytes, for `sendFileRange`. */
  async openLocal(file: FileRow): Promise<number> {
    if (!(this.storage instanceof LocalDiskStorage) || file.backend !== 'local') throw new RunletError('FILE_NOT_FOUND', 'This file is not stored on this runtime.');
    return this.storage.openFd(file);
  }

  async list(principal: Principal, options: { limit?: number; before?: string }): Promise<{ files: FileInfo[]; next_cursor?: string }> {
    assertMayUseFiles(principal);
    const limit = Math.min(Math.max(1, options.limit ?? 100), LIST_MAX);
    const rows = await this.store.listFiles(principal.accountId, { limit, before: parseCursor(options.before) });
    const files = await Promise.all(rows.map(async (r) => this.info(await this.reconcile(r))));
    const last = rows.at(-1);
    return rows.length === limit && last ? { files, next_cursor: `${last.createdAt}.${last.id}` } : { files };
  }

  async delete(principal: Principal, id: string): Promise<void> {
    assertMayUseFiles(principal);
    const file = isFileId(id) ? await this.store.deleteFile(id, principal.accountId) : undefined;
    if (!file) throw new RunletError('FILE_NOT_FOUND', `No file "${id}".`);
    await this.storage.delete(file);
  }

  /**
   * Deletes expired files, pending files whose upload URL lapsed, and uploads whose node died;
   * answers how many went. One run at a time; `now` is a parameter so tests can look ahead.
   */
  collectGarbage(now: Millis = Date.now()): Promise<number> {
    const run = (this.gcRunning ?? Promise.resolve()).then(() => this.collect(now));
    this.gcRunning = run.catch(() => undefined);
    return run.catch((err: unknown) => {
      this.log.warn({ err }, 'could not collect expired files');
      return 0;
    });
  }

  private async collect(now: Millis): Promise<number> {
    let deleted = 0;
    for (let round = 0; round < 1000; round++) {
      const batch = await this.store.findCollectableFiles(now, now - STALE_UPLOAD_MS, GC_BATCH);
      let progress = 0;
      for (const candidate of batch) {
        const file = candidate.expiresAt > now ? await this.reconcile(candidate) : candidate;
        if (file.status === 'ready' && file.expiresAt > now) continue;
        if (!(await this.store.deleteFile(file.id))) continue;
        progress++;
        await this.storage.delete(file).catch((err: unknown) => this.log.warn({ err, file: file.id }, 'could not remove an expired file'));
      }
      deleted += progress;
      if (batch.length < GC_BATCH || progress === 0) break;
    }
    if (deleted) this.log.info({ deleted }, 'collected expired files and abandoned uploads');
    return deleted;
  }

  /**
   * A pending S3 file may have been uploaded straight to S3 by its presigned URL, which Runlet
   * does not see: look, and record what is there (within the limits, else remove it).
   */
  private async reconcile(file: FileRow): Promise<FileRow> {
    if (file.backend !== 's3' || file.status !== 'pending') return file;
    const object = await this.storage.stat(file);
    if (!object || !(await this.store.claimUpload(file.id, this.nodeId, Date.now()))) return file;
    const tooLarge = object.size > this.config.maxFileSizeBytes || (file.declaredSize !== null && object.size !== file.declaredSize);
    const outcome = tooLarge
      ? 'too_large'
      : await this.store.completeUpload(
          file.id,
          this.nodeId,
          { size: object.size, sha256: null, contentType: contentTypeFor(object.contentType, file.name), completedAt: Date.now() },
          this.config.accountQuotaBytes,
        );
    if (outcome === 'completed') return (await this.store.getFile(file.id)) ?? file;
    this.log.warn({ file: file.id, size: object.size, outcome }, 'removed an upload beyond the limits');
    await this.storage.delete(file).catch(() => {});
    await this.store.releaseUpload(file.id, this.nodeId);
    return file;
  }

  private checkSize(bytes: number): void {
    if (bytes > this.config.maxFileSizeBytes) {
      throw new RunletError('FILE_TOO_LARGE', `The file is ${bytes} bytes; the largest accepted is ${this.config.maxFileSizeBytes}.`);
    }
  }

  /** Throws QUOTA_EXCEEDED when `adding` bytes would not fit; answers the bytes in use. */
  private async checkQuota(accountId: string, adding: number): Promise<number> {
    const quota = this.config.accountQuotaBytes;
    if (quota === 0) return 0;
    const used = await this.store.storageUsed(accountId);
    if (used + adding > quota) throw quotaError(used, quota);
    return used;
  }

  private limitsFor(used: number, declared: number | undefined): ByteLimit[] {
    const max = this.config.maxFileSizeBytes;
    const limits: ByteLimit[] = [{ bytes: max, error: () => new RunletError('FILE_TOO_LARGE', `The file is larger than the largest accepted, ${max} bytes.`) }];
    if (declared !== undefined) limits.push({ bytes: declared, error: () => new RunletError('FILE_TOO_LARGE', `The upload is larger than the ${declared} bytes declared.`) });
    const quota = this.config.accountQuotaBytes;
    if (quota > 0) limits.push({ bytes: quota - used, error: () => quotaError(used, quota) });
    return limits;
  }

  /** Objects on local disk whose record is gone or never completed (a crash between the two). */
  private async sweepOrphanedObjects(): Promise<void> {
    if (!(this.storage instanceof LocalDiskStorage)) return;
    try {
      let removed = 0;
      for await (const id of this.storage.storedIds()) {
        const file = await this.store.getFile(id);
        if (file && file.status !== 'pending') continue;
        await this.storage.delete(file ?? ({ storageKey: id } as FileRow));
        removed++;
      }
      if (removed) this.log.info({ removed }, 'removed stored files that had no complete record');
    } catch (err) {
      this.log.warn({ err }, 'could not sweep stored files');
    }
  }
}

function filesRoot(config: Config): string {
  return config.filesDir ? path.resolve(config.filesDir) : path.join(config.dataDir, 'files');
}

/** One-time keys may upload while unspent (upload, then run); once spent they only read their run. */
function assertMayUseFiles(principal: Principal): void {
  if (isOneTimeKey(principal) && principal.key!.spentAt !== null) throw new RunletError('KEY_SPENT');
}

function quotaError(used: number, quota: number): RunletError {
  return new RunletError('QUOTA_EXCEEDED', `The account stores ${used} of its ${quota} bytes; this file does not fit. Delete files to make room.`);
}

function parseCursor(cursor: string | undefined): { createdAt: number; id: string } | undefined {
  if (!cursor) return undefined;
  const m = /^(\d{1,15})\.(file_[0-9a-z]{24})$/.exec(cursor);
  if (!m) throw new RunletError('INVALID_REQUEST', 'The cursor is not one that GET /files handed out.');
  return { createdAt: Number(m[1]), id: m[2]! };
}
