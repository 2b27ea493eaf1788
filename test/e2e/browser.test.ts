import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { ARTIFACTS, launchChromium, type TestChromium } from '../support/chromium.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { runProgram } from '../support/programs.ts';

/**
 * A person in a real browser (Debian's Chromium, headless): registers, sees
 * an update arrive, makes a token, copies it and uses it from curl, changes
 * the password, revokes the token, deletes the host; walks every dashboard
 * page on a desktop (1280 px) and a phone (360 px) with and without
 * JavaScript, and makes mistakes to see where they are shown. Keyboard and
 * labels are what the test uses to find things, as a screen-reader user
 * would. Screenshots of every page are kept under test/artifacts/ for people
 * to look at.
 */

const PAGES = [
  ['Overview', 'dashboard'],
  ['Setups', 'setups'],
  ['Records', 'records'],
  ['Tokens', 'tokens'],
  ['History', 'history'],
  ['Mail', 'mail'],
  ['Settings', 'settings'],
] as const;
const LONG_AGENT =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) WindowsPowerShell/5.1.19041.4648 (compatible; scheduled task MyDNS update; +https://example.net/a/very/long/agent/string)';

let mydns: TestMyDns;
let chrome: TestChromium;
let browser: Browser;

before(async () => {
  mydns = await startTestMyDns();
  chrome = await launchChromium('chromium');
  browser = chrome.browser;
});
after(async () => {
  await chrome?.close();
  await mydns?.stop();
});

/** A browser window of this width; every console error and CSP refusal is collected. */
async function open(
  width: number,
  options: { javaScript?: boolean; clipboard?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({
    viewport: { width, height: width < 600 ? 740 : 900 },
    javaScriptEnabled: options.javaScript ?? true,
    ...(options.clipboard ? { permissions: ['clipboard-read', 'clipboard-write'] } : {}),
  });
  const page = await context.newPage();
  const problems: string[] = [];
  // A page that answers 400 or 404 is expected (Chromium logs it too); a script, a style or an icon that fails is not.
  page.on('console', (message) => {
    if (
      message.type() === 'error' &&
      !/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())
    )
      problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'document' && response.status() >= 400)
      problems.push(`${response.status()} for ${response.url()}`);
  });
  return { context, page, problems };
}

async function fill(page: Page, label: string | RegExp, value: string) {
  await page.getByLabel(label, { exact: typeof label === 'string' }).fill(value);
}

async function signIn(page: Page, host: string, password: string) {
  await page.goto(`${mydns.url}/login`);
  await fill(page, "Hostname, or your account's e-mail address", host);
  await fill(page, 'Password', password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: `${host}.${mydns.zone}` }).waitFor();
}

/** Opens a dashboard page by its tab, as a person would, and checks the tab says so. */
async function tab(page: Page, name: string) {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name, exact: true }).click();
  await page
    .getByRole('navigation', { name: 'Dashboard' })
    .locator('[aria-current="page"]', { hasText: name })
    .waitFor();
}

async function sideScroll(page: Page): Promise<number> {
  return Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
}

/** Where an element is on the screen, for "is it in view", "is it beside that". */
async function box(locator: Locator) {
  const found = await locator.boundingBox();
  assert.ok(found, 'the element is laid out');
  return found;
}

async function inView(page: Page, locator: Locator, what: string) {
  const { x, y, width, height } = await box(locator);
  const viewport = page.viewportSize() ?? { width: 0, height: 0 };
  assert.ok(
    x >= 0 && y >= 0 && x + width <= viewport.width + 0.5 && y + height <= viewport.height + 0.5,
    `${what} is on the screen (at ${x},${y} ${width}×${height} in ${viewport.width}×${viewport.height})`,
  );
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
}

test('register, watch an update arrive, copy a token into curl, change the password, revoke, delete', async () => {
  const { context, page, problems } = await open(1280, { clipboard: true });
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
  await page.getByRole('status').getByText('Welcome!').waitFor();
  assert.equal(await page.getByTestId('ipv4').textContent(), '—');

  // An update from a router shows up on the overview and in the history.
  const update = await mydns.request(`/nic/update?hostname=${host}&myip=198.51.100.77`, {
    auth: [host, 'browser-password'],
    headers: { 'user-agent': 'Fritz!Box DDNS/1.0.1' },
  });
  assert.equal(update.body, 'good 198.51.100.77');
  await mydns.services.history.flush();
  await page.reload();
  assert.equal(await page.getByTestId('ipv4').textContent(), '198.51.100.77');
  await tab(page, 'History');
  await page.getByTestId('history').getByText('Fritz!Box DDNS/1.0.1').waitFor();

  // A token, shown once, copied by its button, filled into the setups, used from curl.
  await tab(page, 'Setups');
  await page.getByRole('button', { name: 'Create a token and fill it in' }).click();
  const token = (await page.getByTestId('new-token').textContent())?.trim() ?? '';
  assert.match(token, /^mydns_[A-Za-z0-9_-]{43}$/);
  await page.getByRole('button', { name: 'Copy' }).first().click();
  await page.getByRole('button', { name: 'Copied' }).waitFor();
  assert.equal(await page.evaluate('navigator.clipboard.readText()'), token);
  await page.getByText('curl + cron').click();
  const curlLine = (await page.locator('code[data-setup="curl"]').textContent()) ?? '';
  assert.ok(curlLine.includes(token), 'the curl setup carries the new token');
  await page.getByText('MikroTik (RouterOS)').click();
  assert.match((await page.locator('code[data-setup="mikrotik"]').textContent()) ?? '', /\/tool fetch url=/);
  await page.getByText('certbot (Let’s Encrypt, DNS-01)').click();
  await shot(page, 'setups-token-1280.png');
  const command = curlLine.replace(/^(\S+\s+){5}/, '');
  // The cron line is silent while updates work (it prints only refusals, for cron to mail).
  const { stdout } = await runProgram('/bin/sh', ['-c', command], { timeoutMs: 20_000, mustSucceed: true });
  assert.equal(stdout, '');
  assert.deepEqual(await mydns.query.a(hostname), ['127.0.0.1']);
  await tab(page, 'Overview');
  assert.equal(await page.getByTestId('ipv4').textContent(), '127.0.0.1');

  // Change the password: the old one stops working, the token keeps working.
  await tab(page, 'Settings');
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

  // Revoke the token: a dialog asks first; dismissed, nothing happens.
  await tab(page, 'Tokens');
  page.once('dialog', (dialog) => void dialog.dismiss());
  await page.getByRole('button', { name: 'Revoke token setup' }).click();
  assert.equal((await mydns.request(`/u.php?token=${token}`)).status, 200, 'kept');
  const asked = new Promise<string>((done) => {
    page.once('dialog', (dialog) => {
      done(dialog.message());
      void dialog.accept();
    });
  });
  await page.getByRole('button', { name: 'Revoke token setup' }).click();
  assert.match(await asked, /Revoke the token “setup”\?/);
  await page.getByRole('status').getByText('The token was revoked').waitFor();
  assert.equal((await mydns.request(`/u.php?token=${token}`)).status, 401);

  // Delete, with the confirmation.
  await tab(page, 'Settings');
  await fill(page, /^Type .* to confirm$/, hostname);
  await fill(page, 'Your password', 'a-new-browser-password');
  await page.getByRole('button', { name: `Delete ${hostname}` }).click();
  await page.getByRole('heading', { name: `${hostname} is deleted` }).waitFor();
  assert.deepEqual(await mydns.query.a(hostname), []);
  assert.deepEqual(problems, [], 'no console errors (a CSP refusal is one)');
  await context.close();
});

test('registration works on a phone without JavaScript', async () => {
  const { context, page } = await open(360, { javaScript: false });
  await page.goto(`${mydns.url}/register`);
  assert.ok((await sideScroll(page)) <= 0, 'no sideways scrolling');
  await fill(page, 'Hostname', 'www');
  await fill(page, 'Password', 'nojs-password');
  await fill(page, 'Password again', 'nojs-password');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('alert').getByText('"www" is reserved').waitFor();
  await inView(page, page.getByRole('alert'), 'the problem');
  await fill(page, 'Hostname', `nojs-${process.pid}`);
  await fill(page, 'Password', 'nojs-password');
  await fill(page, 'Password again', 'nojs-password');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: `nojs-${process.pid}.${mydns.zone}` }).waitFor();
  await context.close();
});

/** A host with a history worth looking at: IPv4 and IPv6, a long user agent, repeats, a refusal. */
async function hostWithHistory(host: string, password: string) {
  await mydns.createHost(host, password);
  const update = (query: string, agent: string, auth: [string, string] = [host, password]) =>
    mydns.request(`/nic/update?hostname=${host}${query}`, { auth, headers: { 'user-agent': agent } });
  assert.equal((await update('&myip=198.51.100.7', 'Fritz!Box DDNS/1.0.1')).status, 200);
  await update('&myip=198.51.100.7', 'Fritz!Box DDNS/1.0.1');
  await update('&myip=198.51.100.7', 'Fritz!Box DDNS/1.0.1');
  await update('&myip=2001:db8:1234:5678:9abc:def0:1234:5678', LONG_AGENT);
  await update('&myip=203.0.113.250,2001:db8:ffff:eeee:dddd:cccc:bbbb:aaaa', 'inadyn/2.12.0');
  await update('', 'curl/8.5.0', [host, 'not-the-password']);
  await mydns.services.history.flush();
  const record = await mydns.services.hosts.get(host);
  await mydns.services.hosts.createToken(record, 'router');
  await mydns.services.hosts.updateMail(record, {
    enabled: true,
    port: 2525,
    clientAddress: 'xclient',
    tls: 'opportunistic',
    fingerprint: null,
  });
}

test('every dashboard page at 1280 px and 360 px: tabs, no sideways scrolling, a readable history', async () => {
  const host = `pages-${process.pid}`;
  await hostWithHistory(host, 'pages-password');
  for (const width of [1280, 360]) {
    const { context, page, problems } = await open(width);
    await signIn(page, host, 'pages-password');
    for (const [name, file] of PAGES) {
      await tab(page, name);
      assert.ok(
        (await sideScroll(page)) <= 0,
        `${name} at ${width} px scrolls sideways by ${await sideScroll(page)} px`,
      );
      await shot(page, `${file}-${width}.png`);
    }

    // The history: every entry's address and client are on the screen's width, and a long user agent is cut.
    await tab(page, 'History');
    const history = page.getByTestId('history');
    const rows = history.locator('tbody tr');
    assert.ok((await rows.count()) >= 3, 'the updates are listed');
    for (const column of ['Address', 'From', 'Client', 'Result']) {
      const cell = rows.first().locator(`td[data-label="${column}"]`);
      assert.ok(await cell.isVisible(), `${column} at ${width} px`);
      const { x, width: cellWidth } = await box(cell);
      assert.ok(x >= 0 && x + cellWidth <= width, `${column} fits in ${width} px (${x} + ${cellWidth})`);
    }
    const long = history.locator('details.agent').first();
    const summary = long.locator('summary');
    assert.ok((await summary.textContent())?.endsWith('…'), 'the long agent is cut');
    assert.equal(await summary.getAttribute('title'), LONG_AGENT, 'and whole in its title');
    // Cut, the client takes two lines at most, on a phone too.
    const closedHeight = (await box(long)).height;
    assert.ok(closedHeight < 50, `the long agent stays short at ${width} px (${closedHeight} px)`);
    await summary.click();
    await long.getByText(LONG_AGENT, { exact: true }).waitFor();
    if (width === 360) await shot(page, 'history-open-360.png');
    assert.ok((await sideScroll(page)) <= 0, 'open, it still fits');
    assert.deepEqual(problems, [], 'no console errors (a CSP refusal is one)');
    await context.close();
  }
});

test('a mistake is shown beside the form that caused it, in view, with and without JavaScript', async () => {
  const host = `mistakes-${process.pid}`;
  await mydns.createHost(host, 'mistake-password');
  for (const [width, javaScript] of [
    [360, false],
    [1280, true],
  ] as const) {
    const { context, page } = await open(width, { javaScript });
    await signIn(page, host, 'mistake-password');
    await tab(page, 'Mail');
    await page.getByLabel(/Forward mail for/).check();
    await fill(page, 'Port of your mail server', '99999');
    await page.getByRole('button', { name: 'Save mail settings' }).click();
    const problem = page.locator('#mail-port-error');
    assert.equal(await problem.textContent(), 'The port must be a number from 1 to 65535.');
    assert.equal(
      await page.locator('form', { has: problem }).getAttribute('action'),
      '/dashboard/mail#mail-settings',
    );
    await inView(page, problem, `the port's problem at ${width} px`);
    const input = await box(page.getByLabel('Port of your mail server'));
    const below = (await box(problem)).y - (input.y + input.height);
    assert.ok(below >= 0 && below < 40, `the problem is right below the port (${below} px)`);
    assert.equal(
      await page.getByLabel('Port of your mail server').inputValue(),
      '99999',
      'what was typed is kept',
    );
    await shot(page, `mail-error-${width}.png`);

    // Fixed, saved: the notice is in view next to the form, and the page shows the MX record.
    await fill(page, 'Port of your mail server', '2525');
    await page.getByRole('button', { name: 'Save mail settings' }).click();
    const notice = page.getByRole('status').getByText('Mail forwarding settings saved.');
    await notice.waitFor();
    await inView(page, notice, `the notice at ${width} px`);
    assert.equal(
      await page.getByTestId('mx-record').textContent(),
      `${host}.${mydns.zone}. MX 10 ${host}.mx.${mydns.zone}.`,
    );

    // The deletion form, far down the settings page on a phone.
    await tab(page, 'Settings');
    await fill(page, /^Type .* to confirm$/, 'someone-else');
    await fill(page, 'Your password', 'mistake-password');
    await page.getByRole('button', { name: /^Delete / }).click();
    const wrongName = page.locator('#confirm-name-error');
    assert.equal(await wrongName.textContent(), `Type ${host}.${mydns.zone} or ${host} to delete it.`);
    assert.equal(
      await page.getByLabel(/^Type .* to confirm$/).inputValue(),
      'someone-else',
      'what was typed is kept',
    );
    await inView(page, wrongName, `the deletion's problem at ${width} px`);
    assert.equal(await page.locator('#change-password [role="alert"]').count(), 0, 'not on the other form');
    await shot(page, `settings-error-${width}.png`);
    await context.close();
  }
});

test('without JavaScript, revoking a token asks on a page of its own', async () => {
  const host = `revoke-${process.pid}`;
  await mydns.createHost(host, 'revoke-password');
  const { token } = await mydns.services.hosts.createToken(await mydns.services.hosts.get(host), 'nas');
  const { context, page } = await open(360, { javaScript: false });
  await signIn(page, host, 'revoke-password');
  await tab(page, 'Tokens');
  await page.getByRole('button', { name: 'Revoke token nas' }).click();
  await page.getByRole('heading', { name: 'Revoke a token' }).waitFor();
  await page.getByRole('link', { name: 'Keep it' }).click();
  await page.getByRole('button', { name: 'Revoke token nas' }).waitFor();
  assert.equal((await mydns.request(`/u.php?token=${token}`)).status, 200, 'kept');
  await page.getByRole('button', { name: 'Revoke token nas' }).click();
  await page.getByRole('button', { name: 'Revoke “nas”' }).click();
  await page.getByRole('status').getByText('The token was revoked').waitFor();
  assert.equal((await mydns.request(`/u.php?token=${token}`)).status, 401);
  // The token shown once is selectable text, and its copy button stays hidden without JavaScript.
  await fill(page, 'A name for the device that will use it', 'laptop');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.getByTestId('new-token').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Copy' }).count(), 0);
  await inView(page, page.getByTestId('new-token'), 'the new token');
  await shot(page, 'tokens-new-360.png');
  await context.close();
});

test('a mistyped address gets the HTML 404 page; the favicon answers', async () => {
  const { context, page, problems } = await open(360);
  const reply = await page.goto(`${mydns.url}/dashbord`);
  assert.equal(reply?.status(), 404);
  assert.match(reply?.headers()['content-type'] ?? '', /^text\/html/);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  assert.ok((await sideScroll(page)) <= 0);
  await shot(page, 'not-found-360.png');
  await page.getByRole('link', { name: 'Home' }).click();
  await page.getByRole('heading', { name: 'A stable name for your home connection' }).waitFor();
  for (const href of await page
    .locator('link[rel="icon"]')
    .evaluateAll((links) => links.map((link) => link.getAttribute('href') ?? ''))) {
    const icon = await page.request.get(`${mydns.url}${href}`);
    assert.equal(icon.status(), 200, href);
    assert.match(icon.headers()['content-type'] ?? '', /^image\//, href);
  }
  assert.equal((await page.request.get(`${mydns.url}/favicon.ico`)).status(), 200);
  assert.deepEqual(problems, [], 'no console errors (a CSP refusal is one)');
  await context.close();
});
