/**
 * What every Store must do, in the runtime's own words. Each backend runs this same suite
 * (sqlite.test.ts, postgres.test.ts): a behaviour that differs between them fails here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunletError } from '../../src/errors.js';
import { newKeyId, newRequestId } from '../../src/ids.js';
import type { NewRun, Store, StoredLogLine } from '../../src/store/store.js';

export function runStoreConformance(name: string, open: () => Promise<{ store: Store; close(): Promise<void> }>): void {
  describe(`store conformance: ${name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let accountId: string;
    before(async () => {
      ({ store, close } = await open());
      accountId = (await store.defaultAccount()).id;
    });
    after(() => close());

    const newRun = (over: Partial<NewRun> = {}): NewRun => ({
      id: newRequestId(),
      accountId,
      keyId: null,
      serviceId: 'svc',
      method: 'POST',
      path: '',
      query: null,
      mode: 'async',
      input: Buffer.from('{"a":1}'),
      inputContentType: 'application/json',
      requestHeaders: { accept: '*/*' },
      correlationId: null,
      createdAt: Date.now(),
      nodeId: 'node-a',
      ...over,
    });
    const newKey = async (kind: 'standard' | 'one_time' = 'standard', extra: { internal?: boolean; prefix?: string; hash?: string } = {}) =>
      store.createApiKey({ id: newKeyId(), accountId, kind, name: 'k', hash: extra.hash ?? `h-${Math.random()}`, prefix: extra.prefix ?? `p-${Math.random()}`, createdAt: Date.now(), internal: extra.internal });
    const rejectsWith = async (p: Promise<unknown>, code: string) => {
      await assert.rejects(p, (err: unknown) => err instanceof RunletError && err.code === code);
    };

    test('accounts: one default account however often asked; others by id', async () => {
      assert.equal((await store.defaultAccount()).id, accountId);
      const other = await store.createAccount('other');
      assert.notEqual(other.id, accountId);
      assert.equal((await store.getAccount(other.id))?.name, 'other');
      assert.equal(await store.getAccount('acc_missing'), undefined);
    });

    test('keys: found by hash, listed without internal ones, revoked by id or unique prefix, usage counted', async () => {
      const key = await newKey('standard', { prefix: 'cwk-unique1', hash: 'hash-of-unique1' });
      await newKey('standard', { internal: true });
      assert.equal((await store.findApiKeyByHash('hash-of-unique1'))?.id, key.id);
      assert.equal(await store.findApiKeyByHash('hash-of-nothing'), undefined);
      const listed = await store.listApiKeys(accountId);
      assert.ok(listed.some((k) => k.id === key.id));
      assert.ok(listed.every((k) => !k.internal));
      await store.recordKeyUsage(new Map([[key.id, { count: 3, lastUsedAt: 1000 }]]));
      await store.recordKeyUsage(new Map([[key.id, { count: 2, lastUsedAt: 500 }]]));
      const used = (await store.listApiKeys(accountId)).find((k) => k.id === key.id)!;
      assert.equal(used.useCount, 5);
      assert.equal(used.lastUsedAt, 1000);
      const revoked = await store.revokeApiKey(accountId, 'cwk-unique1', 42);
      assert.equal(revoked?.id, key.id);
      assert.equal(revoked?.revokedAt, 42);
      // A prefix two keys share revokes nothing.
      const a = await newKey('standard', { prefix: 'cwk-shared' });
      await newKey('standard', { prefix: 'cwk-shared' });
      assert.equal(await store.revokeApiKey(accountId, 'cwk-shared', 1), undefined);
      assert.equal((await store.revokeApiKey(accountId, a.id, 1))?.id, a.id);
      await store.deleteInternalKeys();
      assert.equal((await store.listApiKeys(accountId)).length, listed.length + 2);
    });

    test('runs: created queued; provisioned ids used once; unknown ones refused', async () => {
      const run = await store.createRun(newRun({ correlationId: 'c1' }));
      assert.equal(run.status, 'queued');
      assert.deepEqual(run.input, Buffer.from('{"a":1}'));
      assert.deepEqual(run.requestHeaders, { accept: '*/*' });
      const p = await store.provisionRun({ id: newRequestId(), accountId, keyId: null, createdAt: Date.now(), expiresAt: Date.now() + 60_000, nodeId: 'node-a' });
      assert.equal(p.status, 'provisioned');
      const used = await store.createRun(newRun(), { provisionedId: p.id });
      assert.equal(used.id, p.id);
      assert.equal(used.status, 'queued');
      await rejectsWith(store.createRun(newRun(), { provisionedId: p.id }), 'PROVISION_USED');
      await rejectsWith(store.createRun(newRun(), { provisionedId: 'req_unknown' }), 'PROVISION_NOT_FOUND');
      // Another account cannot take this account's provisioned id: to it the id does not exist.
      const thief = await store.createAccount('thief');
      const q = await store.provisionRun({ id: newRequestId(), accountId, keyId: null, createdAt: Date.now(), expiresAt: Date.now() + 60_000, nodeId: 'n' });
      await rejectsWith(store.createRun(newRun({ accountId: thief.id }), { provisionedId: q.id }), 'PROVISION_NOT_FOUND');
      assert.equal((await store.getRun(q.id))?.status, 'provisioned');
      const expired = await store.provisionRun({ id: newRequestId(), accountId, keyId: null, createdAt: 1, expiresAt: 2, nodeId: 'n' });
      await rejectsWith(store.createRun(newRun(), { provisionedId: expired.id }), 'PROVISION_NOT_FOUND');
      assert.ok((await store.deleteExpiredProvisions(Date.now())).includes(expired.id));
      assert.equal(await store.getRun(expired.id), undefined);
    });

    test('a one-time key is spent by exactly one of many concurrent runs', async () => {
      const key = await newKey('one_time');
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => store.createRun(newRun(), { spendKeyId: key.id })));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as RunletError).code, 'KEY_SPENT');
    });

    test('a key spent by provisioning starts exactly that provisioned run, once', async () => {
      const key = await newKey('one_time');
      const p = await store.provisionRun({ id: newRequestId(), accountId, keyId: key.id, createdAt: Date.now(), expiresAt: Date.now() + 60_000, nodeId: 'n' }, { spendKeyId: key.id });
      await rejectsWith(store.createRun(newRun(), { spendKeyId: key.id }), 'KEY_SPENT');
      const run = await store.createRun(newRun(), { provisionedId: p.id, spendKeyId: key.id });
      assert.equal(run.id, p.id);
      await assert.rejects(store.createRun(newRun(), { provisionedId: p.id, spendKeyId: key.id }));
    });

    test('claims: oldest first, within the limit, async runs of that service only, never twice', async () => {
      const service = `claim-${Math.random()}`;
      const base = Date.now();
      const ids = [];
      for (let i = 0; i < 6; i++) ids.push((await store.createRun(newRun({ serviceId: service, createdAt: base + i }))).id);
      await store.createRun(newRun({ serviceId: service, mode: 'sync', createdAt: base - 10 }));
      await store.createRun(newRun({ serviceId: `${service}-other`, createdAt: base - 10 }));
      assert.ok((await store.servicesWithQueuedRuns()).includes(service));
      assert.equal(await store.countQueuedRuns(service), 6);
      const first = await store.claimQueuedRuns(service, 2, 'node-a', base, base + 1000);
      assert.deepEqual(first.map((r) => r.id), ids.slice(0, 2));
      assert.ok(first.every((r) => r.status === 'running' && r.nodeId === 'node-a' && r.attempt === 1));
      const racing = await Promise.all([store.claimQueuedRuns(service, 3, 'node-b', base, base + 1000), store.claimQueuedRuns(service, 3, 'node-c', base, base + 1000)]);
      const claimed = racing.flat().map((r) => r.id);
      assert.equal(new Set(claimed).size, claimed.length, 'no run claimed twice');
      assert.deepEqual(claimed.sort(), ids.slice(2).sort());
      assert.deepEqual(await store.claimQueuedRuns(service, 5, 'node-a', base, base + 1000), []);
    });

    test('a run ends exactly once, and only by the node that holds it', async () => {
      const run = await store.createRun(newRun({ mode: 'sync' }));
      assert.equal(await store.markRunning(run.id, 'node-a', Date.now(), Date.now() + 1000), true);
      assert.equal(await store.markRunning(run.id, 'node-a', Date.now(), Date.now() + 1000), false);
      const outcome = { status: 'completed' as const, completedAt: Date.now(), responseStatus: 200, responseContentType: 'application/json', responseBody: Buffer.from('{"ok":true}') };
      assert.equal(await store.completeRun(run.id, outcome, 'node-b'), false, 'another node cannot end it');
      assert.equal(await store.completeRun(run.id, outcome, 'node-a'), true);
      assert.equal(await store.completeRun(run.id, { ...outcome, status: 'failed' }, 'node-a'), false, 'the first ending stands');
      const ended = (await store.getRun(run.id))!;
      assert.equal(ended.status, 'completed');
      assert.deepEqual(ended.responseBody, Buffer.from('{"ok":true}'));
      assert.equal(ended.attempt, 1);
    });

    test('orphans: found by node or by lapsed lease, adopted by exactly one node, requeued', async () => {
      const now = Date.now();
      const service = `orphan-${Math.random()}`;
      const a = await store.createRun(newRun({ serviceId: service, nodeId: 'dead' }));
      await store.claimQueuedRuns(service, 1, 'dead', now, now + 50);
      const waitingSync = await store.createRun(newRun({ serviceId: service, mode: 'sync', nodeId: 'dead', leaseExpiresAt: now + 50 }));
      const byNode = (await store.findOrphanedRuns({ nodeId: 'dead' })).map((r) => r.id);
      assert.deepEqual(byNode.sort(), [a.id, waitingSync.id].sort());
      assert.ok((await store.findOrphanedRuns({ notNodeId: 'alive' })).some((r) => r.id === a.id));
      assert.equal((await store.findOrphanedRuns({ notNodeId: 'dead' })).some((r) => r.id === a.id), false);
      assert.ok((await store.findOrphanedRuns({ leaseExpiredBefore: now + 100 })).some((r) => r.id === waitingSync.id));
      await store.extendLeases('dead', [a.id], now + 10_000);
      const lapsed = (await store.findOrphanedRuns({ leaseExpiredBefore: now + 100 })).map((r) => r.id);
      assert.ok(!lapsed.includes(a.id), 'a renewed lease is not lapsed');
      const adoptions = await Promise.all([store.adoptRun(a.id, 'dead', 'n1'), store.adoptRun(a.id, 'dead', 'n2')]);
      assert.deepEqual(adoptions.filter(Boolean).length, 1);
      assert.equal(await store.requeueRun(a.id), true);
      const requeued = (await store.getRun(a.id))!;
      assert.equal(requeued.status, 'queued');
      assert.equal((await store.claimQueuedRuns(service, 1, 'n1', now, now + 1000))[0]?.attempt, 2);
    });

    test('logs: appended in batches, read in order after a seq, the last one known', async () => {
      const run = await store.createRun(newRun());
      const line = (seq: number): StoredLogLine => ({ runId: run.id, seq, createdAt: 1000 + seq, timeMicros: 1_000_000 + seq, level: 'info', source: 'stdout', message: `line ${seq}`, fields: seq === 2 ? { k: [1, 'x'] } : null });
      await store.appendLogs([line(1), line(2)]);
      await store.appendLogs([line(3), line(4), line(5)]);
      assert.deepEqual((await store.readLogs(run.id, 0, 100)).map((l) => l.seq), [1, 2, 3, 4, 5]);
      assert.deepEqual((await store.readLogs(run.id, 2, 2)).map((l) => l.message), ['line 3', 'line 4']);
      assert.deepEqual((await store.readLogs(run.id, 0, 100))[1]!.fields, { k: [1, 'x'] });
      assert.equal((await store.lastLogLine(run.id))?.seq, 5);
      assert.equal(await store.lastLogLine('req_none'), undefined);
    });
  });
}
