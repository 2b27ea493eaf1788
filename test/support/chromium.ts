import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { harness } from './harness.ts';

/** Debian's Chromium, driven headless by playwright-core (no browser download). */
export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots of the browser tests, kept for people to look at. */
export const ARTIFACTS = resolve(import.meta.dirname, '../artifacts');

export interface TestChromium {
  readonly browser: Browser;
  close(): Promise<void>;
}

/**
 * A headless Chromium with a fresh profile in the run's work folder (TMPDIR:
 * Playwright makes the profile there), with what phones home turned off.
 */
export async function launchChromium(name: string): Promise<TestChromium> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(join(harness().workDir, `${name}-`));
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      env: { ...process.env, TMPDIR: profile },
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
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
