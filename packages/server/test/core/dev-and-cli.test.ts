/** `runlet dev` reloads a changed service without a restart; the key commands do what they say. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { KEY_CACHE_MS } from '../../src/engine/access.js';
import { CLI, PACKAGE_VERSION, POSTGRES_ADMIN_URL, databaseForDataDir, freePort, tempDirs, killServerProcess, startServerProcess, startTestServer, waitFor } from '../helpers.js';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8' });
const tempDir = tempDirs();

const greeter = (word: string) => `import { defineService } from '@runlet/sdk';\nexport default defineService({ handler: () => ({ word: '${word}' }) });\n`;

test('a watched services folder reloads a changed service, with no restart', async () => {
  const services = tempDir('runlet-reload-');
  writeFileSync(path.join(services, 'greeter.ts'), greeter('before'));
  const s = await startTestServer({ servicesDir: services, watch: true });
  try {
    assert.deepEqual(await (await s.fetch('/run/greeter', { json: {} })).json(), { word: 'before' });
    writeFileSync(path.join(services, 'greeter.ts'), greeter('after'));
    await waitFor(async () => ((await (await s.fetch('/run/greeter', { json: {} })).json()) as { word: string }).word === 'after' || undefined, 15_000, 'the new code');
    writeFileSync(path.join(services, 'added.ts'), greeter('new service'));
    await waitFor(async () => (await s.fetch('/run/added', { json: {} })).status === 200 || undefined, 15_000, 'the added service');
    rmSync(path.join(services, 'added.ts'));
    const gone = await waitFor(async () => {
      const res = await s.fetch('/run/added', { json: {} });
      return res.status === 404 ? ((await res.json()) as { code: string }) : (await res.arrayBuffer(), undefined);
    }, 15_000, 'the removed service to be gone');
    assert.equal(gone.code, 'SERVICE_NOT_FOUND');
    assert.deepEqual(await (await s.fetch('/run/greeter', { json: {} })).json(), { word: 'after' }, 'the other service is untouched');
  } finally {
    await s.close();
  }
});

test('keys create, list and revoke; a key revoked with the CLI is refused by the running server within its one-second cache', async () => {
  const dataDir = tempDir('runlet-cli-');
  const database = await databaseForDataDir(dataDir);
  const where = ['--data', dataDir, ...(database ? ['--database', database] : [])];
  const standard = (await cli('keys', 'create', '--name', 'ci', ...where)).stdout.trim();
  const oneTime = (await cli('keys', 'create', '--one-time', ...where)).stdout.trim();
  assert.match(standard, /^cwk-[A-Za-z0-9_-]{43}$/);
  assert.match(oneTime, /^cwotk-[A-Za-z0-9_-]{43}$/);
  const listing = (await cli('keys', 'list', ...where)).stdout;
  assert.ok(listing.includes(standard.slice(0, 10)), 'listed by its prefix');
  assert.ok(!listing.includes(standard), 'never with its secret');
  assert.match(listing, /one_time/);

  const server = await startServerProcess({ dataDir, database });
  try {
    const call = () => fetch(`${server.url}/run/echo`, { method: 'POST', headers: { authorization: standard } });
    assert.equal((await call()).status, 200);
    const revoked = (await cli('keys', 'revoke', standard.slice(0, 10), ...where)).stdout;
    assert.match(revoked, /^revoked key_/);
    // The CLI writes behind the server's back: the server holds a looked-up key for up to KEY_CACHE_MS.
    const refused = await waitFor(async () => {
      const res = await call();
      return res.status === 200 ? (await res.arrayBuffer(), undefined) : res;
    }, KEY_CACHE_MS + 2000, 'the revoked key to be refused');
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { code: string }).code, 'KEY_REVOKED');
  } finally {
    await killServerProcess(server.child, dataDir);
  }
});

test('every command has --help, and a bad setting stops the start with a message naming it', async () => {
  // Each CLI process boots Node and the TypeScript loader: they run side by side.
  const helps = [[], ['dev'], ['serve'], ['keys'], ['keys', 'create'], ['keys', 'list'], ['keys', 'revoke']].map((args) => cli(...args, '--help'));
  for (const { stdout } of await Promise.all(helps)) assert.match(stdout, /^Usage: runlet/);
  const [version] = await Promise.all([
    cli('--version'),
    assert.rejects(cli('serve', '--port', 'abc', '--data', tempDir('runlet-bad-')), (err: { code: number; stderr: string }) => err.code === 1 && /port/.test(err.stderr)),
  ]);
  assert.equal(version.stdout.trim(), PACKAGE_VERSION);
});

test('a server that cannot start says why in one line, without a stack', async () => {
  const refusesWith = (message: RegExp) => (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, message);
    assert.doesNotMatch(err.stderr, /\n\s+at /, 'no stack trace');
    return true;
  };
  const busy = createServer().listen(0, '127.0.0.1');
  await once(busy, 'listening');
  const { port } = busy.address() as AddressInfo;
  const unused = await freePort();
  const missing = new URL(POSTGRES_ADMIN_URL);
  missing.pathname = '/runlet_no_such_database';
  const file = path.join(tempDir('runlet-start-'), 'a-file');
  writeFileSync(file, '');
  const serve = (...args: string[]) => cli('serve', '--data', tempDir('runlet-start-'), ...args);
  try {
    // Each CLI process boots Node and the TypeScript loader: they run side by side.
    await Promise.all([
      assert.rejects(serve('--port', String(port)), refusesWith(new RegExp(`^runlet: cannot listen on 127\\.0\\.0\\.1:${port}: something else listens there`))),
      assert.rejects(
        serve('--port', '0', '--database', `postgres://127.0.0.1:${unused}/runlet`),
        refusesWith(/^runlet: cannot open the PostgreSQL database postgres:\/\/[^@]+@127\.0\.0\.1:\d+\/runlet: connect ECONNREFUSED .*is PostgreSQL running there/),
      ),
      assert.rejects(serve('--port', '0', '--database', missing.href), refusesWith(/database "runlet_no_such_database" does not exist \(create it first/)),
      assert.rejects(cli('serve', '--port', '0', '--data', path.join(file, 'data')), refusesWith(/^runlet: cannot use the data folder .*a-file\/data: ENOTDIR/)),
    ]);
  } finally {
    busy.close();
  }
});
