/**
 * The directory (users, sessions, setup links, environment variables, audit, settings) on every
 * backend, run by `runStoreConformance`. Its SQL is shared, so this is where a dialect
 * difference would show.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { AuditEvent, Store, UserRow } from '../../src/store/store.js';
import type { OpenedStore } from './conformance.js';

export function runDirectoryConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`store conformance: ${name}: directory`, () => {
    let store: Store;
    let close: () => Promise<void>;
    let accountId: string;
    beforeEach(async () => {
      ({ store, close } = await open());
      accountId = (await store.defaultAccount()).id;
    });
    afterEach(() => close());

    const unique = () => Math.random().toString(36).slice(2, 10);
    const user = (over: Partial<UserRow> = {}): UserRow => ({
      id: `usr_${unique()}`,
      email: `${unique()}@example.com`,
      passwordHash: 'scrypt$x',
      role: 'member',
      accountId,
      createdAt: Date.now(),
      disabledAt: null,
      ...over,
    });
    let seq = 0;
    const audit = (action: string, at = Date.now()): AuditEvent => ({
      id: `aud_${String(++seq).padStart(6, '0')}${unique()}`,
      at,
      accountId,
      actor: 'cli',
      ip: null,
      action,
      target: null,
      details: { n: seq },
    });

    test('a setup link makes exactly one first administrator, even when raced, and only while no user exists', async () => {
      const now = Date.now();
      await store.directory.replaceSetupToken('hash-a', now, now + 60_000);
      const tries = await Promise.all(Array.from({ length: 8 }, (_, i) => store.directory.createFirstAdmin(user({ role: 'admin', email: `admin${i}@example.com` }), 'hash-a', Date.now(), audit('user.create'))));
      assert.equal(tries.filter(Boolean).length, 1);
      assert.equal(await store.directory.countUsers(), 1);
      const events = await store.directory.listAudit({ limit: 10 });
      assert.equal(events.filter((e) => e.action === 'user.create').length, 1, 'the losers wrote no audit event');
      // A fresh link after that changes nothing: a user exists.
      await store.directory.replaceSetupToken('hash-b', now, now + 60_000);
      assert.equal(await store.directory.createFirstAdmin(user({ role: 'admin' }), 'hash-b', Date.now(), audit('user.create')), false);
    });

    test('an expired or replaced setup link makes no one', async () => {
      const now = Date.now();
      await store.directory.replaceSetupToken('old', now - 10_000, now - 1);
      assert.equal(await store.directory.createFirstAdmin(user(), 'old', now, audit('user.create')), false);
      await store.directory.replaceSetupToken('first', now, now + 60_000);
      await store.directory.replaceSetupToken('second', now, now + 60_000);
      assert.equal(await store.directory.createFirstAdmin(user(), 'first', now, audit('user.create')), false);
      assert.equal(await store.directory.createFirstAdmin(user(), 'second', now, audit('user.create')), true);
    });

    test('emails are unique, and a refused user leaves no audit event', async () => {
      const email = `${unique()}@example.com`;
      assert.equal(await store.directory.createUser(user({ email }), audit('user.create')), true);
      assert.equal(await store.directory.createUser(user({ email }), audit('user.create')), false);
      assert.equal((await store.directory.listAudit({ limit: 10 })).length, 1);
      assert.equal((await store.directory.findUserByEmail(email))?.email, email);
    });

    test('a session is found until it expires or is deleted, and never for a disabled user', async () => {
      const u = user();
      await store.directory.createUser(u, audit('user.create'));
      const now = Date.now();
      await store.directory.createSession({ hash: 'sess-1', userId: u.id, csrfToken: 'csrf', ip: '127.0.0.1', createdAt: now, expiresAt: now + 1000 });
      const found = await store.directory.findSession('sess-1', now);
      assert.equal(found?.user.id, u.id);
      assert.equal(found?.session.csrfToken, 'csrf');
      assert.equal(await store.directory.findSession('sess-1', now + 1000), undefined);
      assert.equal(await store.directory.deleteExpiredSessions(now + 1000), 1);
      await store.directory.createSession({ hash: 'sess-2', userId: u.id, csrfToken: 'c', ip: null, createdAt: now, expiresAt: now + 60_000 });
      await store.directory.deleteSession('sess-2');
      assert.equal(await store.directory.findSession('sess-2', now), undefined);
    });

    test('variables are kept per account and scope, replaced in place, and deleted with an audit event each', async () => {
      const row = (name: string, serviceId: string | null, sealed: string) => ({ accountId, serviceId, name, sealed, updatedAt: Date.now(), updatedBy: 'cli' });
      await store.directory.putEnvVar(row('A', null, 'v1.a'), audit('env.set'));
      await store.directory.putEnvVar(row('A', 'svc', 'v1.svc'), audit('env.set'));
      await store.directory.putEnvVar(row('A', null, 'v1.a2'), audit('env.set'));
      assert.deepEqual((await store.directory.listEnvVars(accountId, null)).map((v) => [v.name, v.sealed]), [['A', 'v1.a2']]);
      assert.deepEqual((await store.directory.listEnvVars(accountId, 'svc')).map((v) => [v.serviceId, v.sealed]), [['svc', 'v1.svc']]);
      // Account-wide first, then the service's own (which a worker applies last, so it wins).
      assert.deepEqual((await store.directory.envVarsFor(accountId, 'svc')).map((v) => v.sealed), ['v1.a2', 'v1.svc']);
      assert.deepEqual((await store.directory.envVarsFor(accountId, 'other')).map((v) => v.sealed), ['v1.a2']);
      const other = await store.createAccount('other');
      assert.deepEqual(await store.directory.envVarsFor(other.id, 'svc'), []);
      assert.equal(await store.directory.deleteEnvVar(other.id, null, 'A', audit('env.delete')), false);
      assert.equal(await store.directory.deleteEnvVar(accountId, 'svc', 'A', audit('env.delete')), true);
      const actions = (await store.directory.listAudit({ limit: 50 })).map((e) => e.action);
      assert.deepEqual(actions.filter((a) => a === 'env.delete').length, 1, 'only the delete that happened is audited');
      assert.equal(actions.filter((a) => a === 'env.set').length, 3);
    });

    test('the audit trail pages newest first, and filters by account', async () => {
      const base = Date.now();
      const recorded = Array.from({ length: 5 }, (_, i) => audit(`a.${i}`, base + i));
      for (const event of recorded) await store.directory.recordAudit(event);
      await store.directory.recordAudit({ ...audit('elsewhere', base + 10), accountId: null });
      const first = await store.directory.listAudit({ limit: 3 });
      assert.deepEqual(first.map((e) => e.action), ['elsewhere', 'a.4', 'a.3']);
      const last = first.at(-1)!;
      const second = await store.directory.listAudit({ limit: 3, before: { at: last.at, id: last.id } });
      assert.deepEqual(second.map((e) => e.action), ['a.2', 'a.1', 'a.0']);
      assert.deepEqual(second[0], recorded[2], 'an event reads back as it was written');
      const mine = await store.directory.listAudit({ limit: 10, accountId });
      assert.ok(mine.every((e) => e.accountId === accountId));
      assert.equal(mine.length, 5);
    });

    test('a setting keeps the first value written, of racing writers', async () => {
      const values = await Promise.all(['a', 'b', 'c', 'd'].map((v) => store.directory.settingOr('race', v)));
      assert.equal(new Set(values).size, 1);
      assert.equal(await store.directory.settingOr('race', 'z'), values[0]);
    });

    test('a key and its audit event are written together; a revoke is audited once, by the call that revoked', async () => {
      const key = await store.createApiKey({ id: `key_${unique()}`, accountId, kind: 'standard', name: 'k', hash: unique(), prefix: `cwk-${unique()}`, createdAt: 1 }, audit('key.create'));
      assert.equal(await store.revokeApiKey(accountId, key.prefix, 5, audit('key.revoke')).then((k) => k?.revokedAt), 5);
      assert.equal(await store.revokeApiKey(accountId, key.id, 9, audit('key.revoke')).then((k) => k?.revokedAt), 5, 'revoked once');
      const events = await store.directory.listAudit({ limit: 10 });
      assert.deepEqual(events.map((e) => [e.action, e.target]).sort(), [['key.create', null], ['key.revoke', key.id]].sort());
      // A key that cannot be written (its hash is taken) leaves no event behind.
      await assert.rejects(store.createApiKey({ id: `key_${unique()}`, accountId, kind: 'standard', name: null, hash: 'dup', prefix: 'cwk-x', createdAt: 1 }).then(() =>
        store.createApiKey({ id: `key_${unique()}`, accountId, kind: 'standard', name: null, hash: 'dup', prefix: 'cwk-y', createdAt: 1 }, audit('key.create'))));
      assert.equal((await store.directory.listAudit({ limit: 10 })).length, 2);
    });

    test('keys keep their expiry, services and maker', async () => {
      const key = await store.createApiKey({ id: `key_${unique()}`, accountId, kind: 'standard', name: 'k', hash: unique(), prefix: 'cwk-abc', createdAt: 1, expiresAt: 99, services: ['a', 'b'], createdBy: 'user x' });
      assert.equal(key.expiresAt, 99);
      assert.deepEqual(key.services, ['a', 'b']);
      assert.equal(key.createdBy, 'user x');
      const plain = await store.createApiKey({ id: `key_${unique()}`, accountId, kind: 'standard', name: null, hash: unique(), prefix: 'cwk-def', createdAt: 1 });
      assert.equal(plain.expiresAt, null);
      assert.equal(plain.services, null);
    });
  });
}
