import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { TestServer } from '../../server/test/helpers.js';
import { REPO, startClientServer } from './support.js';

/**
 * The Python client's unittest suite (python/tests), run against live servers: one with the
 * default limits and one whose sync limit is half a second (for real 504s).
 */
let server: TestServer;
let short: TestServer;

before(async () => {
  [server, short] = await Promise.all([startClientServer(), startClientServer({ syncTimeoutSeconds: 0.5 })]);
});
after(async () => {
  await Promise.all([server.close(), short.close()]);
});

test('python/tests passes against a live server', async (t) => {
  const oneTimeKeys = await Promise.all(Array.from({ length: 4 }, () => server.newKey('one_time')));
  const python = path.join(REPO, 'python');
  const child = spawn('python3', ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.', '-v'], {
    cwd: python,
    env: {
      ...process.env,
      PYTHONPATH: python,
      PYTHONDONTWRITEBYTECODE: '1',
      RUNLET_TEST_URL: server.url,
      RUNLET_TEST_KEY: server.key,
      RUNLET_TEST_SHORT_SYNC_URL: short.url,
      RUNLET_TEST_SHORT_SYNC_KEY: short.key,
      RUNLET_TEST_ONE_TIME_KEYS: oneTimeKeys.join(','),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, output);
  // unittest reports skips as "skipped": none are allowed.
  assert.doesNotMatch(output, /skipped/i, output);
  assert.match(output, /^OK$/m, output);
  const ran = /^Ran (\d+) tests?/m.exec(output);
  assert.ok(ran && Number(ran[1]) >= 20, output);
  t.diagnostic(ran![0]);
  if (process.env.RUNLET_TEST_VERBOSE) console.log(output);
});
