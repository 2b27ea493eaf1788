/**
 * Password reset (README "Accounts") against the real Postgres and a real
 * smarthost (python3-aiosmtpd) that reads back the mail: always 202 with the
 * same answer whether or not the account exists, a single-use link valid one
 * hour and stored hashed, a GET of the link that changes nothing, the reset
 * ending every session, the per-recipient and per-source limits on mail a
 * stranger can cause; without mail, the pages say how to reach the operator
 * and `npm run cli -- account reset-password` prints a link.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSessionsRepository } from '@mydns/db';
import { hashToken } from '../../apps/api/src/auth/tokens.ts';
import { cookieName, SESSION_COOKIE } from '../../apps/api/src/web/sessions.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { runProgram } from '../support/programs.ts';
import { noteSecret } from '../support/secrets.ts';
import { type Smarthost, type SmarthostMessage, startSmarthost } from '../support/smarthost.ts';
import { waitFor } from '../support/wait.ts';
import { createWebClient, unescapeHtml } from '../support/web-client.ts';

const PUBLIC_URL = 'https://dyn.example.net';
let mydns: TestMyDns;
let peer: Smarthost;

before(async () => {
  peer = await startSmarthost();
  mydns = await startTestMyDns({
    env: {
      MYDNS_MAIL_URL: `smtp://127.0.0.1:${peer.port}`,
      MYDNS_PUBLIC_URL: PUBLIC_URL,
      MYDNS_MAIL_RETRY: '200ms',
      MYDNS_MAIL_RECIPIENT_LIMIT: '3/1h',
      MYDNS_MAIL_SOURCE_LIMIT: '1000/1h',
    },
  });
});
after(async () => {
  await mydns?.stop();
  await peer?.stop();
});

const json = (path: string, body: unknown, auth?: [string, string]) =>
  mydns.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(auth ? { auth } : {}),
  });
const secret = () => {
  const value = `pw-${randomBytes(9).toString('base64url')}`;
  noteSecret(value);
  return value;
};
const address = (name: string) => {
  const value = `${name}-${randomBytes(4).toString('hex')}@example.org`;
  noteSecret(value);
  return value;
};

async function account(): Promise<{ email: string; password: string }> {
  const email = address('r');
  const password = secret();
  assert.equal((await json('/api/v1/accounts', { email, password })).status, 201);
  return { email, password };
}

/** Mails to `to` once every queued reset is done (the work happens after the reply). */
async function mailsTo(to: string, count: number): Promise<SmarthostMessage[]> {
  await mydns.services.background.drain();
  let mails: SmarthostMessage[] = [];
  await waitFor(
    () => {
      mails = peer.messages().filter((m) => m.to.includes(to) && m.headers.subject?.includes('Reset'));
      return mails.length >= count;
    },
    { message: () => `${count} reset mails to ${to} (got ${mails.length})`, timeoutMs: 15_000 },
  );
  return mails;
}
const queuedResets = async (to: string) =>
  Number(
    (
      await mydns
        .db('mail_outbox')
        .where({ kind: 'password_reset', recipient: to })
        .count<{ count: string }[]>({ count: '*' })
    )[0]?.count,
  );

function linkIn(message: SmarthostMessage): { url: string; token: string } {
  const text = message.parts.find((part) => part.type === 'text/plain')?.content ?? '';
  const match = text.match(/https:\/\/dyn\.example\.net\/reset-password\?token=([A-Za-z0-9_-]+)/);
  assert.ok(match?.[1], text);
  noteSecret(match[1]);
  return { url: match[0], token: match[1] };
}

describe('password reset with mail', () => {
  test('202 and the same answer whether or not the account exists; a mail only for the account', async () => {
    const { email } = await account();
    const nobody = address('nobody');
    const known = await json('/api/v1/account/password-reset', { email });
    const unknown = await json('/api/v1/account/password-reset', { email: nobody });
    assert.equal(known.status, 202);
    const shape = (reply: typeof known) => ({
      status: reply.status,
      body: reply.body,
      headers: [...reply.headers.keys()].filter((name) => !['date', 'x-request-id'].includes(name)).sort(),
      length: reply.headers.get('content-length'),
    });
    assert.deepEqual(shape(unknown), shape(known));
    const [mail] = await mailsTo(email, 1);
    assert.ok(mail);
    assert.equal(await queuedResets(nobody), 0, 'nothing queued for an address without an account');
    const { token } = linkIn(mail);
    assert.ok(token.length >= 22);
    // Stored hashed only: no row holds the token.
    const rows = await mydns.db('account_links').select();
    assert.ok(rows.some((row) => Buffer.compare(row.token_hash, hashToken(token)) === 0));
    assert.ok(!JSON.stringify(rows).includes(token));
  });

  test('the link: a GET changes nothing; a refused password keeps it; used once; every session ends', async () => {
    const { email, password } = await account();
    const accountId = (await mydns.db('accounts').where({ email }).first('id')).id;
    const cookie = randomBytes(32).toString('base64url');
    noteSecret(cookie);
    await createSessionsRepository(mydns.db).createForAccount({
      tokenHash: hashToken(cookie),
      accountId,
      csrf: 'c'.repeat(32),
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const withCookie = () =>
      mydns.request('/api/v1/account', {
        headers: { cookie: `${cookieName(SESSION_COOKIE, false)}=${cookie}` },
      });
    assert.equal((await withCookie()).status, 200);

    assert.equal((await json('/api/v1/account/password-reset', { email: email.toUpperCase() })).status, 202);
    const [mail] = await mailsTo(email, 1);
    assert.ok(mail);
    const { token } = linkIn(mail);
    const path = `/reset-password?token=${token}`;
    const web = createWebClient(mydns.url);
    // A mail scanner fetching the link twice: the form each time, nothing used up.
    for (let i = 0; i < 2; i++) {
      const page = await web.get(path);
      assert.equal(page.status, 200);
      assert.match(page.body, /Choose a new password/);
    }
    assert.equal((await mydns.request('/api/v1/account', { auth: [email, password] })).status, 200);
    const weak = await web.post('/reset-password', { token, password: 'qwertyuiop', confirm: 'qwertyuiop' });
    assert.equal(weak.status, 400);
    assert.equal((await web.get(path)).status, 200, 'still valid after a refused password');

    const fresh = secret();
    const done = await web.post('/reset-password', { token, password: fresh, confirm: fresh });
    assert.equal(done.status, 303);
    assert.equal((await web.get(path)).status, 400, 'used once');
    assert.equal(
      JSON.parse((await json('/api/v1/account/password-reset/confirm', { token, password: secret() })).body)
        .error.code,
      'invalid_token',
    );
    assert.equal((await withCookie()).status, 401, 'the session ended');
    assert.equal((await mydns.request('/api/v1/account', { auth: [email, password] })).status, 401);
    const signedIn = await mydns.request('/api/v1/account', { auth: [email, fresh] });
    assert.equal(JSON.parse(signedIn.body).verified, true, 'the mailed link proved the address too');
  });

  test('a link older than an hour does not work', async () => {
    const { email, password } = await account();
    await json('/api/v1/account/password-reset', { email });
    const [mail] = await mailsTo(email, 1);
    assert.ok(mail);
    const { token } = linkIn(mail);
    await mydns
      .db('account_links')
      .where({ token_hash: hashToken(token) })
      .update({ expires_at: new Date(Date.now() - 1000) });
    const web = createWebClient(mydns.url);
    const page = await web.get(`/reset-password?token=${token}`);
    assert.equal(page.status, 400);
    assert.match(unescapeHtml(page.body), /This link does not work/);
    const reply = await json('/api/v1/account/password-reset/confirm', { token, password: secret() });
    assert.equal(reply.status, 400);
    assert.equal((await mydns.request('/api/v1/account', { auth: [email, password] })).status, 200);
  });

  test('a newer link replaces the older; the web form answers as the API does', async () => {
    const { email } = await account();
    const web = createWebClient(mydns.url);
    await web.get('/forgot-password');
    const first = await web.post('/forgot-password', { email });
    assert.equal(first.status, 202);
    assert.match(first.body, /If an account has this address/);
    const unknown = await web.post('/forgot-password', { email: address('none') });
    assert.equal(unknown.status, 202);
    assert.equal(unknown.body.replace(/value="[^"]+"/g, ''), first.body.replace(/value="[^"]+"/g, ''));
    await web.post('/forgot-password', { email });
    // The two resets run after their replies, possibly side by side: whichever came last, one link is live.
    const mails = await mailsTo(email, 2);
    const statuses = [];
    for (const mail of mails)
      statuses.push((await web.get(`/reset-password?token=${linkIn(mail).token}`)).status);
    assert.deepEqual(statuses.sort(), [200, 400]);
  });

  test('per recipient: past MYDNS_MAIL_RECIPIENT_LIMIT no more mail, and still 202', async () => {
    const { email } = await account();
    const replies = [];
    for (let i = 0; i < 5; i++)
      replies.push((await json('/api/v1/account/password-reset', { email })).status);
    assert.deepEqual(replies, [202, 202, 202, 202, 202]);
    await mailsTo(email, 3);
    assert.equal(await queuedResets(email), 3);
  });
});

describe('password reset without mail', () => {
  let quiet: TestMyDns;
  const root = resolve(import.meta.dirname, '../..');
  before(async () => {
    quiet = await startTestMyDns({ env: { MYDNS_OPERATOR_CONTACT: 'help@dyn.example.net' } });
  });
  after(async () => {
    await quiet?.stop();
  });

  test('the pages say how to reach the operator; the CLI prints a link that works', async () => {
    const web = createWebClient(quiet.url);
    const login = unescapeHtml((await web.get('/login')).body);
    assert.match(login, /href="\/forgot-password"/);
    const forgot = unescapeHtml((await web.get('/forgot-password')).body);
    assert.match(forgot, /This service sends no mail/);
    assert.match(forgot, /help@dyn\.example\.net/);
    assert.doesNotMatch(forgot, /<input id="email"/);

    const email = address('cli');
    const password = secret();
    const created = await quiet.request('/api/v1/accounts', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    assert.equal(created.status, 201);
    const result = await runProgram(
      join(root, 'node_modules/.bin/tsx'),
      [join(root, 'apps/api/src/cli.ts'), 'account', 'reset-password', email],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DATABASE_URL: quiet.databaseUrl,
          MYDNS_ZONE: quiet.zone,
          MYDNS_PUBLIC_URL: quiet.url,
        },
        timeoutMs: 90_000,
      },
    );
    assert.equal(result.code, 0, result.output);
    const link = result.stdout.split('\n')[0] ?? '';
    assert.ok(link.startsWith(`${quiet.url}/reset-password?token=`), result.stdout);
    noteSecret(new URL(link).searchParams.get('token') ?? undefined);
    const token = new URL(link).searchParams.get('token') ?? '';
    const page = await web.get(`/reset-password?token=${token}`);
    assert.equal(page.status, 200);
    const fresh = secret();
    assert.equal((await web.post('/reset-password', { token, password: fresh, confirm: fresh })).status, 303);
    assert.equal((await quiet.request('/api/v1/account', { auth: [email, fresh] })).status, 200);

    // account create (the address taken as verified) and show.
    const made = address('made');
    const madePassword = secret();
    const cliEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: quiet.databaseUrl,
      MYDNS_ZONE: quiet.zone,
    };
    const cli = (args: string[], input?: string) =>
      runProgram(join(root, 'node_modules/.bin/tsx'), [join(root, 'apps/api/src/cli.ts'), ...args], {
        cwd: root,
        env: cliEnv,
        timeoutMs: 90_000,
        ...(input === undefined ? {} : { input }),
      });
    const createdByCli = await cli(['account', 'create', made, '--password-stdin'], `${madePassword}\n`);
    assert.equal(createdByCli.code, 0, createdByCli.output);
    assert.equal(createdByCli.stdout, `created the account ${made}\n`);
    const shown = await cli(['account', 'show', made]);
    assert.equal(shown.code, 0, shown.output);
    assert.deepEqual(JSON.parse(shown.stdout), { email: made, verified: true, totp: false, hosts: [] });
    assert.equal((await quiet.request('/api/v1/account', { auth: [made, madePassword] })).status, 200);

    const unknown = await runProgram(
      join(root, 'node_modules/.bin/tsx'),
      [join(root, 'apps/api/src/cli.ts'), 'account', 'reset-password', address('nobody')],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DATABASE_URL: quiet.databaseUrl,
          MYDNS_ZONE: quiet.zone,
        },
        timeoutMs: 90_000,
      },
    );
    assert.equal(unknown.code, 1, unknown.output);
    assert.match(unknown.stderr, /no account with this address/);
  });
});
