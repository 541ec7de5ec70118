import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { RunletError } from '../errors.js';
import { randomId } from '../ids.js';
import type { FileRow, Millis } from '../store/store.js';
import { LocalDiskStorage } from './local-storage.js';
import { contentDisposition } from './names.js';
import type { FileStorage, StoredObject, WriteOptions, WrittenFile } from './storage.js';
import type { UrlSigner } from './signing.js';

/** SigV4 presigned URLs live at most 7 days; S3 refuses a longer X-Amz-Expires. */
export const S3_MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface S3Settings {
  bucket: string;
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  forcePathStyle: boolean;
  prefix: string;
}

/**
 * Files in an S3-compatible bucket. `upload_uri` and `download_uri` are S3's own presigned
 * URLs, so those bytes never pass through Runlet; only a one-step `POST /file` streams through
 * it, spooled to a local temporary file first because a PUT to S3 must state its length.
 */
export class S3Storage implements FileStorage {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  /** The spool for one-step uploads: a local disk store that never keeps anything. */
  private readonly spool: LocalDiskStorage;

  constructor(
    readonly settings: S3Settings,
    spoolDir: string,
    signer: UrlSigner,
  ) {
    this.client = new S3Client({
      region: settings.region,
      endpoint: settings.endpoint,
      forcePathStyle: settings.forcePathStyle,
      credentials: settings.accessKeyId && settings.secretAccessKey ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } : undefined,
      // Checksums only where S3 requires them: the presigned PUTs of plain clients carry none,
      // and several S3-compatible servers do not know the newer checksum headers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.spool = new LocalDiskStorage(spoolDir, signer, () => '');
  }

  async start(): Promise<void> {
    await this.spool.start();
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** `<prefix><file id>/<name>`: the presigned URLs end in the file's own name. */
  keyFor(fileId: string, name: string): string {
    return `${this.settings.prefix}${fileId}/${name}`;
  }

  async uploadUrl(file: FileRow): Promise<string> {
    const command = new PutObjectCommand({
      Bucket: this.settings.bucket,
      Key: file.storageKey,
      // A declared size is signed, so S3 itself refuses a body of another length.
      ContentLength: file.declaredSize ?? undefined,
    });
    return this.presign(command, file.uploadExpiresAt);
  }

  async downloadUrl(file: FileRow, expiresAt: Millis): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.settings.bucket,
      Key: file.storageKey,
      ResponseContentDisposition: contentDisposition(file.name),
      ResponseContentType: file.contentType ?? undefined,
    });
    return this.presign(command, expiresAt);
  }

  private async presign(command: PutObjectCommand | GetObjectCommand, expiresAt: Millis): Promise<string> {
    const seconds = Math.min(S3_MAX_PRESIGN_SECONDS, Math.max(1, Math.floor((expiresAt - Date.now()) / 1000)));
    return getSignedUrl(this.client, command, { expiresIn: seconds });
  }

  async write(file: FileRow, source: Readable, options: WriteOptions): Promise<WrittenFile> {
    // The spool writes a temporary file, checks the limits and hashes; then S3 gets it whole.
    const spooled = { ...file, storageKey: `file_${randomId(24)}` };
    const written = await this.spool.write(spooled, source, options);
    const spoolPath = this.spool.pathOf(spooled.storageKey);
    try {
      await this.send(
        new PutObjectCommand({
          Bucket: this.settings.bucket,
          Key: file.storageKey,
          Body: createReadStream(spoolPath),
          ContentLength: written.size,
          ContentType: options.contentType,
        }),
      );
      return written;
    } finally {
      await rm(spoolPath, { force: true });
    }
  }

  async stat(file: FileRow): Promise<StoredObject | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: file.storageKey }));
      return { size: Number(head.ContentLength ?? 0), contentType: head.ContentType ?? null };
    } catch (err) {
      if (err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 404 || err.name === 'NotFound' || err.name === 'NoSuchKey')) return undefined;
      throw storageError(err);
    }
  }

  async delete(file: FileRow): Promise<void> {
    await this.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: file.storageKey }));
  }

  private async send(command: PutObjectCommand | DeleteObjectCommand): Promise<void> {
    try {
      await this.client.send(command as PutObjectCommand);
    } catch (err) {
      throw storageError(err);
    }
  }
}

function storageError(err: unknown): RunletError {
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new RunletError('STORAGE_UNAVAILABLE', `The S3 storage refused the request (${detail}).`);
}
