import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { harness } from '../support/harness.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { runProgram } from '../support/programs.ts';
import { createWebClient, setupsOf, type WebClient } from '../support/web-client.ts';

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
      ['/dashboard/tokens', { label: 'x' }],
      ['/dashboard/mail', { enabled: 'on', port: '2526', clientAddress: 'none', tls: 'none' }],
      ['/dashboard/password', { current: PASSWORD, password: 'changed-by-csrf', confirm: 'changed-by-csrf' }],
      ['/dashboard/delete', { confirm: `csrf.${mydns.zone}`, password: PASSWORD }],
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
      secure.headers.getSetCookie().find((c) => c.startsWith('mydns_session=')) ?? '',
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

    await laptop.get('/dashboard');
    const changed = await laptop.post('/dashboard/password', {
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
    await client.get('/dashboard');
    const page = await client.post('/dashboard/tokens', { label: 'setup' });
    assert.equal(page.status, 200);
    token = /data-testid="new-token">([^<]+)</.exec(page.body)?.[1] ?? '';
    assert.match(token, /^mydns_/);
    setups = setupsOf(page.body);
    assert.deepEqual(
      [...setups.keys()],
      ['curl', 'wget', 'powershell', 'ddclient', 'inadyn', 'openwrt', 'fritzbox', 'pfsense', 'router'],
    );
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

  test('curl + cron', async () => {
    await moveAway();
    await run('/bin/sh', ['-c', cronCommand(setups.get('curl') ?? '')], { timeoutMs: 20_000 });
    assert.deepEqual(await mydns.query.a(name()), ['127.0.0.1']);
  });

  test('wget + cron', async () => {
    await moveAway();
    await run('/bin/sh', ['-c', cronCommand(setups.get('wget') ?? '')], {
      timeoutMs: 20_000,
      env: { PATH: '/usr/bin:/bin', HOME: work },
    });
    assert.deepEqual(await mydns.query.a(name()), ['127.0.0.1']);
  });

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
