/** The server's HTTP API as the dashboard calls it: an API key (Bearer) or the session cookie. */

const KEY_STORAGE = 'runlet.apiKey';

export interface Credentials {
  /** An API key pasted on the sign-in page (kept for this browser tab only). */
  key?: string;
  /** The session's CSRF token, when signed in with email and password. */
  csrfToken?: string;
}

let credentials: Credentials = { key: sessionStorage.getItem(KEY_STORAGE) ?? undefined };

export function setCredentials(next: Credentials): void {
  credentials = next;
  if (next.key) sessionStorage.setItem(KEY_STORAGE, next.key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export function currentCredentials(): Credentials {
  return credentials;
}

/** An error answered by the server (`{code, message}`), or a network failure (`NETWORK`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
  /** The endpoint does not exist on this server (a feature of a newer Runlet). */
  get unavailable(): boolean {
    return this.status === 404 && this.code === 'ROUTE_NOT_FOUND';
  }
}

export function authHeaders(method = 'GET'): Record<string, string> {
  const headers: Record<string, string> = {};
  if (credentials.key) headers.authorization = `Bearer ${credentials.key}`;
  if (credentials.csrfToken && method !== 'GET') headers['x-csrf-token'] = credentials.csrfToken;
  return headers;
}

export async function request(path: string, init: { method?: string; json?: unknown; body?: string; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
  const method = init.method ?? (init.json !== undefined || init.body !== undefined ? 'POST' : 'GET');
  const headers = { ...authHeaders(method), ...init.headers };
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.body, credentials: 'same-origin', signal: init.signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached.');
  }
  return res;
}

/** Calls the API and answers its JSON; a non-2xx answer throws ApiError. */
export async function api<T>(path: string, init: Parameters<typeof request>[1] = {}): Promise<T> {
  const res = await request(path, init);
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { code?: string; message?: string };
    if (body.code) return new ApiError(res.status, body.code, body.message ?? body.code);
  } catch {
    // not JSON: a service's own answer or a proxy's page
  }
  return new ApiError(res.status, `HTTP_${res.status}`, text.slice(0, 300) || res.statusText);
}

// Wire shapes (the server's @runlet/protocol schemas, as JSON).
export type RunStatus = 'provisioned' | 'queued' | 'running' | 'completed' | 'failed' | 'timed_out' | 'cancelled';
export const RUN_STATUSES: RunStatus[] = ['queued', 'running', 'completed', 'failed', 'timed_out', 'cancelled'];
export const isTerminal = (s: RunStatus) => s === 'completed' || s === 'failed' || s === 'timed_out' || s === 'cancelled';

export interface Service {
  id: string;
  description: string | null;
  inputSchema: JsonSchema | null;
  language: 'typescript' | 'command';
}
/** A service of the folder that cannot be loaded, and why. */
export interface ServiceProblem {
  id: string;
  message: string;
}
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
}
export interface RunRecord {
  id: string;
  serviceId: string | null;
  path: string;
  mode: 'sync' | 'async' | null;
  status: RunStatus;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  responseStatus: number | null;
  responseContentType: string | null;
  responseJson?: unknown;
  responseContent: string | null;
  error: string | null;
  errorCode: string | null;
  attempt: number;
}
export interface RunDetail extends RunRecord {
  input: string | null;
  inputContentType: string | null;
}
export interface LogLine {
  seq: number;
  time: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  source: string;
  message: string;
  fields?: Record<string, unknown>;
}
export interface Session {
  user: { id: string; email: string; role: string };
  account: { id: string; name: string };
  csrfToken: string;
}
