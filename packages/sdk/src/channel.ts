import { writeSync, fstatSync } from 'node:fs';
import { WORKER_CHANNEL_FD, type WorkerMessage } from '@runlet/protocol';

/** Whether this process was started by Runlet with its message channel on fd 3. */
export const hasRuntimeChannel = (() => {
  try {
    const stat = fstatSync(WORKER_CHANNEL_FD);
    // Node hands a child its pipes as unix socket pairs; a shell redirect would give a FIFO.
    return stat.isSocket() || stat.isFIFO();
  } catch {
    return false;
  }
})();

let linesSent = 0;

/** How many messages (lines) this process has written on the channel. */
export function channelLinesSent(): number {
  return linesSent;
}

/**
 * Writes one message to the runtime. Synchronous on purpose: a line logged before a handler
 * returns is in the pipe before the answer is on the socket, so it is never attributed late.
 */
export function sendToRuntime(message: WorkerMessage): boolean {
  if (!hasRuntimeChannel) return false;
  const bytes = Buffer.from(JSON.stringify(message) + '\n');
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(WORKER_CHANNEL_FD, bytes, written);
    } catch (err) {
      // The runtime is reading slower than we log: wait a moment rather than drop the line.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
  linesSent++;
  return true;
}
