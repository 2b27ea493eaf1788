import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { harness } from '../support/harness.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { runProgram } from '../support/programs.ts';
import { createWebClient, setupsOf, unescapeHtml, type WebClient } from '../support/web-client.ts';

/**
 * The web pages from the server's side: CSRF on every form, cookie flags,
 * sign-in limits, escaping, sessions in the JSON API; and every setup the
 * dashboard offers that a Debian package can run (curl, wget, ddclient,
 * inadyn) is run, exactly as shown, and must update DNS.
 */

/** Runs a setup's command as the dashboard shows it; it must succeed. */
const run = (command: string, args: string[], options: { timeoutMs: number; env?: NodeJS.ProcessEnv }) =>
  runProgram(command, args, { ...options, mustSucceed: true });
let mydns: TestMyDns;
const PASSWORD = 'web-password';

before(async () => {
  mydns = await startTestMyDns({
    env: { MYDNS_LOGIN_FAILURE_LIMIT: '3/10m', MYDNS_TRUSTED_PROXIES: '127.0.0.1/32' },
  });
});
after(async () => {
  await mydns?.stop();
});

async function signedIn(host: string, headers: Record<string, string> = {}): Promise<WebClient> {
  const client = createWebClient(mydns.url, headers);
  await client.get('/login');
  const reply = await client.post('/login', { hostname: host, password: PASSWORD });
  assert.equal(reply.status, 303, reply.body);
  assert.equal(reply.headers.get('location'), '/dashboard');
  return client;
}

describe('forms and sessions', () => {
  test('every form needs its CSRF value', async () => {
    await mydns.createHost('csrf', PASSWORD);
    const anonymous = createWebClient(mydns.url);
    await anonymous.get('/register');
    const forged = await anonymous.post('/register', {
      _csrf: 'forged',
      hostname: 'victim1',
      password: PASSWORD,
      confirm: PASSWORD,
    });
    assert.equal(forged.status, 403);
    assert.equal(await mydns.services.hosts.find('victim1'), undefined);
    const noCookie = createWebClient(mydns.url);
    assert.equal((await noCookie.post('/login', { hostname: 'csrf', password: PASSWORD })).status, 403);

    const client = await signedIn('csrf');
    const dashboard = await client.get('/dashboard');
    assert.equal(dashboard.status, 200);
    for (const [path, fields] of [
      ['/dashboard/setups', {}],
      ['/dashboard/tokens', { label: 'x' }],
      ['/dashboard/tokens/1/revoke', { confirm: 'yes' }],
      ['/dashboard/mail', { enabled: 'on', port: '2526', clientAddress: 'none', tls: 'none' }],
      [
        '/dashboard/settings/password',
        { current: PASSWORD, password: 'changed-by-csrf', confirm: 'changed-by-csrf' },
      ],
      ['/dashboard/settings/delete', { confirm: `csrf.${mydns.zone}`, password: PASSWORD }],
      ['/logout', {}],
    ] as const) {
      const reply = await client.post(path, { ...fields, _csrf: 'not-the-session-token' });
      assert.equal(reply.status, 403, path);
    }
    assert.ok(await mydns.services.hosts.find('csrf'), 'nothing was deleted');
    assert.equal((await client.get('/dashboard')).status, 200, 'still signed in');
  });

  test('cookies are HttpOnly and SameSite, and Secure behind an HTTPS proxy', async () => {
    await mydns.createHost('cookies', PASSWORD);
    const plain = createWebClient(mydns.url);
    await plain.get('/login');
    const reply = await plain.post('/login', { hostname: 'cookies', password: PASSWORD });
    const session = reply.headers.getSetCookie().find((c) => c.startsWith('mydns_session='));
    assert.match(session ?? '', /; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    const behindProxy = createWebClient(mydns.url, { 'x-forwarded-proto': 'https' });
    await behindProxy.get('/login');
    const secure = await behindProxy.post('/login', { hostname: 'cookies', password: PASSWORD });
    assert.match(
      secure.headers.getSetCookie().find((c) => c.startsWith('__Host-mydns_session=')) ?? '',
      /; Secure$/,
    );
    const page = await plain.get('/dashboard');
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(page.headers.get('x-frame-options'), 'SAMEORIGIN');
    assert.equal(page.headers.get('cache-control'), 'no-store');
  });

  test('sign-in: wrong passwords are limited per address; a token does not sign in', async () => {
    await mydns.createHost('guarded', PASSWORD);
    const { token } = await mydns.services.hosts.createToken(
      await mydns.services.hosts.get('guarded'),
      'router',
    );
    const client = createWebClient(mydns.url, { 'x-forwarded-for': '203.0.113.99' });
    await client.get('/login');
    assert.equal((await client.post('/login', { hostname: 'guarded', password: token })).status, 401);
    for (let i = 0; i < 3; i++)
      assert.equal((await client.post('/login', { hostname: 'guarded', password: `nope-${i}` })).status, 401);
    const blocked = await client.post('/login', { hostname: 'guarded', password: PASSWORD });
    assert.equal(blocked.status, 429);
    assert.match(blocked.body, /Too many failed sign-ins/);
    // Another address is not affected.
    await signedIn('guarded', { 'x-forwarded-for': '203.0.113.100' });
  });

  test('what people type is shown back escaped, never as markup', async () => {
    const client = createWebClient(mydns.url);
    await client.get('/register');
    const reply = await client.post('/register', {
      hostname: '<script>alert(1)</script>',
      password: PASSWORD,
      confirm: PASSWORD,
      email: '"><img src=x onerror=alert(1)>',
    });
    assert.equal(reply.status, 400);
    assert.ok(!reply.body.includes('<script>alert(1)'));
    assert.ok(!reply.body.includes('<img src=x'));
    assert.ok(reply.body.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  });

  test('a password change signs out the other sessions; the JSON API takes a session with its CSRF header', async () => {
    await mydns.createHost('sessions', PASSWORD);
    const laptop = await signedIn('sessions');
    const phone = await signedIn('sessions');
    const api = await fetch(`${mydns.url}/api/v1/hosts/sessions`, {
      headers: { cookie: `mydns_session=${laptop.cookies.get('mydns_session')}` },
    });
    assert.equal(api.status, 200);
    assert.equal(((await api.json()) as { hostname: string }).hostname, `sessions.${mydns.zone}`);
    const noHeader = await fetch(`${mydns.url}/api/v1/hosts/sessions/tokens`, {
      method: 'POST',
      headers: {
        cookie: `mydns_session=${laptop.cookies.get('mydns_session')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ label: 'x' }),
    });
    assert.equal(noHeader.status, 403);

    await laptop.get('/dashboard/settings');
    const changed = await laptop.post('/dashboard/settings/password', {
      current: PASSWORD,
      password: 'a-fresh-new-secret',
      confirm: 'a-fresh-new-secret',
    });
    assert.equal(changed.status, 303);
    assert.equal((await laptop.get('/dashboard')).status, 200, 'this session stays');
    const kicked = await phone.get('/dashboard');
    assert.equal(kicked.status, 303);
    assert.equal(kicked.headers.get('location'), '/login');
  });

  test('availability: free, taken, invalid', async () => {
    await mydns.createHost('taken', PASSWORD);
    const check = async (name: string) =>
      (await (await fetch(`${mydns.url}/api/v1/availability/${name}`)).json()) as {
        available: boolean;
        message: string;
      };
    assert.deepEqual(await check('free-name'), {
      available: true,
      message: `free-name.${mydns.zone} is available`,
    });
    assert.deepEqual(await check('taken'), { available: false, message: `taken.${mydns.zone} is taken` });
    assert.equal((await check('-bad')).available, false);
    assert.equal((await check('admin')).available, false);
  });
});

describe('every setup the dashboard offers that Debian can run, run as shown', () => {
  let work: string;
  let setups: Map<string, string>;
  let token: string;
  const host = 'setups';
  const name = () => `${host}.${mydns.zone}`;

  before(async () => {
    work = mkdtempSync(join(harness().workDir, 'setups-'));
    await mydns.createHost(host, PASSWORD);
    const client = await signedIn(host);
    const blank = setupsOf((await client.get('/dashboard/setups')).body);
    assert.ok(blank.get('curl')?.includes('YOUR_TOKEN'), 'a placeholder until a token is made');
    const page = await client.post('/dashboard/setups', {});
    assert.equal(page.status, 200);
    token = /data-testid="new-token">([^<]+)</.exec(page.body)?.[1] ?? '';
    assert.match(token, /^mydns_/);
    setups = setupsOf(page.body);
    assert.deepEqual(
      [...setups.keys()],
      [
        'curl',
        'wget',
        'powershell',
        'ddclient',
        'inadyn',
        'fritzbox',
        'openwrt',
        'pfsense',
        'mikrotik',
        'router',
        'certbot',
        'acmesh',
      ],
    );
    assert.ok(!(await client.get('/dashboard/setups')).body.includes(token), 'shown once');
    for (const code of setups.values()) assert.ok(code.includes(token) || code.includes(name()), 'filled in');
  });
  after(() => {
    rmSync(work, { recursive: true, force: true });
  });

  /** Moves the host elsewhere first, so each setup has a change to make. */
  async function moveAway() {
    const reply = await mydns.request(`/nic/update?hostname=${host}&myip=198.51.100.123`, {
      auth: [host, PASSWORD],
    });
    assert.equal(reply.body, 'good 198.51.100.123');
  }

  const cronCommand = (line: string) => line.replace(/^(\S+\s+){5}/, '');

  /**
   * The cron line as shown, run by /bin/sh as cron would: silent when the update
   * works; for a refused one (only badauth is an HTTP error: the others are 200)
   * it prints the reply, which cron mails.
   */
  for (const [id, env] of [
    ['curl', {}],
    ['wget', { PATH: '/usr/bin:/bin' }],
  ] as const) {
    test(`${id} + cron: silent when it works, every refusal printed`, async () => {
      const line = cronCommand(setups.get(id) ?? '');
      const cron = (command: string) =>
        run('/bin/sh', ['-c', command], { timeoutMs: 20_000, env: { ...process.env, ...env, HOME: work } });
      await moveAway();
      const works = await cron(line);
      assert.equal(works.stdout + works.stderr, '', works.output);
      assert.deepEqual(await mydns.query.a(name()), ['127.0.0.1']);
      // A refusal answered 200, which curl -f would not report: an address that is not
      // IPv4. (A wrong token, 401, would count against this test's small failed-login
      // limit for 127.0.0.1, and the other tests sign in from there.)
      const dnserr = await cron(line.replace('u.php?', 'u.php?myipv4=not-an-address&'));
      assert.match(dnserr.stdout, /^MyDNS: dnserr$/m, dnserr.output);
      assert.deepEqual(await mydns.query.a(name()), ['127.0.0.1'], 'nothing changed');
    });
  }

  test('ddclient', async () => {
    await moveAway();
    const conf = join(work, 'ddclient.conf');
    writeFileSync(conf, `${setups.get('ddclient')}\n`);
    chmodSync(conf, 0o600);
    await run(
      'ddclient',
      [
        '-daemon=0',
        '-foreground',
        '-force',
        '-verbose',
        '-noquiet',
        '-file',
        conf,
        '-cache',
        join(work, 'ddclient.cache'),
      ],
      { timeoutMs: 30_000 },
    );
    assert.deepEqual(await mydns.query.a(name()), ['127.0.0.1']);
  });

  test('the ACME hooks download from where the certbot and acme.sh setups say', async () => {
    for (const [id, file] of [
      ['certbot', 'mydns-certbot-hook.sh'],
      ['acmesh', 'dns_mydns.sh'],
    ] as const) {
      const code = setups.get(id) ?? '';
      const download = new RegExp(`^curl -fsSo (\\S+) '(${mydns.url}/static/acme/${file})'$`, 'm').exec(code);
      assert.ok(download, `${id} downloads ${file}: ${code}`);
      const target = join(work, file);
      await run('curl', ['-fsSo', target, download[2] ?? ''], { timeoutMs: 20_000 });
      assert.equal(
        readFileSync(target, 'utf8'),
        readFileSync(join(import.meta.dirname, '../../apps/api/public/acme', file), 'utf8'),
      );
      assert.ok(code.includes(`MYDNS_TOKEN=${token}`), `${id} carries the token`);
      assert.ok(code.includes(`-d ${name()} -d '*.${name()}'`), `${id} names the host and its wildcard`);
    }
  });

  test('inadyn', async () => {
    await moveAway();
    const conf = join(work, 'inadyn.conf');
    // The one addition: inadyn refuses loopback addresses from checkip, and
    // 127.0.0.1 is the only address a loopback-only test can present.
    writeFileSync(conf, `verify-address = false\n${setups.get('inadyn')}\n`);
    await run(
      'inadyn',
      [
        '-1',
        '--force',
        '-n',
        '--no-pidfile',
        '-f',
        conf,
        `--cache-dir=${join(work, 'inadyn-cache')}`,
        '-l',
        'debug',
      ],
      {
        timeoutMs: 30_000,
      },
    );
    assert.deepEqual(await mydns.query.a(name()), ['127.0.0.1']);
  });
});

/** The HTML of the `<form>` that posts to `action` (the error of a form must be inside it). */
function formOf(page: string, action: string): string {
  // The action may carry the fragment of its section (the answer opens there).
  const start = page.search(new RegExp(`action="${action}(#[a-z-]+)?"`));
  assert.ok(start !== -1, `no form posts to ${action}`);
  const end = page.indexOf('</form>', start);
  return page.slice(page.lastIndexOf('<form', start), end);
}

describe('the pages a newcomer meets', () => {
  const DASHBOARD_PAGES = [
    ['/dashboard', 'Overview'],
    ['/dashboard/setups', 'Setups'],
    ['/dashboard/records', 'Records'],
    ['/dashboard/tokens', 'Tokens'],
    ['/dashboard/history', 'History'],
    ['/dashboard/mail', 'Mail'],
    ['/dashboard/settings', 'Settings'],
  ] as const;

  test('a mistyped address gets an HTML 404 page, also for curl; the JSON API keeps JSON', async () => {
    for (const accept of ['text/html', '*/*']) {
      const reply = await mydns.request('/dashbord', { headers: { accept } });
      assert.equal(reply.status, 404, accept);
      assert.match(reply.headers.get('content-type') ?? '', /^text\/html/, accept);
      assert.match(reply.body, /<h1>Page not found<\/h1>/);
      assert.match(reply.body, /href="\/"/);
    }
    const missingFile = await mydns.request('/static/nothing.css');
    assert.equal(missingFile.status, 404);
    assert.match(missingFile.headers.get('content-type') ?? '', /^text\/html/);
    for (const path of ['/api/v1/nothing', '/nic/update;x=1', '/checkip/nothing']) {
      const reply = await mydns.request(path, { headers: { accept: 'text/html' } });
      assert.doesNotMatch(reply.headers.get('content-type') ?? '', /html/, path);
      assert.doesNotMatch(reply.body, /<html/i, path);
    }
  });

  test('/favicon.ico exists and the layout links an icon', async () => {
    const icon = await fetch(`${mydns.url}/favicon.ico`);
    assert.equal(icon.status, 200);
    assert.match(icon.headers.get('content-type') ?? '', /^image\//);
    const bytes = Buffer.from(await icon.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 1, 0], 'an ICO file');
    const svg = await fetch(`${mydns.url}/static/favicon.svg`);
    assert.equal(svg.status, 200);
    assert.match(svg.headers.get('content-type') ?? '', /^image\/svg\+xml/);
    const home = await mydns.request('/');
    assert.match(home.body, /<link rel="icon" href="\/favicon.ico"/);
    assert.match(home.body, /<link rel="icon" href="\/static\/favicon.svg" type="image\/svg\+xml">/);
  });

  test('every dashboard page has its own address and a tab bar that marks it', async () => {
    await mydns.createHost('tabs', PASSWORD);
    const client = await signedIn('tabs');
    for (const [path, tab] of DASHBOARD_PAGES) {
      const reply = await client.get(path);
      assert.equal(reply.status, 200, path);
      const nav = /<nav class="tabs"[\s\S]*?<\/nav>/.exec(reply.body)?.[0] ?? '';
      for (const [other] of DASHBOARD_PAGES)
        assert.ok(nav.includes(`href="${other}"`), `${path} links ${other}`);
      const current = [...nav.matchAll(/<a href="([^"]+)" aria-current="page">([^<]+)</g)];
      assert.deepEqual(
        current.map((m) => [m[1], m[2]]),
        [[path, tab]],
        `${path} marks itself, and only itself`,
      );
    }
  });

  test('a new token is shown once on the POST answer; opening /dashboard/tokens again shows the list without it', async () => {
    await mydns.createHost('tokenpage', PASSWORD);
    const client = await signedIn('tokenpage');
    await client.get('/dashboard/tokens');
    const created = await client.post('/dashboard/tokens', { label: 'router' });
    assert.equal(created.status, 200);
    const token = /data-testid="new-token">([^<]+)</.exec(created.body)?.[1] ?? '';
    assert.match(token, /^mydns_/);
    assert.match(created.body, /data-copy="new-token"/, 'a copy button beside it');
    const again = await client.get('/dashboard/tokens');
    assert.equal(again.status, 200);
    assert.match(again.headers.get('content-type') ?? '', /^text\/html/);
    assert.ok(again.body.includes('router'), 'the list has the token');
    assert.ok(!again.body.includes(token), 'the secret is not shown again');
    // Every address a form posts to answers a GET with its page.
    for (const [path, page] of [
      ['/dashboard/tokens/1/revoke', '/dashboard/tokens'],
      ['/dashboard/settings/password', '/dashboard/settings'],
      ['/dashboard/settings/delete', '/dashboard/settings'],
      ['/logout', '/'],
    ] as const) {
      const reply = await client.get(path);
      assert.equal(reply.status, 303, path);
      assert.equal(reply.headers.get('location'), page, path);
    }
  });

  test('revoking a token asks first; the confirmed form revokes it and redirects back', async () => {
    await mydns.createHost('revoker', PASSWORD);
    const host = await mydns.services.hosts.get('revoker');
    const { token } = await mydns.services.hosts.createToken(host, 'old-router');
    const [listed] = await mydns.services.hosts.listTokens(host);
    const client = await signedIn('revoker');
    const page = await client.get('/dashboard/tokens');
    const revoke = formOf(page.body, `/dashboard/tokens/${listed?.id}/revoke`);
    assert.match(revoke, /data-confirm="[^"]*old-router/);
    const asked = await client.post(`/dashboard/tokens/${listed?.id}/revoke`, {});
    assert.equal(asked.status, 200);
    assert.match(formOf(asked.body, `/dashboard/tokens/${listed?.id}/revoke`), /name="confirm" value="yes"/);
    assert.equal((await mydns.request(`/u.php?token=${token}`)).status, 200, 'not revoked yet');
    const done = await client.post(`/dashboard/tokens/${listed?.id}/revoke`, { confirm: 'yes' });
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), '/dashboard/tokens?notice=token-revoked');
    assert.equal((await mydns.request(`/u.php?token=${token}`)).status, 401);
    const after = await client.get('/dashboard/tokens?notice=token-revoked');
    assert.match(after.body, /role="status"[^>]*>The token was revoked/);
  });

  test('a bad mail port: the error is in the mail form, in words, beside the port, with what was typed', async () => {
    await mydns.createHost('mailer', PASSWORD);
    const client = await signedIn('mailer');
    await client.get('/dashboard/mail');
    for (const [port, words] of [
      ['99999', 'The port must be a number from 1 to 65535.'],
      ['http', 'The port must be a number from 1 to 65535.'],
      ['5432', 'Port 5432 cannot be used'],
      ['', 'Enter the port your mail server listens on'],
    ] as const) {
      const reply = await client.post('/dashboard/mail', {
        enabled: 'on',
        port,
        clientAddress: 'xclient',
        tls: 'opportunistic',
      });
      assert.equal(reply.status, 400, port);
      assert.ok(!reply.body.includes('mail.port'), 'no field names');
      const form = formOf(reply.body, '/dashboard/mail');
      assert.ok(form.includes(words), `${port}: "${words}" in the mail form`);
      assert.match(form, /id="mail-port"[^>]*aria-invalid="true"[^>]*aria-describedby="mail-port-error[ "]/);
      assert.match(form, new RegExp(`id="mail-port-error"[^>]*>${words}`));
      assert.match(form, new RegExp(`id="mail-port" [^>]*value="${port}"`), 'what was typed is kept');
    }
    const fingerprint = await client.post('/dashboard/mail', {
      enabled: 'on',
      port: '2525',
      clientAddress: 'xclient',
      tls: 'fingerprint',
      fingerprint: '',
    });
    assert.equal(fingerprint.status, 400);
    assert.match(
      formOf(fingerprint.body, '/dashboard/mail'),
      /id="mail-fingerprint-error"[^>]*>A pinned certificate needs its SHA-256 fingerprint/,
    );
  });

  test('mail forwarding saved: redirect to the mail page, which shows the MX record PowerDNS serves and what to do next', async () => {
    await mydns.createHost('postbox', PASSWORD);
    const client = await signedIn('postbox');
    const before = await client.get('/dashboard/mail');
    assert.match(before.body, /Forwarding is off/);
    const saved = await client.post('/dashboard/mail', {
      enabled: 'on',
      port: '2525',
      clientAddress: 'xclient',
      tls: 'opportunistic',
    });
    assert.equal(saved.status, 303);
    assert.equal(saved.headers.get('location'), '/dashboard/mail?notice=mail-saved');
    const page = await client.get('/dashboard/mail?notice=mail-saved');
    const name = `postbox.${mydns.zone}`;
    const record = `${name}. MX 10 postbox.mx.${mydns.zone}.`;
    assert.ok(page.body.includes(record), `the page shows ${record}`);
    assert.match(formOf(page.body, '/dashboard/mail'), /role="status"[^>]*>Mail forwarding settings saved/);
    assert.deepEqual(await mydns.records('postbox', 'MX'), [`10 postbox.mx.${mydns.zone}.`]);
    assert.deepEqual(await mydns.query.mx(name), [`10 postbox.mx.${mydns.zone}`]);
    for (const next of ['port 2525', 'smtpd_authorized_xclient_hosts', 'swaks --to postmaster@postbox.']) {
      assert.ok(unescapeHtml(page.body).includes(next), `what to do next: ${next}`);
    }
  });

  test('the password and deletion forms show their errors beside themselves', async () => {
    await mydns.createHost('settler', PASSWORD);
    const client = await signedIn('settler');
    const settings = await client.get('/dashboard/settings');
    const name = `settler.${mydns.zone}`;
    assert.ok(
      formOf(settings.body, '/dashboard/settings/delete').includes(
        `Type <strong>${name}</strong> (or just <strong>settler</strong>)`,
      ),
      'the deletion form says what it accepts',
    );
    const wrong = await client.post('/dashboard/settings/password', {
      current: 'not-it',
      password: 'another-password',
      confirm: 'another-password',
    });
    assert.equal(wrong.status, 401);
    assert.match(
      formOf(wrong.body, '/dashboard/settings/password'),
      /role="alert"[^>]*>The current password is wrong/,
    );
    assert.doesNotMatch(formOf(wrong.body, '/dashboard/settings/delete'), /role="alert"/);
    const short = await client.post('/dashboard/settings/password', {
      current: PASSWORD,
      password: 'short',
      confirm: 'short',
    });
    assert.equal(short.status, 400);
    assert.match(
      formOf(short.body, '/dashboard/settings/password'),
      /id="new-password-error"[^>]*>The new password needs at least 8 characters/,
    );
    const misnamed = await client.post('/dashboard/settings/delete', {
      confirm: 'someone-else',
      password: PASSWORD,
    });
    assert.equal(misnamed.status, 400);
    const form = formOf(misnamed.body, '/dashboard/settings/delete');
    assert.ok(form.includes(`Type ${name} or settler to delete it.`), form);
    assert.doesNotMatch(formOf(misnamed.body, '/dashboard/settings/password'), /role="alert"/);
    assert.ok(await mydns.services.hosts.find('settler'), 'not deleted');
    const deleted = await client.post('/dashboard/settings/delete', {
      confirm: 'settler',
      password: PASSWORD,
    });
    assert.equal(deleted.status, 200);
    assert.match(deleted.body, new RegExp(`${name} is deleted`));
    assert.equal(await mydns.services.hosts.find('settler'), undefined);
  });
});
