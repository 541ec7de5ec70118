import { close, open, read } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { RunletError } from '../errors.js';
import type { ByteRange } from './range.js';

const openFile = promisify(open);
const readFile = promisify(read);
const closeFile = promisify(close);

/** 4 × 256 KiB in flight: enough to keep a socket busy, and all the memory a download holds. */
const CHUNK = 256 * 1024;
const BUFFERS = 4;

/** Opens a stored file for `sendFileRange`; FILE_NOT_FOUND when its bytes are gone. */
export async function openStored(path: string): Promise<number> {
  try {
    return await openFile(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new RunletError('FILE_NOT_FOUND', 'The file is gone.');
    throw err;
  }
}

/**
 * Writes bytes `range` of the open file `fd` to `res` and ends it, then closes `fd`.
 *
 * Why not `fs.createReadStream().pipe(res)`: a read stream allocates a new buffer for every
 * read, and a gigabyte of short-lived external memory makes V8 run a full collection every
 * few tens of megabytes, which in a server heap costs a third of the throughput. Here a few
 * buffers go round: one is read into again only once the socket has taken its bytes (the
 * write callback), which also bounds what a slow reader can make the server hold.
 */
export async function sendFileRange(fd: number, res: ServerResponse, range: ByteRange): Promise<void> {
  const free: Buffer[] = Array.from({ length: BUFFERS }, () => Buffer.allocUnsafeSlow(CHUNK));
  let waiting: (() => void) | undefined;
  let failed: Error | undefined;
  const onClose = () => {
    failed ??= new Error('the client went away');
    waiting?.();
  };
  res.once('close', onClose);
  const release = (buffer: Buffer) => (err?: Error | null) => {
    if (err) failed ??= err;
    free.push(buffer);
    waiting?.();
  };
  try {
    for (let position = range.start; position <= range.end; ) {
      while (free.length === 0 && !failed) await new Promise<void>((resolve) => (waiting = resolve));
      if (failed) return;
      const buffer = free.pop()!;
      const { bytesRead } = await readFile(fd, buffer, 0, Math.min(CHUNK, range.end - position + 1), position);
      if (bytesRead === 0) throw new Error('the stored file is shorter than its record');
      position += bytesRead;
      res.write(buffer.subarray(0, bytesRead), release(buffer));
    }
    res.end();
  } catch (err) {
    res.destroy(err as Error);
  } finally {
    res.off('close', onClose);
    await closeFile(fd).catch(() => {});
  }
}
