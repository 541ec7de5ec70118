/**
 * Accounts from the command line and the master key (issue 6): `runlet accounts create`,
 * `runlet users create`, `runlet keys create --account --service --expires-in`, the setup link
 * printed at first start, and a server that refuses a master key its variables were not sealed with.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { RunletError } from '../../src/errors.js';
import { CLI, databaseForDataDir, tempDirs, killServerProcess, startServerProcess, startTestServer, waitFor } from '../helpers.js';

const run = promisify(execFile);
const cli = (env: Record<string, string>, ...args: string[]) => run(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
const tempDir = tempDirs();

test('the CLI makes an account, a user who signs in to it, and a key limited to one service', async () => {
  const dataDir = tempDir('runlet-accounts-');
  const database = await databaseForDataDir(dataDir);
  const where = ['--data', dataDir, ...(database ? ['--database', database] : [])];
  const accountId = (await cli({}, 'accounts', 'create', 'acme', ...where)).stdout.trim();
  assert.match(accountId, /^acc_/);
  const created = await cli({ RUNLET_PASSWORD: 'bobs long password' }, 'users', 'create', '--email', 'Bob@Acme.test', '--account', accountId, ...where);
  assert.match(created.stdout, /created member bob@acme\.test/);
  assert.ok(!created.stdout.includes('bobs long password'), 'a given password is not echoed');
  const generated = await cli({}, 'users', 'create', '--email', 'root@acme.test', '--admin', ...where);
  assert.match(generated.stdout, /created admin root@acme\.test .*; password: \S{16}/);
  const duplicate = await cli({ RUNLET_PASSWORD: 'whatever123' }, 'users', 'create', '--email', 'bob@acme.test', ...where).catch((err: { code: number; stderr: string }) => err);
  assert.ok('code' in duplicate && duplicate.code === 1 && /already exists/.test(duplicate.stderr));
  const key = (await cli({}, 'keys', 'create', '--account', accountId, '--service', 'echo', '--expires-in', '3600', ...where)).stdout.trim();
  assert.match(key, /^cwk-/);

  const server = await startServerProcess({ dataDir, database });
  try {
    const login = await fetch(`${server.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bob@acme.test', password: 'bobs long password' }) });
    const session = (await login.json()) as { account: { id: string } };
    assert.equal(login.status, 200);
    assert.equal(session.account.id, accountId);
    const call = (service: string) => fetch(`${server.url}/run/${service}`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
    assert.equal((await call('echo')).status, 200);
    const refused = await call('noop');
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { code: string }).code, 'KEY_SERVICE_NOT_ALLOWED');
    // The key's runs are the account's: the default account's keys do not see them.
    const listing = (await cli({}, 'keys', 'list', '--account', accountId, ...where)).stdout;
    assert.ok(listing.includes(key.slice(0, 10)));
  } finally {
    await killServerProcess(server.child, dataDir);
  }
});

test('a first start prints a setup link for the first administrator', async () => {
  const dataDir = tempDir('runlet-setup-');
  const server = await startServerProcess({ dataDir });
  try {
    // Printed just after the start is logged: wait for it rather than race it.
    const link = await waitFor(() => /(http:\/\/\S+\/setup\?token=[\w-]+)/.exec(server.output())?.[1], 10_000, 'the setup link');
    const token = new URL(link).searchParams.get('token');
    const page = await fetch(link);
    // The dashboard's page (503 with a how-to-build note when its files are not built yet).
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/, 'the link opens a dashboard page');
    await page.text();
    const setup = await fetch(`${server.url}/auth/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, email: 'first@example.com', password: 'first password' }) });
    assert.equal(setup.status, 201);
    assert.match(setup.headers.get('set-cookie') ?? '', /runlet_session=/);
  } finally {
    await killServerProcess(server.child, dataDir);
  }
});

test('a master key other than the one the variables were sealed with stops the start; the right one reads them', async () => {
  const dataDir = tempDir('runlet-master-');
  const database = await databaseForDataDir(dataDir);
  const right = 'a1'.repeat(32);
  const first = await startTestServer({ dataDir, database, secretKey: right });
  await first.fetch('/env/GREETING', { method: 'PUT', json: { value: 'sealed hello' } });
  await first.close();

  await assert.rejects(startTestServer({ dataDir, database, secretKey: 'b2'.repeat(32) }), (err) => err instanceof RunletError && err.code === 'SECRET_KEY_MISMATCH');
  await assert.rejects(startTestServer({ dataDir, database, secretKey: 'too short but thirty-two chars!!' }), /RUNLET_SECRET_KEY must be 32 bytes/);

  const again = await startTestServer({ dataDir, database, secretKey: right });
  try {
    const answer = (await (await again.fetch('/run/env-slow', { json: {} })).json()) as { atStart: string };
    assert.equal(answer.atStart, 'sealed hello');
  } finally {
    await again.close();
  }
});
