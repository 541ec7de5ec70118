/**
 * Several nodes on one PostgreSQL database (always PostgreSQL: a cluster has no other store).
 * Three `runlet serve` processes share a database; runs go through all of them; one is
 * killed with SIGKILL mid-load; every handed-out request id must still end, exactly once.
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { CLI, freshDatabase, killServerProcess, maxOverlap, readNdjson, startServerProcess, waitFor } from '../helpers.js';
import { readRunEvents } from '../api/api-helpers.js';
import { KEY_CACHE_MS } from '../../src/engine/access.js';

interface Node {
  url: string;
  child: ChildProcess;
}

const env = {
  RUNLET_MAX_WORKERS_PER_SERVICE: '2',
  RUNLET_MIN_WARM_WORKERS: '0',
  // Short leases, so a killed node's runs are taken over within seconds in this test.
  RUNLET_LEASE_SECONDS: '2',
  // One master key for the cluster, as docs/deploy.md says: each node's own would not open the others' variables.
  RUNLET_SECRET_KEY: randomBytes(32).toString('hex'),
};

describe('a cluster of three nodes on one PostgreSQL database', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let key: string;
  const nodes: Node[] = [];
  const dirs: string[] = [];

  const call = (node: Node, pathname: string, init: RequestInit & { json?: unknown } = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', key);
    if (init.json !== undefined) headers.set('content-type', 'application/json');
    return fetch(node.url + pathname, { ...init, method: init.json !== undefined ? 'POST' : (init.method ?? 'GET'), headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.body });
  };
  const startAsync = async (node: Node, service: string, input: unknown): Promise<string> => {
    const res = await call(node, `/run_async/${service}`, { json: input });
    assert.equal(res.status, 200);
    return ((await res.json()) as { request_id: string }).request_id;
  };
  const resultOf = async (node: Node, id: string) => {
    const res = await call(node, `/result/${id}?timeout=60`);
    assert.equal(res.status, 200, `result of ${id}`);
    return (await res.json()) as Record<string, unknown>;
  };

  before(async () => {
    db = await freshDatabase();
    key = execFileSync(process.execPath, ['--import', 'tsx', CLI, 'keys', 'create', '--database', db.url], { encoding: 'utf8' }).trim();
    for (let i = 0; i < 3; i++) {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), `runlet-node${i}-`));
      dirs.push(dataDir);
      const { url, child } = await startServerProcess({ dataDir, database: db.url, env });
      nodes.push({ url, child });
    }
  });

  after(async () => {
    await Promise.all(nodes.map((n, i) => killServerProcess(n.child, dirs[i]!)));
    await db.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('a mixed load through all three nodes ends in the right states with complete logs', async () => {
    const asyncIds = await Promise.all(Array.from({ length: 24 }, (_, i) => startAsync(nodes[i % 3]!, 'noisy', { lines: 20 })));
    const syncAnswers = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const res = await call(nodes[i % 3]!, '/run/echo', { json: { i } });
        assert.equal(res.status, 200);
        return (await res.json()) as { input: { i: number } };
      }),
    );
    assert.deepEqual(syncAnswers.map((a) => a.input.i), Array.from({ length: 12 }, (_, i) => i));
    for (const [i, id] of asyncIds.entries()) {
      const record = await resultOf(nodes[(i + 1) % 3]!, id);
      assert.equal(record.status, 'completed');
      assert.deepEqual(record.responseJson, { printed: 20 });
      // Read the log from yet another node than the one asked for the result.
      const lines = await readNdjson(await call(nodes[(i + 2) % 3]!, `/logs/${id}`));
      const printed = lines.filter((l) => l.source === 'stdout').map((l) => l.message);
      assert.deepEqual(printed, [...Array.from({ length: 20 }, (_, k) => `line ${k + 1}`), 'last-no-newline'], `run ${id} has every line, in order`);
      assert.equal(lines.length, 24, 'stdout, two stderr lines and the logger line');
      assert.deepEqual(lines.map((l) => l.seq), lines.map((_, k) => k + 1), 'seq has no gap');
    }
  });

  test('a /logs reader on one node follows a run executing on another, live', async () => {
    const [a, b] = nodes as [Node, Node];
    const id = ((await (await call(a, '/provision-request', { method: 'POST' })).json()) as { request_id: string }).request_id;
    const stream = await call(a, `/logs/${id}`);
    const reader = stream.body!.getReader();
    // A sync run on B (sync runs run on the node that received them) under A's provisioned id.
    const running = call(b, '/run/slow', { json: { seconds: 1.5, interval: 0.1 }, headers: { 'x-provisioned-request-id': id } });
    let text = '';
    while (!text.includes('tick 1')) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'stream ended before the first line');
      text += new TextDecoder().decode(value);
    }
    const record = (await (await call(a, `/request/${id}`)).json()) as { status: string };
    assert.equal(record.status, 'running', 'the first line reached node A while the run was still going on node B');
    assert.equal((await running).status, 200);
    await reader.cancel();
  });

  test('a /runs/events reader on one node is told of a run executing on another', async () => {
    const [a, b] = nodes as [Node, Node];
    const feed = await readRunEvents(a.url, { authorization: key });
    assert.equal(feed.response.status, 200);
    try {
      // A sync run runs on the node that received it: B.
      const res = await call(b, '/run/slow', { json: { seconds: 1, interval: 0.1 } });
      assert.equal(res.status, 200);
      const id = res.headers.get('x-request-id')!;
      await waitFor(() => feed.statusesOf(id).at(-1) === 'completed', 10_000, "node A's feed to tell the end of the run");
      assert.ok(feed.statusesOf(id).includes('running'), `told while it ran on B: ${feed.statusesOf(id)}`);
    } finally {
      feed.stop();
    }
  });

  test('a /result long-poll on one node wakes when another node finishes the run', async () => {
    const [a, b] = nodes as [Node, Node];
    const id = ((await (await call(a, '/provision-request', { method: 'POST' })).json()) as { request_id: string }).request_id;
    const waiting = call(a, `/result/${id}?timeout=30`);
    const ran = await call(b, '/run/slow', { json: { seconds: 0.5, interval: 0.1 }, headers: { 'x-provisioned-request-id': id } });
    assert.equal(ran.status, 200);
    const res = await waiting;
    const answeredAt = Date.now();
    assert.equal(res.status, 200);
    const record = (await res.json()) as { status: string; completedAt: string };
    assert.equal(record.status, 'completed');
    // Woken by NOTIFY, not by the 5-second safety net that re-reads the store.
    assert.ok(answeredAt - Date.parse(record.completedAt) < 5000, 'woken by the notification');
  });

  test("a service's concurrency cap holds across the nodes, for sync and async runs alike", async () => {
    type Span = { start: number; end: number };
    // Each node has room for 2 workers (6 in all); the service allows 2 runs at once in all.
    const asyncIds = await Promise.all(Array.from({ length: 9 }, (_, i) => startAsync(nodes[i % 3]!, 'capped', { ms: 250 })));
    const syncAnswers = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const res = await call(nodes[i % 3]!, '/run/capped', { json: { ms: 250 } });
        assert.equal(res.status, 200);
        return (await res.json()) as Span;
      }),
    );
    const asyncAnswers = await Promise.all(asyncIds.map(async (id, i) => (await resultOf(nodes[(i + 1) % 3]!, id)).responseJson as Span));
    const spans = [...syncAnswers, ...asyncAnswers];
    assert.equal(spans.length, 15);
    assert.ok(maxOverlap(spans) <= 2, `at most 2 at once across the cluster, saw ${maxOverlap(spans)}`);
  });

  test("a variable set through one node reaches the next run on every node: their warm workers are replaced", async () => {
    const greeting = async (node: Node) => ((await (await call(node, '/run/env-slow', { json: {} })).json()) as { atStart: string | null }).atStart;
    // A warm worker on node 1 that started without the variable.
    assert.equal(await greeting(nodes[1]!), null);
    const put = await call(nodes[0]!, '/env/GREETING', { method: 'PUT', body: JSON.stringify({ value: 'from node 0' }), headers: { 'content-type': 'application/json' } });
    assert.equal(put.status, 200, await put.text());
    // The notice crosses nodes over LISTEN/NOTIFY, so node 1 may take a moment to hear it.
    await waitFor(async () => ((await greeting(nodes[1]!)) === 'from node 0' ? true : undefined), 10_000, 'node 1 to see the new value');
    assert.equal(await greeting(nodes[2]!), 'from node 0');
    // Every node opens values sealed by another: they share the master key.
    assert.equal(await greeting(nodes[0]!), 'from node 0');
  });

  test('a key revoked through one node is refused by the others at once, though they hold it in their caches', async () => {
    const made = await call(nodes[0]!, '/keys', { json: { name: 'doomed' } });
    const { key: record, secret } = (await made.json()) as { key: { id: string }; secret: string };
    assert.equal(made.status, 201, JSON.stringify(record));
    const use = (node: Node) => fetch(`${node.url}/keys`, { headers: { authorization: secret } });
    // Each node looks it up now and may keep it for KEY_CACHE_MS from here.
    const cachedAt = Date.now();
    for (const node of nodes) assert.equal((await use(node)).status, 200);
    assert.equal((await call(nodes[0]!, `/keys/${record.id}`, { method: 'DELETE' })).status, 200);
    for (const node of nodes.slice(1)) {
      await waitFor(async () => ((await use(node)).status === 401 ? true : undefined), 10_000, 'the revoke to reach the node');
    }
    assert.ok(Date.now() - cachedAt < KEY_CACHE_MS, `refused before the cached entries lapsed: the bus carried the revoke (${Date.now() - cachedAt} ms)`);
  });

  test('kill -9 of one node mid-load: every request id still ends, exactly once', async () => {
    const ids = await Promise.all(Array.from({ length: 18 }, (_, i) => startAsync(nodes[i % 3]!, i % 2 ? 'retryable' : 'slow', i % 2 ? { seconds: 1 } : { seconds: 1, interval: 0.2 })));
    // Let every node take runs, then kill one of them without warning.
    await new Promise((r) => setTimeout(r, 500));
    const victim = nodes[1]!;
    victim.child.kill('SIGKILL');
    await new Promise((r) => victim.child.once('exit', r));
    const survivor = nodes[0]!;
    const records = await Promise.all(ids.map((id) => resultOf(survivor, id)));
    for (const r of records) {
      assert.ok(['completed', 'failed'].includes(String(r.status)), `run ${r.id} ended (${r.status})`);
      if (r.status === 'failed') {
        assert.equal(r.serviceId, 'slow', `only non-retryable runs may fail: ${JSON.stringify(r)}`);
        assert.equal(r.errorCode, 'RUNTIME_RESTARTED');
      }
      if (r.serviceId === 'retryable') assert.equal(r.status, 'completed', 'a retryable run interrupted by the kill ran again');
    }
    // Exactly once: every run is in one terminal row, and no run is left active.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const active = await client.query(`SELECT count(*)::int AS n FROM runs WHERE id = ANY($1) AND status IN ('queued', 'running')`, [ids]);
    const logsOfFailed = await client.query(
      `SELECT r.id, count(l.seq)::int AS lines FROM runs r LEFT JOIN run_logs l ON l.run_id = r.id WHERE r.id = ANY($1) AND r.status = 'failed' GROUP BY r.id`,
      [ids],
    );
    await client.end();
    assert.equal(active.rows[0].n, 0);
    for (const row of logsOfFailed.rows) assert.ok(row.lines >= 1, `run ${row.id} kept its log lines`);
  });
});
