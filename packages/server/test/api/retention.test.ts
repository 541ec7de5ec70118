/**
 * The retention sweep: a run started with a short `X-Retain-Seconds` is deleted by the
 * background sweep with its logs, attempts and webhook deliveries, after which its id answers
 * 410 RUN_EXPIRED on `/result`, `/request` and `/logs`; runs still within their retention are
 * left exactly as they were.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { after, before, describe, test } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { startTestServer, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError } from './api-helpers.js';

/** What the store holds of a run, counted table by table with the store's own SQL. */
type RowCounts = Record<'runs' | 'logs' | 'attempts' | 'deliveries' | 'deliveryAttempts' | 'tombstones', number>;

const COUNTS = {
  runs: 'SELECT count(*) AS n FROM runs WHERE id = $1',
  logs: 'SELECT count(*) AS n FROM run_logs WHERE run_id = $1',
  attempts: 'SELECT count(*) AS n FROM run_attempts WHERE run_id = $1',
  deliveries: 'SELECT count(*) AS n FROM webhook_deliveries WHERE run_id = $1',
  deliveryAttempts: 'SELECT count(*) AS n FROM webhook_delivery_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE run_id = $1)',
  tombstones: 'SELECT count(*) AS n FROM run_tombstones WHERE id = $1',
} satisfies Record<keyof RowCounts, string>;

async function rowsOf(s: TestServer, id: string): Promise<RowCounts> {
  const store = s.server.runtime.store;
  const out = {} as RowCounts;
  if (store instanceof PostgresStore) {
    for (const [name, sql] of Object.entries(COUNTS)) out[name as keyof RowCounts] = Number((await store.pool.query(sql, [id])).rows[0].n);
    return out;
  }
  // A second, read-only connection: WAL lets it read beside the runtime's own.
  const db = new Database(path.join(s.dataDir, 'runlet.db'), { readonly: true });
  try {
    for (const [name, sql] of Object.entries(COUNTS)) out[name as keyof RowCounts] = Number((db.prepare(sql.replace('$1', '?')).get(id) as { n: number }).n);
  } finally {
    db.close();
  }
  return out;
}

describe('retention: the background sweep', () => {
  let s: TestServer;
  let receiver: Server;
  let receiverUrl: string;
  before(async () => {
    s = await startTestServer({ retentionSweepSeconds: 0.2, webhookPollSeconds: 0.1, callbackAllowedNetworks: ['127.0.0.0/8'] });
    receiver = createServer((_req, res) => res.writeHead(204).end());
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  });
  after(async () => {
    await s.close();
    receiver.close();
  });

  /** An async run with a completion webhook, waited for until its delivery is recorded. */
  const asyncWithCallback = async (retain?: number): Promise<string> => {
    const headers: Record<string, string> = { 'x-callback-url': receiverUrl };
    if (retain !== undefined) headers['x-retain-seconds'] = String(retain);
    const { request_id: id } = await expectJson<{ request_id: string }>(await s.fetch('/run_async/noisy', { json: { lines: 2 }, headers }));
    const record = await expectJson<{ status: string }>(await s.fetch(`/result/${id}?timeout=30`));
    assert.equal(record.status, 'completed');
    return id;
  };
  const syncRun = async (retain?: number): Promise<string> => {
    const headers: Record<string, string> = retain === undefined ? {} : { 'x-retain-seconds': String(retain) };
    const res = await s.fetch('/run/noisy', { json: { lines: 2 }, headers });
    assert.deepEqual(await expectJson(res), { printed: 2 });
    return res.headers.get('x-request-id')!;
  };
  /** Waits until every part of the run is in the store (log lines are written in batches). */
  const whole = (id: string, withDelivery: boolean) =>
    waitFor(async () => {
      const rows = await rowsOf(s, id);
      return rows.runs === 1 && rows.logs > 0 && rows.attempts === 1 && rows.deliveries === (withDelivery ? 1 : 0) ? rows : undefined;
    }, 10_000, `every row of ${id}`);

  test('a run with a short retain is purged with its logs, attempts and deliveries; nothing else is touched', async () => {
    // Kept: the default retention is 30 days.
    const keptSync = await syncRun();
    const keptAsync = await asyncWithCallback();
    // A longer retain than the account's never lengthens it, but 30 days is within it either way.
    const keptLong = await syncRun(3600);
    const shortSync = await syncRun(4);
    const shortAsync = await asyncWithCallback(4);

    const keptBefore = await Promise.all([keptSync, keptAsync, keptLong].map((id) => whole(id, id === keptAsync)));
    await whole(shortSync, false);
    const shortAsyncBefore = await whole(shortAsync, true);
    assert.equal(shortAsyncBefore.tombstones, 0);

    for (const id of [shortSync, shortAsync]) {
      await waitFor(async () => ((await s.fetch(`/result/${id}`)).status === 410 ? true : undefined), 30_000, `the sweep to purge ${id}`);
      assert.deepEqual(await rowsOf(s, id), { runs: 0, logs: 0, attempts: 0, deliveries: 0, deliveryAttempts: 0, tombstones: 1 }, 'only the tombstone is left');
      for (const pathname of [`/result/${id}`, `/request/${id}`, `/logs/${id}`]) {
        const body = await expectRuntimeError(await s.fetch(pathname), 410, 'RUN_EXPIRED');
        assert.equal(body.request_id, id);
      }
    }

    const keptAfter = await Promise.all([keptSync, keptAsync, keptLong].map((id) => rowsOf(s, id)));
    // Delivery attempts of the kept async run may still be arriving; what the sweep could have taken may not shrink.
    keptAfter.forEach((rows, i) => {
      const before = keptBefore[i]!;
      assert.deepEqual({ ...rows, deliveryAttempts: 0 }, { ...before, deliveryAttempts: 0 }, 'a run within its retention keeps every row');
      assert.ok(rows.deliveryAttempts >= before.deliveryAttempts);
    });
    for (const id of [keptSync, keptAsync, keptLong]) {
      assert.equal((await expectJson<{ status: string }>(await s.fetch(`/result/${id}`))).status, 'completed');
    }
  });

  test('an unknown id is still 404, and a one-time key that did not start a purged run cannot learn it existed', async () => {
    const id = await syncRun(1);
    await waitFor(async () => ((await s.fetch(`/request/${id}`)).status === 410 ? true : undefined), 30_000, 'the sweep to purge the run');
    await expectRuntimeError(await s.fetch('/result/req_doesnotexist0000'), 404, 'RUN_NOT_FOUND');
    // A one-time key of the same account that did not start it sees an unknown id.
    const oneTime = await s.newKey('one_time');
    await expectRuntimeError(await s.fetch(`/result/${id}`, { key: oneTime }), 404, 'RUN_NOT_FOUND');
    await expectRuntimeError(await s.fetch(`/logs/${id}`, { key: oneTime }), 404, 'RUN_NOT_FOUND');
  });
});
