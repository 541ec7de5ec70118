/** Cross-node notices travel in batches that PostgreSQL accepts, in order, without repeats that say nothing new. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { payloadsOf } from '../../src/logs/postgres-event-bus.js';

type Batch = { node: string; notices: unknown[] };
const parse = (payloads: string[]) => payloads.map((p) => JSON.parse(p) as Batch);

test('one turn of notices is one payload, in order, naming its node once', () => {
  const [batch, ...rest] = parse(
    payloadsOf('node-a', [
      { queued: 'echo' },
      { runId: 'req_1', event: { type: 'status', status: 'running' } },
      { runId: 'req_1', event: { type: 'status', status: 'completed' } },
    ]),
  );
  assert.equal(rest.length, 0);
  assert.deepEqual(batch, {
    node: 'node-a',
    notices: [
      { queued: 'echo' },
      { runId: 'req_1', event: { type: 'status', status: 'running' } },
      { runId: 'req_1', event: { type: 'status', status: 'completed' } },
    ],
  });
});

test('a service announced twice, and log marks passed by a later one of the same run, go once', () => {
  const logs = (runId: string, upToSeq: number) => ({ runId, event: { type: 'logs' as const, lines: [], upToSeq } });
  const [batch] = parse(payloadsOf('n', [{ queued: 'echo' }, logs('req_1', 3), { queued: 'echo' }, logs('req_2', 1), logs('req_1', 9), { queued: 'csv' }]));
  assert.deepEqual(batch!.notices, [{ queued: 'echo' }, logs('req_2', 1), logs('req_1', 9), { queued: 'csv' }]);
});

test("a run's changes in one turn go once, as its last; other runs' and accounts' stay", () => {
  const changed = (runId: string, account = 'acc_1') => ({ runChanged: runId, account });
  const [batch] = parse(payloadsOf('n', [changed('req_1'), changed('req_2', 'acc_2'), { queued: 'echo' }, changed('req_1'), changed('req_3')]));
  assert.deepEqual(batch!.notices, [changed('req_2', 'acc_2'), { queued: 'echo' }, changed('req_1'), changed('req_3')]);
});

test('many notices split into payloads under 8000 bytes, losing none', () => {
  const notices = Array.from({ length: 500 }, (_, i) => ({ runId: `req_${String(i).padStart(24, '0')}`, event: { type: 'status' as const, status: 'completed' as const } }));
  const payloads = payloadsOf('node-a', notices);
  assert.ok(payloads.length > 1);
  for (const p of payloads) assert.ok(Buffer.byteLength(p) < 8000, `a payload of ${Buffer.byteLength(p)} bytes`);
  assert.deepEqual(parse(payloads).flatMap((b) => b.notices), notices);
});
