/** A small keep-alive HTTP client for the probes the orchestrator makes itself (one call at a time, idle server). */
import { Pool } from 'undici';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: <T = Record<string, unknown>>() => T;
  text: string;
}

export class BenchClient {
  private readonly pool: Pool;

  constructor(
    readonly url: string,
    private readonly key: string,
  ) {
    this.pool = new Pool(url, { connections: 8, keepAliveTimeout: 60_000, headersTimeout: 0, bodyTimeout: 0 });
  }

  async call(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await this.pool.request({
      method,
      path,
      headers: { authorization: `Bearer ${this.key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
  }

  /** Starts an async run and answers its id. */
  async submit(serviceId: string, input: unknown): Promise<string> {
    const answer = await this.call('POST', `/run_async/${serviceId}`, input);
    if (answer.status >= 300) throw new Error(`run_async/${serviceId}: HTTP ${answer.status} ${answer.text}`);
    return answer.json<{ request_id: string }>().request_id;
  }

  /** Waits for a run's end and answers its record. */
  async result(id: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const answer = await this.call('GET', `/result/${id}?timeout=${timeoutMs}`);
    if (answer.status !== 200) throw new Error(`result/${id}: HTTP ${answer.status} ${answer.text}`);
    return answer.json();
  }

  /** Opens `/logs/{id}` and hands each line (parsed) to `onLine` as it arrives, with the moment it arrived. */
  async streamLogs(id: string, onLine: (line: Record<string, unknown>, receivedAt: number) => void): Promise<void> {
    const res = await this.pool.request({ method: 'GET', path: `/logs/${id}`, headers: { authorization: `Bearer ${this.key}` } });
    if (res.statusCode !== 200) throw new Error(`logs/${id}: HTTP ${res.statusCode} ${await res.body.text()}`);
    let buffered = '';
    for await (const chunk of res.body) {
      const receivedAt = performance.timeOrigin + performance.now();
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) onLine(JSON.parse(line) as Record<string, unknown>, receivedAt);
      }
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
