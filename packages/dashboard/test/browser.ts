/** Debian's chromium driven by playwright-core, for the dashboard's end-to-end tests. */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.RUNLET_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test-artifacts/dashboard');

/**
 * Why the browser tests cannot run here, or undefined when they can. CI sets
 * RUNLET_REQUIRE_BROWSER=1, which makes a missing browser a failure instead of a skip.
 */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) to run the dashboard's browser tests`;
  if (process.env.RUNLET_REQUIRE_BROWSER === '1') throw new Error(`${why} (RUNLET_REQUIRE_BROWSER=1)`);
  return why;
}

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A headless chromium with nothing that talks to the internet. Playwright gives each launch a
 * fresh profile of its own (and refuses a --user-data-dir argument).
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
  const page = await context.newPage();
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    browser,
    context,
    page,
    screenshot: async (name) => {
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
    },
    close: () => browser.close(),
  };
}
