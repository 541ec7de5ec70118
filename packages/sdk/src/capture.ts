import type { LogLevel } from '@runlet/protocol';
import { hasRuntimeChannel, sendToRuntime } from './channel.js';

/** Longest line kept whole; a longer one is cut, so one runaway write cannot grow memory without bound. */
const MAX_LINE = 64 * 1024;

export interface PrintedOutput {
  /** Sends what was printed without a final newline, as a line of its own. */
  flush(): void;
}

/**
 * Sends what the service prints on stdout and stderr (console.log included) over the runtime
 * channel, line by line, in order with the logger's lines. On separate pipes the runtime
 * could not tell which lines came before the end of a call; on one channel it can.
 * Output written straight to the file descriptors (by a child process) still takes the pipes.
 */
export function capturePrintedOutput(): PrintedOutput {
  if (!hasRuntimeChannel) return { flush() {} };
  const streams = [capture(process.stdout, 'stdout', 'info'), capture(process.stderr, 'stderr', 'error')];
  return { flush: () => streams.forEach((s) => s.flush()) };
}

function capture(stream: NodeJS.WriteStream, source: 'stdout' | 'stderr', level: LogLevel): PrintedOutput {
  let partial = '';
  const send = (message: string) => sendToRuntime({ type: 'log', level, source, message: message.endsWith('\r') ? message.slice(0, -1) : message });
  stream.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((err?: Error | null) => void), callback?: (err?: Error | null) => void) => {
    partial += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? encoding : 'utf8');
    let end: number;
    while ((end = partial.indexOf('\n')) !== -1) {
      send(partial.slice(0, end));
      partial = partial.slice(end + 1);
    }
    while (partial.length > MAX_LINE) {
      send(partial.slice(0, MAX_LINE));
      partial = partial.slice(MAX_LINE);
    }
    (typeof encoding === 'function' ? encoding : callback)?.();
    return true;
  }) as typeof stream.write;
  return {
    flush() {
      if (partial) send(partial);
      partial = '';
    },
  };
}
