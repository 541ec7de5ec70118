import { OUTPUT_LINES_HEADER } from '@runlet/protocol';

/** Headers that describe one hop or carry the caller's credentials: never passed on. */
const NOT_FORWARDED = new Set([
  'authorization',
  'cookie',
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'expect',
  'x-provisioned-request-id',
  // Instructions to the runtime about the run, not part of the call.
  'x-callback-url',
  'x-retain-seconds',
]);

/** The caller's headers a service sees (content type, accept, Run-As-Template, its own ones). */
export function forwardedRequestHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || NOT_FORWARDED.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The service's response headers the caller sees; the framing is the runtime's own, and so is the worker's note on its output. */
export function forwardedResponseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || NOT_FORWARDED.has(name) || name === 'date' || name === OUTPUT_LINES_HEADER) continue;
    out[name] = value;
  }
  return out;
}
