import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { RunletError } from '../errors.js';

/** A bound on the bytes of an upload, and the error to fail with when it is passed. */
export interface ByteLimit {
  bytes: number;
  error: () => RunletError;
}

/**
 * Counts and hashes the bytes flowing through, and fails the stream (so the pipeline, and the
 * write behind it, stop at once) as soon as one of the limits is passed: an oversize upload is
 * refused at the first byte too many, not after it has been written out.
 */
export class UploadMeter extends Transform {
  size = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly limits: readonly ByteLimit[];

  constructor(limits: readonly ByteLimit[]) {
    super();
    this.limits = [...limits].sort((a, b) => a.bytes - b.bytes);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    for (const limit of this.limits) if (this.size > limit.bytes) return done(limit.error());
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** The SHA-256 of everything that went through, in hex; call once, after the end. */
  digest(): string {
    return this.hash.digest('hex');
  }
}
