/**
 * The TypeScript client in a real browser: bundled as a page would bundle it, loaded from
 * another origin than the runtime's (so CORS is exercised as in a web app), and driven in
 * Debian's Chromium against a live server.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, launchBrowser, screenshotPath } from '../../server/test/browser.js';
import type { TestServer } from '../../server/test/helpers.js';
import { startClientServer } from './support.js';

const skip = browserSkipReason();
const ENTRY = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/** The page's own origin: a plain static server with the bundled client as `window.Runlet`. */
async function startPageServer(): Promise<{ url: string; server: Server }> {
  const bundle = await build({ entryPoints: [ENTRY], bundle: true, format: 'iife', globalName: 'Runlet', platform: 'browser', target: 'es2022', write: false });
  const script = bundle.outputFiles[0]!.text;
  const server = createServer((req, res) => {
    if (req.url === '/client.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>client in a browser</title><pre id="out"></pre><script src="/client.js"></script>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('the TypeScript client in Chromium', { skip }, () => {
  let runtime: TestServer;
  let pages: { url: string; server: Server };
  let browser: Browser;
  let page: Page;

  before(async () => {
    [runtime, pages, browser] = await Promise.all([startClientServer(), startPageServer(), launchBrowser()]);
    page = await browser.newPage();
    await page.goto(pages.url);
    // A page's origin is not the runtime's: every call below is a cross-origin one.
    assert.notEqual(new URL(pages.url).origin, new URL(runtime.url).origin);
  });
  after(async () => {
    await browser?.close();
    pages?.server.close();
    await runtime?.close();
  });

  /** Runs `fn` in the page with a client for the live runtime as its argument's `client`. */
  const inPage = <T>(fn: string) =>
    page.evaluate(
      async ({ body, url, key }) => {
        const Runlet = (window as unknown as { Runlet: typeof import('../src/index.js') }).Runlet;
        const client = new Runlet.RunletClient({ apiKey: key, baseUrl: url });
        return new Function('Runlet', 'client', `return (async () => { ${body} })()`)(Runlet, client);
      },
      { body: fn, url: runtime.url, key: runtime.key },
    ) as Promise<T>;

  test('a sync run answers the service output', async () => {
    const out = await inPage<{ input: unknown }>(`return await client.run('echo-input', { from: 'the browser' });`);
    assert.deepEqual(out.input, { from: 'the browser' });
  });

  test('an async run: start, follow its logs live, then its result', async () => {
    const got = await inPage<{ lines: string[]; result: unknown; requestId: string }>(`
      const handle = await client.start('ticker', { count: 4, intervalMs: 30 });
      const lines = [];
      for await (const line of handle.logs()) lines.push(line.message);
      return { lines, result: await handle.result(), requestId: handle.requestId };
    `);
    assert.deepEqual(got.lines, ['tick 1', 'tick 2', 'tick 3', 'tick 4']);
    assert.deepEqual(got.result, { ticks: 4 });
    const record = (await (await runtime.fetch(`/request/${got.requestId}`)).json()) as { status: string };
    assert.equal(record.status, 'completed');
  });

  test('a file uploaded from the page downloads with its bytes and type', async () => {
    const got = await inPage<{ text: string; type: string | null }>(`
      const file = await client.uploadFile(new Blob(['name,score\\nada,3\\n'], { type: 'text/csv' }), { filename: 'scores.csv' });
      const res = await fetch(file.downloadUrl);
      return { text: await res.text(), type: res.headers.get('content-type') };
    `);
    assert.equal(got.text, 'name,score\nada,3\n');
    assert.match(got.type ?? '', /^text\/csv/);
  });

  test('errors keep their type and the runtime code across the origin boundary', async () => {
    const got = await inPage<{ name: string; code: string; status: number }>(`
      const bad = new Runlet.RunletClient({ apiKey: 'cwk-not-a-real-key', baseUrl: client.baseUrl });
      try { await bad.run('echo-input', {}); } catch (err) {
        return { name: err.constructor.name, code: err.code, status: err.status, isAuth: err instanceof Runlet.AuthError };
      }
    `);
    assert.deepEqual(got, { name: 'AuthError', code: 'AUTH_INVALID', status: 401, isAuth: true });
    await page.evaluate(() => (document.getElementById('out')!.textContent = 'client checks passed in this browser'));
    await page.screenshot({ path: screenshotPath('client-in-chromium') });
  });
});
