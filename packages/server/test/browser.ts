/**
 * A real browser for tests: Debian's Chromium driven by playwright-core, never a downloaded
 * one. Where no Chromium is installed the browser suites skip with a message saying how to
 * enable them, unless RUNLET_REQUIRE_BROWSER=1 (CI sets it), which makes that a failure.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.RUNLET_CHROMIUM ?? '/usr/bin/chromium';

/** Where browser suites leave their screenshots for a reviewer (git-ignored). */
export const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

/** `false` when the browser suites can run here, else why they are skipped. */
export function browserSkipReason(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const reason = `no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set RUNLET_CHROMIUM to run the browser tests`;
  if (process.env.RUNLET_REQUIRE_BROWSER === '1') throw new Error(`RUNLET_REQUIRE_BROWSER=1 but ${reason}`);
  return reason;
}

/** Headless Chromium (playwright gives it a fresh profile), kept off this machine's closed network. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
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
}

export function screenshotPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, `${name}.png`);
}
