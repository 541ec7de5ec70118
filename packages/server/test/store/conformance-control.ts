/**
 * The store's part in retries, completion webhooks and retention, run on every backend by
 * `runStoreConformance` (conformance.ts). Same rules as there: each test uses ids, services
 * and accounts of its own.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { newRequestId } from '../../src/ids.js';
import type { AttemptRow, NewRun, PurgePolicy, Store } from '../../src/store/store.js';
import type { OpenedStore } from './conformance.js';
import { newRunOf } from './new-run.js';

export function runControlConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`store conformance: ${name}: retries, webhooks, retention`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let accountId: string;
    beforeEach(async () => {
      ({ store, close } = await open());
      accountId = (await store.createAccount(`control-${Math.random().toString(36).slice(2, 8)}`)).id;
    });
    afterEach(() => close());

    const service = () => `svc-${Math.random().toString(36).slice(2, 10)}`;
    const newRun = (over: Partial<NewRun> = {}): NewRun => newRunOf(accountId, over);
    const attemptOf = (runId: string, attempt: number, over: Partial<AttemptRow> = {}): AttemptRow => ({
      runId,
      attempt,
      status: 'failed',
      responseStatus: null,
      error: 'worker crashed',
      errorCode: 'WORKER_CRASHED',
      nodeId: 'node-a',
      startedAt: 1000,
      endedAt: 2000,
      retryAt: null,
      ...over,
    });
    /** A run that ended at `completedAt`. */
    const endedRun = async (over: Partial<NewRun> = {}, completedAt = Date.now()) => {
      const run = await store.createRun(newRun({ mode: 'sync', ...over }));
      await store.markRunning(run.id, 'node-a', Date.now(), Date.now() + 1000);
      await store.completeRun(run.id, { status: 'completed', completedAt, responseStatus: 200 }, undefined, attemptOf(run.id, 1));
      return run;
    };

    describe('retries', () => {
      test('a retried run waits out its delay in the queue, then runs as its next attempt', async () => {
        const svc = service();
        const run = await store.createRun(newRun({ serviceId: svc }));
        const now = Date.now();
        const [claimed] = await store.claimQueuedRuns({ serviceId: svc, limit: 1, nodeId: 'node-a', now, leaseExpiresAt: now + 1000 });
        assert.equal(claimed?.attempt, 1);
        const retryAt = now + 60_000;
        assert.equal(await store.retryRun({ ...attemptOf(run.id, 1), retryAt }, 'node-b'), false, 'only the node holding the run retries it');
        assert.equal(await store.retryRun({ ...attemptOf(run.id, 1), retryAt }, 'node-a'), true);
        const queued = (await store.getRun(run.id))!;
        assert.deepEqual([queued.status, queued.runAfter, queued.nodeId, queued.leaseExpiresAt], ['queued', retryAt, null, null]);
        assert.deepEqual(await store.claimQueuedRuns({ serviceId: svc, limit: 1, nodeId: 'node-b', now: retryAt - 1, leaseExpiresAt: retryAt + 1000 }), [], 'not before its time');
        const [again] = await store.claimQueuedRuns({ serviceId: svc, limit: 1, nodeId: 'node-b', now: retryAt, leaseExpiresAt: retryAt + 1000 });
        assert.deepEqual([again?.id, again?.attempt, again?.nodeId], [run.id, 2, 'node-b']);
        assert.equal(await store.retryRun({ ...attemptOf(run.id, 1), retryAt }, 'node-a'), false, 'node-a lost it');
        const second = attemptOf(run.id, 2, { status: 'completed', responseStatus: 200, error: null, errorCode: null });
        assert.equal((await store.completeRun(run.id, { status: 'completed', completedAt: retryAt + 5, responseStatus: 200 }, 'node-b', second))?.attempt, 2);
        assert.equal(await store.completeRun(run.id, { status: 'failed', completedAt: retryAt + 6 }, 'node-b', attemptOf(run.id, 2, { status: 'failed' })), undefined);
        const attempts = await store.listAttempts(run.id);
        assert.deepEqual(attempts.map((a) => [a.attempt, a.status, a.retryAt]), [[1, 'failed', retryAt], [2, 'completed', null]], 'an attempt is written once');
        assert.deepEqual(attempts[1], second, 'the ending and its attempt are written together');
        assert.deepEqual(attempts[0], { ...attemptOf(run.id, 1), retryAt });
        assert.deepEqual(await store.getRunRecord(run.id), { run: await store.getRun(run.id), attempts }, 'read together, the run and its attempts are as read apart');
      });

      test('log lines keep the attempt that wrote them', async () => {
        const run = await store.createRun(newRun());
        const line = { runId: run.id, createdAt: 1, timeMicros: 1000, level: 'info' as const, source: 'stdout' as const, message: 'm', fields: null };
        await store.appendLogs([{ ...line, seq: 1, attempt: 1 }, { ...line, seq: 2, attempt: 2 }, { ...line, seq: 3 }]);
        assert.deepEqual((await store.readLogs(run.id, 0, 10)).map((l) => l.attempt), [1, 2, undefined]);
      });
    });

    describe('completion webhooks', () => {
      test('a run keeps its callback URL and retention; a provisioned one too', async () => {
        const run = await store.createRun(newRun({ callbackUrl: 'https://example.com/hook', retainSeconds: 60 }));
        assert.deepEqual([run.callbackUrl, run.retainSeconds], ['https://example.com/hook', 60]);
        const plain = await store.createRun(newRun());
        assert.deepEqual([plain.callbackUrl, plain.retainSeconds], [null, null]);
        const p = await store.provisionRun({ id: newRequestId(), accountId, keyId: null, createdAt: Date.now(), expiresAt: Date.now() + 60_000, nodeId: 'node-a' });
        const taken = await store.createRun(newRun({ callbackUrl: 'https://example.com/p' }), { provisionedId: p.id });
        assert.deepEqual([taken.id, taken.callbackUrl], [p.id, 'https://example.com/p']);
      });

      test('an ended run with a callback gets one delivery; claims, attempts and redelivery', async () => {
        const run = await endedRun({ callbackUrl: 'https://example.com/hook' });
        await endedRun();
        const live = await store.createRun(newRun({ callbackUrl: 'https://example.com/live' }));
        const now = Date.now();
        assert.ok((await store.createDueDeliveries(now, 1000, 1000)) >= 1);
        assert.equal(await store.createDueDeliveries(now, 1000, 1000), 0, 'never twice');
        assert.equal((await store.listDeliveries(live.id)).length, 0, 'a run still queued has none yet');
        const claimed = (await store.claimDueDeliveries(now, now + 30_000, 1000)).filter((d) => d.runId === run.id);
        assert.equal(claimed.length, 1);
        const d = claimed[0]!;
        assert.deepEqual([d.url, d.status, d.attempts, d.giveUpAt, d.accountId], ['https://example.com/hook', 'pending', 0, now + 1000, accountId]);
        assert.match(d.id, /^msg_/);
        assert.equal((await store.claimDueDeliveries(now + 1, now + 30_000, 1000)).filter((x) => x.runId === run.id).length, 0, 'claimed: not due again meanwhile');
        await store.recordDeliveryAttempt({ deliveryId: d.id, attempt: 1, attemptedAt: now, durationMs: 5, statusCode: 500, error: null }, { status: 'pending', nextAttemptAt: now + 10 });
        const [again] = (await store.claimDueDeliveries(now + 10, now + 30_000, 1000)).filter((x) => x.runId === run.id);
        assert.equal(again?.attempts, 1);
        await store.recordDeliveryAttempt({ deliveryId: d.id, attempt: 2, attemptedAt: now + 20, durationMs: 7, statusCode: 204, error: null }, { status: 'delivered' });
        const [listed] = await store.listDeliveries(run.id);
        assert.deepEqual([listed?.delivery.status, listed?.delivery.completedAt, listed?.attempts.map((a) => a.statusCode)], ['delivered', now + 20, [500, 204]]);
        const redelivered = await store.redeliver(run.id, now + 100, now + 5000);
        assert.deepEqual([redelivered?.status, redelivered?.nextAttemptAt, redelivered?.giveUpAt, redelivered?.completedAt], ['pending', now + 100, now + 5000, null]);
        assert.equal(await store.redeliver(live.id, now, now), undefined);
      });

      test('the webhook secret of an account is set once, by the first caller', async () => {
        const secrets = await Promise.all(['whsec_a', 'whsec_b', 'whsec_c'].map((c) => store.webhookSecret(accountId, c)));
        assert.equal(new Set(secrets).size, 1);
        assert.equal(await store.webhookSecret(accountId, 'whsec_d'), secrets[0]);
      });
    });

    describe('retention', () => {
      /** Purges batch after batch until one comes back short: the store may hold other tests' runs. */
      const purgeAll = async (policy: PurgePolicy) => {
        const all: string[] = [];
        for (;;) {
          const batch = await store.purgeExpiredRuns(policy);
          all.push(...batch);
          if (batch.length < policy.limit) return all;
        }
      };
      test('expired runs go with their logs, attempts and deliveries, leaving tombstones that expire in turn', async () => {
        const now = Date.now();
        const policy = { now, defaultRetentionSeconds: 3600, tombstoneSeconds: 100, limit: 1000 };
        const old = await endedRun({ callbackUrl: 'https://example.com/h' }, now - 3600_000);
        const shortened = await endedRun({ retainSeconds: 10 }, now - 10_000);
        const fresh = await endedRun({ retainSeconds: 10 }, now - 5000);
        const running = await store.createRun(newRun());
        await store.appendLogs([{ runId: old.id, seq: 1, createdAt: 1, timeMicros: 1, level: 'info', source: 'stdout', message: 'x', fields: null }]);
        await store.createDueDeliveries(now, 1000, 1000);
        const [delivery] = await store.listDeliveries(old.id);
        await store.recordDeliveryAttempt({ deliveryId: delivery!.delivery.id, attempt: 1, attemptedAt: now, durationMs: 1, statusCode: 200, error: null }, { status: 'delivered' });

        const purged = await purgeAll(policy);
        assert.ok(purged.includes(old.id) && purged.includes(shortened.id));
        assert.ok(!purged.includes(fresh.id) && !purged.includes(running.id));
        assert.equal(await store.getRun(old.id), undefined);
        assert.deepEqual(await store.readLogs(old.id, 0, 10), []);
        assert.deepEqual(await store.listAttempts(old.id), []);
        assert.deepEqual(await store.listDeliveries(old.id), []);
        assert.deepEqual(await store.getTombstone(old.id), { id: old.id, accountId, purgedAt: now, expiresAt: now + 100_000 });
        assert.ok(await store.getRun(fresh.id));
        assert.equal(await store.getTombstone(fresh.id), undefined);

        await purgeAll({ ...policy, now: now + 100_000 });
        assert.equal(await store.getTombstone(old.id), undefined, 'tombstones go after their own period');
      });

      test("an account's own retention overrides the default; a run's own can only shorten it", async () => {
        const now = Date.now();
        assert.equal(await store.getAccountRetention(accountId), null);
        await store.setAccountRetention(accountId, 60);
        assert.equal(await store.getAccountRetention(accountId), 60);
        const past = await endedRun({}, now - 60_000);
        const longer = await endedRun({ retainSeconds: 3600 }, now - 60_000);
        const within = await endedRun({}, now - 30_000);
        const purged = await purgeAll({ now, defaultRetentionSeconds: 86_400, tombstoneSeconds: 100, limit: 1000 });
        assert.ok(purged.includes(past.id) && purged.includes(longer.id), 'a longer retain does not lengthen it');
        assert.ok(!purged.includes(within.id));
        await store.setAccountRetention(accountId, null);
        assert.equal(await store.getAccountRetention(accountId), null);
      });

      test('a purge works in batches of the given size', async () => {
        for (let i = 0; i < 3; i++) await endedRun({ retainSeconds: 1 }, Date.now() - 2000);
        const policy = { now: Date.now(), defaultRetentionSeconds: 86_400, tombstoneSeconds: 100, limit: 2 };
        assert.equal((await store.purgeExpiredRuns(policy)).length, 2);
        assert.ok((await store.purgeExpiredRuns(policy)).length >= 1);
      });
    });
  });
}
