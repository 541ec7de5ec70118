/**
 * Retries of async runs under a service's retry policy: a crashed attempt runs again after
 * its backoff, every attempt is recorded and tags its log lines, a NonRetryableError is final,
 * 5xx answers retry up to the attempts allowed, and sync runs never retry.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readNdjson, startTestServer, type TestServer } from '../helpers.js';
import { expectJson, startAsync, type Json } from './api-helpers.js';

interface Attempt {
  attempt: number;
  status: string;
  responseStatus: number | null;
  errorCode: string | null;
  startedAt: string | null;
  endedAt: string;
  retryAt: string | null;
}

describe('retries', () => {
  let s: TestServer;
  let markers: string;
  before(async () => {
    s = await startTestServer();
    markers = mkdtempSync(path.join(os.tmpdir(), 'runlet-retry-'));
  });
  after(async () => {
    await s.close();
    rmSync(markers, { recursive: true, force: true });
  });

  /** Waits (long-polling) for the run to end; answers its record. */
  const result = async (id: string): Promise<Json & { attempts?: Attempt[] }> => {
    for (;;) {
      const res = await s.fetch(`/result/${id}?timeout=60`);
      if (res.status !== 408) return expectJson(res);
      await res.body?.cancel();
    }
  };

  test('a crash on attempt 1 is retried after the backoff; both attempts recorded, log lines tagged', async () => {
    const id = await startAsync(s, 'crash-once', { marker: path.join(markers, 'a') });
    const record = await result(id);
    assert.equal(record.status, 'completed');
    assert.equal(record.responseStatus, 200);
    assert.equal(record.attempt, 2);
    const [first, second] = record.attempts ?? [];
    assert.equal(record.attempts?.length, 2);
    assert.deepEqual([first?.attempt, first?.status, first?.errorCode], [1, 'failed', 'WORKER_CRASHED']);
    assert.deepEqual([second?.attempt, second?.status, second?.responseStatus, second?.retryAt], [2, 'completed', 200, null]);
    const firstEnded = Date.parse(first!.endedAt);
    const retryAt = Date.parse(first!.retryAt!);
    assert.ok(retryAt >= firstEnded + 1500, 'the next attempt is due no sooner than the initial delay');
    assert.ok(Date.parse(second!.startedAt!) >= retryAt, 'and does not start before it is due');

    const lines = await readNdjson(await s.fetch(`/logs/${id}`));
    const attemptOf = (text: string) => lines.find((l) => String(l.message).includes(text))?.attempt;
    assert.equal(attemptOf('first attempt: crashing'), 1);
    assert.equal(attemptOf('Attempt 2 in'), 1, 'the runtime says when the retry comes, in the failed attempt');
    assert.equal(attemptOf('second attempt: succeeding'), 2);
    const request = await expectJson<Json & { attempts: Attempt[] }>(await s.fetch(`/request/${id}`));
    assert.deepEqual(request.attempts, record.attempts, '/request shows the same attempts');
  });

  test('NonRetryableError ends the run at once, whatever the policy', async () => {
    const record = await result(await startAsync(s, 'flaky-status', { refuse: true }));
    assert.deepEqual([record.status, record.responseStatus, record.attempt, record.attempts?.length], ['completed', 503, 1, 1]);
    assert.deepEqual(record.responseJson, { error: 'card declined' });
  });

  test('5xx and 429 answers are retried up to the attempts allowed; the last answer stands', async () => {
    for (const status of [503, 429]) {
      const record = await result(await startAsync(s, 'flaky-status', { status }));
      assert.deepEqual([record.status, record.responseStatus, record.attempt], ['completed', status, 3]);
      assert.deepEqual(record.attempts?.map((a) => [a.attempt, a.responseStatus, a.retryAt === null]), [[1, status, false], [2, status, false], [3, status, true]]);
    }
  });

  test('a 4xx answer is not retried', async () => {
    const record = await result(await startAsync(s, 'flaky-status', { status: 404 }));
    assert.deepEqual([record.responseStatus, record.attempt, record.attempts?.length], [404, 1, 1]);
  });

  test('a sync run never retries: the crash is its answer', async () => {
    const res = await s.fetch('/run/crash-once', { json: { marker: path.join(markers, 'sync') } });
    assert.equal(res.status, 502);
    const id = res.headers.get('x-request-id') ?? ((await res.json()) as { request_id: string }).request_id;
    const record = await expectJson<Json & { attempts: Attempt[] }>(await s.fetch(`/request/${id}`));
    assert.deepEqual([record.status, record.errorCode, record.attempt], ['failed', 'WORKER_CRASHED', 1]);
    assert.deepEqual(record.attempts.map((a) => [a.attempt, a.retryAt]), [[1, null]]);
  });
});
