/**
 * Accounts (README "Accounts") against the real Postgres, PowerDNS and a real
 * smarthost (python3-aiosmtpd) that reads back what MyDNS mailed: create,
 * verify from the captured mail, hosts in two zones up to
 * MYDNS_HOSTS_PER_ACCOUNT, claiming a host of its own with its password,
 * account tokens scoped to some hosts, a password change that ends the other
 * sessions, deletion after a confirmation. Every password, token and link
 * token is noted as a secret: the run's log check proves no line names one.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createSessionsRepository } from '@mydns/db';
import { hashToken } from '../../apps/api/src/auth/tokens.ts';
import { cookieName, SESSION_COOKIE } from '../../apps/api/src/web/sessions.ts';
import { startTestMyDns, type TestMyDns, uniqueZone } from '../support/mydns.ts';
import { noteSecret } from '../support/secrets.ts';
import { type Smarthost, type SmarthostMessage, startSmarthost } from '../support/smarthost.ts';

const PUBLIC_URL = 'https://dyn.example.net';
const zoneA = uniqueZone();
const zoneB = uniqueZone();
let mydns: TestMyDns;
let peer: Smarthost;

before(async () => {
  peer = await startSmarthost();
  mydns = await startTestMyDns({
    env: {
      MYDNS_ZONES: `${zoneA},${zoneB}`,
      MYDNS_MAIL_URL: `smtp://127.0.0.1:${peer.port}`,
      MYDNS_PUBLIC_URL: PUBLIC_URL,
      MYDNS_MAIL_RETRY: '200ms',
      MYDNS_HOSTS_PER_ACCOUNT: '3',
    },
  });
});
after(async () => {
  await mydns?.stop();
  await peer?.stop();
});

export const newAddress = (name: string) => `${name}-${randomBytes(4).toString('hex')}@Example.org`;
const newPassword = () => {
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  noteSecret(password);
  return password;
};

type Auth = [string, string];
const send = (
  path: string,
  method: string,
  body: unknown,
  auth?: Auth,
  headers: Record<string, string> = {},
) =>
  mydns.request(path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    ...(auth ? { auth } : {}),
  });
const errorOf = (reply: { body: string }) =>
  (JSON.parse(reply.body) as { error?: { code?: string } }).error?.code;

/** The mail to `to` that came last, once it arrived. */
async function mailTo(to: string, count = 1): Promise<SmarthostMessage> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const mails = peer.messages().filter((m) => m.to.includes(to.toLowerCase()) || m.to.includes(to));
    if (mails.length >= count) return mails[mails.length - 1] as SmarthostMessage;
    if (Date.now() > deadline) throw new Error(`no mail ${count} to ${to}; got ${mails.length}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const tokenIn = (message: SmarthostMessage, page: string) => {
  const text = message.parts.find((part) => part.type === 'text/plain')?.content ?? '';
  const match = text.match(
    new RegExp(`${PUBLIC_URL.replace(/\./g, '\\.')}/${page}\\?token=([A-Za-z0-9_-]+)`),
  );
  assert.ok(match?.[1], `a ${page} link in: ${text}`);
  noteSecret(match[1]);
  return match[1];
};

/** A new, verified account. */
export async function createAccount(): Promise<{ email: string; password: string; auth: Auth }> {
  const email = newAddress('acct');
  noteSecret(email);
  const password = newPassword();
  const created = await send('/api/v1/accounts', 'POST', { email, password });
  assert.equal(created.status, 201, created.body);
  const token = tokenIn(await mailTo(email), 'verify-email');
  assert.equal((await send('/api/v1/account/verify-email', 'POST', { token })).status, 204);
  return { email, password, auth: [email, password] };
}

describe('accounts', () => {
  test('create, verify from the mailed link (once), taken in any case', async () => {
    const email = newAddress('alice');
    noteSecret(email);
    const password = newPassword();
    const created = await send('/api/v1/accounts', 'POST', { email, password });
    assert.equal(created.status, 201, created.body);
    // Kept as typed, but for the domain, which has no case (RFC 5321, 2.4).
    const [local, domain] = email.split('@') as [string, string];
    const stored = `${local}@${domain.toLowerCase()}`;
    assert.deepEqual(JSON.parse(created.body), { email: stored, verified: false });
    assert.equal(
      errorOf(await send('/api/v1/accounts', 'POST', { email: email.toUpperCase(), password })),
      'email_taken',
    );
    assert.equal(
      errorOf(await send('/api/v1/accounts', 'POST', { email: 'not-an-address', password })),
      'invalid_email',
    );

    const message = await mailTo(email);
    assert.equal(message.headers.to, stored);
    const token = tokenIn(message, 'verify-email');
    assert.ok(token.length >= 22, 'at least 128 bits');
    const before = JSON.parse((await mydns.request('/api/v1/account', { auth: [email, password] })).body);
    assert.equal(before.verified, false);
    assert.equal((await send('/api/v1/account/verify-email', 'POST', { token })).status, 204);
    assert.equal(
      errorOf(await send('/api/v1/account/verify-email', 'POST', { token })),
      'invalid_token',
      'once',
    );
    const account = JSON.parse(
      (await mydns.request('/api/v1/account', { auth: [email.toLowerCase(), password] })).body,
    );
    assert.deepEqual(account, { email: stored, verified: true, totp: false, hosts: [] });
    // The link's token is stored hashed only.
    const rows = await mydns.db('account_links').select('token_hash');
    assert.ok(rows.some((row) => Buffer.compare(row.token_hash, hashToken(token)) === 0));
    assert.ok(!JSON.stringify(await mydns.db('account_links').select()).includes(token));

    const wrong = await mydns.request('/api/v1/account', { auth: [email, `${password}x`] });
    assert.equal(wrong.status, 401);
    const unknown = await mydns.request('/api/v1/account', { auth: [newAddress('nobody'), password] });
    assert.equal(unknown.status, 401);
  });

  test('hosts in either zone up to MYDNS_HOSTS_PER_ACCOUNT; the same label in each zone; unknown zones refused', async () => {
    const { auth } = await createAccount();
    const label = `h${randomBytes(3).toString('hex')}`;
    const first = await send('/api/v1/account/hosts', 'POST', { hostname: label }, auth);
    assert.equal(first.status, 201, first.body);
    assert.equal(JSON.parse(first.body).hostname, `${label}.${zoneA}`);
    const second = await send('/api/v1/account/hosts', 'POST', { hostname: label, zone: zoneB }, auth);
    assert.equal(second.status, 201, second.body);
    assert.equal(JSON.parse(second.body).hostname, `${label}.${zoneB}`);
    assert.equal(
      errorOf(await send('/api/v1/account/hosts', 'POST', { hostname: label }, auth)),
      'hostname_taken',
    );
    assert.equal(
      errorOf(await send('/api/v1/account/hosts', 'POST', { hostname: 'x1', zone: 'elsewhere.test' }, auth)),
      'unknown_zone',
    );
    assert.equal((await send('/api/v1/account/hosts', 'POST', { hostname: `${label}c` }, auth)).status, 201);
    const over = await send('/api/v1/account/hosts', 'POST', { hostname: `${label}d`, zone: zoneB }, auth);
    assert.equal(over.status, 403);
    assert.equal(errorOf(over), 'host_limit');

    const account = JSON.parse((await mydns.request('/api/v1/account', { auth })).body);
    // In zone and label order.
    const byZone = [
      [zoneA, [`${label}.${zoneA}`, `${label}c.${zoneA}`]],
      [zoneB, [`${label}.${zoneB}`]],
    ] as const;
    assert.deepEqual(
      account.hosts.map((host: { hostname: string }) => host.hostname),
      [...byZone].sort((a, b) => (a[0] < b[0] ? -1 : 1)).flatMap(([, names]) => names),
    );
    // The account's credentials manage its hosts in the JSON API; another account's do not.
    assert.equal((await mydns.request(`/api/v1/hosts/${label}.${zoneB}`, { auth })).status, 200);
    const other = await createAccount();
    assert.equal((await mydns.request(`/api/v1/hosts/${label}.${zoneB}`, { auth: other.auth })).status, 403);
    // A host made in an account has no password of its own: an empty one is no way in.
    assert.equal(
      (await mydns.request(`/api/v1/hosts/${label}.${zoneB}`, { auth: [`${label}.${zoneB}`, ''] })).status,
      401,
    );
  });

  test('parallel additions cannot pass the limit together', async () => {
    const { auth } = await createAccount();
    const label = `p${randomBytes(3).toString('hex')}`;
    const replies = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((n) =>
        send('/api/v1/account/hosts', 'POST', { hostname: `${label}${n}` }, auth),
      ),
    );
    assert.deepEqual(replies.map((reply) => reply.status).sort(), [201, 201, 201, 403, 403, 403]);
  });

  test('a host of its own is claimed with its password, and keeps working with it', async () => {
    const { auth } = await createAccount();
    const label = `c${randomBytes(3).toString('hex')}`;
    const hostPassword = newPassword();
    await mydns.createHost(label, hostPassword);
    const wrong = await send(
      '/api/v1/account/hosts',
      'POST',
      { hostname: label, password: `${hostPassword}x` },
      auth,
    );
    assert.equal(wrong.status, 401);
    const claimed = await send(
      '/api/v1/account/hosts',
      'POST',
      { hostname: label, password: hostPassword },
      auth,
    );
    assert.equal(claimed.status, 200, claimed.body);
    assert.equal(JSON.parse(claimed.body).hostname, `${label}.${zoneA}`);
    const account = JSON.parse((await mydns.request('/api/v1/account', { auth })).body);
    assert.deepEqual(
      account.hosts.map((host: { hostname: string }) => host.hostname),
      [`${label}.${zoneA}`],
    );
    // The seed's model keeps working for it.
    const update = await mydns.request(`/nic/update?hostname=${label}.${zoneA}&myip=192.0.2.44`, {
      auth: [label, hostPassword],
    });
    assert.equal(update.body, 'good 192.0.2.44');
    // Another account cannot claim it, even with its password.
    const other = await createAccount();
    const stolen = await send(
      '/api/v1/account/hosts',
      'POST',
      { hostname: label, password: hostPassword },
      other.auth,
    );
    assert.equal(stolen.status, 409);
    assert.equal(errorOf(stolen), 'host_owned');
  });

  test('account tokens: shown once, scoped to the listed hosts, no use for managing; revoked', async () => {
    const { auth } = await createAccount();
    const label = `t${randomBytes(3).toString('hex')}`;
    await send('/api/v1/account/hosts', 'POST', { hostname: `${label}a` }, auth);
    await send('/api/v1/account/hosts', 'POST', { hostname: `${label}b`, zone: zoneB }, auth);
    const made = await send(
      '/api/v1/account/tokens',
      'POST',
      { label: 'router', hosts: [`${label}a.${zoneA}`] },
      auth,
    );
    assert.equal(made.status, 201, made.body);
    const { id, token } = JSON.parse(made.body) as { id: number; token: string };
    noteSecret(token);
    assert.ok(!JSON.stringify(await mydns.db('account_tokens').select()).includes(token), 'stored hashed');
    const listed = JSON.parse((await mydns.request('/api/v1/account/tokens', { auth })).body);
    assert.deepEqual(
      listed.tokens.map((t: { hosts: string[] }) => t.hosts),
      [[`${label}a.${zoneA}`]],
    );
    assert.ok(!JSON.stringify(listed).includes(token), 'not shown again');
    assert.equal(
      errorOf(
        await send('/api/v1/account/tokens', 'POST', { label: 'x', hosts: [`nothere.${zoneA}`] }, auth),
      ),
      'unknown_host',
    );
    // Not for managing the account, nor for making more tokens.
    const manage = await mydns.request('/api/v1/account', { auth: [auth[0], token] });
    assert.equal(manage.status, 403);
    assert.equal(errorOf(manage), 'token_not_allowed');
    // It reads the host it lists (updates come in their own test), not the other.
    assert.equal(
      (await mydns.request(`/api/v1/hosts/${label}a.${zoneA}/history`, { auth: [auth[0], token] })).status,
      403,
    );
    const revoke = await mydns.request(`/api/v1/account/tokens/${id}`, { method: 'DELETE', auth });
    assert.equal(revoke.status, 204);
    assert.deepEqual(JSON.parse((await mydns.request('/api/v1/account/tokens', { auth })).body).tokens, []);
  });

  test('a password change ends every other session; the old password stops working', async () => {
    const { email, password, auth } = await createAccount();
    const account = await mydns.db('accounts').whereRaw('lower(email) = lower(?)', [email]).first('id');
    const sessions = createSessionsRepository(mydns.db);
    const cookies = [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')];
    for (const cookie of cookies) {
      noteSecret(cookie);
      await sessions.createForAccount({
        tokenHash: hashToken(cookie),
        accountId: account.id,
        csrf: 'x'.repeat(32),
        expiresAt: new Date(Date.now() + 3_600_000),
      });
    }
    const withCookie = (cookie: string) =>
      mydns.request('/api/v1/account', {
        headers: { cookie: `${cookieName(SESSION_COOKIE, false)}=${cookie}` },
      });
    for (const cookie of cookies) assert.equal((await withCookie(cookie)).status, 200, 'signed in before');
    const weak = await send('/api/v1/account', 'PATCH', { password: 'qwertyuiop' }, auth);
    assert.equal(weak.status, 400);
    const fresh = newPassword();
    const changed = await send('/api/v1/account', 'PATCH', { password: fresh }, auth);
    assert.equal(changed.status, 200, changed.body);
    for (const cookie of cookies) assert.equal((await withCookie(cookie)).status, 401, 'signed out after');
    assert.equal((await mydns.request('/api/v1/account', { auth: [email, password] })).status, 401);
    assert.equal((await mydns.request('/api/v1/account', { auth: [email, fresh] })).status, 200);
  });

  test('deletion: only with the address as confirmation; the hosts go with it, their names held back', async () => {
    const { email, auth } = await createAccount();
    const label = `d${randomBytes(3).toString('hex')}`;
    await send('/api/v1/account/hosts', 'POST', { hostname: label, zone: zoneB }, auth);
    const refused = await send('/api/v1/account', 'DELETE', {}, auth);
    assert.equal(refused.status, 400);
    assert.equal(errorOf(refused), 'confirmation_required');
    assert.equal(
      (await send('/api/v1/account', 'DELETE', { confirm: 'someone@else.org' }, auth)).status,
      400,
    );
    const deleted = await send('/api/v1/account', 'DELETE', { confirm: email.toLowerCase() }, auth);
    assert.equal(deleted.status, 204, deleted.body);
    assert.equal((await mydns.request('/api/v1/account', { auth })).status, 401);
    assert.equal(await mydns.db('hosts').where({ zone: zoneB, name: label }).first(), undefined);
    const other = await createAccount();
    assert.equal(
      errorOf(await send('/api/v1/account/hosts', 'POST', { hostname: label, zone: zoneB }, other.auth)),
      'hostname_quarantined',
    );
  });
});
