/**
 * TOTP for accounts (RFC 6238; README "Accounts") against the real Postgres
 * and PowerDNS: set up on the web page, whose QR code (SVG drawn by the
 * server) is decoded here back into the otpauth URL; turned on with a code
 * computed in the test; asked for at every web sign-in, each code accepted
 * once, recovery codes once each; with TOTP on the account password is
 * refused by Basic auth (JSON API and updates) while tokens keep working.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeQR } from 'qr/decode.js';
import { decodeBase32, totp } from '../../apps/api/src/auth/totp.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { noteSecret } from '../support/secrets.ts';
import { waitFor } from '../support/wait.ts';
import { createWebClient, unescapeHtml, type WebClient } from '../support/web-client.ts';

let mydns: TestMyDns;
before(async () => {
  mydns = await startTestMyDns();
});
after(async () => {
  await mydns?.stop();
});

type Auth = [string, string];
const post = (path: string, body: unknown, auth?: Auth) =>
  mydns.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(auth ? { auth } : {}),
  });

async function account(): Promise<{ email: string; password: string; auth: Auth }> {
  const email = `t-${randomBytes(4).toString('hex')}@example.org`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  noteSecret(email);
  noteSecret(password);
  assert.equal((await post('/api/v1/accounts', { email, password })).status, 201);
  return { email, password, auth: [email, password] };
}

/**
 * Codes are computed from the clock: a sequence of them starts well inside a
 * 30-second step, so that the server's step is the test's.
 */
const insideAStep = () =>
  waitFor(() => Date.now() % 30_000 < 20_000, {
    message: 'the start of a TOTP step',
    timeoutMs: 15_000,
    intervalMs: 200,
  });
const code = (secret: Buffer, offsetSteps = 0) => totp(secret, Date.now() + offsetSteps * 30_000);

/** The QR code of an SVG drawn by uqr (unit squares `M x,y h10v10h-10z`), decoded by an independent reader. */
function decodeSvgQr(svg: string): string {
  const size = Number(/viewBox="0 0 (\d+) \d+"/.exec(svg)?.[1]);
  assert.ok(size > 0, svg.slice(0, 200));
  const data = new Uint8Array(size * size * 4).fill(255);
  for (const [, x, y] of svg.matchAll(/M(\d+),(\d+)h10v10h-10z/g)) {
    for (let dy = 0; dy < 10; dy++)
      for (let dx = 0; dx < 10; dx++) {
        const at = ((Number(y) + dy) * size + Number(x) + dx) * 4;
        data[at] = 0;
        data[at + 1] = 0;
        data[at + 2] = 0;
      }
  }
  return decodeQR({ width: size, height: size, data });
}

async function webSignIn(web: WebClient, email: string, password: string) {
  await web.get('/login');
  return web.post('/login', { hostname: email, password });
}

describe('TOTP', () => {
  test('set up on the web page: the QR code holds the otpauth URL of the key shown; a code turns it on', async () => {
    const { email, password } = await account();
    const web = createWebClient(mydns.url);
    const signedIn = await webSignIn(web, email, password);
    assert.equal(signedIn.status, 303, signedIn.body);
    assert.equal(signedIn.headers.get('location'), '/account');
    const accountPage = unescapeHtml((await web.get('/account')).body);
    assert.match(accountPage, new RegExp(email));
    await web.get('/account/totp');
    const wrongPassword = await web.post('/account/totp', { currentPassword: `${password}x` });
    assert.equal(wrongPassword.status, 401);
    const setup = await web.post('/account/totp', { currentPassword: password });
    assert.equal(setup.status, 200, setup.body);
    const svg = /<svg[\s\S]*?<\/svg>/.exec(setup.body)?.[0] ?? '';
    const secretText = /id="totp-secret">([A-Z2-7]+)</.exec(setup.body)?.[1] ?? '';
    noteSecret(secretText);
    const url = new URL(decodeSvgQr(svg));
    assert.equal(url.protocol, 'otpauth:');
    assert.equal(url.searchParams.get('secret'), secretText);
    assert.equal(decodeURIComponent(url.pathname).endsWith(`:${email}`), true, url.pathname);
    const recovery = [...setup.body.matchAll(/<li><code>([a-z2-7]{5}-[a-z2-7]{5})<\/code><\/li>/g)].map(
      (m) => m[1],
    );
    assert.equal(recovery.length, 10);
    for (const one of recovery) noteSecret(one);

    const secret = decodeBase32(secretText);
    assert.ok(secret);
    assert.equal(
      (await web.post('/account/totp/confirm', { code: '000000' === code(secret) ? '111111' : '000000' }))
        .status,
      400,
    );
    await insideAStep();
    const on = await web.post('/account/totp/confirm', { code: code(secret) });
    assert.equal(on.status, 303, on.body);
    assert.match(unescapeHtml((await web.get('/account')).body), /On: signing in asks for a code/);
    // The secret is stored for codes; the recovery codes only as hashes.
    const row = await mydns.db('account_recovery_codes').select('code_hash');
    assert.ok(!JSON.stringify(row).includes(recovery[0] ?? '-'));
  });

  test('with TOTP on: sign-in asks for a code, each accepted once; recovery codes once; Basic refuses the password, tokens work', async () => {
    const { email, password, auth } = await account();
    const added = await post(
      '/api/v1/account/hosts',
      { hostname: `t${randomBytes(3).toString('hex')}` },
      auth,
    );
    assert.equal(added.status, 201);
    const hostname = JSON.parse(added.body).hostname as string;
    const made = await post('/api/v1/account/tokens', { label: 'router' }, auth);
    const { token } = JSON.parse(made.body) as { token: string };
    noteSecret(token);

    const started = await post('/api/v1/account/totp', {}, auth);
    assert.equal(started.status, 201, started.body);
    const setup = JSON.parse(started.body) as { secret: string; otpauthUrl: string; recoveryCodes: string[] };
    noteSecret(setup.secret);
    for (const one of setup.recoveryCodes) noteSecret(one);
    const secret = decodeBase32(setup.secret);
    assert.ok(secret);
    await insideAStep();
    assert.equal((await post('/api/v1/account/totp/confirm', { code: code(secret, -1) }, auth)).status, 204);

    // Basic auth: the password is refused everywhere, the token still updates.
    assert.equal((await mydns.request('/api/v1/account', { auth })).status, 401);
    assert.equal(
      (await mydns.request(`/nic/update?hostname=${hostname}&myip=192.0.2.60`, { auth })).body,
      'badauth',
    );
    assert.equal(
      (await mydns.request(`/nic/update?hostname=${hostname}&myip=192.0.2.60`, { auth: [email, token] }))
        .body,
      'good 192.0.2.60',
    );
    assert.equal(
      JSON.parse((await mydns.request('/api/v1/account', { auth })).body).error.code,
      'unauthorized',
    );

    // The web sign-in: the password, then the code.
    const web = createWebClient(mydns.url);
    const first = await webSignIn(web, email, password);
    assert.equal(first.status, 200);
    assert.match(first.body, /Authentication code/);
    const pending = /name="pending" value="([^"]+)"/.exec(first.body)?.[1] ?? '';
    assert.equal((await web.post('/login/code', { pending, code: '12345' })).status, 401);
    assert.equal((await web.get('/account')).status, 303, 'not signed in yet');
    const now = code(secret);
    const signedIn = await web.post('/login/code', { pending, code: now });
    assert.equal(signedIn.status, 303, signedIn.body);
    assert.equal((await web.get('/account')).status, 200);

    // The same code again, in another sign-in: refused (a code works once).
    const other = createWebClient(mydns.url);
    const again = await webSignIn(other, email, password);
    const pendingAgain = /name="pending" value="([^"]+)"/.exec(again.body)?.[1] ?? '';
    assert.equal((await other.post('/login/code', { pending: pendingAgain, code: now })).status, 401);
    // A recovery code, once.
    const recovery = setup.recoveryCodes[0] ?? '';
    assert.equal(
      (await other.post('/login/code', { pending: pendingAgain, code: recovery.toUpperCase() })).status,
      303,
    );
    const third = createWebClient(mydns.url);
    const pendingThird =
      /name="pending" value="([^"]+)"/.exec((await webSignIn(third, email, password)).body)?.[1] ?? '';
    assert.equal((await third.post('/login/code', { pending: pendingThird, code: recovery })).status, 401);
    // A wrong password never reaches the code step.
    const wrong = await webSignIn(createWebClient(mydns.url), email, `${password}x`);
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(wrong.body, /name="pending"/);
    // A forged or altered pending value is refused.
    assert.equal(
      (await third.post('/login/code', { pending: pendingThird.replace(/^\d+/, '1'), code: code(secret, 1) }))
        .status,
      401,
    );
  });
});
