import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { harness } from '../support/harness.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { runProgram } from '../support/programs.ts';

/**
 * A person in a real browser (Debian's Chromium, headless): registers, sees
 * the address change after an update, creates a token and uses it from curl,
 * changes the password, deletes the host. Keyboard and labels are what the
 * test uses to find things, as a screen-reader user would. A screenshot of
 * the dashboard is kept under test/artifacts/ for people to look at.
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve(import.meta.dirname, '../artifacts');

let mydns: TestMyDns;
let browser: Browser;
let profile: string;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  mydns = await startTestMyDns();
  // Playwright gives Chromium a fresh profile of its own; TMPDIR keeps it in our work folder.
  profile = mkdtempSync(join(harness().workDir, 'chromium-'));
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
});
after(async () => {
  await browser?.close();
  await mydns?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function fill(page: Page, label: string | RegExp, value: string) {
  await page.getByLabel(label, { exact: typeof label === 'string' }).fill(value);
}

test('register, watch an update arrive, use a token from curl, change the password, delete', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const host = `browser-${process.pid}`;
  const hostname = `${host}.${mydns.zone}`;

  // Registration, with the live availability check.
  await page.goto(`${mydns.url}/`);
  await page.getByRole('link', { name: 'Get a hostname' }).first().click();
  await fill(page, 'Hostname', host);
  await page.getByText(`${hostname} is available`).waitFor();
  await fill(page, 'Password', 'short');
  await fill(page, 'Password again', 'short');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('alert').getByText('the password needs at least 8 characters').waitFor();
  await fill(page, 'Password', 'browser-password');
  await fill(page, 'Password again', 'browser-password');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: hostname }).waitFor();
  assert.equal(await page.getByTestId('ipv4').textContent(), '—');

  // An update from a router shows up on the dashboard.
  const update = await mydns.request(`/nic/update?hostname=${host}&myip=198.51.100.77`, {
    auth: [host, 'browser-password'],
    headers: { 'user-agent': 'Fritz!Box DDNS/1.0.1' },
  });
  assert.equal(update.body, 'good 198.51.100.77');
  await mydns.services.history.flush();
  await page.reload();
  assert.equal(await page.getByTestId('ipv4').textContent(), '198.51.100.77');
  await page.getByTestId('history').getByText('Fritz!Box DDNS/1.0.1').waitFor();

  // A token, shown once, filled into the setups, used from curl.
  await page.getByRole('button', { name: 'Create a token and fill it in' }).click();
  const token = (await page.getByTestId('new-token').textContent())?.trim() ?? '';
  assert.match(token, /^mydns_[A-Za-z0-9_-]{43}$/);
  await page.getByText('curl + cron').click();
  const curlLine = (await page.locator('code[data-setup="curl"]').textContent()) ?? '';
  assert.ok(curlLine.includes(token), 'the curl setup carries the new token');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  const command = curlLine.replace(/^(\S+\s+){5}/, '').replace(/\s*>\/dev\/null$/, '');
  const { stdout } = await runProgram('/bin/sh', ['-c', command], { timeoutMs: 20_000, mustSucceed: true });
  assert.equal(stdout, 'good 127.0.0.1');
  assert.deepEqual(await mydns.query.a(hostname), ['127.0.0.1']);
  await page.reload();
  assert.equal(await page.getByTestId('ipv4').textContent(), '127.0.0.1');

  // Change the password: the old one stops working, the token keeps working.
  await fill(page, 'Current password', 'browser-password');
  await fill(page, 'New password', 'a-new-browser-password');
  await fill(page, 'New password again', 'a-new-browser-password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('status').getByText('Password changed').waitFor();
  assert.equal(
    (await mydns.request(`/nic/update?hostname=${host}`, { auth: [host, 'browser-password'] })).status,
    401,
  );
  assert.equal((await mydns.request(`/u.php?token=${token}`)).body, 'nochg 127.0.0.1');

  // Sign out and back in with the new password, with the keyboard only.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.goto(`${mydns.url}/login`);
  await page.getByLabel('Hostname').focus();
  await page.keyboard.type(host);
  await page.keyboard.press('Tab');
  await page.keyboard.type('a-new-browser-password');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: hostname }).waitFor();

  // Delete, with the confirmation.
  await fill(page, /^Type .* to confirm$/, hostname);
  await fill(page, 'Password', 'a-new-browser-password');
  await page.getByRole('button', { name: `Delete ${hostname}` }).click();
  await page.getByRole('heading', { name: `${hostname} is deleted` }).waitFor();
  assert.deepEqual(await mydns.query.a(hostname), []);
  assert.equal((await mydns.request(`/u.php?token=${token}`)).status, 401);
  await context.close();
});

test('the pages are readable on a phone and the registration form works without JavaScript', async () => {
  const context = await browser.newContext({
    viewport: { width: 375, height: 740 },
    javaScriptEnabled: false,
  });
  const page = await context.newPage();
  await page.goto(`${mydns.url}/register`);
  const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px on a phone`);
  await fill(page, 'Hostname', 'www');
  await fill(page, 'Password', 'nojs-password');
  await fill(page, 'Password again', 'nojs-password');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('alert').getByText('"www" is reserved').waitFor();
  await fill(page, 'Hostname', `nojs-${process.pid}`);
  await fill(page, 'Password', 'nojs-password');
  await fill(page, 'Password again', 'nojs-password');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: `nojs-${process.pid}.${mydns.zone}` }).waitFor();
  await context.close();
});
