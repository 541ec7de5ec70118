/**
 * The client against a store that fails again and again: eight callers make sync and async
 * calls while the server's store fails for real for 150 ms in every 400 ms (SQLite's file may
 * not be written; PostgreSQL refuses connections and drops those it has). Every call must come
 * back with its answer, none with an error, and each must have made exactly one run.
 *
 * The outages last 4 s, less than the 5 s Retry-After of a refusal, so a call refused once is
 * retried after them: the test asks for riding out the outages, not for luck in a lottery of
 * retries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunletClient } from '../src/index.js';
import { TEST_STORE } from '../../server/test/helpers.js';
import { storeChaos } from '../../server/test/store-outage.js';
import { startClientServer } from './support.js';

test(`every call rides out a store that keeps failing, and makes exactly one run (${TEST_STORE})`, async () => {
  // A short lease: a run stranded by an outage would lapse, and end otherwise than completed, within the test.
  const server = await startClientServer({ leaseSeconds: 2, minWarmWorkers: 2 });
  try {
    const client = new RunletClient({ apiKey: server.key, baseUrl: server.url });
    const errors: string[] = [];
    const tags: string[] = [];
    let stop = false;
    const caller = async (i: number) => {
      for (let n = 0; !stop; n++) {
        const tag = `${i}-${n}`;
        tags.push(tag);
        try {
          const output = n % 2 ? await client.run('echo', { tag }) : await (await client.start('echo', { tag })).result({ timeoutMs: 60_000 });
          assert.deepEqual((output as { input: unknown }).input, { tag });
        } catch (err) {
          errors.push(`${tag}: ${String(err)}`);
        }
      }
    };
    const callers = Array.from({ length: 8 }, (_, i) => caller(i));
    await storeChaos(server, 10);
    stop = true;
    await Promise.all(callers);

    assert.deepEqual(errors, [], 'no call failed');
    const { store } = server.server.runtime;
    const runs = await store.listRuns({ accountId: (await store.defaultAccount()).id, serviceId: 'echo', limit: 100_000 });
    const runsOf = new Map<string, string[]>();
    for (const run of runs) {
      const { tag } = JSON.parse(String(run.input)) as { tag?: string };
      if (tag) runsOf.set(tag, [...(runsOf.get(tag) ?? []), run.status]);
    }
    assert.ok(tags.length >= 16, `calls were made (${tags.length})`);
    // Each tag with the statuses of its runs, so that a failure says what the call left behind.
    assert.deepEqual(
      tags.filter((tag) => runsOf.get(tag)?.join() !== 'completed').map((tag) => `${tag}: ${runsOf.get(tag)?.join() ?? 'no run'}`),
      [],
      'each call made one run, completed',
    );
  } finally {
    await server.close();
  }
});
