/** Shared bits of the two peers: the worker's HTTP call to the echo server, and the API's batched result poller. */
import { Pool } from 'undici';
import type pg from 'pg';

export function echoCaller(url: string, connections: number) {
  const pool = new Pool(url, { connections, keepAliveTimeout: 60_000 });
  return async () => {
    const res = await pool.request({ path: '/', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`echo answered ${res.statusCode}: ${body}`);
    return body;
  };
}

/**
 * `GET /result/:id` support: every `intervalMs`, ONE query over all ids being waited for
 * (`check(ids)` answers the ids that are finished, with their state); waiters resolve as soon as theirs is.
 */
export function resultPoller(db: pg.Pool, check: (db: pg.Pool, ids: string[]) => Promise<Map<string, string>>, intervalMs = 10) {
  const waiting = new Map<string, Array<(state: string) => void>>();
  let running = false;
  const tick = async () => {
    if (running || waiting.size === 0) return;
    running = true;
    try {
      const done = await check(db, [...waiting.keys()]);
      for (const [id, state] of done) {
        for (const resolve of waiting.get(id) ?? []) resolve(state);
        waiting.delete(id);
      }
    } catch (err) {
      console.error('poll failed', err);
    } finally {
      running = false;
    }
  };
  setInterval(tick, intervalMs).unref();
  return (id: string, timeoutMs: number) =>
    new Promise<string>((resolve) => {
      const timer = setTimeout(() => {
        const list = waiting.get(id);
        if (list) { list.splice(list.indexOf(done), 1); if (list.length === 0) waiting.delete(id); }
        resolve('pending');
      }, timeoutMs);
      const done = (state: string) => { clearTimeout(timer); resolve(state); };
      waiting.set(id, [...(waiting.get(id) ?? []), done]);
    });
}
