/** The shared test browser (Debian's chromium, see packages/server/test/browser.ts) with a page for the dashboard. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ARTIFACTS as ALL_ARTIFACTS, browserSkipReason, launchBrowser as launchChromium } from '../../server/test/browser.js';

export const ARTIFACTS = path.join(ALL_ARTIFACTS, 'dashboard');

/** Why the browser tests cannot run here, or undefined when they can (a failure instead under RUNLET_REQUIRE_BROWSER=1). */
export function browserMissing(): string | undefined {
  return browserSkipReason() || undefined;
}

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** A browser with one laptop-sized page; screenshots go to test-artifacts/dashboard. */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await launchChromium();
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
