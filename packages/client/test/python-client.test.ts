import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { TEST_STORE, type TestServer } from '../../server/test/helpers.js';
import { storeOutageFor } from '../../server/test/store-outage.js';
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

/**
 * A script of the Python client's that meets a store failing for a moment, three times: its
 * `run()` is refused 503 STORE_UNAVAILABLE and must be sent again after the Retry-After; then, while it
 * follows a background run's logs, reads its details and waits for its result, the store fails
 * again (on PostgreSQL, reads too); then a short wait meets a third outage and must give up
 * at its own timeout. It prints one JSON line per phase; the store is failed from here.
 */
const OUTAGE_SCRIPT = `
import json, sys, time
from runlet_client import CodewordsClient, RunTimeoutError
c = CodewordsClient(base_url=sys.argv[1], api_key=sys.argv[2])
print(json.dumps({"phase": "ready"}), flush=True)
sys.stdin.readline()  # the store has failed
t0 = time.monotonic()
out = c.run(service_id="echo-input", inputs={"through": "an outage"}).json()
print(json.dumps({"phase": "run", "input": out["input"], "seconds": time.monotonic() - t0}), flush=True)
handle = c.run(service_id="ticker", inputs={"count": 6, "intervalMs": 400}, in_background=True)
lines = []
for line in handle.logs():
    lines.append(line["message"])
    if len(lines) == 1:
        print(json.dumps({"phase": "first line"}), flush=True)
        sys.stdin.readline()  # the store has failed
        t0 = time.monotonic()
        status = c.get_request_details(handle.request_id)["status"]
        print(json.dumps({"phase": "details", "status": status, "seconds": time.monotonic() - t0}), flush=True)
print(json.dumps({"phase": "done", "lines": lines, "output": handle.result(timeout_seconds=60).json()}), flush=True)
slow = c.run(service_id="sleeper", inputs={"ms": 6000}, in_background=True)
print(json.dumps({"phase": "slow run started"}), flush=True)
sys.stdin.readline()  # the store has failed again
t0 = time.monotonic()
try:
    c.wait_for_record(slow.request_id, timeout_seconds=1.5)
    outcome = "ended"
except RunTimeoutError:
    outcome = "timed out"
print(json.dumps({"phase": "short wait", "outcome": outcome, "seconds": time.monotonic() - t0}), flush=True)
`;

test(`the Python client rides out a store that fails for a moment (${TEST_STORE})`, async () => {
  const python = path.join(REPO, 'python');
  let back = Promise.resolve();
  const child = spawn('python3', ['-c', OUTAGE_SCRIPT, server.url, server.key], {
    cwd: python,
    env: { ...process.env, PYTHONPATH: python, PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const phases: Record<string, Record<string, unknown>> = {};
  for await (const text of createInterface({ input: child.stdout })) {
    const line = JSON.parse(text) as { phase: string };
    phases[line.phase] = line;
    // Each outage begins only once the script is there to meet it (Python's start-up is slow on a busy machine).
    const outageMs = { ready: 1000, 'first line': 1500, 'slow run started': 3000 }[line.phase];
    if (outageMs !== undefined) {
      await back;
      ({ back } = await storeOutageFor(server, outageMs));
      child.stdin.write('failed\n');
    }
  }
  await back;
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('close', resolve)));
  assert.equal(code, 0, stderr);
  assert.deepEqual(phases.run?.input, { through: 'an outage' });
  // Refused at first, then sent again after the 5 s the runtime asked for.
  assert.ok((phases.run?.seconds as number) >= 4.5, `run() waited for Retry-After (${String(phases.run?.seconds)} s)`);
  assert.match(String(phases.details?.status), /^(running|completed)$/, 'details read the run');
  // PostgreSQL refuses reads too: the read was refused, and sent again after the Retry-After.
  if (TEST_STORE === 'postgres') assert.ok((phases.details?.seconds as number) >= 4.5, `details waited for Retry-After (${String(phases.details?.seconds)} s)`);
  assert.deepEqual(phases.done?.output, { ticks: 6 });
  assert.equal((phases.done?.lines as string[])[0], 'tick 1');
  // A wait gives up at its own timeout, even while the runtime asks for a longer Retry-After.
  assert.equal(phases['short wait']?.outcome, 'timed out');
  assert.ok((phases['short wait']?.seconds as number) < 4.5, `gave up after ${String(phases['short wait']?.seconds)} s`);
});
