/** A service's `concurrency` caps its runs at once, sync and async alike; runs past it wait their turn. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { maxOverlap, startTestServer, type TestServer } from '../helpers.js';

let s: TestServer;
before(async () => {
  s = await startTestServer({ maxWorkersPerService: 4 });
});
after(() => s.close());

test('sync and async runs of a service capped at 2 never run more than 2 at once, and all finish', async () => {
  const syncCalls = Array.from({ length: 4 }, () => s.fetch('/run/capped', { json: { ms: 300 } }));
  const asyncIds = await Promise.all(
    Array.from({ length: 4 }, async () => ((await (await s.fetch('/run_async/capped', { json: { ms: 300 } })).json()) as { request_id: string }).request_id),
  );
  const answers: { start: number; end: number }[] = [];
  for (const res of await Promise.all(syncCalls)) {
    assert.equal(res.status, 200);
    answers.push((await res.json()) as { start: number; end: number });
  }
  for (const id of asyncIds) {
    const record = (await (await s.fetch(`/result/${id}?timeout=60`)).json()) as { status: string; responseJson: { start: number; end: number } };
    assert.equal(record.status, 'completed');
    answers.push(record.responseJson);
  }
  assert.equal(answers.length, 8);
  assert.ok(maxOverlap(answers) <= 2, `at most 2 at once, saw ${maxOverlap(answers)}`);
});
