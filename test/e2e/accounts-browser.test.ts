import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { decodeBase32, totp } from '../../apps/api/src/auth/totp.ts';
import { ARTIFACTS, launchChromium, type TestChromium } from '../support/chromium.ts';
import { startTestMyDns, type TestMyDns, uniqueZone } from '../support/mydns.ts';
import { requireProgram, runProgram } from '../support/programs.ts';
import { noteSecret } from '../support/secrets.ts';
import { type Smarthost, startSmarthost } from '../support/smarthost.ts';
import { waitFor } from '../support/wait.ts';

/**
 * A person with an account, in a real browser (Debian's Chromium, headless),
 * at 1280 px and at 360 px: signs up, confirms the address from the mail a
 * real smarthost (aiosmtpd) received, adds a host in each of two zones,
 * updates both in one request from curl with an account token, forgets the
 * password and sets a new one from the mailed link, turns TOTP on by the QR
 * page (the code computed here from the key the page shows) and signs in with
 * a code. Screenshots of each page are kept under test/artifacts/ (looked at).
 */

const PUBLIC_URL = 'https://dyn.example.net';
const zoneA = uniqueZone();
const zoneB = uniqueZone();

let mydns: TestMyDns;
let peer: Smarthost;
let chrome: TestChromium;
let browser: Browser;

before(async () => {
  peer = await startSmarthost();
  mydns = await startTestMyDns({
    env: {
      MYDNS_ZONES: `${zoneA},${zoneB}`,
      MYDNS_MAIL_URL: `smtp://127.0.0.1:${peer.port}`,
      MYDNS_PUBLIC_URL: PUBLIC_URL,
      MYDNS_MAIL_RETRY: '200ms',
    },
  });
  chrome = await launchChromium('chromium-accounts');
  browser = chrome.browser;
});
after(async () => {
  await chrome?.close();
  await mydns?.stop();
  await peer?.stop();
});

/** The link to `page` in the latest mail to `to` (after `count` mails to it arrived). */
async function mailedLink(to: string, page: string, count: number): Promise<string> {
  let link: string | undefined;
  await waitFor(
    () => {
      const mails = peer.messages().filter((m) => m.to.includes(to));
      if (mails.length < count) return false;
      const text = mails[count - 1]?.parts.find((p) => p.type === 'text/plain')?.content ?? '';
      link = new RegExp(`https://dyn\\.example\\.net/${page}\\?token=[A-Za-z0-9_-]+`).exec(text)?.[0];
      return link !== undefined;
    },
    { message: `mail ${count} to ${to} with a ${page} link`, timeoutMs: 15_000 },
  );
  noteSecret(new URL(link ?? '').searchParams.get('token') ?? undefined);
  // MYDNS_PUBLIC_URL is the service's public name; the browser here reaches it on loopback.
  return (link ?? '').replace(PUBLIC_URL, mydns.url);
}

async function sideScroll(page: Page): Promise<number> {
  return Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
}

async function shot(page: Page, name: string, width: number) {
  assert.ok((await sideScroll(page)) <= 0, `${name} at ${width} px has no sideways scrolling`);
  await page.screenshot({ path: join(ARTIFACTS, `account-${name}-${width}.png`), fullPage: true });
}

async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${mydns.url}/login`);
  await page.getByLabel("Hostname, or your account's e-mail address").fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

for (const width of [1280, 360]) {
  test(`at ${width} px: sign up, confirm, two hosts in two zones, curl with a token, reset, TOTP`, async () => {
    const context = await browser.newContext({ viewport: { width, height: width < 600 ? 740 : 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    const email = `web${width}-${randomBytes(3).toString('hex')}@example.org`;
    const password = `first-${randomBytes(6).toString('hex')}`;
    const second = `second-${randomBytes(6).toString('hex')}`;
    for (const secret of [email, password, second]) noteSecret(secret);

    // Sign up.
    await page.goto(`${mydns.url}/login`);
    await page.getByRole('link', { name: 'create an account' }).click();
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Password again').fill(password);
    await shot(page, 'signup', width);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.getByText('address not confirmed yet').waitFor();

    // Confirm from the mail: the link's page asks for the click.
    await page.goto(await mailedLink(email, 'verify-email', 1));
    await shot(page, 'verify', width);
    await page.getByRole('button', { name: 'Confirm my address' }).click();
    await page.getByRole('heading', { name: 'Address confirmed' }).waitFor();

    // Two hosts, one in each zone.
    await page.goto(`${mydns.url}/account`);
    const label = `w${width}${randomBytes(2).toString('hex')}`;
    await page.getByLabel('Hostname', { exact: true }).fill(label);
    await page.getByRole('button', { name: 'Add the host' }).click();
    await page.getByText('The host is added.').waitFor();
    await page.getByLabel('Hostname', { exact: true }).fill(label);
    await page.getByLabel('Zone').selectOption(zoneB);
    await page.getByRole('button', { name: 'Add the host' }).click();
    await page.getByText(`${label}.${zoneB}`).waitFor();
    assert.doesNotMatch(await page.content(), /address not confirmed/);

    // An account token (the JSON API, as a script would), then both hosts from curl in one request.
    const curl = requireProgram('curl', 'curl');
    const made = await runProgram(
      curl,
      [
        '-sS',
        '-u',
        `${email}:${password}`,
        '-H',
        'content-type: application/json',
        '-d',
        '{"label":"router"}',
        `${mydns.url}/api/v1/account/tokens`,
      ],
      { timeoutMs: 20_000, mustSucceed: true },
    );
    const token = (JSON.parse(made.stdout) as { token: string }).token;
    noteSecret(token);
    const updated = await runProgram(
      curl,
      [
        '-sS',
        '-u',
        `${email}:${token}`,
        `${mydns.url}/nic/update?hostname=${label},${label}.${zoneB}&myip=203.0.113.${width === 1280 ? 12 : 36}`,
      ],
      { timeoutMs: 20_000, mustSucceed: true },
    );
    const ip = `203.0.113.${width === 1280 ? 12 : 36}`;
    assert.equal(updated.stdout, `good ${ip}\ngood ${ip}`);
    assert.deepEqual(await mydns.query.a(`${label}.${zoneA}`), [ip]);
    assert.deepEqual(await mydns.query.a(`${label}.${zoneB}`), [ip]);
    await page.reload();
    assert.equal(await page.getByRole('cell', { name: ip }).count(), 2);
    await shot(page, 'page', width);

    // Forgot the password: the link from the mail, a new one.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${mydns.url}/login`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel("Your account's e-mail address").fill(email);
    await page.getByRole('button', { name: 'Mail me a link' }).click();
    await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
    await page.goto(await mailedLink(email, 'reset-password', 2));
    await page.getByLabel('New password', { exact: true }).fill(second);
    await page.getByLabel('New password again').fill(second);
    await shot(page, 'reset', width);
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await signIn(page, email, password);
    await page.getByRole('alert').getByText('Wrong e-mail address or password.').waitFor();
    await signIn(page, email, second);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();

    // TOTP on: the QR page, the key read from it, a code computed here.
    await page.getByRole('link', { name: 'Set up an authenticator app' }).click();
    await page.getByLabel('Your password').fill(second);
    await page.getByRole('button', { name: 'Show the QR code' }).click();
    await page.getByRole('figure', { name: 'QR code for your authenticator app' }).locator('svg').waitFor();
    const key = (await page.locator('#totp-secret').textContent()) ?? '';
    noteSecret(key);
    const secret = decodeBase32(key);
    assert.ok(secret);
    await shot(page, 'totp', width);
    // Codes come from the clock: start well inside a 30-second step.
    await waitFor(() => Date.now() % 30_000 < 20_000, {
      message: 'a fresh TOTP step',
      timeoutMs: 15_000,
      intervalMs: 200,
    });
    await page.getByLabel('The 6-digit code the app shows now').fill(totp(secret, Date.now() - 30_000));
    await page.getByRole('button', { name: 'Turn it on' }).click();
    await page.getByText('Two-factor sign-in is on.').waitFor();

    // Sign in again: the password, then a code.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, email, second);
    await page.getByRole('heading', { name: 'Authentication code' }).waitFor();
    await shot(page, 'code', width);
    await page.getByLabel(/6-digit code/).fill(totp(secret, Date.now()));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.deepEqual(problems, []);
    await context.close();
  });
}

for (const width of [1280, 360]) {
  test(`at ${width} px: the account's tokens, notifications and settings, and a host's pages from the account`, async () => {
    const context = await browser.newContext({ viewport: { width, height: width < 600 ? 740 : 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    const email = `pages${width}-${randomBytes(3).toString('hex')}@example.org`;
    const password = `pages-${randomBytes(6).toString('hex')}`;
    for (const secret of [email, password]) noteSecret(secret);
    await page.goto(`${mydns.url}/signup`);
    await page.getByLabel('E-mail address').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Password again').fill(password);
    await page.getByRole('button', { name: 'Create the account' }).click();
    const label = `p${width}${randomBytes(2).toString('hex')}-with-a-longer-name`;
    for (const zone of [zoneA, zoneB]) {
      await page.getByLabel('Hostname', { exact: true }).fill(label);
      await page.getByLabel('Zone').selectOption(zone);
      await page.getByRole('button', { name: 'Add the host' }).click();
      await page.getByText(`${label}.${zone}`).first().waitFor();
    }
    await shot(page, 'hosts', width);

    // A token for one of the two hosts, shown once.
    await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Tokens' }).click();
    await page.getByLabel('A name for the device that will use it').fill('router');
    await page.getByLabel('Only the hosts ticked here:').check();
    await page.getByLabel(`${label}.${zoneB}`).check();
    await page.getByLabel('Your password').fill(password);
    await shot(page, 'tokens-form', width);
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.getByTestId('new-token').textContent()) ?? '';
    assert.match(token, /\S{20,}/);
    noteSecret(token);
    await shot(page, 'tokens', width);
    const updated = await mydns.request(`/nic/update?hostname=${label}.${zoneB}&myip=198.51.100.7`, {
      auth: [email, token],
    });
    assert.match(updated.body, /^good/);

    // Address-change mail for one host.
    await page.getByRole('link', { name: 'Notifications' }).click();
    await page.getByLabel(`${label}.${zoneA}`).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Notifications saved.').waitFor();
    assert.ok(await page.getByLabel(`${label}.${zoneA}`).isChecked());
    await shot(page, 'notifications', width);

    // A wrong current password: said beside the field.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Current password').fill('not-the-password');
    await page.getByLabel('New password', { exact: true }).fill('another-password-1');
    await page.getByLabel('New password again').fill('another-password-1');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The password is wrong.').waitFor();
    await shot(page, 'settings', width);

    // The host's own pages, from the account.
    await page.getByRole('navigation', { name: 'Account' }).getByRole('link', { name: 'Hosts' }).click();
    await page.getByRole('link', { name: `Manage ${label}.${zoneB}` }).click();
    await page.getByTestId('ipv4').getByText('198.51.100.7').waitFor();
    assert.equal(new URL(page.url()).pathname, `/account/hosts/${label}.${zoneB}/dashboard`);
    await shot(page, 'host-overview', width);
    for (const tab of ['Setups', 'Records', 'Tokens', 'History', 'Mail', 'Settings']) {
      await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: tab }).click();
      await page.waitForURL(
        new RegExp(`/account/hosts/${label}\\.${zoneB.replace(/\./g, '\\.')}/dashboard/`),
      );
      await shot(page, `host-${tab.toLowerCase()}`, width);
    }
    assert.deepEqual(problems, []);
    await context.close();
  });
}
