/**
 * The account's web pages (README "Accounts"), form by form, without a
 * browser, against the real Postgres and PowerDNS: account tokens (some or
 * all hosts, shown once, last use, deletion), notifications per host, the
 * password change (ends other sessions), the deletion (its hosts go with it,
 * out of DNS), and an account's hosts' dashboard pages at
 * /account/hosts/<hostname>/dashboard. Each form is also sent without its
 * CSRF value and with a wrong current password, and then nothing changed;
 * another account's host is a 404.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestMyDns, type TestMyDns, uniqueZone } from '../support/mydns.ts';
import { noteSecret } from '../support/secrets.ts';
import { createWebClient, unescapeHtml, type WebClient } from '../support/web-client.ts';

const zoneB = uniqueZone();
let mydns: TestMyDns;

before(async () => {
  mydns = await startTestMyDns({ env: { MYDNS_ZONES: `${uniqueZone()},${zoneB}` } });
});
after(async () => {
  await mydns?.stop();
});

const newPassword = () => {
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  noteSecret(password);
  return password;
};
const label = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

interface Account {
  web: WebClient;
  email: string;
  password: string;
  hosts: string[];
}

/** A new account by the sign-up form, with a host in the default zone and one in the second. */
async function signUp(): Promise<Account> {
  const web = createWebClient(mydns.url);
  const email = `${label('web')}@example.org`;
  const password = newPassword();
  await web.get('/signup');
  const made = await web.post('/signup', { email, password, confirm: password });
  assert.equal(made.status, 303, made.body);
  await web.get('/account');
  const hosts = [`${label('a')}.${mydns.zone}`, `${label('b')}.${zoneB}`];
  for (const hostname of hosts) {
    const [name, ...zone] = hostname.split('.');
    const added = await web.post('/account/hosts', { hostname: name ?? '', zone: zone.join('.') });
    assert.equal(added.status, 303, added.body);
  }
  return { web, email, password, hosts };
}

const update = (user: string, secret: string, hostname: string, ip: string) =>
  mydns.request(`/nic/update?hostname=${hostname}&myip=${ip}`, { auth: [user, secret] });
const tokenOf = (page: string) => /data-testid="new-token">([^<]+)</.exec(page)?.[1];
const page = async (web: WebClient, path: string) => unescapeHtml((await web.get(path)).body);

describe('account tokens', () => {
  test('made for one host, shown once, used, listed with its last use, deleted', async () => {
    const { web, email, password, hosts } = await signUp();
    const [one, other] = hosts as [string, string];
    await web.get('/account/tokens');
    const made = await web.post('/account/tokens', {
      label: 'router',
      scope: 'some',
      hosts: [one],
      currentPassword: password,
    });
    assert.equal(made.status, 200);
    const token = tokenOf(made.body);
    assert.ok(token, 'the new token is on the page');
    noteSecret(token);
    assert.doesNotMatch(await page(web, '/account/tokens'), new RegExp(token), 'shown only once');

    assert.match((await update(email, token, one, '192.0.2.10')).body, /^good 192\.0\.2\.10/);
    assert.deepEqual(await mydns.query.a(one), ['192.0.2.10']);
    assert.doesNotMatch((await update(email, token, other, '192.0.2.11')).body, /^good/);
    assert.deepEqual(await mydns.query.a(other), []);

    const listed = await page(web, '/account/tokens');
    assert.match(listed, /<td data-label="Label">router<\/td>/);
    assert.match(listed, /just now|min ago/, 'its last use');
    const id = /action="\/account\/tokens\/(\d+)\/delete"/.exec(listed)?.[1];
    assert.ok(id);

    const noCsrf = await web.post(`/account/tokens/${id}/delete`, { _csrf: '' });
    assert.equal(noCsrf.status, 403);
    assert.match((await update(email, token, one, '192.0.2.12')).body, /^good/, 'still works');

    const deleted = await web.post(`/account/tokens/${id}/delete`, {});
    assert.equal(deleted.status, 303);
    assert.equal(deleted.headers.get('location'), '/account/tokens?notice=token-deleted');
    assert.match((await update(email, token, one, '192.0.2.13')).body, /^badauth/);
  });

  test('a token for every host; refused without CSRF, with a wrong password, or with no host ticked', async () => {
    const { web, email, password, hosts } = await signUp();
    await web.get('/account/tokens');
    const noCsrf = await web.post('/account/tokens', {
      _csrf: '',
      label: 'x',
      scope: 'all',
      currentPassword: password,
    });
    assert.equal(noCsrf.status, 403);
    await web.get('/account/tokens');
    const wrong = await web.post('/account/tokens', {
      label: 'x',
      scope: 'all',
      currentPassword: 'not-it-at-all',
    });
    assert.equal(wrong.status, 401);
    assert.match(unescapeHtml(wrong.body), /The password is wrong/);
    const none = await web.post('/account/tokens', { label: 'x', scope: 'some', currentPassword: password });
    assert.equal(none.status, 400);
    assert.match(await page(web, '/account/tokens'), /No tokens yet/, 'nothing was made');

    const made = await web.post('/account/tokens', { label: 'all', scope: 'all', currentPassword: password });
    const token = tokenOf(made.body);
    assert.ok(token);
    noteSecret(token);
    for (const hostname of hosts)
      assert.match((await update(email, token, hostname, '192.0.2.20')).body, /^good/);
  });
});

describe('notifications', () => {
  test('on and off per host; without CSRF nothing changes; another account’s host is left alone', async () => {
    const { web, hosts } = await signUp();
    const stranger = await signUp();
    const form = await page(web, '/account/notifications');
    const ids = [...form.matchAll(/name="email" value="(\d+)"/g)].map((m) => m[1] ?? '');
    assert.equal(ids.length, hosts.length);
    const theirs = /name="email" value="(\d+)"/.exec(await page(stranger.web, '/account/notifications'))?.[1];
    assert.ok(theirs);

    const noCsrf = await web.post('/account/notifications', { _csrf: '', email: [ids[0] ?? ''] });
    assert.equal(noCsrf.status, 403);
    assert.doesNotMatch(await page(web, '/account/notifications'), / checked>/, 'nothing turned on');

    const saved = await web.post('/account/notifications', { email: [ids[0] ?? '', theirs] });
    assert.equal(saved.status, 303);
    const after = await page(web, saved.headers.get('location') ?? '');
    assert.match(after, new RegExp(`value="${ids[0]}" checked>`));
    assert.match(after, new RegExp(`value="${ids[1]}">`));
    assert.match(after, /Notifications saved/);
    assert.doesNotMatch(await page(stranger.web, '/account/notifications'), / checked>/);

    assert.equal((await web.post('/account/notifications', {})).status, 303);
    assert.doesNotMatch(await page(web, '/account/notifications'), / checked>/, 'turned off again');
  });
});

describe('account settings', () => {
  test('the password change needs the current password and ends the other sessions', async () => {
    const account = await signUp();
    const { web, email, password } = account;
    const other = createWebClient(mydns.url);
    await other.get('/login');
    assert.equal((await other.post('/login', { hostname: email, password })).status, 303);
    assert.equal((await other.get('/account')).status, 200);
    const fresh = newPassword();

    await web.get('/account/settings');
    const noCsrf = await web.post('/account/settings/password', {
      _csrf: '',
      current: password,
      password: fresh,
      confirm: fresh,
    });
    assert.equal(noCsrf.status, 403);
    await web.get('/account/settings');
    const wrong = await web.post('/account/settings/password', {
      current: 'not-it-at-all',
      password: fresh,
      confirm: fresh,
    });
    assert.equal(wrong.status, 401);
    assert.equal(
      (await mydns.request('/api/v1/account', { auth: [email, password] })).status,
      200,
      'unchanged',
    );
    assert.equal((await other.get('/account')).status, 200, 'the other session lives');

    const changed = await web.post('/account/settings/password', {
      current: password,
      password: fresh,
      confirm: fresh,
    });
    assert.equal(changed.status, 303);
    assert.match(await page(web, changed.headers.get('location') ?? ''), /Password changed/);
    assert.equal((await mydns.request('/api/v1/account', { auth: [email, password] })).status, 401);
    assert.equal((await mydns.request('/api/v1/account', { auth: [email, fresh] })).status, 200);
    assert.equal((await other.get('/account')).status, 303, 'the other session ended');
  });

  test('the deletion needs the typed address and the password; its hosts leave DNS', async () => {
    const { web, email, password, hosts } = await signUp();
    const [one] = hosts as [string];
    assert.match((await update(email, password, one, '192.0.2.30')).body, /^good/);
    assert.deepEqual(await mydns.query.a(one), ['192.0.2.30']);

    await web.get('/account/settings');
    assert.equal(
      (await web.post('/account/settings/delete', { _csrf: '', confirm: email, currentPassword: password }))
        .status,
      403,
    );
    await web.get('/account/settings');
    assert.equal(
      (await web.post('/account/settings/delete', { confirm: 'someone@else.org', currentPassword: password }))
        .status,
      400,
    );
    const wrong = await web.post('/account/settings/delete', {
      confirm: email,
      currentPassword: 'not-it-at-all',
    });
    assert.equal(wrong.status, 401);
    assert.equal(
      (await mydns.request('/api/v1/account', { auth: [email, password] })).status,
      200,
      'still there',
    );
    assert.deepEqual(await mydns.query.a(one), ['192.0.2.30']);

    const deleted = await web.post('/account/settings/delete', {
      confirm: email.toUpperCase(),
      currentPassword: password,
    });
    assert.equal(deleted.status, 200);
    assert.match(deleted.body, /The account is deleted/);
    assert.equal((await mydns.request('/api/v1/account', { auth: [email, password] })).status, 401);
    assert.deepEqual(await mydns.query.a(one), []);
    assert.equal((await web.get('/account')).status, 303, 'signed out');
  });
});

describe("an account's hosts' pages", () => {
  test('the dashboard of its own host; another account’s host and a host session are refused', async () => {
    const { web, email, password, hosts } = await signUp();
    const stranger = await signUp();
    const [one] = hosts as [string];
    const base = `/account/hosts/${one}`;

    const accountPage = await page(web, '/account');
    assert.match(accountPage, new RegExp(`href="${base}/dashboard"`), 'a "Manage" link');
    const overview = await web.get(`${base}/dashboard`);
    assert.equal(overview.status, 200);
    for (const tab of ['setups', 'records', 'tokens', 'history', 'mail', 'settings']) {
      assert.match(overview.body, new RegExp(`href="${base}/dashboard/${tab}"`));
      assert.equal((await web.get(`${base}/dashboard/${tab}`)).status, 200, tab);
    }
    assert.equal((await web.get('/dashboard')).status, 303, 'the bare dashboard is a host session’s');

    for (const theirs of stranger.hosts) {
      assert.equal((await web.get(`/account/hosts/${theirs}/dashboard`)).status, 404);
      await web.get(`${base}/dashboard/records`);
      const csrf = web.csrf();
      const post = await web.post(`/account/hosts/${theirs}/dashboard/records`, {
        _csrf: csrf,
        records: '@ TXT 300 "hello"',
      });
      assert.equal(post.status, 404);
    }
    assert.equal((await web.get(`/account/hosts/nosuch.${mydns.zone}/dashboard`)).status, 404);

    // A host signed in with its own password has no pages under an account's addresses.
    const soloName = label('solo');
    const soloPassword = newPassword();
    await mydns.createHost(soloName, soloPassword);
    const solo = createWebClient(mydns.url);
    await solo.get('/login');
    assert.equal((await solo.post('/login', { hostname: soloName, password: soloPassword })).status, 303);
    assert.equal((await solo.get('/dashboard')).status, 200);
    assert.equal((await solo.get(`${base}/dashboard`)).status, 404);
    assert.equal((await solo.get(`/account/hosts/${soloName}.${mydns.zone}/dashboard`)).status, 404);

    // A form under the prefix changes this host, and needs the CSRF value.
    await web.get(`${base}/dashboard/records`);
    const noCsrf = await web.post(`${base}/dashboard/records`, {
      _csrf: '',
      records: '@ TXT 300 "from-the-account"',
    });
    assert.equal(noCsrf.status, 403);
    await web.get(`${base}/dashboard/records`);
    const saved = await web.post(`${base}/dashboard/records`, { records: '@ TXT 300 "from-the-account"' });
    assert.equal(saved.status, 303, saved.body);
    assert.equal(saved.headers.get('location'), `${base}/dashboard/records?notice=records-saved`);
    assert.match(await page(web, `${base}/dashboard/records`), /from-the-account/);

    // Deleting it asks for the account's password and goes back to the account.
    await web.get(`${base}/dashboard/settings`);
    const wrong = await web.post(`${base}/dashboard/settings/delete`, {
      confirm: one,
      password: 'not-it-at-all',
    });
    assert.equal(wrong.status, 401);
    assert.equal((await web.get(`${base}/dashboard`)).status, 200, 'still there');
    const deleted = await web.post(`${base}/dashboard/settings/delete`, { confirm: one, password });
    assert.equal(deleted.status, 303);
    assert.equal(deleted.headers.get('location'), '/account?notice=host-deleted');
    assert.equal((await web.get(`${base}/dashboard`)).status, 404);
    assert.equal((await web.get('/account')).status, 200, 'still signed in');
    assert.match((await update(email, password, one, '192.0.2.40')).body, /^nohost|^badauth/);
  });
});
