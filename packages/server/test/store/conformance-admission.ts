/**
 * The store's part in admitting runs: idempotency keys and the counts behind the accounts'
 * back-pressure limits. Run on every backend by `runStoreConformance` (conformance.ts). Same
 * rules as there: each test uses ids, keys and accounts of its own.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { RunletError } from '../../src/errors.js';
import { newKeyId, newRequestId } from '../../src/ids.js';
import type { IdempotencyClaim, NewProvision, NewRun, Store } from '../../src/store/store.js';
import type { OpenedStore } from './conformance.js';
import { newRunOf } from './new-run.js';

export function runAdmissionConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`store conformance: ${name}: idempotency keys`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let accountId: string;
    beforeEach(async () => {
      ({ store, close } = await open());
      accountId = (await store.createAccount(`idem-${Math.random().toString(36).slice(2, 8)}`)).id;
    });
    afterEach(() => close());

    const newRun = (over: Partial<NewRun> = {}): NewRun => newRunOf(accountId, over);
    const newProvision = (over: Partial<NewProvision> = {}): NewProvision => ({
      id: newRequestId(),
      accountId,
      keyId: null,
      createdAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      nodeId: 'node-a',
      ...over,
    });
    const claim = (over: Partial<IdempotencyClaim> = {}): IdempotencyClaim => ({
      key: `key-${Math.random().toString(36).slice(2, 10)}`,
      fingerprint: 'f1',
      createdAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      ...over,
    });
    const reused = (err: unknown) => err instanceof RunletError && err.code === 'IDEMPOTENCY_KEY_REUSED';

    test('the same key answers the run it first recorded, replayed, and records nothing more', async () => {
      const c = claim();
      const first = await store.createRun(newRun(), { idempotency: c });
      assert.equal(first.replayed, undefined);
      const again = await store.createRun(newRun(), { idempotency: { ...c, createdAt: Date.now() } });
      assert.equal(again.id, first.id);
      assert.equal(again.replayed, true);
      assert.equal(again.status, 'queued');
      assert.equal((await store.listRuns({ accountId, limit: 10 })).length, 1, 'one run only');
    });

    test('the answer follows the run: a replay after it ended carries its stored answer', async () => {
      const c = claim();
      const first = await store.createRun(newRun({ mode: 'sync' }), { idempotency: c });
      await store.markRunning(first.id, 'node-a', Date.now(), Date.now() + 1000);
      await store.completeRun(first.id, { status: 'completed', completedAt: Date.now(), responseStatus: 201, responseContentType: 'text/plain', responseBody: Buffer.from('made') });
      const again = await store.createRun(newRun({ mode: 'sync' }), { idempotency: c });
      assert.deepEqual([again.id, again.status, again.responseStatus, again.responseContentType, again.responseBody?.toString()], [first.id, 'completed', 201, 'text/plain', 'made']);
    });

    test('the same key with another fingerprint is refused, and records nothing', async () => {
      const c = claim();
      await store.createRun(newRun(), { idempotency: c });
      await assert.rejects(store.createRun(newRun(), { idempotency: { ...c, fingerprint: 'f2' } }), reused);
      await assert.rejects(store.provisionRun(newProvision(), { idempotency: { ...c, fingerprint: 'f2' } }), reused);
      assert.equal((await store.listRuns({ accountId, limit: 10 })).length, 1);
      assert.equal((await store.listRuns({ accountId, limit: 10, status: 'provisioned' })).length, 0);
    });

    test('keys belong to their account: another account with the same key gets a run of its own', async () => {
      const c = claim();
      const mine = await store.createRun(newRun(), { idempotency: c });
      const other = (await store.createAccount('other')).id;
      const theirs = await store.createRun(newRun({ accountId: other }), { idempotency: c });
      assert.notEqual(theirs.id, mine.id);
      assert.equal(theirs.replayed, undefined);
    });

    test('an expired key is claimed afresh; swept keys are gone, live ones stay', async () => {
      const now = Date.now();
      const c = claim({ createdAt: now - 10_000, expiresAt: now - 1 });
      const old = await store.createRun(newRun(), { idempotency: c });
      const fresh = await store.createRun(newRun(), { idempotency: { ...c, fingerprint: 'other', createdAt: now, expiresAt: now + 60_000 } });
      assert.notEqual(fresh.id, old.id, 'the expired key named nothing any more');
      assert.equal(fresh.replayed, undefined);

      const lapsing = claim({ createdAt: now - 10_000, expiresAt: now - 1 });
      await store.createRun(newRun(), { idempotency: lapsing });
      const live = claim();
      const kept = await store.createRun(newRun(), { idempotency: live });
      assert.ok((await store.deleteExpiredIdempotencyKeys(now)) >= 1);
      assert.equal((await store.createRun(newRun(), { idempotency: live })).id, kept.id, 'a live key survives the sweep');
      const after = await store.createRun(newRun(), { idempotency: { ...lapsing, fingerprint: 'new', createdAt: now, expiresAt: now + 60_000 } });
      assert.equal(after.replayed, undefined, 'a swept key is free');
    });

    test('concurrent calls with one key record exactly one run, and all answer it', async () => {
      const c = claim();
      const runs = await Promise.all(Array.from({ length: 8 }, () => store.createRun(newRun(), { idempotency: c })));
      assert.equal(new Set(runs.map((r) => r.id)).size, 1);
      assert.equal(runs.filter((r) => !r.replayed).length, 1, 'one of them recorded it');
      assert.equal((await store.listRuns({ accountId, limit: 20 })).length, 1);
    });

    test('a repeated key answers its run before a one-time key is looked at; another request still spends nothing', async () => {
      const key = await store.createApiKey({ id: newKeyId(), accountId, kind: 'one_time', name: null, hash: `h-${Math.random()}`, prefix: `p-${Math.random()}`, createdAt: Date.now() });
      const c = claim();
      const runs = await Promise.all(Array.from({ length: 4 }, () => store.createRun(newRun(), { spendKeyId: key.id, idempotency: c })));
      assert.equal(new Set(runs.map((r) => r.id)).size, 1, 'every duplicate answered the run, none KEY_SPENT');
      await assert.rejects(store.createRun(newRun(), { spendKeyId: key.id, idempotency: claim() }), (err: unknown) => err instanceof RunletError && err.code === 'KEY_SPENT');
    });

    test('provisioned ids: the same key hands out the same id; a run under a provisioned id keeps its key', async () => {
      const c = claim();
      const p = await store.provisionRun(newProvision(), { idempotency: c });
      const again = await store.provisionRun(newProvision(), { idempotency: c });
      assert.deepEqual([again.id, again.replayed, again.status], [p.id, true, 'provisioned']);

      const runKey = claim();
      const run = await store.createRun(newRun(), { provisionedId: p.id, idempotency: runKey });
      assert.equal(run.id, p.id);
      const retried = await store.createRun(newRun(), { provisionedId: p.id, idempotency: runKey });
      assert.deepEqual([retried.id, retried.replayed], [p.id, true], 'a retry is answered the run, not PROVISION_USED');
    });

    test("account run counts: queued and running runs of the account's own, on every service", async () => {
      assert.deepEqual(await store.countAccountRuns(accountId), { queued: 0, running: 0 });
      const running = await store.createRun(newRun({ mode: 'sync', serviceId: 'a' }));
      await store.markRunning(running.id, 'node-a', Date.now(), Date.now() + 1000);
      await store.createRun(newRun({ serviceId: 'a' }));
      await store.createRun(newRun({ serviceId: 'b' }));
      const ended = await store.createRun(newRun({ mode: 'sync', serviceId: 'b' }));
      await store.markRunning(ended.id, 'node-b', Date.now(), Date.now() + 1000);
      await store.completeRun(ended.id, { status: 'completed', completedAt: Date.now(), responseStatus: 200 });
      await store.provisionRun(newProvision());
      await store.createRun(newRun({ mode: 'sync', serviceId: 'c' })); // a sync call waiting for a worker
      const elsewhere = (await store.createAccount('else')).id;
      await store.createRun(newRun({ accountId: elsewhere }));
      await store.createRun(newRun({ accountId: elsewhere, mode: 'sync', startedAt: Date.now() }));
      assert.deepEqual(await store.countAccountRuns(accountId), { queued: 3, running: 1 });
    });

    test("claims under an account cap take an account's oldest runs into the places its running ones leave, racing nodes included", async () => {
      const svc = `svc-${Math.random().toString(36).slice(2, 8)}`;
      const other = (await store.createAccount('capped-other')).id;
      // One run of the account already running (another service); cap 2 leaves one place.
      const running = await store.createRun(newRun({ mode: 'sync', serviceId: 'elsewhere' }));
      await store.markRunning(running.id, 'node-a', Date.now(), Date.now() + 10_000);
      const mine = [];
      for (let i = 0; i < 3; i++) mine.push(await store.createRun(newRun({ serviceId: svc, createdAt: Date.now() - 100 + i })));
      const theirs = [];
      for (let i = 0; i < 2; i++) theirs.push(await store.createRun(newRunOf(other, { serviceId: svc, createdAt: Date.now() + i })));
      const now = Date.now() + 1000;
      const claims = await Promise.all(['n1', 'n2', 'n3', 'n4'].map((node) => store.claimQueuedRuns({ serviceId: svc, limit: 10, nodeId: node, now, leaseExpiresAt: now + 10_000, accountMax: 2 })));
      const claimed = claims.flat().map((r) => r.id).sort();
      assert.deepEqual(claimed, [mine[0]!.id, ...theirs.map((r) => r.id)].sort(), "the account's oldest run and both of the other's");
      // Its running run ends: the next oldest gets the place, and no more.
      await store.completeRun(running.id, { status: 'completed', completedAt: Date.now(), responseStatus: 200 });
      const next = await store.claimQueuedRuns({ serviceId: svc, limit: 10, nodeId: 'n1', now, leaseExpiresAt: now + 10_000, accountMax: 2 });
      assert.deepEqual(next.map((r) => r.id), [mine[1]!.id]);
    });

    test('claims under account caps match a model over many rounds: oldest first, each account into the places its running runs leave', async () => {
      const svc = `svc-${Math.random().toString(36).slice(2, 8)}`;
      const elsewhere = `${svc}-elsewhere`;
      const accounts = [accountId];
      for (let i = 0; i < 3; i++) accounts.push((await store.createAccount(`caps-${i}-${svc}`)).id);
      let seed = 20261207;
      const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
      const anyOf = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
      const base = Date.now() - 1_000_000;
      let clock = 0;
      // The model: the service's queued runs, and every running run with its account (any service).
      const queued: { id: string; accountId: string; createdAt: number }[] = [];
      const running = new Map<string, string>();
      for (let round = 0; round < 16; round++) {
        for (let i = Math.floor(random() * 6); i >= 0; i--) {
          const owner = anyOf(accounts);
          const createdAt = base + ++clock;
          queued.push({ id: (await store.createRun(newRunOf(owner, { serviceId: svc, createdAt }))).id, accountId: owner, createdAt });
        }
        // Runs of another service count too: started as recorded (held in the embedded store's journal), and ending.
        if (random() < 0.6) {
          const owner = anyOf(accounts);
          const createdAt = base + ++clock;
          running.set((await store.createRun(newRunOf(owner, { serviceId: elsewhere, mode: 'sync', createdAt, startedAt: createdAt, leaseExpiresAt: Date.now() + 60_000 }))).id, owner);
        }
        for (const id of [...running.keys()]) {
          if (random() >= 0.3) continue;
          await store.completeRun(id, { status: 'completed', completedAt: Date.now(), responseStatus: 200 });
          running.delete(id);
        }
        const cap = 1 + Math.floor(random() * 3);
        const limit = 1 + Math.floor(random() * 5);
        const places = new Map(accounts.map((a) => [a, cap - [...running.values()].filter((owner) => owner === a).length]));
        const expected = queued
          .filter((r) => {
            const left = places.get(r.accountId)!;
            places.set(r.accountId, left - 1);
            return left > 0;
          })
          .slice(0, limit)
          .map((r) => r.id);
        const now = Date.now();
        // Every other round under a cluster-wide cap of the service as well, one too high to hold anything back.
        const clusterMax = round % 2 ? 1000 : undefined;
        const claimed = await store.claimQueuedRuns({ serviceId: svc, limit, nodeId: 'node-a', now, leaseExpiresAt: now + 60_000, accountMax: cap, clusterMax });
        assert.deepEqual(claimed.map((r) => r.id), expected, `round ${round}: cap ${cap}, limit ${limit}`);
        for (const r of claimed) {
          queued.splice(queued.findIndex((q) => q.id === r.id), 1);
          running.set(r.id, r.accountId);
        }
      }
      assert.ok(running.size > 0 && queued.length > 0, 'the rounds left runs both running and queued: the caps held some back');
    });

    test('a key whose run was deleted names nothing', async () => {
      const c = claim();
      const p = await store.provisionRun(newProvision({ expiresAt: Date.now() - 1 }), { idempotency: c });
      assert.ok((await store.deleteExpiredProvisions(Date.now())).includes(p.id));
      const next = await store.provisionRun(newProvision(), { idempotency: c });
      assert.notEqual(next.id, p.id);
      assert.equal(next.replayed, undefined);
    });
  });
}
