import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FileInfo } from '@runlet/protocol';
import { newUpload, putBytes } from '../files/file-helpers.js';
import { EXAMPLE_SERVICES, readNdjson, startTestServer, type TestServer } from '../helpers.js';

/** The seed's spreadsheet id, as its examples send it. */
const SHEET_ID = '1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms';

type Json = Record<string, unknown>;

const CSV = ['name,title,company', 'Ada Lovelace,Analyst,Engines Ltd', 'Grace Hopper,Admiral,Navy', 'Alan Turing,Fellow,Kings'].join('\n') + '\n';

/** What `npm start` loads (examples/services), each service doing what the README says it does. */
describe('example services', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ servicesDir: EXAMPLE_SERVICES });
  });
  after(() => t.close());

  test('echo answers its input, path, query string and request ids', async () => {
    const res = await t.fetch('/run/echo/some/path?x=1&y=two&tag=a&tag=b', { json: { hello: 'world' }, headers: { 'x-correlation-id': 'corr-1' } });
    assert.equal(res.status, 200);
    const requestId = res.headers.get('x-request-id');
    // A key given twice keeps both values.
    const query = { x: '1', y: 'two', tag: ['a', 'b'] };
    assert.deepEqual(await res.json(), { input: { hello: 'world' }, path: 'some/path', query, requestId, correlationId: 'corr-1' });
  });

  test('slow sleeps, logging a tick each interval, and answers how long it slept', async () => {
    const res = await t.fetch('/run/slow', { json: { seconds: 1, interval: 0.1 } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { slept: 1 });
    const lines = await readNdjson(await t.fetch(`/logs/${res.headers.get('x-request-id')}`));
    const ticks = lines.map((l) => String(l.message)).filter((m) => /^tick \d+$/.test(m));
    // About ten; fewer when a loaded machine wakes its timers late, but always counted from 1.
    assert.ok(ticks.length >= 3, `ticks: ${ticks}`);
    assert.deepEqual(ticks, ticks.map((_, i) => `tick ${i + 1}`));
  });

  test("fail answers the status and message it is asked for, as the service's own answer", async () => {
    const res = await t.fetch('/run/fail', { json: { status: 418, message: 'short and stout' } });
    assert.equal(res.status, 418);
    assert.equal(res.headers.get('x-runlet-error'), null, 'not a runtime error');
    assert.deepEqual(await res.json(), { error: 'short and stout' });
  });

  test('fail with crash: true kills its worker mid-call, a runtime error, and the next call is served', async () => {
    const res = await t.fetch('/run/fail', { json: { crash: true } });
    assert.equal(res.status, 502);
    assert.equal(res.headers.get('x-runlet-error'), 'WORKER_CRASHED');
    assert.equal(((await res.json()) as Json).code, 'WORKER_CRASHED');
    assert.equal((await t.fetch('/run/fail', { json: { status: 409 } })).status, 409);
  });

  test('countdown answers the list, or streams one event per number with Accept: text/event-stream', async () => {
    const whole = await t.fetch('/run/countdown', { json: { from: 3, delayMs: 0 } });
    assert.deepEqual(await whole.json(), { numbers: [3, 2, 1, 0] });
    const streamed = await t.fetch('/run/countdown', { json: { from: 3, delayMs: 10 }, headers: { accept: 'text/event-stream' } });
    assert.equal(streamed.status, 200);
    assert.match(streamed.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = (await streamed.text())
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => JSON.parse(l.slice('data:'.length)) as Json);
    assert.deepEqual(events, [{ n: 3 }, { n: 2 }, { n: 1 }, { n: 0 }]);
  });

  test("linkedin-enricher answers the seed's output shape, for a sheet's id or its whole URL alike", async () => {
    const input = { spreadsheet: SHEET_ID, include_email: true, output_columns: ['bio', 'location'] };
    const byId = await t.fetch('/run/linkedin-enricher', { json: input });
    assert.equal(byId.status, 200);
    const out = (await byId.json()) as Json & { rows: Json[] };
    assert.equal(out.status, 'completed');
    assert.equal(out.processed_count, 25);
    assert.equal(out.success_rate, 0.92);
    assert.equal(out.updated_sheet_url, `https://docs.google.com/spreadsheets/d/${SHEET_ID}/edit`);
    assert.match(String(out.summary), /^## Enrichment Complete\n/);
    assert.deepEqual(Object.keys(out.rows[0]!).sort(), ['bio', 'email', 'linkedin_url', 'location', 'name']);

    const url = `https://docs.google.com/spreadsheets/d/${SHEET_ID}/edit#gid=0`;
    const byUrl = await t.fetch('/run/linkedin-enricher', { json: { ...input, spreadsheet: url } });
    assert.deepEqual(await byUrl.json(), out, 'the same sheet, the same answer');
  });

  test('greeter greets with the default word when the account set no GREETING', async () => {
    const res = await t.fetch('/run/greeter', { json: { name: 'Ada' } });
    assert.deepEqual(await res.json(), { greeting: 'Hello, Ada!' });
  });

  test('hello-python, a service in another language, answers over HTTP on $PORT and logs what it prints', async () => {
    const res = await t.fetch('/run/hello-python/hi', { json: { name: 'Ada' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { hello: 'Ada', path: '/hi', language: 'python' });
    const lines = await readNdjson(await t.fetch(`/logs/${res.headers.get('x-request-id')}`));
    assert.ok(lines.some((l) => l.message === 'saying hello to Ada'), JSON.stringify(lines));
  });

  // csv-processor on the real file flow: the seed's upload example.
  test('csv-processor counts the rows of a CSV uploaded through the API, read from its download URL', async () => {
    const urls = await newUpload(t, 'people.csv');
    assert.equal((await putBytes(urls.upload_uri, CSV, 'text/csv')).status, 200);
    const run = await t.fetch('/run/csv-processor', { json: { csv_file: urls.download_uri, processing_options: { header_row: true } } });
    assert.equal(run.status, 200, await run.clone().text());
    const out = (await run.json()) as { row_count: number; columns: string[] };
    assert.equal(out.row_count, 3);
    assert.deepEqual(out.columns, ['name', 'title', 'company']);
  });

  test('csv-processor: the same with a one-step upload, an async run and /result, and without a header row', async () => {
    const up = await t.fetch('/file?filename=people.csv', { method: 'POST', body: CSV, headers: { 'content-type': 'text/csv' } });
    const { download_uri } = (await up.json()) as FileInfo;
    const started = await t.fetch('/run_async/csv-processor', { json: { csv_file: download_uri, processing_options: { header_row: false } } });
    const { request_id } = (await started.json()) as { request_id: string };
    const result = await t.fetch(`/result/${request_id}?timeout=30`);
    assert.equal(result.status, 200);
    const record = (await result.json()) as { responseStatus: number; responseJson: { row_count: number } };
    assert.equal(record.responseStatus, 200);
    assert.equal(record.responseJson.row_count, 4);
  });

  test('csv-processor: a download URL whose file was deleted makes the service answer its own error, not crash', async () => {
    const urls = await newUpload(t, 'gone.csv');
    await putBytes(urls.upload_uri, CSV);
    await t.fetch(`/files/${urls.file_id}`, { method: 'DELETE' });
    const run = await t.fetch('/run/csv-processor', { json: { csv_file: urls.download_uri } });
    assert.equal(run.status, 422);
    assert.match(((await run.json()) as { error: string }).error, /404/);
  });

  test('each input schema, as published, requires only what a caller must send', async () => {
    const { services } = (await (await t.fetch('/services')).json()) as { services: (Json & { inputSchema: Json | null })[] };
    const schemaOf = (id: string) => services.find((s) => s.id === id)?.inputSchema as { required?: string[]; properties?: Json } | null;
    // `interval` has a default: a caller may leave it out.
    assert.deepEqual(schemaOf('slow')?.required, ['seconds']);
    assert.ok(schemaOf('slow')?.properties?.interval);
    // The enricher's `spreadsheet` is transformed (id or URL): its schema still says what it takes in.
    assert.deepEqual(schemaOf('linkedin-enricher')?.required, ['spreadsheet']);
  });
});
