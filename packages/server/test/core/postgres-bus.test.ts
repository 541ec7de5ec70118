/** The cluster's event bus on a real PostgreSQL: what one node announces reaches the others, in order, in few notifications. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { PostgresEventBus } from '../../src/logs/postgres-event-bus.js';
import { freshDatabase, waitFor } from '../helpers.js';

let database: Awaited<ReturnType<typeof freshDatabase>>;
let pool: pg.Pool;
let sender: PostgresEventBus;
let receiver: PostgresEventBus;
/** Every notification on the bus's channel, as PostgreSQL delivered it. */
const notifications: string[] = [];
let watcher: pg.Client;

before(async () => {
  database = await freshDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  const fail = (err: unknown) => assert.fail(String(err));
  sender = await PostgresEventBus.open(database.url, pool, 'node-a', fail);
  receiver = await PostgresEventBus.open(database.url, pool, 'node-b', fail);
  watcher = new pg.Client({ connectionString: database.url });
  await watcher.connect();
  watcher.on('notification', (n) => notifications.push(n.payload ?? ''));
  await watcher.query('LISTEN runlet_events');
});

after(async () => {
  await Promise.all([sender.close(), receiver.close(), watcher.end()]);
  await pool.end();
  await database.drop();
});

test('notices of many turns reach another node in order, none lost, in fewer notifications than turns', async () => {
  const heard: string[] = [];
  receiver.on('queued', (serviceId) => heard.push(serviceId));
  const turns = 60;
  for (let i = 0; i < turns; i++) {
    sender.announce('queued', `svc-${i}`);
    // One notice a turn: only batching across turns can put two in one notification.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const expected = Array.from({ length: turns }, (_, i) => `svc-${i}`);
  await waitFor(() => heard.length >= turns || undefined, 10_000, 'every notice to arrive');
  assert.deepEqual(heard, expected, 'in the order they were announced, each once');
  assert.ok(notifications.length < turns, `turns waiting for the notification on its way go out together (${notifications.length} notifications for ${turns} turns)`);
});

test('a busy node sends at most one notification every 10 ms, and loses no notice', async () => {
  const heard: string[] = [];
  receiver.on('queued', (serviceId) => heard.push(serviceId));
  const before = notifications.length;
  const started = Date.now();
  const count = 40;
  for (let i = 0; i < count; i++) {
    sender.announce('queued', `busy-${i}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await waitFor(() => heard.length >= count || undefined, 10_000, 'every notice to arrive');
  const elapsed = Date.now() - started;
  const sent = notifications.length - before;
  assert.deepEqual(heard, Array.from({ length: count }, (_, i) => `busy-${i}`));
  // Sends start 10 ms apart; timers count from the event loop's clock, which can lag the real one
  // a little, so allow 9: a window of `elapsed` ms then holds at most elapsed / 9 + 1 of them.
  assert.ok(sent <= Math.floor(elapsed / 9) + 1, `${sent} notifications in ${elapsed} ms`);
  assert.ok(sent < count / 2, `${sent} notifications for ${count} notices`);
});

test('a node that closes first sends the notices it was holding', async () => {
  const closing = await PostgresEventBus.open(database.url, pool, 'node-c', (err) => assert.fail(String(err)));
  const heard: string[] = [];
  receiver.on('queued', (serviceId) => heard.push(serviceId));
  // The first goes at once; the rest wait out the interval, and close comes before it has passed.
  for (let i = 0; i < 5; i++) {
    closing.announce('queued', `last-${i}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await closing.close();
  await waitFor(() => heard.length >= 5 || undefined, 5_000, 'every notice to arrive');
  assert.deepEqual(heard, Array.from({ length: 5 }, (_, i) => `last-${i}`));
});

test('an idle node sends at once: a lone notice is not held back', async () => {
  const heard: string[] = [];
  receiver.on('keyRevoked', (keyId) => heard.push(keyId));
  sender.announce('keyRevoked', 'key_1');
  await waitFor(() => heard.length === 1 || undefined, 2_000, 'the notice');
  assert.deepEqual(heard, ['key_1']);
});

test('a node alone on its database notifies nobody; a node that joins hears it from the moment its open returns', async () => {
  const own = await freshDatabase();
  const ownPool = new pg.Pool({ connectionString: own.url, max: 2 });
  const seen: string[] = [];
  const listener = new pg.Client({ connectionString: own.url });
  await listener.connect();
  listener.on('notification', (n) => seen.push(n.payload ?? ''));
  await listener.query('LISTEN runlet_events');
  const fail = (err: unknown) => assert.fail(String(err));
  const alone = await PostgresEventBus.open(own.url, ownPool, 'node-alone', fail);
  let joined: PostgresEventBus | undefined;
  try {
    alone.announce('queued', 'unheard');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(seen, [], 'no notification while no other node listens');
    joined = await PostgresEventBus.open(own.url, ownPool, 'node-joined', fail);
    const heard: string[] = [];
    joined.on('queued', (serviceId) => heard.push(serviceId));
    alone.announce('queued', 'heard');
    await waitFor(() => heard.length > 0 || undefined, 2_000, 'the first node to notify the one that joined');
    assert.deepEqual(heard, ['heard']);
  } finally {
    await Promise.all([alone.close(), joined?.close(), listener.end()]);
    await ownPool.end();
    await own.drop();
  }
});
