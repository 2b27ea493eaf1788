import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { createWebClient } from '../support/web-client.ts';

/**
 * Cookie tossing (README "Security"): an owner's site under the zone can set
 * cookies for the whole zone, where the dashboard may be served. The session
 * survives none of the tricks that gives: duplicate cookies are refused, the
 * pre-sign-in CSRF value must be one we signed, requests from another origin
 * cannot change anything, and over HTTPS the cookies are `__Host-` cookies.
 */

const PASSWORD = 'a-cookie-tossing-secret';

describe('cookie tossing', () => {
  let mydns: TestMyDns;
  before(async () => {
    // A trusted proxy in front (the test itself) can say the request came over HTTPS.
    mydns = await startTestMyDns({ env: { MYDNS_TRUSTED_PROXIES: '127.0.0.1/32' } });
    await mydns.createHost('tossed', PASSWORD);
  });
  after(async () => {
    await mydns?.stop();
  });

  const signIn = async (headers: Record<string, string> = {}) => {
    const client = createWebClient(mydns.url, headers);
    await client.get('/login');
    const reply = await client.post('/login', { hostname: 'tossed', password: PASSWORD });
    assert.equal(reply.status, 303, reply.body.slice(0, 300));
    return client;
  };

  test('a request with two session cookies is refused, on the pages and the JSON API', async () => {
    const client = await signIn();
    const ours = client.cookies.get('mydns_session') ?? '';
    const cookie = `mydns_session=${'A'.repeat(43)}; mydns_session=${ours}`;
    const page = await fetch(`${mydns.url}/dashboard`, { headers: { cookie, accept: 'text/html' } });
    assert.equal(page.status, 400);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /two MyDNS cookies/);
    const api = await fetch(`${mydns.url}/api/v1/hosts/tossed`, { headers: { cookie } });
    assert.equal(api.status, 400);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'duplicate_cookies');
  });

  test('a pre-sign-in CSRF value the client picked is refused', async () => {
    const picked = 'x'.repeat(32);
    const reply = await fetch(`${mydns.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `mydns_csrf=${picked}` },
      body: new URLSearchParams({ _csrf: picked, hostname: 'tossed', password: PASSWORD }).toString(),
    });
    assert.equal(reply.status, 403);
    assert.equal(reply.headers.get('set-cookie')?.includes('mydns_session='), false, 'no session started');
  });

  test('state-changing requests from another origin are refused; from our own they pass', async () => {
    const client = await signIn();
    const cookie = `mydns_session=${client.cookies.get('mydns_session')}`;
    await client.get('/dashboard/tokens');
    const form = new URLSearchParams({ _csrf: client.csrf(), label: 'from-elsewhere' }).toString();
    const post = (headers: Record<string, string>) =>
      fetch(`${mydns.url}/dashboard/tokens`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'text/html',
          cookie,
          ...headers,
        },
        body: form,
      });
    const siteUnderZone = await post({ origin: `http://alice.${mydns.zone}`, 'sec-fetch-site': 'same-site' });
    assert.equal(siteUnderZone.status, 403);
    assert.match(await siteUnderZone.text(), /came from another site/);
    const otherOrigin = await post({ origin: 'https://evil.example' });
    assert.equal(otherOrigin.status, 403);
    const api = await fetch(`${mydns.url}/api/v1/hosts/tossed`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', cookie, origin: 'https://evil.example' },
      body: JSON.stringify({ mail: { enabled: true, port: 2526 } }),
    });
    assert.equal(api.status, 403);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'cross_site_request');
    const list = await mydns.services.hosts.listTokens(await mydns.services.hosts.get('tossed'));
    assert.deepEqual(list, [], 'nothing was created');

    const own = await post({ origin: mydns.url, 'sec-fetch-site': 'same-origin' });
    assert.equal(own.status, 200, 'our own page may');
    assert.equal((await mydns.services.hosts.listTokens(await mydns.services.hosts.get('tossed'))).length, 1);
  });

  test('over HTTPS the cookies are __Host- cookies, and cookies without the prefix are ignored', async () => {
    const https = { 'x-forwarded-proto': 'https' };
    const login = await fetch(`${mydns.url}/login`, { headers: { ...https, accept: 'text/html' } });
    const setCookie = login.headers.getSetCookie();
    assert.ok(setCookie.length > 0);
    for (const line of setCookie) {
      assert.match(line, /^__Host-mydns_csrf=/);
      assert.match(line, /; Secure/);
      assert.match(line, /; Path=\//);
      assert.doesNotMatch(line, /Domain=/i);
    }
    const client = await signIn(https);
    const token = client.cookies.get('__Host-mydns_session');
    assert.ok(token, 'the session cookie is a __Host- cookie');
    const withPrefix = await fetch(`${mydns.url}/dashboard`, {
      redirect: 'manual',
      headers: { ...https, accept: 'text/html', cookie: `__Host-mydns_session=${token}` },
    });
    assert.equal(withPrefix.status, 200);
    // The same token under the plain name, as a site under the zone could set it: not a session here.
    const plain = await fetch(`${mydns.url}/dashboard`, {
      redirect: 'manual',
      headers: { ...https, accept: 'text/html', cookie: `mydns_session=${token}` },
    });
    assert.equal(plain.status, 303);
  });
});
