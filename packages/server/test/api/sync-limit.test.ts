/** The sync limit: a caller stops waiting at it, the run does not. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from '../helpers.js';

test('a sync call past the sync limit answers 504 with its request id, and the run goes on to its result', async () => {
  const s = await startTestServer({ syncTimeoutSeconds: 2 });
  try {
    const res = await s.fetch('/run/slow', { json: { seconds: 3, interval: 0.5 } });
    assert.equal(res.status, 504);
    const body = (await res.json()) as { code: string; request_id: string };
    assert.equal(body.code, 'SYNC_TIMEOUT');
    assert.equal(res.headers.get('x-request-id'), body.request_id);
    const record = (await (await s.fetch(`/result/${body.request_id}?timeout=60`)).json()) as { status: string; responseJson: unknown };
    assert.equal(record.status, 'completed');
    assert.deepEqual(record.responseJson, { slept: 3 });
  } finally {
    await s.close();
  }
});