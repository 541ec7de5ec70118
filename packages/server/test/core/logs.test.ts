/** /logs: live lines, resumption without gap or duplicate, both framings, and createdAt's promise. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readNdjson, startTestServer, type TestServer } from '../helpers.js';

describe('log streams', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  const startAsync = async (service: string, input: unknown) =>
    ((await (await s.fetch(`/run_async/${service}`, { json: input })).json()) as { request_id: string }).request_id;

  test('lines arrive live, before the run ends, and the stream ends with the run', async () => {
    const id = await startAsync('slow', { seconds: 1.2, interval: 0.2 });
    const res = await s.fetch(`/logs/${id}`);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('tick 1')) {
      const chunk = await reader.read();
      assert.ok(!chunk.done, 'the stream ended before the first line');
      text += new TextDecoder().decode(chunk.value);
    }
    const during = (await (await s.fetch(`/request/${id}`)).json()) as { status: string };
    assert.equal(during.status, 'running', 'the first line came while the run was still running');
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    const after = (await (await s.fetch(`/request/${id}`)).json()) as { status: string };
    assert.equal(after.status, 'completed', 'the stream ended when the run did');
    const ticks = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { message: string }).filter((l) => l.message.startsWith('tick'));
    assert.ok(ticks.length >= 2);
  });

  test('createdAt is strictly increasing by at least 1 ms within a run, even for a burst', async () => {
    const res = await s.fetch('/run/noisy', { json: { lines: 500 } });
    const lines = await readNdjson(await s.fetch(`/logs/${res.headers.get('x-request-id')}`));
    assert.ok(lines.length >= 500);
    for (let i = 1; i < lines.length; i++) {
      assert.ok(Date.parse(String(lines[i]!.createdAt)) >= Date.parse(String(lines[i - 1]!.createdAt)) + 1, `line ${i + 1}`);
    }
    // The exact time is kept beside it, with microseconds.
    assert.match(String(lines[0]!.time), /\.\d{6}Z$/);
  });

  test('?after=<createdAt> resumes strictly after that line: no gap, no duplicate', async () => {
    const res = await s.fetch('/run/noisy', { json: { lines: 40 } });
    const id = res.headers.get('x-request-id')!;
    const all = await readNdjson(await s.fetch(`/logs/${id}`));
    for (const k of [0, 9, all.length - 1]) {
      const rest = await readNdjson(await s.fetch(`/logs/${id}?after=${encodeURIComponent(String(all[k]!.createdAt))}`));
      assert.deepEqual(rest.map((l) => l.seq), all.slice(k + 1).map((l) => l.seq), `after line ${k + 1}`);
    }
  });

  test('?format=sse gives Server-Sent Events with id = seq, an end event, and Last-Event-ID resumes', async () => {
    const res = await s.fetch('/run/noisy', { json: { lines: 5 } });
    const id = res.headers.get('x-request-id')!;
    const sse = await s.fetch(`/logs/${id}?format=sse`);
    assert.match(sse.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = (await sse.text()).trim().split('\n\n');
    const logEvents = events.filter((e) => e.includes('event: log'));
    assert.deepEqual(logEvents.map((e) => Number(/^id: (\d+)/m.exec(e)![1])), logEvents.map((_, i) => i + 1));
    assert.match(events.at(-1)!, /^event: end\ndata: \{"status":"completed"\}$/);
    const resumed = await (await s.fetch(`/logs/${id}?format=sse`, { headers: { 'last-event-id': '6' } })).text();
    const ids = [...resumed.matchAll(/^id: (\d+)/gm)].map((m) => Number(m[1]));
    assert.deepEqual(ids, Array.from({ length: logEvents.length - 6 }, (_, i) => i + 7));
  });

  test('a reader that joins after the run ended gets every stored line and the stream ends', async () => {
    const res = await s.fetch('/run/noisy', { json: { lines: 3 } });
    const lines = await readNdjson(await s.fetch(`/logs/${res.headers.get('x-request-id')}`));
    assert.deepEqual(lines.filter((l) => l.source === 'stdout').map((l) => l.message), ['line 1', 'line 2', 'line 3', 'last-no-newline']);
  });

  test('a log stream waits for a provisioned run to start', async () => {
    const { request_id } = (await (await s.fetch('/provision-request', { method: 'POST' })).json()) as { request_id: string };
    const stream = s.fetch(`/logs/${request_id}`);
    await new Promise((r) => setTimeout(r, 100));
    await s.fetch('/run/noisy', { json: { lines: 2 }, headers: { 'x-provisioned-request-id': request_id } });
    const lines = await readNdjson(await stream);
    assert.ok(lines.some((l) => l.message === 'line 2'));
  });

  test('?after resumes a live stream too: a reader that reconnects misses nothing', async () => {
    const id = await startAsync('slow', { seconds: 1.2, interval: 0.1 });
    const res = await s.fetch(`/logs/${id}`);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('\n')) text += new TextDecoder().decode((await reader.read()).value);
    const first = JSON.parse(text.split('\n')[0]!) as { createdAt: string };
    await reader.cancel();
    const resumed = await readNdjson(await s.fetch(`/logs/${id}?after=${encodeURIComponent(first.createdAt)}`));
    const whole = await readNdjson(await s.fetch(`/logs/${id}`));
    assert.deepEqual([first, ...resumed], whole);
  });

  test('a run that ended without lines still gives a stream that ends', async () => {
    const res = await s.fetch('/run/echo', { json: {} });
    await res.arrayBuffer();
    assert.deepEqual(await readNdjson(await s.fetch(`/logs/${res.headers.get('x-request-id')}`)), []);
  });
});
