/**
 * The embedded store's run journal (`JournaledRuns`, `RunJournal`): what the
 * conformance suite cannot see from outside. A run journaled and not yet indexed survives a
 * killed process; a write the journal refuses is undone; runs wait in the journal while the
 * tables refuse them, and none is lost.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type Database from 'better-sqlite3';
import { attemptRowOf } from '../../src/engine/attempts.js';
import { RunletError } from '../../src/errors.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { changeLine, RunJournal, runLine } from '../../src/store/sqlite/run-journal.js';
import type { AttemptRow, RunListQuery, RunOutcome } from '../../src/store/store.js';
import { newRunOf } from './new-run.js';

const STORE_MODULE = fileURLToPath(new URL('../../src/store/sqlite/sqlite-store.ts', import.meta.url));
const completed = (over: Partial<RunOutcome> = {}): RunOutcome => ({
  status: 'completed', completedAt: Date.now(), responseStatus: 200, responseContentType: 'application/json', responseBody: Buffer.from('{"ok":true}'), ...over,
});

/** The store's insides a test reaches for: its connection and its journal's descriptor. */
const insides = (store: SqliteStore) => store as unknown as { db: Database.Database; journal: { fd: number; file: string }; commits: { hold(): void; resume(): void } };

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'runlet-journal-'));
  file = path.join(dir, 'runlet.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sync runs in the journal', () => {
  test('a journaled run reads the same before and after it is indexed, as the table holds it', async () => {
    const store = new SqliteStore(file);
    const accountId = (await store.defaultAccount()).id;
    const run = await store.createRun(newRunOf(accountId, { mode: 'sync', method: 'PUT', path: 'a/b', query: 'q=1', correlationId: 'c', requestHeaders: { accept: '*/*' }, input: Buffer.from([0, 1, 255]), leaseExpiresAt: 5000 }));
    await store.markRunning(run.id, 'node-a', 1000, 6000);
    await store.completeRun(run.id, completed({ completedAt: 2000 }), 'node-a', attemptRowOf({ ...run, startedAt: 1000, attempt: 1 }, completed({ completedAt: 2000 }), 'node-a', null));
    const journaled = await store.getRunRecord(run.id);
    const journalFile = insides(store).journal.file;
    assert.equal(RunJournal.read(journalFile).length, 1, 'still in the journal');
    assert.deepEqual(await store.listRuns({ accountId, limit: 1 }), [journaled!.run], 'listed from the journal, where it is');
    assert.equal(RunJournal.read(journalFile).length, 1, 'a list leaves it there');
    await store.findOrphanedRuns({ notNodeId: 'node-z' }); // a read of the tables indexes it first
    assert.equal(statSync(journalFile).size, 0, 'the journal is empty once every run is indexed');
    assert.deepEqual(await store.getRunRecord(run.id), journaled);
    assert.deepEqual([journaled!.run.status, journaled!.run.attempt, journaled!.attempts.length], ['completed', 1, 1]);
    await store.close();
  });

  test('a list takes runs from the journal and the tables together, in the tables\' order, ties broken by id', async () => {
    const store = new SqliteStore(file);
    const accountId = (await store.defaultAccount()).id;
    const sync = { mode: 'sync' as const, startedAt: 1000, leaseExpiresAt: 5000 };
    await store.createRun(newRunOf(accountId, { ...sync, id: 'req_b', createdAt: 1000 }));
    await store.createRun(newRunOf(accountId, { ...sync, id: 'req_d', createdAt: 900 }));
    await store.findOrphanedRuns({ notNodeId: 'node-z' }); // into the tables
    await store.createRun(newRunOf(accountId, { ...sync, id: 'req_a', createdAt: 1000 }));
    await store.createRun(newRunOf(accountId, { ...sync, id: 'req_c', createdAt: 1000 }));
    await store.createRun(newRunOf(accountId, { ...sync, id: 'req_e', createdAt: 1100 }));
    assert.equal(RunJournal.read(insides(store).journal.file).length, 3, 'three in the journal, two in the tables');
    const ids = async (page: Partial<RunListQuery>) => (await store.listRuns({ accountId, limit: 10, ...page })).map((r) => r.id);
    assert.deepEqual(await ids({}), ['req_e', 'req_c', 'req_b', 'req_a', 'req_d']);
    assert.deepEqual(await ids({ limit: 2 }), ['req_e', 'req_c']);
    assert.deepEqual(await ids({ before: { createdAt: 1000, id: 'req_c' }, limit: 2 }), ['req_b', 'req_a']);
    // Another account's journaled runs are in neither its list nor its usage.
    const other = (await store.createAccount('other')).id;
    await store.createRun(newRunOf(other, { ...sync, id: 'req_f', createdAt: 1200 }));
    assert.deepEqual(await ids({}), ['req_e', 'req_c', 'req_b', 'req_a', 'req_d']);
    assert.deepEqual((await store.runTimings(accountId, 0, 10)).map((t) => t.createdAt), [1100, 1000, 1000, 1000, 900]);
    assert.deepEqual((await store.listRuns({ accountId: other, limit: 10 })).map((r) => r.id), ['req_f']);
    await store.close();
  });

  test('a write to the tables about one journaled run moves that run there, and leaves the others', async () => {
    const store = new SqliteStore(file);
    const accountId = (await store.defaultAccount()).id;
    const queued = [await store.createRun(newRunOf(accountId, { mode: 'async' })), await store.createRun(newRunOf(accountId, { mode: 'async' }))];
    const running = await store.createRun(newRunOf(accountId, { mode: 'sync', startedAt: 100, leaseExpiresAt: 30_000, serviceId: 'other' }));
    assert.equal(await store.requeueRun(running.id), true);
    const journalFile = insides(store).journal.file;
    assert.deepEqual(RunJournal.read(journalFile).map((r) => r.row.id), queued.map((r) => r.id), 'the queued backlog stays in the journal');
    assert.equal((await store.getRun(running.id))?.status, 'queued');
    // A capped start counts its service's runs in the tables: it moves those, not another service's.
    const capped = await store.createRun(newRunOf(accountId, { mode: 'sync', serviceId: 'capped' }));
    assert.equal(await store.markRunning(capped.id, 'node-a', 200, 30_000, { serviceId: 'capped', max: 1 }), true);
    assert.deepEqual(RunJournal.read(journalFile).map((r) => r.row.id), queued.map((r) => r.id));
    await store.close();
  });

  test('a journaled run retried goes to the tables, and the next claim of its service finds it there', async () => {
    const store = new SqliteStore(file);
    const accountId = (await store.defaultAccount()).id;
    const run = await store.createRun(newRunOf(accountId, { mode: 'async', serviceId: 'svc', createdAt: 100 }));
    const claim = (now: number) => store.claimQueuedRuns({ serviceId: 'svc', limit: 5, nodeId: 'node-a', claimNumber: now, now, leaseExpiresAt: now + 1000 });
    assert.deepEqual((await claim(200)).map((r) => r.id), [run.id], 'claimed from the journal');
    assert.deepEqual(await claim(300), [], 'and none is left: the store knows the tables hold none of the service');
    const attempt: AttemptRow = { runId: run.id, attempt: 1, status: 'failed', responseStatus: 503, error: 'busy', errorCode: null, nodeId: 'node-a', startedAt: 200, endedAt: 300, retryAt: 400 };
    assert.equal(await store.retryRun({ ...attempt, retryAt: 400 }, 'node-a'), true);
    assert.deepEqual((await claim(500)).map((r) => [r.id, r.attempt]), [[run.id, 2]], 'the retry is claimed from the tables');
    await store.close();
  });

  test('the lease sweep and retention take from the journal what they look for, and leave a queued backlog there', async () => {
    const store = new SqliteStore(file);
    const accountId = (await store.defaultAccount()).id;
    const queued = await store.createRun(newRunOf(accountId, { mode: 'async' }));
    const lapsed = await store.createRun(newRunOf(accountId, { mode: 'sync', startedAt: 100, leaseExpiresAt: 500, nodeId: 'node-gone' }));
    const renewed = await store.createRun(newRunOf(accountId, { mode: 'sync', startedAt: 100, leaseExpiresAt: 5000 }));
    const ended = await store.createRun(newRunOf(accountId, { mode: 'sync', startedAt: 100, leaseExpiresAt: 5000 }));
    await store.completeRun(ended.id, completed({ completedAt: 200 }));
    assert.deepEqual((await store.findOrphanedRuns({ leaseExpiredBefore: 1000 })).map((r) => r.id), [lapsed.id]);
    assert.deepEqual(await store.purgeExpiredRuns({ now: 10_000, defaultRetentionSeconds: 1, tombstoneSeconds: 60, limit: 10 }), [ended.id]);
    const journalFile = insides(store).journal.file;
    assert.deepEqual(RunJournal.read(journalFile).map((r) => r.row.id).sort(), [queued.id, renewed.id].sort());
    await store.close();
  });

  test('runs journaled by a killed process are in the tables when the store opens again', async () => {
    const ids = { queued: 'req_queued', ended: 'req_ended', running: 'req_running', cancelled: 'req_cancelled' };
    // The child holds the store's writes, so nothing is indexed on its timer: only the journal has them.
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
      const { SqliteStore } = await import(${JSON.stringify(STORE_MODULE)});
      const store = new SqliteStore(${JSON.stringify(file)});
      const accountId = (await store.defaultAccount()).id;
      store.commits.hold();
      const run = (id, startedAt) => ({ id, accountId, keyId: null, serviceId: 'svc', method: 'POST', path: '', query: null, mode: 'sync',
        input: Buffer.from('{"n":1}'), inputContentType: 'application/json', requestHeaders: {}, correlationId: null, createdAt: 1000,
        nodeId: 'dead-node', leaseExpiresAt: 99000, startedAt });
      await store.createRun(run(${JSON.stringify(ids.queued)}, null));
      await store.createRun(run(${JSON.stringify(ids.running)}, 1000));
      await store.createRun(run(${JSON.stringify(ids.ended)}, 1000));
      await store.createRun(run(${JSON.stringify(ids.cancelled)}, null));
      await store.completeRun(${JSON.stringify(ids.ended)}, { status: 'completed', completedAt: 1500, responseStatus: 201, responseContentType: 'text/plain', responseBody: Buffer.from('done') }, 'dead-node',
        { runId: ${JSON.stringify(ids.ended)}, attempt: 1, status: 'completed', responseStatus: 201, error: null, errorCode: null, nodeId: 'dead-node', startedAt: 1000, endedAt: 1500, retryAt: null });
      await store.cancelRun(${JSON.stringify(ids.cancelled)}, 1200, 'Cancelled by a test.');
      process.kill(process.pid, 'SIGKILL');
    `], { encoding: 'utf8', cwd: path.dirname(STORE_MODULE) });
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    const left = RunJournal.leftBehind(file);
    assert.equal(left.length, 1, 'the dead process left its journal');
    assert.deepEqual(RunJournal.read(left[0]!).map((r) => r.row.id).sort(), Object.values(ids).sort(), 'and it holds them');
    writeFileSync(`${left[0]}.new`, '{"mark":1}\n'); // as a compaction killed before its rename leaves it

    const store = new SqliteStore(file);
    const statusOf = async (id: string) => (await store.getRun(id))?.status;
    assert.deepEqual(
      await Promise.all(Object.values(ids).map(statusOf)),
      ['queued', 'completed', 'running', 'cancelled'],
    );
    const ended = (await store.getRunRecord(ids.ended))!;
    assert.deepEqual([ended.run.responseStatus, ended.run.responseBody?.toString(), ended.run.input?.toString()], [201, 'done', '{"n":1}']);
    assert.deepEqual(ended.attempts.map((a) => [a.attempt, a.endedAt]), [[1, 1500]]);
    assert.deepEqual(RunJournal.leftBehind(file), [], 'replayed once, then removed');
    assert.ok(!existsSync(`${left[0]}.new`), "the compaction's leftover too");
    // The dead node's runs are its orphans now, for recovery to end.
    assert.deepEqual((await store.findOrphanedRuns({ notNodeId: 'this-node' })).map((r) => r.id).sort(), [ids.queued, ids.running].sort());
    await store.close();
  });

  test('a write the journal refuses is undone: the caller hears STORE_UNAVAILABLE and no reader sees it', async () => {
    const store = new SqliteStore(file);
    const accountId = (await store.defaultAccount()).id;
    const started = await store.createRun(newRunOf(accountId, { mode: 'sync', startedAt: 100, leaseExpiresAt: 30_000 }));
    const { journal } = insides(store);
    const own = journal.fd;
    journal.fd = openSync('/dev/full', 'w');
    const refused = newRunOf(accountId, { mode: 'sync' });
    await assert.rejects(store.createRun(refused), (err: unknown) => err instanceof RunletError && err.code === 'STORE_UNAVAILABLE' && /disk .* is full/.test(err.message));
    await assert.rejects(store.completeRun(started.id, completed(), 'node-a'), (err: unknown) => err instanceof RunletError && err.code === 'STORE_UNAVAILABLE');
    closeSync(journal.fd);
    journal.fd = own;
    assert.equal(await store.getRun(refused.id), undefined);
    assert.equal((await store.getRun(started.id))!.status, 'running', 'the refused ending was undone');
    assert.deepEqual(await store.countAccountRuns(accountId), { queued: 0, running: 1 }, "so are the account's counts: the refused run is not queued, the other still running");
    assert.equal((await store.completeRun(started.id, completed(), 'node-a'))?.status, 'completed', 'and can be written again');
    const listed = (await store.listRuns({ accountId, limit: 10 })).map((r) => r.id);
    assert.deepEqual(listed, [started.id], 'the refused run never reaches the tables');
    await store.close();
  });

  test('while the tables refuse writes, runs wait in the journal; none is lost, also across a restart', async () => {
    let store = new SqliteStore(file);
    const accountId = (await store.defaultAccount()).id;
    insides(store).db.pragma('query_only = ON');
    const runs = await Promise.all([1, 2, 3].map(() => store.createRun(newRunOf(accountId, { mode: 'sync', startedAt: 100, leaseExpiresAt: 30_000 }))));
    for (const run of runs) assert.equal((await store.completeRun(run.id, completed(), 'node-a'))?.status, 'completed');
    await new Promise((r) => setTimeout(r, 250)); // indexing tried, and refused, twice
    await assert.rejects(store.findOrphanedRuns({ notNodeId: 'node-z' }), /readonly|read-only/i, 'a read of the tables needs them indexed');
    assert.equal((await store.runTimings(accountId, 0, 10)).length, 3, 'usage takes them from the journal');
    assert.deepEqual((await store.listRuns({ accountId, limit: 10 })).map((r) => r.status), ['completed', 'completed', 'completed'], 'a list takes them from the journal');
    assert.deepEqual((await Promise.all(runs.map((r) => store.getRun(r.id)))).map((r) => r?.status), ['completed', 'completed', 'completed']);
    const last = await store.createRun(newRunOf(accountId, { mode: 'sync', startedAt: 100, leaseExpiresAt: 30_000 }));
    const journalFile = insides(store).journal.file;
    const ending = store.completeRun(last.id, completed(), 'node-a'); // asked in the turn the store closes in
    await store.close(); // cannot index them: the journal keeps them
    assert.equal((await ending)?.status, 'completed', 'answered, not left waiting');
    assert.equal(RunJournal.read(journalFile).length, 4);
    assert.deepEqual(RunJournal.leftBehind(file), [journalFile]);

    store = new SqliteStore(file);
    assert.deepEqual((await store.listRuns({ accountId, limit: 10 })).map((r) => r.status), ['completed', 'completed', 'completed', 'completed']);
    const more = await store.createRun(newRunOf(accountId, { mode: 'sync', startedAt: 100, leaseExpiresAt: 30_000 }));
    insides(store).db.pragma('query_only = ON');
    await store.completeRun(more.id, completed(), 'node-a');
    insides(store).db.pragma('query_only = OFF');
    // The timer indexes it once the tables take writes again, without any reader asking.
    const deadline = Date.now() + 5000;
    while (statSync(insides(store).journal.file).size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const count = insides(store).db.prepare('SELECT count(*) FROM runs WHERE id = ?').pluck().get(more.id);
    assert.equal(count, 1);
    await store.close();
  });
});

test('another store on the same database (runlet keys create beside a server) leaves the journal of the first alone', async () => {
  const server = new SqliteStore(file);
  const accountId = (await server.defaultAccount()).id;
  insides(server).commits.hold(); // nothing indexed on the timer meanwhile
  const run = await server.createRun(newRunOf(accountId, { mode: 'sync', startedAt: 100, leaseExpiresAt: 30_000 }));
  const journalFile = insides(server).journal.file;
  const cli = new SqliteStore(file);
  await cli.createApiKey({ id: 'key_1', accountId, kind: 'standard', name: null, hash: 'h', prefix: 'cwk-1', internal: false, createdAt: 1 });
  await cli.close();
  assert.deepEqual(RunJournal.read(journalFile).map((r) => r.row.id), [run.id], 'still there, still whole');
  assert.equal((await server.completeRun(run.id, completed(), 'node-a'))?.status, 'completed');
  insides(server).commits.resume();
  assert.deepEqual((await server.listRuns({ accountId, limit: 5 })).map((r) => [r.id, r.status]), [[run.id, 'completed']]);
  await server.close();
});

describe('the journal file', () => {
  const row = (id: string, status: string) => ({ id, account_id: 'acc', status, input: Buffer.from([1, 2]), node_id: null });

  test('a mark leaves out the runs it names; changes fold into their run; a torn last line is skipped', () => {
    const journal = new RunJournal(`${file}-runs-test`);
    journal.append(runLine({ row: row('a', 'running'), attempts: [] }) + runLine({ row: row('b', 'running'), attempts: [] }));
    journal.mark(['a'], () => assert.fail('a journal under its size is not written anew'));
    journal.append(changeLine('a', { status: 'completed' }) + changeLine('b', { status: 'completed' }, { runId: 'b', attempt: 1, status: 'completed', responseStatus: 200, error: null, errorCode: null, nodeId: 'n', startedAt: 1, endedAt: 2, retryAt: null }));
    journal.close();
    appendFileSync(`${file}-runs-test`, '{"id":"c","row":{"id":"c","sta');
    const runs = RunJournal.read(`${file}-runs-test`);
    assert.deepEqual(runs.map((r) => [r.row.id, r.row.status, r.attempts.length]), [['b', 'completed', 1]], 'a is in the tables, whatever lines it has');
    assert.deepEqual(runs[0]!.row.input, Buffer.from([1, 2]), 'blobs survive');
  });

  test('a line cut short by a failed write does not swallow the next one', () => {
    const journalFile = `${file}-runs-test`;
    const journal = new RunJournal(journalFile);
    const inside = journal as unknown as { fd: number };
    const own = inside.fd;
    inside.fd = openSync('/dev/full', 'w');
    assert.throws(() => journal.append(runLine({ row: row('a', 'queued'), attempts: [] })), /full/);
    closeSync(inside.fd);
    inside.fd = own;
    appendFileSync(journalFile, '{"id":"x","row":{"id":"x"'); // what a short write leaves
    (journal as unknown as { torn: boolean }).torn = true;
    journal.append(runLine({ row: row('b', 'queued'), attempts: [] }));
    journal.close();
    assert.deepEqual(RunJournal.read(journalFile).map((r) => r.row.id), ['b']);
  });

  test('past its size limit, a mark writes the journal anew with only the runs it keeps', () => {
    const journalFile = `${file}-runs-test`;
    const journal = new RunJournal(journalFile, 200);
    journal.append(runLine({ row: row('a', 'completed'), attempts: [] }).repeat(3));
    journal.mark(['a'], () => [{ row: row('b', 'running'), attempts: [] }]);
    const text = readFileSync(journalFile, 'utf8');
    assert.ok(!text.includes('"a"'), 'what the tables hold is gone from the file');
    journal.append(changeLine('b', { status: 'completed' }));
    assert.deepEqual(RunJournal.read(journalFile).map((r) => [r.row.id, r.row.status]), [['b', 'completed']]);
    // Emptied once every run is indexed, the new file takes its next line at its start.
    journal.clear();
    const line = runLine({ row: row('c', 'queued'), attempts: [] });
    journal.append(line);
    journal.close();
    assert.equal(readFileSync(journalFile, 'utf8'), line);
    assert.deepEqual(RunJournal.read(journalFile).map((r) => r.row.id), ['c']);
  });

  test('runs kept past the size limit are not written anew at every mark, only once the journal has doubled', () => {
    const journalFile = `${file}-runs-test`;
    const journal = new RunJournal(journalFile, 200);
    const backlog = Array.from({ length: 4 }, (_, i) => ({ row: row(`q${i}`, 'queued'), attempts: [] }));
    const kept = runLine(backlog[0]!).length * backlog.length;
    assert.ok(kept > 200, 'a backlog larger than the limit');
    journal.append(runLine({ row: row('a', 'completed'), attempts: [] }).repeat(3));
    let rewrites = 0;
    const keep = () => (rewrites++, backlog);
    journal.mark(['a'], keep);
    assert.equal(rewrites, 1);
    let marks = 0;
    const markLine = (id: string) => JSON.stringify({ indexed: [id] }).length + 1;
    while (statSync(journalFile).size + markLine(`done${marks}`) <= 2 * kept) {
      journal.mark([`done${marks++}`], keep);
      assert.equal(rewrites, 1, `mark ${marks}: appended, not written anew`);
    }
    assert.ok(marks > 5, 'many marks fit before it doubles');
    journal.mark(['last'], keep);
    assert.equal(rewrites, 2, 'written anew once it has doubled');
    journal.close();
    assert.deepEqual(RunJournal.read(journalFile).map((r) => r.row.id), ['q0', 'q1', 'q2', 'q3']);
  });
});
