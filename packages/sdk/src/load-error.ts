/**
 * What a developer needs from a service module that failed to load: where and why, in a line
 * or two. Node's own report of it (the loader's frames, esbuild's internals, "Node.js v20")
 * buries that, and would reach API callers in their WORKER_START_FAILED message.
 */
export function describeLoadError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // esbuild, through the TypeScript loader: "Transform failed with 1 error:\n<file>:<line>:<col>: ERROR: <text>".
  if (err.name === 'TransformError' || /^Transform failed with \d+ errors?:/.test(err.message)) {
    return err.message.split('\n').slice(1).filter(Boolean).map((line) => line.replace(/: ERROR: /, ': ')).join('\n');
  }
  const where = ownFrame(err.stack ?? '');
  return `${err.name}: ${err.message}${where ? `\n    at ${where}` : ''}`;
}

/** The first place in the stack that is the service's own code: not Node's, not a package's. */
function ownFrame(stack: string): string | undefined {
  for (const line of stack.split('\n')) {
    const at = /^\s+at (?:.*\()?((?:file:\/\/)?\/[^()]+:\d+:\d+)\)?$/.exec(line)?.[1];
    if (at && !at.includes('/node_modules/') && !at.includes('/packages/sdk/')) return at.replace(/^file:\/\//, '');
  }
  return undefined;
}
