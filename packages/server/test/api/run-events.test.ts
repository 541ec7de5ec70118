/**
 * GET /runs/events: the account's runs as they change, as Server-Sent Events, for the
 * dashboard's live runs table. Only the caller's account; standard keys and sessions only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey } from '../../src/keys/key-admin.js';
import type { LocalEventBus } from '../../src/logs/event-bus.js';
import { startTestServer, waitFor, type TestServer } from '../helpers.js';
import { expectJson, expectRuntimeError, readRunEvents, setUpAdmin, startAsync, type RunEventReader } from './api-helpers.js';

describe('GET /runs/events', () => {
  let s: TestServer;
  let otherKey: string;
  let otherAccountId: string;
  const readers: RunEventReader[] = [];
  const connect = async (key: string) => {
    const reader = await readRunEvents(s.url, { authorization: `Bearer ${key}` });
    readers.push(reader);
    assert.equal(reader.response.status, 200);
    assert.match(reader.response.headers.get('content-type') ?? '', /^text\/event-stream/);
    return reader;
  };
  const bus = () => s.server.runtime.bus as LocalEventBus;

  before(async () => {
    // Heartbeats often enough to see one in a test.
    s = await startTestServer({ heartbeatSeconds: 0.2 });
    const store = s.server.runtime.store;
    otherAccountId = (await store.createAccount('someone else')).id;
    otherKey = (await createKey(store, otherAccountId, 'standard', 'other')).key;
  });
  after(async () => {
    for (const r of readers) r.stop();
    await s.close();
  });

  test("a reader sees an async run go queued → running → completed, and nothing of another account's runs", async () => {
    const mine = await connect(s.key);
    const theirs = await connect(otherKey);
    // `capped` runs two at once: behind two long runs, the watched one waits in the queue.
    const blockers = [await startAsync(s, 'capped', { ms: 1500 }), await startAsync(s, 'capped', { ms: 1500 })];
    const id = await startAsync(s, 'capped', { ms: 300 });
    const other = (await s.fetch('/run/echo', { json: { theirs: true }, key: otherKey })).headers.get('x-request-id')!;
    await waitFor(() => mine.statusesOf(id).at(-1) === 'completed', 30_000, 'the run to end');

    assert.deepEqual(mine.statusesOf(id), ['queued', 'running', 'completed']);
    const done = mine.runs.filter((r) => r.id === id).at(-1)!;
    assert.equal(done.serviceId, 'capped');
    assert.equal(done.mode, 'async');
    assert.ok(done.startedAt && done.completedAt, 'the record has its timings');
    assert.equal(typeof (done.responseJson as { end?: unknown }).end, 'number', 'and its answer, as GET /runs lists it');
    for (const b of blockers) assert.ok(mine.statusesOf(b).includes('running'));

    assert.deepEqual(mine.statusesOf(other), [], "another account's run is never told");
    assert.ok(mine.runs.every((r) => r.userId !== otherAccountId));
    await waitFor(() => theirs.statusesOf(other).at(-1) === 'completed', 10_000, "the other account's reader to see its run");
    assert.ok(theirs.runs.every((r) => r.userId === otherAccountId), 'and it sees only its own');
  });

  test("a run's changes that come close together reach a reader once, as the run then is", async () => {
    const reader = await connect(s.key);
    const id = (await s.fetch('/run/echo', { json: { close: 'together' } })).headers.get('x-request-id')!;
    await waitFor(() => reader.statusesOf(id).at(-1) === 'completed', 10_000, 'the run to be told');
    const told = () => reader.runs.filter((r) => r.id === id).length;
    const seen = told();
    const accountId = (await s.server.runtime.store.getRun(id))!.accountId;
    for (let i = 0; i < 3; i++) bus().announceRunChanged(accountId, id);
    await waitFor(() => told() > seen, 5_000, 'the changes to be told');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(told() - seen, 1, 'three changes in one moment, one event');
  });

  test('the stream hints a reconnect delay and sends heartbeat comments', async () => {
    const reader = await connect(s.key);
    await waitFor(() => reader.comments.length >= 2, 10_000, 'heartbeats');
    assert.equal(reader.retry, 3000);
    assert.deepEqual([...new Set(reader.comments)], ['keep-alive']);
  });

  test('a reader that goes away leaves no listener behind', async () => {
    for (const r of readers.splice(0)) r.stop();
    await waitFor(() => s.server.runtime.runFeed.followerCount === 0, 10_000, 'earlier readers to be gone');
    const idle = bus().subscriberCount;
    const a = await connect(s.key);
    const b = await connect(s.key);
    await waitFor(() => s.server.runtime.runFeed.followerCount === 2, 10_000, 'both readers to follow');
    assert.equal(bus().subscriberCount, idle + 1, 'one bus listener per node, however many read');
    a.stop();
    await waitFor(() => s.server.runtime.runFeed.followerCount === 1, 10_000, 'the first reader to be dropped');
    assert.equal(bus().subscriberCount, idle + 1);
    b.stop();
    await waitFor(() => s.server.runtime.runFeed.followerCount === 0, 10_000, 'the last reader to be dropped');
    assert.equal(bus().subscriberCount, idle, 'the bus listener goes with the last reader');
  });

  test('a signed-in session may read it; a one-time key and no credentials may not', async () => {
    const session = await setUpAdmin(s);
    const abort = new AbortController();
    const res = await session.fetch('/runs/events', { csrf: false, signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    abort.abort();
    await expectRuntimeError(await s.fetch('/runs/events', { key: await s.newKey('one_time') }), 403, 'KEY_NOT_ALLOWED');
    await expectRuntimeError(await s.fetch('/runs/events', { key: null }), 401, 'AUTH_MISSING');
  });

  test('is described in /openapi.json', async () => {
    const doc = await expectJson<{ paths: Record<string, { get?: { summary?: string } }> }>(await s.fetch('/openapi.json', { key: null }));
    assert.match(doc.paths['/runs/events']?.get?.summary ?? '', /as they change/);
  });
});
