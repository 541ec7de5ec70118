/**
 * The dashboard in a real browser against a real server: sign in, run a service from its form,
 * watch a slow run's logs arrive live, the runs table, keys (create, use, revoke), env vars,
 * files and usage. Every page's screenshot goes to test-artifacts/dashboard/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXAMPLE_SERVICES, startTestServer, tempDirs, waitFor, type TestServer } from '../../server/test/helpers.js';
import { ensureDashboardBuilt } from '../build.js';
import { browserMissing, launchBrowser, type TestBrowser } from './browser.js';

const missing = browserMissing();
if (missing) console.log(`# dashboard browser tests skipped: ${missing}; set RUNLET_REQUIRE_BROWSER=1 to make this a failure`);

/** Generous: two cores shared with other suites; waits end as soon as the page shows the state. */
const UI_WAIT = { timeout: 30_000 };

describe('dashboard in a browser', { skip: missing }, () => {
  let s: TestServer;
  let b: TestBrowser;
  before(async () => {
    ensureDashboardBuilt();
    s = await startTestServer({ servicesDir: EXAMPLE_SERVICES });
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await s?.close();
  });
  const page = () => b.page;
  const go = (path: string) => page().goto(s.url + path);

  /** How far the page scrolls sideways: a wide table or code block must scroll inside its card instead. */
  const sideScroll = () => page().evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as Promise<number>;

  /** A refusal from the server: on a server without the account API, the note that says so. */
  const refusal = () => page().locator('.note, .error').first();

  test('first-run setup makes the administrator; signing out and in again with the password', async () => {
    await go('/setup');
    await page().getByText('This page needs the setup link').waitFor(UI_WAIT);
    const fill = async (token: string) => {
      await go(`/setup?token=${token}`);
      await page().getByLabel('Email').fill('admin@example.com');
      await page().getByLabel('Password', { exact: true }).fill('correct horse battery');
      await page().getByLabel('Repeat the password').fill('correct horse battery');
      await page().getByRole('button', { name: 'Create administrator' }).click();
    };
    await fill('not-a-real-token');
    await refusal().waitFor(UI_WAIT);
    assert.match(await refusal().innerText(), /SETUP_LINK_INVALID/);
    await b.screenshot('setup');
    await fill(s.server.runtime.setupToken!);
    await page().getByRole('heading', { name: 'Services' }).waitFor(UI_WAIT);
    await page().getByText('admin@example.com').first().waitFor(UI_WAIT);

    await page().getByRole('button', { name: 'Sign out' }).click();
    await page().waitForURL(/\/sign-in$/, UI_WAIT);
    await page().getByRole('tab', { name: 'Email & password' }).click();
    await page().getByLabel('Email').fill('admin@example.com');
    await page().getByLabel('Password').fill('wrong password');
    await page().getByRole('button', { name: 'Sign in' }).click();
    await refusal().waitFor(UI_WAIT);
    assert.match(await refusal().innerText(), /LOGIN_FAILED/);
    assert.ok(page().url().endsWith('/sign-in'), 'still signed out');
    await page().getByLabel('Password').fill('correct horse battery');
    await page().getByRole('button', { name: 'Sign in' }).click();
    await page().getByRole('heading', { name: 'Services' }).waitFor(UI_WAIT);
    // The session is the browser's: an HTTP-only cookie, not readable by the page's scripts.
    assert.equal(await page().evaluate(() => document.cookie), '');
    await page().getByRole('button', { name: 'Sign out' }).click();
    await page().waitForURL(/\/sign-in$/, UI_WAIT);
    await page().getByRole('tab', { name: 'API key' }).click();
  });

  test('signing in with an API key leads to the services', async () => {
    await go('/');
    await page().waitForURL(/\/sign-in$/, UI_WAIT);
    await b.screenshot('sign-in');
    await page().getByLabel('API key').fill('cwk-not-a-real-key');
    await page().getByRole('button', { name: 'Sign in' }).click();
    await page().getByRole('alert').waitFor(UI_WAIT);
    assert.match(await page().getByRole('alert').innerText(), /AUTH_INVALID/);

    await page().getByLabel('API key').fill(s.key);
    await page().getByRole('button', { name: 'Sign in' }).click();
    await page().getByRole('heading', { name: 'Services' }).waitFor(UI_WAIT);
    await page().getByRole('link', { name: 'slow', exact: true }).waitFor(UI_WAIT);
    assert.ok(await page().getByText(/Sleeps for/).isVisible());
    await b.screenshot('services');
  });

  test('a run from the generated form shows the answer, and the snippets name this server', async () => {
    await page().getByRole('link', { name: 'slow', exact: true }).click();
    await page().getByLabel(/^seconds/).fill('0.2');
    await page().getByLabel(/^interval/).fill('0.1');
    await page().getByRole('button', { name: 'Run slow' }).click();
    const answer = page().getByRole('region', { name: 'Answer' });
    await answer.getByText('HTTP 200').waitFor(UI_WAIT);
    assert.deepEqual(JSON.parse(await answer.locator('pre').innerText()), { slept: 0.2 });
    const snippet = await page().getByLabel('curl snippet').innerText();
    assert.ok(snippet.includes(`${s.url}/run/slow`), snippet);
    assert.ok(snippet.includes('"seconds":0.2'), snippet);
    await page().getByRole('tab', { name: 'Python' }).click();
    assert.ok((await page().getByLabel('Python snippet').innerText()).includes(`${s.url}/run/slow`));
    assert.equal(await sideScroll(), 0, "the Python snippet's long line scrolls inside its block");
    await b.screenshot('service-run');

    await page().getByLabel('Edit as JSON').check();
    await page().getByLabel('Input (JSON)').fill('{"seconds": 0.1, "interval": 0.05}');
    await page().getByRole('button', { name: 'Run slow' }).click();
    await waitFor(async () => (await answer.locator('pre').innerText().catch(() => '')).includes('0.1') || undefined, 30_000, 'the JSON run');
  });

  test("a slow run's logs arrive live on its page; the runs table lists it", async () => {
    const started = await s.fetch('/run_async/slow', { json: { seconds: 6, interval: 0.4 } });
    const { request_id: id } = (await started.json()) as { request_id: string };
    const reads: string[] = [];
    const countReads = (r: { url(): string }) => void (r.url().endsWith(`/runs/${id}`) && reads.push(r.url()));
    page().on('request', countReads);
    await go(`/app/runs/${id}`);
    const logs = page().getByRole('log', { name: 'Log lines' });
    await logs.getByText('tick 1', { exact: true }).waitFor(UI_WAIT);
    const record = (await (await s.fetch(`/request/${id}`)).json()) as { status: string };
    // A line on the page while the run was still going: it came over the live stream.
    const firstSeenWhile = record.status;
    await logs.getByText('tick 3', { exact: true }).waitFor(UI_WAIT);
    await b.screenshot('run-live');
    // The page learns the run ended from the runs feed (it does not poll while the feed is live).
    await page().locator('.badge-completed').waitFor({ timeout: 60_000 });
    page().off('request', countReads);
    // Polling every second through a 6 s run would read it 5 times or more; the feed reads it once per change.
    assert.ok(reads.length <= 4, `the run was read ${reads.length} times`);
    assert.ok(['queued', 'running', 'completed'].includes(firstSeenWhile));
    const status = ((await (await s.fetch(`/request/${id}`)).json()) as { status: string }).status;
    assert.equal(status, 'completed');
    if (firstSeenWhile === 'completed') assert.fail('the first line arrived only after the run had ended: not live');
    assert.ok(await page().getByRole('heading', { name: 'Output' }).isVisible());
    await b.screenshot('run');

    await page().getByLabel('Search').fill('tick 2');
    await waitFor(async () => ((await logs.locator('.log').count()) === 1 ? true : undefined), 10_000, 'search to narrow the lines');

    // Re-run: the same input again, in the background, on a page of its own.
    await page().getByRole('button', { name: 'Re-run' }).click();
    await page().waitForURL((url) => url.pathname.startsWith('/app/runs/') && !url.pathname.endsWith(id), UI_WAIT);
    const rerunId = page().url().split('/').pop()!;
    const rerun = (await (await s.fetch(`/runs/${rerunId}`)).json()) as { serviceId: string; input: string };
    assert.equal(rerun.serviceId, 'slow');
    assert.deepEqual(JSON.parse(rerun.input), { seconds: 6, interval: 0.4 });

    await go('/app/runs');
    await page().getByRole('link', { name: id }).waitFor(UI_WAIT);
    await page().getByLabel('Service').selectOption('echo');
    await waitFor(async () => ((await page().getByRole('link', { name: id }).count()) === 0 ? true : undefined), 30_000, 'the filter to hide slow runs');
    await page().getByLabel('Service').selectOption('slow');
    await page().getByRole('link', { name: id }).waitFor(UI_WAIT);
    await b.screenshot('runs');

    // Live: a run started now shows up without a reload, and its row follows it to the end,
    // told by the feed (the table does not poll while the feed is up).
    await page().getByLabel('Updating live').waitFor(UI_WAIT);
    const next = (await (await s.fetch('/run_async/slow', { json: { seconds: 0.1 } })).json()) as { request_id: string };
    await page().getByRole('link', { name: next.request_id }).waitFor(UI_WAIT);
    const nextRow = page().getByRole('row').filter({ has: page().getByRole('link', { name: next.request_id }) });
    await nextRow.locator('.badge-completed').waitFor(UI_WAIT);
  });

  test('API keys: created and shown once, used against the API, revoked and refused', async () => {
    await go('/app/advanced');
    await page().getByRole('heading', { name: 'API keys', exact: true }).waitFor(UI_WAIT);
    page().once('dialog', (d) => void d.accept());
    await page().getByLabel('Name').first().fill('browser test');
    await page().getByRole('button', { name: 'Create key' }).click();
    const secret = await page().getByTestId('new-secret').innerText(UI_WAIT);
    assert.match(secret, /^cwk-/);
    await b.screenshot('advanced');
    const use = () => fetch(`${s.url}/runs?limit=1`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal((await use()).status, 200);
    await page().getByRole('button', { name: 'Revoke browser test' }).click();
    await page().getByText('revoked').first().waitFor(UI_WAIT);
    assert.equal((await use()).status, 401);
  });

  test('environment variables: set on the page, listed masked, and read by the next run', async () => {
    await go('/app/advanced');
    await page().getByRole('heading', { name: 'Environment variables', exact: true }).waitFor(UI_WAIT);
    const form = page().getByRole('form', { name: 'Add a variable' });
    await form.getByLabel('Name').fill('GREETING');
    await form.getByLabel('Value').fill('hello from the dashboard');
    await form.getByRole('button', { name: 'Add variable' }).click();
    await page().getByRole('cell', { name: 'GREETING', exact: true }).waitFor(UI_WAIT);
    assert.equal(await page().getByText('hello from the dashboard').count(), 0, 'the value is never shown');
    const { variables } = (await (await s.fetch('/env')).json()) as { variables: { name: string }[] };
    assert.ok(variables.some((v) => v.name === 'GREETING'));
    await b.screenshot('advanced-env');

    // The greeter reads GREETING: run it from its page and see the value in the answer.
    await go('/app/services/greeter');
    await page().getByLabel(/^name/).fill('Runlet');
    await page().getByRole('button', { name: 'Run greeter' }).click();
    await page().getByRole('region', { name: 'Answer' }).getByText('hello from the dashboard, Runlet!').waitFor(UI_WAIT);
  });

  test('files: listed, downloadable and deleted', async () => {
    const uploaded = (await (await s.fetch('/file?filename=report.csv', { method: 'POST', body: 'a,b\n1,2\n', headers: { 'content-type': 'text/csv' } })).json()) as { file_id: string };
    await go('/app/files');
    const link = page().getByRole('link', { name: 'report.csv', exact: true });
    await link.waitFor(UI_WAIT);
    const href = await link.getAttribute('href');
    assert.equal(await (await fetch(new URL(href!, s.url))).text(), 'a,b\n1,2\n');
    await b.screenshot('files');
    page().once('dialog', (d) => void d.accept());
    await page().getByRole('button', { name: 'Delete report.csv' }).click();
    await page().getByText('No files.').waitFor(UI_WAIT);
    assert.equal((await s.fetch(`/files/${uploaded.file_id}`)).status, 404);
  });

  test('usage: runs per hour chart and per-service durations and error rate', async () => {
    await go('/app/usage');
    await page().getByRole('img', { name: /Runs per hour/ }).locator('canvas').waitFor(UI_WAIT);
    const row = page().getByRole('table', { name: 'Per service' }).getByRole('row').filter({ hasText: 'slow' });
    await row.waitFor(UI_WAIT);
    assert.match(await row.innerText(), /0\.0%/);
    await b.screenshot('usage');
    await page().getByRole('tab', { name: 'Last week' }).click();
    await page().getByRole('tab', { name: 'Last week', selected: true }).waitFor(UI_WAIT);
  });

  test('on a phone the menu opens the navigation, and no page scrolls sideways', async () => {
    await page().setViewportSize({ width: 390, height: 844 });
    await go('/app/runs');
    await page().getByRole('heading', { name: 'Runs' }).waitFor(UI_WAIT);
    assert.equal(await page().getByRole('link', { name: 'Usage' }).isVisible(), false);
    await page().getByRole('button', { name: 'Menu' }).click();
    await page().getByRole('link', { name: 'Usage' }).click();
    await page().getByRole('heading', { name: 'Usage' }).waitFor(UI_WAIT);
    await b.screenshot('phone-usage');

    for (const [path, heading] of [['/app/advanced', 'API keys'], ['/app/files', 'Files'], ['/app/runs', 'Runs'], ['/app/services/slow', 'Input schema']] as const) {
      await go(path);
      await page().getByRole('heading', { name: heading, exact: true }).waitFor(UI_WAIT);
      await page().locator('table, pre').first().waitFor(UI_WAIT);
      assert.equal(await sideScroll(), 0, `${path} scrolls sideways on a phone`);
    }
    await page().setViewportSize({ width: 1360, height: 860 });
  });

  test('services that cannot be loaded are listed apart, each with its reason', async () => {
    const dir = tempDirs()('runlet-broken-');
    writeFileSync(path.join(dir, 'fine.ts'), "import { defineService } from '@runlet/sdk';\nexport default defineService({ handler: () => ({ ok: true }) });\n");
    mkdirSync(path.join(dir, 'bad-manifest'));
    writeFileSync(path.join(dir, 'bad-manifest', 'runlet.json'), '{ "command": ');
    const other = await startTestServer({ servicesDir: dir });
    try {
      await page().goto(other.url + '/sign-in');
      await page().getByLabel('API key').fill(other.key);
      await page().getByRole('button', { name: 'Sign in' }).click();
      const card = page().getByRole('region', { name: 'Cannot be loaded' });
      await card.waitFor(UI_WAIT);
      assert.match(await card.innerText(), /bad-manifest[\s\S]*runlet\.json is not valid JSON/);
      assert.ok(await page().getByRole('link', { name: 'fine', exact: true }).isVisible(), 'the service that loads is listed as usual');
      assert.equal(await card.getByText('fine').count(), 0);
      await b.screenshot('services-problems');
    } finally {
      await other.close();
    }
  });
});
