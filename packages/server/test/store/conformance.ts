/**
 * What every Store must do, in the runtime's own words. Each backend runs this same suite
 * (sqlite.test.ts, postgres.test.ts): a behaviour that differs between them fails here.
 * Nothing in it knows which backend it talks to. Each test opens the store afresh (`open` is
 * called per test) and uses ids, services and accounts of its own, so it holds whether the
 * backend hands out an empty store each time or the same database again.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { attemptRowOf } from '../../src/engine/attempts.js';
import { RunletError } from '../../src/errors.js';
import { newFileId } from '../../src/files/ids.js';
import { newKeyId, newRequestId } from '../../src/ids.js';
import { runControlConformance } from './conformance-control.js';
import { runDirectoryConformance } from './conformance-directory.js';
import { runAdmissionConformance } from './conformance-admission.js';
import { newRunOf } from './new-run.js';
import type { NewFile, NewProvision, NewRun, RunOutcome, Store, StoredLogLine } from '../../src/store/store.js';

export interface OpenedStore {
  store: Store;
  /** Closes the store (and removes what it was kept in, when that is the opener's alone). */
  close(): Promise<void>;
}

export function runStoreConformance(name: string, open: () => Promise<OpenedStore>, openEmpty: () => Promise<OpenedStore> = open): void {
  describe(`store conformance: ${name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let accountId: string;
    beforeEach(async () => {
      ({ store, close } = await open());
      accountId = (await store.defaultAccount()).id;
    });
    afterEach(() => close());

    const unique = (what: string) => `${what}-${Math.random().toString(36).slice(2, 10)}`;
    const newRun = (over: Partial<NewRun> = {}): NewRun => newRunOf(accountId, { input: Buffer.from('{"a":1}'), requestHeaders: { accept: '*/*' }, ...over });
    const provision = (over: Partial<NewProvision> = {}, options?: { spendKeyId?: string }) =>
      store.provisionRun({ id: newRequestId(), accountId, keyId: null, createdAt: Date.now(), expiresAt: Date.now() + 60_000, nodeId: 'node-a', ...over }, options);
    /** Keys are found by hash; each test key's hash is kept here by its id. */
    const hashes = new Map<string, string>();
    const hashOf = (keyId: string): string => hashes.get(keyId) ?? assert.fail(`no hash recorded for ${keyId}`);
    const newKey = async (kind: 'standard' | 'one_time' = 'standard', extra: { internal?: boolean; prefix?: string; account?: string } = {}) => {
      const hash = unique('hash');
      const key = await store.createApiKey({
        id: newKeyId(),
        accountId: extra.account ?? accountId,
        kind,
        name: 'k',
        hash,
        prefix: extra.prefix ?? unique('p'),
        createdAt: Date.now(),
        internal: extra.internal,
      });
      hashes.set(key.id, hash);
      return key;
    };
    const rejectsWith = async (p: Promise<unknown>, code: string) => {
      await assert.rejects(p, (err: unknown) => err instanceof RunletError && err.code === code);
    };
    const completed = (over: Partial<RunOutcome> = {}): RunOutcome => ({
      status: 'completed',
      completedAt: Date.now(),
      responseStatus: 200,
      responseContentType: 'application/json',
      responseBody: Buffer.from('{"ok":true}'),
      ...over,
    });

    describe('accounts', () => {
      test('one default account however often (and however concurrently) asked; others by id', async () => {
        const many = await Promise.all([store.defaultAccount(), store.defaultAccount(), store.defaultAccount()]);
        assert.deepEqual(new Set(many.map((a) => a.id)), new Set([accountId]));
        const other = await store.createAccount('other');
        assert.notEqual(other.id, accountId);
        assert.equal(typeof other.createdAt, 'number');
        assert.deepEqual(await store.getAccount(other.id), other);
        assert.equal(await store.getAccount('acc_missing'), undefined);
        assert.equal((await store.defaultAccount()).id, accountId, 'creating accounts does not change the default');
      });
    });

    describe('keys', () => {
      test('a created key is found by its hash with every field, and not by another hash', async () => {
        const key = await newKey('one_time', { prefix: 'cwotk-abc123' });
        assert.deepEqual(
          { kind: key.kind, name: key.name, prefix: key.prefix, accountId: key.accountId, useCount: key.useCount, lastUsedAt: key.lastUsedAt, revokedAt: key.revokedAt, spentAt: key.spentAt, spentRunId: key.spentRunId, internal: key.internal },
          { kind: 'one_time', name: 'k', prefix: 'cwotk-abc123', accountId, useCount: 0, lastUsedAt: null, revokedAt: null, spentAt: null, spentRunId: null, internal: false },
        );
        const found = await store.findApiKeyByHash(hashOf(key.id));
        assert.equal(found?.id, key.id);
        assert.equal(await store.findApiKeyByHash('hash-of-nothing'), undefined);
      });

      test("listing shows the account's own keys, oldest first, never internal ones nor other accounts'", async () => {
        const other = await store.createAccount('lister');
        const first = await newKey('standard', { account: other.id });
        await new Promise((r) => setTimeout(r, 2));
        const second = await newKey('one_time', { account: other.id });
        const internal = await newKey('standard', { account: other.id, internal: true });
        await newKey('standard');
        const listed = await store.listApiKeys(other.id);
        assert.deepEqual(listed.map((k) => k.id), [first.id, second.id]);
        assert.ok(!listed.some((k) => k.id === internal.id));
        assert.equal(internal.internal, true);
      });

      test('revoked by id or by a unique prefix, once (the first time stands); an ambiguous prefix revokes nothing', async () => {
        const prefix = unique('cwk-r');
        const key = await newKey('standard', { prefix });
        const revoked = await store.revokeApiKey(accountId, prefix, 42);
        assert.equal(revoked?.id, key.id);
        assert.equal(revoked?.revokedAt, 42);
        assert.equal((await store.revokeApiKey(accountId, key.id, 99))?.revokedAt, 42, 'revoking again keeps the first time');
        assert.equal((await store.findApiKeyByHash(hashOf(key.id)))?.revokedAt, 42, 'a revoked key is still found, marked revoked');

        const shared = unique('cwk-shared');
        const a = await newKey('standard', { prefix: shared });
        const b = await newKey('standard', { prefix: shared });
        assert.equal(await store.revokeApiKey(accountId, shared, 1), undefined);
        assert.equal((await store.findApiKeyByHash(hashOf(a.id)))?.revokedAt, null);
        assert.equal((await store.findApiKeyByHash(hashOf(b.id)))?.revokedAt, null);
        assert.equal((await store.revokeApiKey(accountId, a.id, 1))?.id, a.id);
        assert.equal(await store.revokeApiKey(accountId, 'key_nothing', 1), undefined);
      });

      test("another account's key and an internal key cannot be revoked through this account", async () => {
        const other = await store.createAccount('victim');
        const theirs = await newKey('standard', { account: other.id });
        assert.equal(await store.revokeApiKey(accountId, theirs.id, 1), undefined);
        assert.equal(await store.revokeApiKey(accountId, theirs.prefix, 1), undefined);
        const internal = await newKey('standard', { internal: true });
        assert.equal(await store.revokeApiKey(accountId, internal.id, 1), undefined);
        assert.equal((await store.findApiKeyByHash(hashOf(theirs.id)))?.revokedAt, null);
      });

      test('usage adds up counts and keeps the latest use time', async () => {
        const key = await newKey();
        const other = await newKey();
        await store.recordKeyUsage(new Map([[key.id, { count: 3, lastUsedAt: 1000 }], [other.id, { count: 1, lastUsedAt: 7 }]]));
        await store.recordKeyUsage(new Map([[key.id, { count: 2, lastUsedAt: 500 }]]));
        await store.recordKeyUsage(new Map());
        const listed = await store.listApiKeys(accountId);
        const used = listed.find((k) => k.id === key.id)!;
        assert.deepEqual([used.useCount, used.lastUsedAt], [5, 1000]);
        const once = listed.find((k) => k.id === other.id)!;
        assert.deepEqual([once.useCount, once.lastUsedAt], [1, 7]);
      });

      test('deleting internal keys removes them and only them', async () => {
        const internal = await newKey('standard', { internal: true });
        const kept = await newKey('standard');
        await store.deleteInternalKeys();
        assert.equal(await store.findApiKeyByHash(hashOf(internal.id)), undefined);
        assert.equal((await store.findApiKeyByHash(hashOf(kept.id)))?.id, kept.id);
      });
    });

    describe('creating runs', () => {
      test('a new run is queued with everything it was given, and nothing it was not', async () => {
        const key = await newKey();
        const input = newRun({ keyId: key.id, mode: 'sync', method: 'PUT', path: 'a/b', query: 'x=1&y=2', correlationId: 'c1', requestHeaders: { accept: 'text/event-stream', 'content-type': 'application/json' }, createdAt: 1_700_000_000_123, leaseExpiresAt: 1_700_000_030_123 });
        const run = await store.createRun(input);
        const fetched = await store.getRun(run.id);
        for (const row of [run, fetched!]) {
          assert.equal(row.id, input.id);
          assert.equal(row.status, 'queued');
          assert.deepEqual(
            [row.accountId, row.keyId, row.serviceId, row.method, row.path, row.query, row.mode, row.inputContentType, row.correlationId, row.createdAt, row.nodeId, row.leaseExpiresAt],
            [accountId, key.id, 'svc', 'PUT', 'a/b', 'x=1&y=2', 'sync', 'application/json', 'c1', 1_700_000_000_123, 'node-a', 1_700_000_030_123],
          );
          assert.deepEqual(row.input, Buffer.from('{"a":1}'));
          assert.deepEqual(row.requestHeaders, { accept: 'text/event-stream', 'content-type': 'application/json' });
          assert.deepEqual(
            [row.startedAt, row.completedAt, row.responseStatus, row.responseContentType, row.responseBody, row.error, row.errorCode, row.expiresAt, row.attempt],
            [null, null, null, null, null, null, null, null, 0],
          );
        }
        assert.equal(await store.getRun(newRequestId()), undefined);
        assert.equal(await store.getRunRecord(newRequestId()), undefined);
      });

      test('a run started as it is recorded is running in its first attempt, held by its node; it ends as any run does', async () => {
        const input = newRun({ mode: 'sync', createdAt: 7000, leaseExpiresAt: 37_000, startedAt: 7000 });
        const run = await store.createRun(input);
        for (const row of [run, (await store.getRun(run.id))!]) {
          assert.deepEqual([row.status, row.startedAt, row.attempt, row.nodeId, row.leaseExpiresAt], ['running', 7000, 1, 'node-a', 37_000]);
        }
        assert.equal(await store.markRunning(run.id, 'node-a', 8000, 9000), false, 'it is not started a second time');
        const ended = await store.completeRun(run.id, completed(), 'node-a', attemptRowOf(run, completed(), 'node-a', null));
        assert.deepEqual([ended?.status, ended?.startedAt], ['completed', 7000]);
        assert.deepEqual((await store.getRunRecord(run.id))!.attempts.map((a) => [a.attempt, a.startedAt]), [[1, 7000]]);
        // Several at once, as PostgreSQL's batched insert takes them: each keeps its own start.
        const many = await Promise.all([null, 9000, null, 9500].map((startedAt) => store.createRun(newRun({ startedAt }))));
        assert.deepEqual(many.map((r) => [r.status, r.startedAt, r.attempt]), [['queued', null, 0], ['running', 9000, 1], ['queued', null, 0], ['running', 9500, 1]]);
        // A provisioned id taken over by a run that starts at once (what the official clients do).
        const p = await provision();
        const taken = await store.createRun(newRun({ startedAt: 9900 }), { provisionedId: p.id });
        assert.deepEqual([taken.id, taken.status, taken.startedAt, taken.attempt, taken.expiresAt], [p.id, 'running', 9900, 1, null]);
      });

      test('a run never started has no attempts in its record', async () => {
        const run = await store.createRun(newRun());
        assert.deepEqual(await store.getRunRecord(run.id), { run: await store.getRun(run.id), attempts: [] });
      });

      test('an empty input and binary input round-trip exactly', async () => {
        const none = await store.createRun(newRun({ input: null, inputContentType: null }));
        assert.equal((await store.getRun(none.id))!.input, null);
        const bytes = Buffer.from([0, 255, 1, 254, 0, 10, 13]);
        const binary = await store.createRun(newRun({ input: bytes, inputContentType: 'application/octet-stream' }));
        assert.deepEqual((await store.getRun(binary.id))!.input, bytes);
      });

      test('a provisioned id is a record of its own until one run takes it over, once', async () => {
        const p = await provision();
        assert.equal(p.status, 'provisioned');
        assert.equal(p.serviceId, null);
        assert.equal(typeof p.expiresAt, 'number');
        const used = await store.createRun(newRun({ serviceId: 'taker', correlationId: 'c2' }), { provisionedId: p.id });
        assert.deepEqual([used.id, used.status, used.serviceId, used.correlationId, used.expiresAt], [p.id, 'queued', 'taker', 'c2', null]);
        await rejectsWith(store.createRun(newRun(), { provisionedId: p.id }), 'PROVISION_USED');
        await rejectsWith(store.createRun(newRun(), { provisionedId: newRequestId() }), 'PROVISION_NOT_FOUND');
        assert.equal((await store.getRun(p.id))!.serviceId, 'taker', 'the refused second run changed nothing');
      });

      test("another account cannot take this account's provisioned id: to it the id does not exist", async () => {
        const thief = await store.createAccount('thief');
        const q = await provision();
        await rejectsWith(store.createRun(newRun({ accountId: thief.id }), { provisionedId: q.id }), 'PROVISION_NOT_FOUND');
        assert.equal((await store.getRun(q.id))?.status, 'provisioned');
      });

      test('an expired provisioned id cannot be used; only expired unused ones are deleted', async () => {
        const now = Date.now();
        const expired = await provision({ createdAt: 1, expiresAt: 2 });
        const fresh = await provision({ expiresAt: now + 60_000 });
        const usedLate = await provision({ createdAt: 1, expiresAt: now + 60_000 });
        await store.createRun(newRun(), { provisionedId: usedLate.id });
        await rejectsWith(store.createRun(newRun(), { provisionedId: expired.id }), 'PROVISION_NOT_FOUND');
        const deleted = await store.deleteExpiredProvisions(now + 1000);
        assert.ok(deleted.includes(expired.id));
        assert.ok(!deleted.includes(fresh.id), 'an unexpired id stays');
        assert.ok(!deleted.includes(usedLate.id), 'a used id is a run now, never deleted');
        assert.equal(await store.getRun(expired.id), undefined);
        assert.equal((await store.getRun(fresh.id))?.status, 'provisioned');
        assert.equal((await store.getRun(usedLate.id))?.status, 'queued');
        assert.deepEqual(await store.deleteExpiredProvisions(now + 1000), [], 'nothing is deleted twice');
      });
    });

    describe('one-time keys', () => {
      test('spent by exactly one of many concurrent runs; the losers leave no run behind', async () => {
        const key = await newKey('one_time');
        const runs = Array.from({ length: 20 }, () => newRun());
        const results = await Promise.allSettled(runs.map((r) => store.createRun(r, { spendKeyId: key.id })));
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [runs[i]!.id] : []));
        assert.equal(won.length, 1);
        for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as RunletError).code, 'KEY_SPENT');
        for (const r of runs) assert.equal((await store.getRun(r.id)) !== undefined, r.id === won[0], `run ${r.id} exists only if it won`);
        const spent = (await store.findApiKeyByHash(hashOf(key.id)))!;
        assert.equal(spent.spentRunId, won[0]);
        assert.equal(typeof spent.spentAt, 'number');
      });

      test('spent by exactly one of many concurrent provisions', async () => {
        const key = await newKey('one_time');
        const results = await Promise.allSettled(Array.from({ length: 10 }, () => provision({ keyId: key.id }, { spendKeyId: key.id })));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as RunletError).code, 'KEY_SPENT');
      });

      test('a run that cannot be created does not spend the key (one transaction)', async () => {
        const key = await newKey('one_time');
        await rejectsWith(store.createRun(newRun(), { provisionedId: newRequestId(), spendKeyId: key.id }), 'PROVISION_NOT_FOUND');
        assert.equal((await store.findApiKeyByHash(hashOf(key.id)))!.spentAt, null);
        const run = await store.createRun(newRun(), { spendKeyId: key.id });
        assert.equal((await store.findApiKeyByHash(hashOf(key.id)))!.spentRunId, run.id);
      });

      test('a key spent by provisioning starts exactly that provisioned run, once, and no other', async () => {
        const key = await newKey('one_time');
        const p = await provision({ keyId: key.id }, { spendKeyId: key.id });
        assert.equal((await store.findApiKeyByHash(hashOf(key.id)))!.spentRunId, p.id);
        await rejectsWith(store.createRun(newRun(), { spendKeyId: key.id }), 'KEY_SPENT');
        const otherProvision = await provision();
        await rejectsWith(store.createRun(newRun(), { provisionedId: otherProvision.id, spendKeyId: key.id }), 'KEY_SPENT');
        assert.equal((await store.getRun(otherProvision.id))?.status, 'provisioned', 'the other provisioned id is untouched');
        await rejectsWith(provision({}, { spendKeyId: key.id }), 'KEY_SPENT');
        const run = await store.createRun(newRun(), { provisionedId: p.id, spendKeyId: key.id });
        assert.equal(run.id, p.id);
        await rejectsWith(store.createRun(newRun(), { provisionedId: p.id, spendKeyId: key.id }), 'PROVISION_USED');
      });

      test('a key spent by a run cannot provision; a failed provision leaves no record', async () => {
        const key = await newKey('one_time');
        await store.createRun(newRun(), { spendKeyId: key.id });
        const id = newRequestId();
        await rejectsWith(store.provisionRun({ id, accountId, keyId: key.id, createdAt: Date.now(), expiresAt: Date.now() + 60_000, nodeId: 'n' }, { spendKeyId: key.id }), 'KEY_SPENT');
        assert.equal(await store.getRun(id), undefined);
      });
    });

    describe('running and ending runs', () => {
      test('markRunning takes a queued run once, counting the attempt', async () => {
        const run = await store.createRun(newRun({ mode: 'sync' }));
        assert.equal(await store.markRunning(run.id, 'node-b', 5000, 9000), true);
        const running = (await store.getRun(run.id))!;
        assert.deepEqual([running.status, running.startedAt, running.nodeId, running.leaseExpiresAt, running.attempt], ['running', 5000, 'node-b', 9000, 1]);
        assert.equal(await store.markRunning(run.id, 'node-b', 6000, 9000), false);
        assert.equal((await store.getRun(run.id))!.startedAt, 5000, 'the second call changed nothing');
        assert.equal(await store.markRunning((await provision()).id, 'node-b', 1, 2), false, 'a provisioned id is not a run yet');
        assert.equal(await store.markRunning(newRequestId(), 'node-b', 1, 2), false);
      });

      test('a run ends exactly once, and only by the node that holds it when one is named', async () => {
        const run = await store.createRun(newRun({ mode: 'sync' }));
        await store.markRunning(run.id, 'node-a', Date.now(), Date.now() + 1000);
        assert.equal(await store.completeRun(run.id, completed(), 'node-b'), undefined, 'another node cannot end it');
        const answered = await store.completeRun(run.id, completed({ completedAt: 777 }), 'node-a');
        assert.equal(await store.completeRun(run.id, completed({ status: 'failed' }), 'node-a'), undefined, 'the first ending stands');
        assert.equal(await store.completeRun(run.id, completed({ status: 'failed' })), undefined, 'even without an owner');
        const ended = (await store.getRun(run.id))!;
        assert.deepEqual(answered, ended, 'the ending answers the run exactly as it is stored');
        assert.deepEqual([ended.status, ended.completedAt, ended.responseStatus, ended.responseContentType, ended.leaseExpiresAt, ended.attempt], ['completed', 777, 200, 'application/json', null, 1]);
        assert.deepEqual(ended.responseBody, Buffer.from('{"ok":true}'));
        assert.equal(await store.markRunning(run.id, 'node-a', 1, 2), false, 'an ended run never runs again');
      });

      // The embedded store journals sync runs before it indexes them: each mode takes its own path.
      for (const mode of ['async', 'sync'] as const) {
        test(`of many concurrent endings exactly one wins (${mode})`, async () => {
          const run = await store.createRun(newRun({ mode }));
          const statuses = ['completed', 'failed', 'timed_out', 'cancelled', 'failed', 'completed'] as const;
          const wins = await Promise.all(statuses.map((status) => store.completeRun(run.id, completed({ status }))));
          const won = wins.filter((w) => w !== undefined);
          assert.equal(won.length, 1);
          assert.equal((await store.getRun(run.id))!.status, statuses[wins.indexOf(won[0])]);
          assert.equal(won[0]!.status, statuses[wins.indexOf(won[0])]);
        });

        test(`a failure is recorded with its error and code, also for a run that never started (${mode})`, async () => {
          const run = await store.createRun(newRun({ mode }));
          assert.equal((await store.completeRun(run.id, { status: 'failed', completedAt: 10, error: 'it broke', errorCode: 'WORKER_START_FAILED' }))?.status, 'failed');
          const failed = (await store.getRun(run.id))!;
          assert.deepEqual(
            [failed.status, failed.error, failed.errorCode, failed.responseStatus, failed.responseBody, failed.startedAt],
            ['failed', 'it broke', 'WORKER_START_FAILED', null, null, null],
          );
          assert.equal(await store.completeRun((await provision()).id, completed()), undefined, 'a provisioned id cannot end');
          assert.equal(await store.completeRun(newRequestId(), completed()), undefined);
        });

        test(`cancelRun ends a provisioned, queued or running run (held by any node) once; an ended run stays as it was (${mode})`, async () => {
          const at = Date.now();
          const queued = await store.createRun(newRun({ mode }));
          const running = await store.createRun(newRun({ mode }));
          await store.markRunning(running.id, 'node-b', at, at + 1000);
          const provisioned = await provision();
          const done = await store.createRun(newRun({ mode }));
          await store.completeRun(done.id, completed());
          for (const run of [queued, running, provisioned]) {
            assert.equal(await store.cancelRun(run.id, at, 'Cancelled by key cwk-abc.'), true);
            const after = (await store.getRun(run.id))!;
            assert.deepEqual([after.status, after.completedAt, after.error, after.errorCode], ['cancelled', at, 'Cancelled by key cwk-abc.', 'RUN_CANCELLED']);
            assert.equal(await store.cancelRun(run.id, at + 5, 'again'), false, 'only the first cancel counts');
          }
          assert.equal(await store.cancelRun(done.id, at, 'late'), false);
          assert.equal((await store.getRun(done.id))!.status, 'completed');
          assert.equal(await store.completeRun(running.id, completed(), 'node-b'), undefined, 'the node running it cannot end it after');
          await rejectsWith(store.createRun(newRun(), { provisionedId: provisioned.id }), 'PROVISION_USED');
        });
      }

      test('a sync run just recorded, started or ended is seen at once by every reader of runs', async () => {
        const now = Date.now();
        const service = unique('seen');
        const queued = await store.createRun(newRun({ serviceId: service, mode: 'sync', createdAt: now, leaseExpiresAt: now + 30_000 }));
        const running = await store.createRun(newRun({ serviceId: service, mode: 'sync', createdAt: now + 1, startedAt: now + 1, leaseExpiresAt: now + 30_000 }));
        const ended = await store.createRun(newRun({ serviceId: service, mode: 'sync', createdAt: now + 2, startedAt: now + 2, leaseExpiresAt: now + 30_000 }));
        await store.completeRun(ended.id, completed({ completedAt: now + 3 }), 'node-a', attemptRowOf(ended, completed({ completedAt: now + 3 }), 'node-a', null));
        const listed = await store.listRuns({ accountId, serviceId: service, limit: 10 });
        assert.deepEqual(listed.map((r) => [r.id, r.status]), [[ended.id, 'completed'], [running.id, 'running'], [queued.id, 'queued']]);
        const counts = await store.countAccountRuns(accountId);
        assert.ok(counts.queued >= 1 && counts.running >= 1);
        const timings = (await store.runTimings(accountId, now, 100)).filter((t) => t.serviceId === service);
        assert.deepEqual(timings.map((t) => [t.status, t.completedAt]), [['completed', now + 3], ['running', null], ['queued', null]]);
        assert.deepEqual((await store.listAttempts(ended.id)).map((a) => [a.attempt, a.status]), [[1, 'completed']]);
        assert.deepEqual((await store.getRunRecord(ended.id))!.attempts.map((a) => a.attempt), [1]);
        assert.deepEqual((await store.findOrphanedRuns({ leaseExpiredBefore: now + 60_000 })).map((r) => r.id).filter((id) => id !== ended.id && [queued.id, running.id].includes(id)).sort(), [queued.id, running.id].sort());
        assert.equal(await store.requeueRun(running.id), true, 'a write through the tables finds it');
        assert.equal((await store.getRun(running.id))!.status, 'queued');
      });

      test('an attempt is recorded with a sync run whose ending lost, once per number', async () => {
        const run = await store.createRun(newRun({ mode: 'sync', startedAt: 100, leaseExpiresAt: 30_000 }));
        const attempt = attemptRowOf(run, completed(), 'node-a', null);
        assert.equal(await store.completeRun(run.id, completed(), 'node-b', attempt), undefined, 'another node cannot end it');
        assert.equal((await store.completeRun(run.id, completed(), 'node-a', attempt))?.status, 'completed');
        assert.deepEqual((await store.getRunRecord(run.id))!.attempts.map((a) => [a.attempt, a.nodeId]), [[1, 'node-a']]);
        await store.extendLeases('node-a', [run.id], 99_000);
        assert.equal((await store.getRun(run.id))!.leaseExpiresAt, null, 'an ended run holds no lease');
      });

      test('requeueRun puts only a running run back in the queue, unowned', async () => {
        const service = unique('requeue');
        const run = await store.createRun(newRun({ serviceId: service }));
        assert.equal(await store.requeueRun(run.id), false, 'a queued run is not running');
        await store.claimQueuedRuns({ serviceId: service, limit: 1, nodeId: 'node-a', now: Date.now(), leaseExpiresAt: Date.now() + 1000 });
        assert.equal(await store.requeueRun(run.id), true);
        const requeued = (await store.getRun(run.id))!;
        assert.deepEqual([requeued.status, requeued.nodeId, requeued.leaseExpiresAt], ['queued', null, null]);
        assert.equal(await store.countQueuedRuns(service), 1);
        const again = await store.claimQueuedRuns({ serviceId: service, limit: 1, nodeId: 'node-b', now: Date.now(), leaseExpiresAt: Date.now() + 1000 });
        assert.deepEqual(again.map((r) => [r.id, r.attempt, r.nodeId]), [[run.id, 2, 'node-b']]);
        await store.completeRun(run.id, completed());
        assert.equal(await store.requeueRun(run.id), false, 'an ended run stays ended');
      });
    });

    describe('the queue', () => {
      test('claims: oldest first, within the limit, queued async runs of that service only, never twice', async () => {
        const service = unique('claim');
        const base = Date.now();
        const ids: string[] = [];
        // Created out of order: the claim order is createdAt, not insertion.
        for (const i of [3, 0, 5, 1, 4, 2]) ids[i] = (await store.createRun(newRun({ serviceId: service, createdAt: base + i }))).id;
        await store.createRun(newRun({ serviceId: service, mode: 'sync', createdAt: base - 10 }));
        await store.createRun(newRun({ serviceId: `${service}-other`, createdAt: base - 10 }));
        await provision({ createdAt: base - 10 });
        assert.ok((await store.servicesWithQueuedRuns()).includes(service));
        assert.equal(await store.countQueuedRuns(service), 6);
        assert.deepEqual(await store.claimQueuedRuns({ serviceId: service, limit: 0, nodeId: 'node-a', now: base, leaseExpiresAt: base + 1000 }), []);
        const first = await store.claimQueuedRuns({ serviceId: service, limit: 2, nodeId: 'node-a', now: base + 50, leaseExpiresAt: base + 1000 });
        assert.deepEqual(first.map((r) => r.id), ids.slice(0, 2));
        for (const r of first) assert.deepEqual([r.status, r.nodeId, r.attempt, r.startedAt, r.leaseExpiresAt, r.mode], ['running', 'node-a', 1, base + 50, base + 1000, 'async']);
        assert.equal(await store.countQueuedRuns(service), 4);
        const racing = await Promise.all([store.claimQueuedRuns({ serviceId: service, limit: 3, nodeId: 'node-b', now: base, leaseExpiresAt: base + 1000 }), store.claimQueuedRuns({ serviceId: service, limit: 3, nodeId: 'node-c', now: base, leaseExpiresAt: base + 1000 })]);
        const claimed = racing.flat().map((r) => r.id);
        assert.equal(new Set(claimed).size, claimed.length, 'no run claimed twice');
        assert.deepEqual(claimed.sort(), ids.slice(2).sort());
        assert.deepEqual(await store.claimQueuedRuns({ serviceId: service, limit: 5, nodeId: 'node-a', now: base, leaseExpiresAt: base + 1000 }), []);
        assert.equal(await store.countQueuedRuns(service), 0);
        assert.ok(!(await store.servicesWithQueuedRuns()).includes(service), 'a service with nothing queued is not listed');
      });

      test('many concurrent claimers take every run exactly once', async () => {
        const service = unique('claim-race');
        const ids = new Set<string>();
        for (let i = 0; i < 30; i++) ids.add((await store.createRun(newRun({ serviceId: service, createdAt: Date.now() + i }))).id);
        const batches = await Promise.all(Array.from({ length: 12 }, (_, i) => store.claimQueuedRuns({ serviceId: service, limit: 4, nodeId: `node-${i}`, now: Date.now(), leaseExpiresAt: Date.now() + 1000 })));
        const claimed = batches.flat().map((r) => r.id);
        assert.ok(batches.every((b) => b.length <= 4));
        assert.equal(claimed.length, new Set(claimed).size);
        assert.deepEqual(new Set(claimed), ids);
      });

      test("a service's cap on runs at once holds for claims and starts from every node, even when they race", async () => {
        const service = unique('capped');
        const ids: string[] = [];
        for (let i = 0; i < 12; i++) ids.push((await store.createRun(newRun({ serviceId: service, createdAt: Date.now() + i }))).id);
        const sync = await store.createRun(newRun({ serviceId: service, mode: 'sync' }));
        const now = Date.now();
        // Twelve nodes race for a cap of 3: three runs start, whoever claims them.
        const batches = await Promise.all(Array.from({ length: 12 }, (_, i) => store.claimQueuedRuns({ serviceId: service, limit: 2, nodeId: `node-${i}`, now, leaseExpiresAt: now + 1000, clusterMax: 3 })));
        const running = batches.flat();
        assert.equal(running.length, 3);
        const within = { serviceId: service, max: 3 };
        assert.equal(await store.markRunning(sync.id, 'node-x', now, now + 1000, within), false, 'no room for the sync run');
        assert.equal((await store.getRun(sync.id))!.status, 'queued', 'it stays queued, to try again');
        await store.completeRun(running[0]!.id, completed());
        // One place freed, and a claim and a start race for it: exactly one gets it.
        const [claimed, started] = await Promise.all([store.claimQueuedRuns({ serviceId: service, limit: 5, nodeId: 'node-y', now, leaseExpiresAt: now + 1000, clusterMax: 3 }), store.markRunning(sync.id, 'node-x', now, now + 1000, within)]);
        assert.equal(claimed.length + (started ? 1 : 0), 1);
        assert.equal(await store.countQueuedRuns(service), 12 - 3 - claimed.length);
        // Without a cap, claims are bounded only by their own limit.
        assert.equal((await store.claimQueuedRuns({ serviceId: service, limit: 2, nodeId: 'node-z', now, leaseExpiresAt: now + 1000 })).length, 2);
      });
    });

    describe('leases and orphans', () => {
      test('orphans: running runs and waiting sync runs, by node, not ended or queued async ones', async () => {
        const now = Date.now();
        const service = unique('orphan');
        const dead = unique('dead');
        const running = await store.createRun(newRun({ serviceId: service, nodeId: dead }));
        await store.claimQueuedRuns({ serviceId: service, limit: 1, nodeId: dead, now, leaseExpiresAt: now + 50 });
        const waitingSync = await store.createRun(newRun({ serviceId: service, mode: 'sync', nodeId: dead, leaseExpiresAt: now + 50 }));
        const queuedAsync = await store.createRun(newRun({ serviceId: service, nodeId: dead, createdAt: now + 1 }));
        const ended = await store.createRun(newRun({ serviceId: service, mode: 'sync', nodeId: dead }));
        await store.completeRun(ended.id, completed());
        const byNode = (await store.findOrphanedRuns({ nodeId: dead })).map((r) => r.id);
        assert.deepEqual(byNode.sort(), [running.id, waitingSync.id].sort());
        const notAlive = (await store.findOrphanedRuns({ notNodeId: 'alive' })).map((r) => r.id);
        assert.ok(notAlive.includes(running.id) && notAlive.includes(waitingSync.id));
        assert.ok(!notAlive.includes(queuedAsync.id) && !notAlive.includes(ended.id));
        const notDead = (await store.findOrphanedRuns({ notNodeId: dead })).map((r) => r.id);
        assert.ok(!notDead.includes(running.id) && !notDead.includes(waitingSync.id), "a node's own runs are not orphans to it");
      });

      test('orphans by lapsed lease; a renewed lease is not lapsed; only the holder renews, only active runs', async () => {
        const now = Date.now();
        const service = unique('lease');
        const a = await store.createRun(newRun({ serviceId: service }));
        await store.claimQueuedRuns({ serviceId: service, limit: 1, nodeId: 'holder', now, leaseExpiresAt: now + 50 });
        const b = await store.createRun(newRun({ serviceId: service, mode: 'sync', nodeId: 'holder', leaseExpiresAt: now + 50 }));
        const lapsed = (await store.findOrphanedRuns({ leaseExpiredBefore: now + 100 })).map((r) => r.id);
        assert.ok(lapsed.includes(a.id) && lapsed.includes(b.id));
        assert.ok(!(await store.findOrphanedRuns({ leaseExpiredBefore: now + 10 })).some((r) => r.id === a.id), 'not before the lease ends');
        await store.extendLeases('someone-else', [a.id, b.id], now + 10_000);
        assert.equal((await store.getRun(a.id))!.leaseExpiresAt, now + 50, 'another node cannot renew');
        await store.extendLeases('holder', [a.id, b.id], now + 10_000);
        assert.equal((await store.getRun(a.id))!.leaseExpiresAt, now + 10_000);
        assert.equal((await store.getRun(b.id))!.leaseExpiresAt, now + 10_000);
        assert.ok(!(await store.findOrphanedRuns({ leaseExpiredBefore: now + 100 })).some((r) => r.id === a.id || r.id === b.id));
        await store.extendLeases('holder', [], now + 20_000);
        await store.completeRun(a.id, completed());
        await store.extendLeases('holder', [a.id], now + 20_000);
        assert.equal((await store.getRun(a.id))!.leaseExpiresAt, null, 'an ended run holds no lease');
      });

      test('an orphan is adopted by exactly one node, then requeued and claimed as a second attempt', async () => {
        const now = Date.now();
        const service = unique('adopt');
        const a = await store.createRun(newRun({ serviceId: service }));
        await store.claimQueuedRuns({ serviceId: service, limit: 1, nodeId: 'gone', now, leaseExpiresAt: now + 50 });
        assert.equal(await store.adoptRun(a.id, 'not-the-holder', 'n0'), false);
        const adoptions = await Promise.all([store.adoptRun(a.id, 'gone', 'n1'), store.adoptRun(a.id, 'gone', 'n2'), store.adoptRun(a.id, 'gone', 'n3')]);
        assert.equal(adoptions.filter(Boolean).length, 1);
        const adopter = ['n1', 'n2', 'n3'][adoptions.indexOf(true)];
        assert.equal((await store.getRun(a.id))!.nodeId, adopter);
        assert.equal(await store.requeueRun(a.id), true);
        assert.equal((await store.claimQueuedRuns({ serviceId: service, limit: 1, nodeId: 'n1', now, leaseExpiresAt: now + 1000 }))[0]?.attempt, 2);
        await store.completeRun(a.id, completed());
        assert.equal(await store.adoptRun(a.id, 'n1', 'n2'), false, 'an ended run is nobody to adopt');
      });

      test('a run whose lease its holder renewed after it was found lapsed is not adopted', async () => {
        const now = Date.now();
        const service = unique('renewed');
        const a = await store.createRun(newRun({ serviceId: service }));
        await store.claimQueuedRuns({ serviceId: service, limit: 1, nodeId: 'slow-holder', now, leaseExpiresAt: now + 50 });
        const found = (await store.findOrphanedRuns({ leaseExpiredBefore: now + 100 })).find((r) => r.id === a.id);
        assert.ok(found, 'its lease lapsed');
        await store.extendLeases('slow-holder', [a.id], now + 10_000);
        assert.equal(await store.adoptRun(a.id, 'slow-holder', 'adopter', now + 100), false, 'renewed since it was found');
        assert.equal((await store.getRun(a.id))!.nodeId, 'slow-holder');
        assert.equal(await store.adoptRun(a.id, 'slow-holder', 'adopter', now + 20_000), true, 'lapsed again');
      });

      test("a claim's runs are found by its number: only its own, still running on its node, their leases renewed", async () => {
        const now = Date.now();
        const service = unique('lost-claim');
        const node = unique('node');
        const mine = [await store.createRun(newRun({ serviceId: service, createdAt: now })), await store.createRun(newRun({ serviceId: service, createdAt: now + 1 }))];
        const later = await store.createRun(newRun({ serviceId: service, createdAt: now + 2 }));
        const taken = await store.claimQueuedRuns({ serviceId: service, limit: 2, nodeId: node, claimNumber: 7, now, leaseExpiresAt: now + 50 });
        assert.deepEqual(taken.map((r) => [r.id, r.claimNumber]), mine.map((r) => [r.id, 7]));
        await store.claimQueuedRuns({ serviceId: service, limit: 1, nodeId: node, claimNumber: 8, now, leaseExpiresAt: now + 50 });
        // Another node's claim of the same number takes nothing of this node's.
        const elsewhere = await store.createRun(newRun({ serviceId: service, createdAt: now + 3 }));
        await store.claimQueuedRuns({ serviceId: service, limit: 1, nodeId: unique('other'), claimNumber: 7, now, leaseExpiresAt: now + 50 });

        const found = await store.takeClaimedRuns(node, 7, now + 10_000);
        assert.deepEqual(found.map((r) => [r.id, r.status, r.leaseExpiresAt]), mine.map((r) => [r.id, 'running', now + 10_000]));
        assert.equal((await store.getRun(mine[0]!.id))!.leaseExpiresAt, now + 10_000, 'the lease is renewed in the store');
        assert.equal((await store.getRun(later.id))!.leaseExpiresAt, now + 50, "claim 8's run is not touched");
        assert.equal((await store.getRun(elsewhere.id))!.leaseExpiresAt, now + 50, "another node's claim 7 is not touched");
        // Again (its answer lost too): the same runs.
        assert.deepEqual((await store.takeClaimedRuns(node, 7, now + 20_000)).map((r) => r.id), mine.map((r) => r.id));

        // An ended run, and one another node adopted, are no longer this claim's.
        await store.completeRun(mine[0]!.id, completed());
        assert.equal(await store.adoptRun(mine[1]!.id, node, 'adopter'), true);
        assert.equal((await store.getRun(mine[1]!.id))!.claimNumber, null, 'adoption forgets the claim');
        assert.deepEqual(await store.takeClaimedRuns(node, 7, now + 30_000), []);
        assert.deepEqual(await store.takeClaimedRuns('adopter', 7, now + 30_000), [], "the adopter's own claim 7 is another claim");
      });
    });

    describe('run listing', () => {
      test("an account's own runs, newest first, filtered by service and status, paged by cursor", async () => {
        const own = (await store.createAccount(unique('lister'))).id;
        const other = (await store.createAccount(unique('other'))).id;
        const [alpha, beta] = [unique('alpha'), unique('beta')];
        const base = Date.now();
        const made = [];
        for (let i = 0; i < 5; i++) made.push(await store.createRun(newRun({ accountId: own, serviceId: i % 2 ? beta : alpha, createdAt: base + i })));
        // Two runs in the same millisecond: the id breaks the tie, so paging skips neither.
        made.push(await store.createRun(newRun({ accountId: own, serviceId: alpha, createdAt: base + 4 })));
        await store.createRun(newRun({ accountId: other, serviceId: alpha, createdAt: base + 9 }));
        await provision({ accountId: own, createdAt: base + 10 });
        await store.completeRun(made[0]!.id, completed());

        const newestFirst = [...made].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).map((r) => r.id);
        const all = await store.listRuns({ accountId: own, limit: 100 });
        assert.deepEqual(all.map((r) => r.id), newestFirst, 'no provisioned ids, no other account');

        const pages: string[] = [];
        let before: { createdAt: number; id: string } | undefined;
        for (;;) {
          const page = await store.listRuns({ accountId: own, limit: 2, before });
          pages.push(...page.map((r) => r.id));
          if (page.length < 2) break;
          const last = page[page.length - 1]!;
          before = { createdAt: last.createdAt, id: last.id };
        }
        assert.deepEqual(pages, newestFirst);

        assert.deepEqual((await store.listRuns({ accountId: own, serviceId: beta, limit: 100 })).map((r) => r.serviceId), [beta, beta]);
        assert.deepEqual((await store.listRuns({ accountId: own, status: 'completed', limit: 100 })).map((r) => r.id), [made[0]!.id]);
        assert.equal((await store.listRuns({ accountId: own, status: 'provisioned', limit: 100 })).length, 1);
        assert.equal((await store.listRuns({ accountId: own, serviceId: alpha, status: 'failed', limit: 100 })).length, 0);
      });

      test('timings: runs since a time with their start and end, no provisioned ids, within a limit', async () => {
        const own = (await store.createAccount(unique('usage'))).id;
        const base = Date.now();
        const old = await store.createRun(newRun({ accountId: own, createdAt: base - 10_000 }));
        const fresh = await store.createRun(newRun({ accountId: own, createdAt: base }));
        await store.markRunning(fresh.id, 'node-a', base + 5, base + 60_000);
        await store.completeRun(fresh.id, completed({ completedAt: base + 25 }));
        await provision({ accountId: own, createdAt: base });
        const timings = await store.runTimings(own, base - 1000, 100);
        assert.deepEqual(timings, [{ serviceId: 'svc', status: 'completed', createdAt: base, startedAt: base + 5, completedAt: base + 25, responseStatus: 200 }]);
        assert.equal((await store.runTimings(own, base - 20_000, 100)).length, 2);
        assert.equal((await store.runTimings(own, base - 20_000, 1))[0]!.createdAt, base, 'the newest within the limit');
        assert.ok(old);
      });
    });

    describe('logs', () => {
      const line = (runId: string, seq: number, over: Partial<StoredLogLine> = {}): StoredLogLine => ({
        runId,
        seq,
        createdAt: 1000 + seq,
        timeMicros: 1_000_000 + seq * 1000 + 7,
        level: 'info',
        source: 'stdout',
        message: `line ${seq}`,
        fields: null,
        ...over,
      });

      test('appended in batches, read in order after a seq within a limit, the last one known', async () => {
        const run = await store.createRun(newRun());
        const other = await store.createRun(newRun());
        await store.appendLogs([line(run.id, 1), line(run.id, 2, { level: 'warn', source: 'logger', fields: { k: [1, 'x'], n: { deep: true } } })]);
        await store.appendLogs([line(other.id, 1, { message: 'other run' })]);
        await store.appendLogs([line(run.id, 3), line(run.id, 4, { level: 'error', source: 'stderr' }), line(run.id, 5, { source: 'runtime', message: 'ünïcødé ✓ "quoted"\ttab' })]);
        await store.appendLogs([]);
        const all = await store.readLogs(run.id, 0, 100);
        assert.deepEqual(all.map((l) => l.seq), [1, 2, 3, 4, 5]);
        assert.deepEqual(all[1], line(run.id, 2, { level: 'warn', source: 'logger', fields: { k: [1, 'x'], n: { deep: true } } }), 'every field round-trips');
        assert.deepEqual(all[3]!.level, 'error');
        assert.equal(all[4]!.message, 'ünïcødé ✓ "quoted"\ttab');
        assert.equal(all[0]!.fields, null);
        assert.deepEqual((await store.readLogs(run.id, 2, 2)).map((l) => l.message), ['line 3', 'line 4']);
        assert.deepEqual(await store.readLogs(run.id, 5, 100), []);
        assert.deepEqual((await store.readLogs(other.id, 0, 100)).map((l) => l.message), ['other run'], "one run's lines never show in another's");
        assert.equal((await store.lastLogLine(run.id))?.seq, 5);
        assert.equal(await store.lastLogLine(newRequestId()), undefined);
      });

      test('reads in seq order whatever order the lines were appended in', async () => {
        const run = await store.createRun(newRun());
        await store.appendLogs([line(run.id, 3), line(run.id, 1)]);
        await store.appendLogs([line(run.id, 2)]);
        assert.deepEqual((await store.readLogs(run.id, 0, 10)).map((l) => l.seq), [1, 2, 3]);
        assert.equal((await store.lastLogLine(run.id))?.seq, 3);
      });

      test('a large batch is stored whole, and paged reads see every line once', async () => {
        const run = await store.createRun(newRun());
        await store.appendLogs(Array.from({ length: 2500 }, (_, i) => line(run.id, i + 1)));
        const seen: number[] = [];
        for (let after = 0; ; ) {
          const page = await store.readLogs(run.id, after, 1000);
          seen.push(...page.map((l) => l.seq));
          if (page.length < 1000) break;
          after = page.at(-1)!.seq;
        }
        assert.deepEqual(seen, Array.from({ length: 2500 }, (_, i) => i + 1));
      });
    });

    describe('files', () => {
      const newFile = async (over: Partial<NewFile> = {}) => {
        const now = Date.now();
        return store.createFile({
          id: newFileId(),
          accountId,
          name: 'a.txt',
          backend: 'local',
          storageKey: unique('obj'),
          contentType: 'text/plain',
          declaredSize: null,
          createdAt: now,
          uploadExpiresAt: now + 60_000,
          expiresAt: now + 120_000,
          ...over,
        });
      };
      const done = (size: number) => ({ size, sha256: 'abc', contentType: null, completedAt: Date.now() });

      test('a file is pending until one uploader claims it, then ready with its size, hash and type', async () => {
        const file = await newFile({ declaredSize: 5 });
        assert.deepEqual([file.status, file.size, file.declaredSize, file.nodeId], ['pending', null, 5, null]);
        const claims = await Promise.all([store.claimUpload(file.id, 'n1', 10), store.claimUpload(file.id, 'n2', 10)]);
        assert.equal(claims.filter(Boolean).length, 1);
        const holder = claims[0] ? 'n1' : 'n2';
        assert.equal(await store.completeUpload(file.id, holder === 'n1' ? 'n2' : 'n1', done(5), 0), 'gone', 'only the uploader completes');
        assert.equal(await store.completeUpload(file.id, holder, done(5), 0), 'completed');
        const ready = (await store.getFile(file.id))!;
        assert.deepEqual([ready.status, ready.size, ready.sha256, ready.contentType, ready.nodeId], ['ready', 5, 'abc', 'text/plain', null]);
        assert.equal(await store.claimUpload(file.id, 'n1', 11), false, 'a ready file takes no second upload');
        assert.equal(await store.getFile(newFileId()), undefined);
      });

      test('an interrupted upload is released by its uploader only, and the file can be uploaded again', async () => {
        const file = await newFile();
        assert.equal(await store.claimUpload(file.id, 'n1', 10), true);
        assert.equal(await store.releaseUpload(file.id, 'n2'), false);
        assert.equal(await store.releaseUpload(file.id, 'n1'), true);
        assert.equal((await store.getFile(file.id))!.status, 'pending');
        assert.equal(await store.claimUpload(file.id, 'n2', 11), true);
        assert.equal(await store.completeUpload(file.id, 'n2', { size: 3, sha256: null, contentType: 'image/png', completedAt: 12 }, 0), 'completed');
        assert.equal((await store.getFile(file.id))!.contentType, 'image/png', 'a type found at upload replaces the declared one');
      });

      test('the quota counts ready bytes per account, checked when an upload completes', async () => {
        const other = await store.createAccount('quota');
        const mine = async (size: number) => {
          const f = await newFile({ accountId: other.id });
          await store.claimUpload(f.id, 'n', Date.now());
          return store.completeUpload(f.id, 'n', done(size), 100);
        };
        assert.equal(await mine(60), 'completed');
        assert.equal(await mine(41), 'quota_exceeded');
        assert.equal(await mine(40), 'completed');
        assert.equal(await store.storageUsed(other.id), 100);
        const pending = await newFile({ accountId: other.id });
        await store.claimUpload(pending.id, 'n', Date.now());
        assert.equal(await store.completeUpload(pending.id, 'n', done(1_000_000), 0), 'completed', 'quota 0 means none');
      });

      test('listing is newest first and pages by cursor; deletion is per account', async () => {
        const other = await store.createAccount('lists');
        const base = Date.now();
        const files = [];
        for (let i = 0; i < 5; i++) files.push(await newFile({ accountId: other.id, createdAt: base + i }));
        const first = await store.listFiles(other.id, { limit: 2 });
        assert.deepEqual(first.map((f) => f.id), [files[4]!.id, files[3]!.id]);
        const next = await store.listFiles(other.id, { limit: 10, before: { createdAt: first[1]!.createdAt, id: first[1]!.id } });
        assert.deepEqual(next.map((f) => f.id), [files[2]!.id, files[1]!.id, files[0]!.id]);
        assert.equal(await store.deleteFile(files[0]!.id, accountId), undefined, 'not through another account');
        assert.equal((await store.deleteFile(files[0]!.id, other.id))?.id, files[0]!.id);
        assert.equal((await store.deleteFile(files[1]!.id))?.id, files[1]!.id);
        assert.equal(await store.deleteFile(files[1]!.id), undefined);
        assert.equal((await store.listFiles(other.id, { limit: 10 })).length, 3);
      });

      test('collectable: expired files, lapsed pending uploads and stale uploads; orphaned uploads released', async () => {
        const now = Date.now();
        const expired = await newFile({ expiresAt: now - 1 });
        const lapsed = await newFile({ uploadExpiresAt: now - 1 });
        const stale = await newFile();
        await store.claimUpload(stale.id, 'dead-node', now - 10_000);
        const live = await newFile();
        await store.claimUpload(live.id, 'this-node', now);
        const fine = await newFile();
        const found = (await store.findCollectableFiles(now, now - 5000, 1000)).map((f) => f.id);
        assert.ok(found.includes(expired.id) && found.includes(lapsed.id) && found.includes(stale.id));
        assert.ok(!found.includes(live.id) && !found.includes(fine.id));
        assert.ok((await store.releaseOrphanedUploads('this-node')) >= 1);
        assert.equal((await store.getFile(stale.id))!.status, 'pending');
        assert.equal((await store.getFile(live.id))!.status, 'uploading', "this node's own upload goes on");
      });
    });
  });
  runControlConformance(name, open);
  runAdmissionConformance(name, open);
  // Users and settings are server-wide: those tests need a store of their own.
  runDirectoryConformance(name, openEmpty);
}
