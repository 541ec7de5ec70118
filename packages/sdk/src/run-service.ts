import { workerEnv } from '@runlet/protocol';
import { HttpError } from './errors.js';

/**
 * Calls another service on the runtime that runs this worker, with the key the runtime gave
 * this worker (scoped to the calling account). Answers the callee's JSON; a non-2xx answer
 * throws `HttpError` with the callee's status and body.
 */
export async function runService<T = unknown>(
  serviceId: string,
  input: unknown = {},
  options: { path?: string; correlationId?: string | null } = {},
): Promise<T> {
  const base = process.env[workerEnv.runtimeUrl];
  const key = process.env[workerEnv.apiKey];
  if (!base || !key) throw new Error('runService works inside a Runlet worker (RUNLET_URL and RUNLET_API_KEY are not set)');
  const path = (options.path ?? '').replace(/^\/+/, '');
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  if (options.correlationId) headers['x-correlation-id'] = options.correlationId;
  const response = await fetch(`${base}/run/${encodeURIComponent(serviceId)}/${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(input),
  });
  const text = await response.text();
  const body = text ? safeJson(text) : null;
  if (!response.ok) throw new HttpError(response.status, body);
  return body as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
