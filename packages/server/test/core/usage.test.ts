/** The usage summary behind GET /usage: hour buckets, percentiles and the error rate. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentile, summarizeUsage, usageSince } from '../../src/engine/usage.js';
import type { RunTiming } from '../../src/store/store.js';

const HOUR = 3_600_000;
const now = Date.UTC(2026, 10, 28, 15, 30);
const run = (over: Partial<RunTiming>): RunTiming => ({ serviceId: 'a', status: 'completed', createdAt: now, startedAt: now, completedAt: now + 100, responseStatus: 200, ...over });

test('the window starts on the hour, 24 or 168 hours back, and includes the current hour', () => {
  assert.equal(usageSince('day', now), Date.UTC(2026, 10, 27, 16));
  assert.equal(usageSince('week', now), Date.UTC(2026, 10, 21, 16));
});

test('runs land in their hour; durations and errors are per service; busiest service first', () => {
  const since = usageSince('day', now);
  const report = summarizeUsage('day', now, [
    run({ createdAt: since, startedAt: since, completedAt: since + 10 }),
    run({ createdAt: now, completedAt: now + 20 }),
    run({ createdAt: now, completedAt: now + 30, responseStatus: 503 }),
    run({ createdAt: now, status: 'failed', completedAt: now + 40, responseStatus: null }),
    run({ createdAt: now, status: 'running', completedAt: null, responseStatus: null }),
    run({ serviceId: 'b', createdAt: now - 2 * HOUR }),
    run({ serviceId: 'c', createdAt: since - 1 }),
  ]);
  assert.equal(report.since, new Date(since).toISOString());
  assert.deepEqual(report.services.map((s) => s.serviceId), ['a', 'b'], 'runs before the window do not count');
  const a = report.services[0]!;
  assert.equal(a.runs, 5);
  assert.equal(a.runsPerHour.length, 24);
  assert.equal(a.runsPerHour[0], 1);
  assert.equal(a.runsPerHour[23], 4);
  assert.equal(a.failed, 2, 'a 5xx answer and a failed run; a running one has not ended');
  assert.equal(a.errorRate, 2 / 4);
  assert.equal(a.p50DurationMs, 20);
  assert.equal(a.p95DurationMs, 40);
  assert.equal(report.services[1]!.runsPerHour[21], 1);
});

test('percentiles are nearest-rank; nothing ended means no duration and no errors', () => {
  assert.equal(percentile([], 0.5), null);
  assert.equal(percentile([5], 0.95), 5);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5), 5);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95), 10);
  const [only] = summarizeUsage('week', now, [run({ status: 'queued', startedAt: null, completedAt: null, responseStatus: null })]).services;
  assert.deepEqual([only!.errorRate, only!.p50DurationMs, only!.runsPerHour.length], [0, null, 168]);
});
