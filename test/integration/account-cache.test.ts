/**
 * What a replica remembers about an account (packages/db/src/account-cache.ts)
 * never outlives the change that ends a credential: a revoked token, a changed
 * password, a host deleted from the account, TOTP switched on, the account
 * deleted. Each change is made through the replica that is serving the
 * credential (refused at the very next request) and through a second replica
 * on the same database (refused as soon as Postgres's notification arrives,
 * and from then on). Every credential is used a few times first, so that
 * whatever can be cached is.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeBase32, totp } from '../../apps/api/src/auth/totp.ts';
import { sql } from '../support/faults.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { noteSecret } from '../support/secrets.ts';
import { waitFor } from '../support/wait.ts';

let serving: TestMyDns;
let other: TestMyDns;

before(async () => {
  serving = await startTestMyDns();
  // The second replica: same database, same zone, same PowerDNS; stop() leaves them to the first.
  other = await startTestMyDns({
    database: { url: serving.databaseUrl },
    env: { MYDNS_ZONE: serving.zone },
  });
});
after(async () => {
  await other?.stop();
  await serving?.stop();
});

type Auth = [string, string];
type Via = 'the same replica' | 'another replica';
const replica = (via: Via) => (via === 'the same replica' ? serving : other);

const send = (mydns: TestMyDns, method: string, path: string, body: unknown, auth: Auth) =>
  mydns.request(path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    auth,
  });

interface Account {
  email: string;
  password: string;
  auth: Auth;
  /** The full name of its one host. */
  host: string;
  token: string;
  tokenId: number;
}

/** An account holding one host, updated once to `ip` with the account's password. */
async function account(ip: string): Promise<Account> {
  const email = `c-${randomBytes(4).toString('hex')}@example.org`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  noteSecret(email);
  noteSecret(password);
  const auth: Auth = [email, password];
  const created = await serving.request('/api/v1/accounts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  assert.equal(created.status, 201, created.body);
  const added = await send(
    serving,
    'POST',
    '/api/v1/account/hosts',
    { hostname: `c${randomBytes(3).toString('hex')}` },
    auth,
  );
  assert.equal(added.status, 201, added.body);
  const made = await send(serving, 'POST', '/api/v1/account/tokens', { label: 'router' }, auth);
  assert.equal(made.status, 201, made.body);
  const { token, id } = JSON.parse(made.body) as { token: string; id: number };
  noteSecret(token);
  const host = JSON.parse(added.body).hostname as string;
  assert.equal(await update(`/nic/update?hostname=${host}&myip=${ip}`, auth), `good ${ip}`);
  return { email, password, auth, host, token, tokenId: id };
}

/** A repeated update of the account's host with `auth` is a nochg. */
async function expectNochg(a: Account, ip: string, auth: Auth): Promise<void> {
  assert.equal(await update(`/nic/update?hostname=${a.host}&myip=${ip}`, auth), `nochg ${ip}`);
}

/** One update through the serving replica: the reply's body. */
async function update(path: string, auth?: Auth): Promise<string> {
  return (await serving.request(path, auth ? { auth } : {})).body;
}

/**
 * The request answers `before` now (three times over, so that the credential,
 * the account and its hosts are cached wherever they can be); after the
 * change made through `via`, it answers `after`: at once through the same
 * replica, as soon as the notification has arrived through another, and in
 * both cases every time from then on.
 */
async function endsWith(
  via: Via,
  request: () => Promise<string>,
  expected: { before: string; after: string },
  change: () => Promise<void>,
): Promise<void> {
  for (let i = 0; i < 3; i++) assert.equal(await request(), expected.before);
  await change();
  if (via === 'another replica') {
    const seen: string[] = [];
    await waitFor(
      async () => {
        seen.push(await request());
        return seen.at(-1) === expected.after;
      },
      {
        message: () => `${expected.after} after the change (replies: ${seen.join(', ')})`,
        timeoutMs: 5000,
        intervalMs: 20,
      },
    );
  }
  for (let i = 0; i < 3; i++) assert.equal(await request(), expected.after);
}

for (const via of ['the same replica', 'another replica'] as const) {
  describe(`a change through ${via}`, () => {
    test('a revoked account token stops updating', async () => {
      const ip = '198.51.100.10';
      const a = await account(ip);
      const revoke = async () => {
        const revoked = await replica(via).request(`/api/v1/account/tokens/${a.tokenId}`, {
          method: 'DELETE',
          auth: a.auth,
        });
        assert.equal(revoked.status, 204, revoked.body);
      };
      // With the address as username, alone (the simple URL), and with the host's name as username.
      await endsWith(
        via,
        async () => {
          const forms = [
            () => update(`/nic/update?hostname=${a.host}&myip=${ip}`, [a.email, a.token]),
            () => update(`/u.php?token=${a.token}&hostname=${a.host}&myip=${ip}`),
            () => update(`/nic/update?hostname=${a.host}&myip=${ip}`, [a.host, a.token]),
          ];
          const replies = [];
          for (const form of forms) replies.push(await form());
          return replies.join(' | ');
        },
        { before: `nochg ${ip} | nochg ${ip} | nochg ${ip}`, after: 'badauth | badauth | badauth' },
        revoke,
      );
      // The password still works.
      await expectNochg(a, ip, a.auth);
    });

    test('a changed account password: the old one stops, the new one works', async () => {
      const ip = '198.51.100.11';
      const a = await account(ip);
      const fresh = `pw-${randomBytes(9).toString('base64url')}`;
      noteSecret(fresh);
      await endsWith(
        via,
        () => update(`/nic/update?hostname=${a.host}&myip=${ip}`, a.auth),
        { before: `nochg ${ip}`, after: 'badauth' },
        async () => {
          const changed = await send(
            replica(via),
            'PATCH',
            '/api/v1/account',
            { password: fresh, currentPassword: a.password },
            a.auth,
          );
          assert.equal(changed.status, 200, changed.body);
        },
      );
      await expectNochg(a, ip, [a.email, fresh]);
    });

    test('a host deleted from the account is no longer updated, named or not', async () => {
      const ip = '198.51.100.12';
      const a = await account(ip);
      await endsWith(
        via,
        async () =>
          [
            await update(`/nic/update?hostname=${a.host}&myip=${ip}`, [a.email, a.token]),
            // No hostname: the account's one host.
            await update(`/nic/update?myip=${ip}`, [a.email, a.token]),
          ].join(' | '),
        { before: `nochg ${ip} | nochg ${ip}`, after: 'nohost | nohost' },
        async () => {
          const deleted = await replica(via).request(`/api/v1/hosts/${a.host}`, {
            method: 'DELETE',
            auth: a.auth,
          });
          assert.equal(deleted.status, 204, deleted.body);
        },
      );
      assert.deepEqual(await serving.query.a(a.host), []);
    });

    test('with TOTP switched on, the account password is refused by Basic auth; the token still works', async () => {
      const ip = '198.51.100.13';
      const a = await account(ip);
      await endsWith(
        via,
        () => update(`/nic/update?hostname=${a.host}&myip=${ip}`, a.auth),
        { before: `nochg ${ip}`, after: 'badauth' },
        async () => {
          const started = await send(replica(via), 'POST', '/api/v1/account/totp', {}, a.auth);
          assert.equal(started.status, 201, started.body);
          const setup = JSON.parse(started.body) as { secret: string; recoveryCodes: string[] };
          noteSecret(setup.secret);
          for (const one of setup.recoveryCodes) noteSecret(one);
          const secret = decodeBase32(setup.secret);
          assert.ok(secret);
          // The previous step's code is accepted too (a clock a little behind): no race with the step's end.
          const confirmed = await send(
            replica(via),
            'POST',
            '/api/v1/account/totp/confirm',
            { code: totp(secret, Date.now() - 30_000) },
            a.auth,
          );
          assert.equal(confirmed.status, 204, confirmed.body);
        },
      );
      await expectNochg(a, ip, [a.email, a.token]);
    });

    test('a deleted account: its password and its token stop working', async () => {
      const ip = '198.51.100.14';
      const a = await account(ip);
      await endsWith(
        via,
        async () =>
          [
            await update(`/nic/update?myip=${ip}`, a.auth),
            await update(`/nic/update?myip=${ip}`, [a.email, a.token]),
            await update(`/u.php?token=${a.token}&myip=${ip}`),
          ].join(' | '),
        { before: `nochg ${ip} | nochg ${ip} | nochg ${ip}`, after: 'badauth | badauth | badauth' },
        async () => {
          const deleted = await send(replica(via), 'DELETE', '/api/v1/account', { confirm: a.email }, a.auth);
          assert.equal(deleted.status, 204, deleted.body);
        },
      );
    });
  });
}

test('the account is served from memory, and dropped when another replica changes it', async () => {
  const ip = '198.51.100.15';
  const a = await account(ip);
  const [row] = await sql<{ id: string }>(serving.databaseUrl, 'select id from accounts where email = $1', [
    a.email,
  ]);
  const id = Number(row?.id);
  // The notification of the host's change may arrive while the first read is in flight: that read is not kept.
  await waitFor(
    async () =>
      (await update(`/nic/update?hostname=${a.host}&myip=${ip}`, [a.email, a.token])) === `nochg ${ip}` &&
      serving.services.accountCache.holds(id),
    { message: 'the account to be cached', timeoutMs: 5000, intervalMs: 0 },
  );
  const { hits } = serving.services.accountCache.stats();
  await expectNochg(a, ip, [a.email, a.token]);
  assert.ok(serving.services.accountCache.stats().hits > hits, 'a nochg reads the account from memory');
  const made = await send(other, 'POST', '/api/v1/account/tokens', { label: 'second' }, a.auth);
  assert.equal(made.status, 201, made.body);
  noteSecret((JSON.parse(made.body) as { token: string }).token);
  await waitFor(() => !serving.services.accountCache.holds(id), {
    message: 'the serving replica to drop the account',
    timeoutMs: 5000,
    intervalMs: 20,
  });
});
