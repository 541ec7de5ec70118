/**
 * People signing in (issue 6): the first-run setup link, email and password, sessions whose
 * state-changing calls need the CSRF token, rate-limited sign-in, administrators managing
 * accounts and users, and the audit trail of it all.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, setUpAdmin, signIn, type SignedInSession } from './api-helpers.js';

describe('sessions, setup and administration', () => {
  let s: TestServer;
  let admin: SignedInSession;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test('the setup link is refused when wrong, creates the first administrator once, and never again', async () => {
    const token = s.server.runtime.setupToken!;
    const wrong = await s.fetch('/auth/setup', { key: null, json: { token: 'nope', email: 'x@example.com', password: 'long enough pw' } });
    await expectRuntimeError(wrong, 403, 'SETUP_LINK_INVALID');
    const short = await s.fetch('/auth/setup', { key: null, json: { token, email: 'x@example.com', password: 'short' } });
    await expectRuntimeError(short, 400, 'INVALID_REQUEST');

    admin = await setUpAdmin(s, 'Admin@Example.com');
    assert.equal(admin.user.email, 'admin@example.com', 'emails are kept lower-cased');
    assert.equal(admin.user.role, 'admin');
    const again = await s.fetch('/auth/setup', { key: null, json: { token, email: 'y@example.com', password: 'long enough pw' } });
    await expectRuntimeError(again, 403, 'SETUP_LINK_INVALID');
    assert.equal(await s.server.runtime.sessions.newSetupToken(), undefined, 'no new setup link once a user exists');

    const session = await expectJson<{ user: { email: string }; csrfToken: string }>(await admin.fetch('/auth/session'));
    assert.equal(session.user.email, 'admin@example.com');
    assert.equal(session.csrfToken, admin.csrfToken);
  });

  test('the session cookie is HTTP-only and SameSite', async () => {
    const res = await s.fetch('/auth/login', { key: null, json: { email: 'admin@example.com', password: 'correct horse battery' } });
    const cookie = res.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.match(cookie, /Path=\//);
    await res.text();
  });

  test('a session calls the API like a key, but a state-changing call without the CSRF token is refused', async () => {
    const run = await expectJson<{ input: unknown }>(await admin.fetch('/run/echo', { json: { via: 'session' } }));
    assert.deepEqual(run.input, { via: 'session' });
    const forged = await admin.fetch('/run/echo', { json: { via: 'forged' }, csrf: false });
    await expectRuntimeError(forged, 403, 'CSRF_INVALID');
    const wrongToken = await admin.fetch('/keys', { json: { name: 'x' }, csrf: false, headers: { 'x-csrf-token': 'guess' } });
    await expectRuntimeError(wrongToken, 403, 'CSRF_INVALID');
    // Reads need no token: a cross-site page cannot read the answer anyway.
    await expectJson(await admin.fetch('/runs?limit=1', { csrf: false }));
    // Nothing was started by the refused calls.
    const runs = await expectJson<{ runs: { serviceId: string }[] }>(await admin.fetch('/runs?service=echo'));
    assert.equal(runs.runs.length, 1);
  });

  test('wrong passwords and unknown emails get the same answer, and repeated failures are rate-limited', async () => {
    const unknown = await s.fetch('/auth/login', { key: null, json: { email: 'nobody@example.com', password: 'whatever it is' } });
    const unknownBody = await expectRuntimeError(unknown, 401, 'LOGIN_FAILED');
    const wrong = await s.fetch('/auth/login', { key: null, json: { email: 'admin@example.com', password: 'not the password' } });
    const wrongBody = await expectRuntimeError(wrong, 401, 'LOGIN_FAILED');
    assert.equal(unknownBody.message, wrongBody.message);
    // 4 more failures make 5 for this email from this address; the next attempt, even with the right password, waits.
    for (let i = 0; i < 4; i++) await expectRuntimeError(await s.fetch('/auth/login', { key: null, json: { email: 'admin@example.com', password: `wrong ${i} pw` } }), 401, 'LOGIN_FAILED');
    const limited = await s.fetch('/auth/login', { key: null, json: { email: 'admin@example.com', password: 'correct horse battery' } });
    await expectRuntimeError(limited, 429, 'LOGIN_RATE_LIMITED');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);
    // The limit is per email and address: someone guessing at the admin does not lock out another address's user.
    await expectRuntimeError(await s.fetch('/auth/login', { key: null, json: { email: 'carol@example.com', password: 'not set up' } }), 401, 'LOGIN_FAILED');
  });

  test('administrators create accounts and users; members and keys cannot', async () => {
    const account = await expectJson<{ id: string; name: string }>(await admin.fetch('/accounts', { json: { name: 'acme' } }), 201);
    const user = await expectJson<{ id: string; accountId: string; role: string }>(
      await admin.fetch('/users', { json: { email: 'bob@acme.test', password: 'bobs password', accountId: account.id } }),
      201,
    );
    assert.equal(user.accountId, account.id);
    assert.equal(user.role, 'member');
    await expectRuntimeError(await admin.fetch('/users', { json: { email: 'BOB@acme.test', password: 'another one' } }), 409, 'EMAIL_TAKEN');
    await expectRuntimeError(await admin.fetch('/users', { json: { email: 'eve@acme.test', password: 'eves password', accountId: 'acc_nope' } }), 404, 'ACCOUNT_NOT_FOUND');

    const bob = await signIn(s, 'bob@acme.test', 'bobs password');
    assert.equal(bob.account.id, account.id);
    await expectRuntimeError(await bob.fetch('/users'), 403, 'ADMIN_REQUIRED');
    await expectRuntimeError(await bob.fetch('/accounts', { json: { name: 'mine' } }), 403, 'ADMIN_REQUIRED');
    await expectRuntimeError(await s.fetch('/audit'), 401, 'SESSION_REQUIRED');

    // Bob works in his own account: the admin's run is not his to see.
    const adminRuns = await expectJson<{ runs: { id: string }[] }>(await admin.fetch('/runs'));
    assert.ok(adminRuns.runs.length > 0);
    await expectRuntimeError(await bob.fetch(`/request/${adminRuns.runs[0]!.id}`), 404, 'RUN_NOT_FOUND');
    assert.deepEqual((await expectJson<{ runs: unknown[] }>(await bob.fetch('/runs'))).runs, []);
  });

  test('the audit trail records who changed what, when and from where, and never a value', async () => {
    await expectJson(await admin.fetch('/env/AUDITED_SECRET', { method: 'PUT', json: { value: 'sup3r-s3cret-value' } }));
    const created = await expectJson<{ key: { id: string } }>(await admin.fetch('/keys', { json: { name: 'audited' } }), 201);
    await expectJson(await admin.fetch(`/keys/${created.key.id}`, { method: 'DELETE' }));
    const { events } = await expectJson<{ events: { id: string; action: string; actor: string; ip: string; target: string; at: string }[] }>(await admin.fetch('/audit?limit=500'));
    const actions = events.map((e) => e.action);
    for (const action of ['user.create', 'account.create', 'env.set', 'key.create', 'key.revoke']) assert.ok(actions.includes(action), `${action} is audited`);
    const envSet = events.find((e) => e.action === 'env.set' && e.target === 'AUDITED_SECRET')!;
    assert.equal(envSet.actor, 'user admin@example.com');
    assert.ok(envSet.ip, 'the address is recorded');
    assert.ok(!Number.isNaN(Date.parse(envSet.at)));
    assert.ok(!JSON.stringify(events).includes('sup3r-s3cret-value'), 'no value in the audit trail');
    // Newest first, and paged with a cursor.
    const page = await expectJson<{ events: { id: string }[]; nextCursor: string }>(await admin.fetch('/audit?limit=2'));
    assert.equal(page.events.length, 2);
    const next = await expectJson<{ events: { id: string }[] }>(await admin.fetch(`/audit?limit=2&cursor=${page.nextCursor}`));
    assert.notEqual(next.events[0]!.id, page.events[0]!.id);
    assert.equal(next.events[0]!.id, events[2]!.id);
  });

  test('signing out ends the session on the server, and needs the CSRF token too', async () => {
    const session = await signIn(s, 'bob@acme.test', 'bobs password');
    await expectRuntimeError(await session.fetch('/auth/logout', { method: 'POST', csrf: false }), 403, 'CSRF_INVALID');
    const out = await session.fetch('/auth/logout', { method: 'POST' });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
    await expectRuntimeError(await session.fetch('/auth/session'), 401, 'SESSION_REQUIRED');
    await expectRuntimeError(await session.fetch('/runs'), 401, 'AUTH_MISSING');
  });
});
