/** Small helpers shared by the HTTP API tests in this folder. */
import assert from 'node:assert/strict';
import type { TestServer } from '../helpers.js';

export type Json = Record<string, unknown>;

/** Asserts a runtime error: its status, the header that marks it as Runlet's own, and the JSON `{code, message}`. */
export async function expectRuntimeError(res: Response, status: number, code: string): Promise<Json & { code: string; message: string }> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${text}`);
  assert.equal(res.headers.get('x-runlet-error'), code, 'the runtime error header names the code');
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = JSON.parse(text) as Json & { code: string; message: string };
  assert.equal(body.code, code);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0, 'a human message');
  return body;
}

/** The JSON of a 2xx answer, failing with the body when the status is not what was expected. */
export async function expectJson<T = Json>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Starts an async run and answers its request id. */
export async function startAsync(s: TestServer, service: string, input: unknown, init: { key?: string; headers?: Record<string, string> } = {}): Promise<string> {
  const body = await expectJson<{ request_id: string }>(await s.fetch(`/run_async/${service}`, { json: input, ...init }));
  return body.request_id;
}

export async function getRecord(s: TestServer, id: string, key?: string): Promise<Json> {
  return expectJson(await s.fetch(`/request/${id}`, { key }));
}

export const REQUEST_ID = /^req_[0-9a-z]+$/;

/** A dashboard session: its cookie, CSRF token, and fetch that sends both (no API key). */
export interface SignedInSession {
  cookie: string;
  csrfToken: string;
  user: { id: string; email: string; role: string };
  account: { id: string; name: string };
  fetch(pathname: string, init?: RequestInit & { json?: unknown; csrf?: boolean }): Promise<Response>;
}

export function sessionFrom(s: TestServer, res: Response, body: { csrfToken: string; user: SignedInSession['user']; account: SignedInSession['account'] }): SignedInSession {
  const cookie = /runlet_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  assert.ok(cookie, 'the answer sets the session cookie');
  return {
    cookie,
    csrfToken: body.csrfToken,
    user: body.user,
    account: body.account,
    fetch: (pathname, init = {}) => {
      const { json, csrf = true, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set('cookie', `runlet_session=${cookie}`);
      if (csrf) headers.set('x-csrf-token', body.csrfToken);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(s.url + pathname, { method: json !== undefined ? 'POST' : 'GET', ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
    },
  };
}

/** Creates the first administrator with the server's setup link and answers their session. */
export async function setUpAdmin(s: TestServer, email = 'admin@example.com', password = 'correct horse battery'): Promise<SignedInSession> {
  const token = s.server.runtime.setupToken;
  assert.ok(token, 'a fresh server has a setup link');
  const res = await s.fetch('/auth/setup', { key: null, json: { token, email, password } });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return sessionFrom(s, res, JSON.parse(text));
}

export async function signIn(s: TestServer, email: string, password: string): Promise<SignedInSession> {
  const res = await s.fetch('/auth/login', { key: null, json: { email, password } });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return sessionFrom(s, res, JSON.parse(text));
}

/** A reader of `GET /runs/events` as it goes: the runs it was told of, the comments and the `retry:` hint. */
export interface RunEventReader {
  response: Response;
  runs: Json[];
  comments: string[];
  retry: number | undefined;
  /** The statuses one run went through, a repeat of the same status counted once. */
  statusesOf(id: string): string[];
  stop(): void;
}

export async function readRunEvents(url: string, headers: Record<string, string>): Promise<RunEventReader> {
  const abort = new AbortController();
  const response = await fetch(`${url}/runs/events`, { headers, signal: abort.signal });
  const reader: RunEventReader = {
    response,
    runs: [],
    comments: [],
    retry: undefined,
    statusesOf: (id) => reader.runs.filter((r) => r.id === id).map((r) => String(r.status)).filter((s, i, all) => s !== all[i - 1]),
    stop: () => abort.abort(),
  };
  if (!response.ok || !response.body) return reader;
  void (async () => {
    let buffer = '';
    try {
      for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop()!;
        for (const block of blocks) {
          let event = 'message';
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) reader.comments.push(line.slice(1).trim());
            else if (line.startsWith('retry: ')) reader.retry = Number(line.slice(7));
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ') && event === 'run') reader.runs.push(JSON.parse(line.slice(6)) as Json);
          }
        }
      }
    } catch {
      // stopped
    }
  })();
  return reader;
}
