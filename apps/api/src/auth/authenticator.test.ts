import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostRecord, TokensRepository } from '@mydns/db';
import { limitKey, parseIpAddress } from '@mydns/domain';
import { type AuthEvents, createAuthenticator, type LoginAttempt } from './authenticator.ts';
import { BcryptBusyError, type BcryptPool } from './bcrypt-pool.ts';
import { createCredentialCache } from './credential-cache.ts';
import { createLoginGuard } from './login-guard.ts';
import { generateToken, hashToken } from './tokens.ts';

/**
 * The one authentication path, with fakes for what it stands on: a bcrypt
 * whose answers the test releases, an in-memory token store and host list.
 */

function host(
  name: string,
  id: number,
  passwordHash = `hash-of:${name}-password`,
  zone = 'mydns.test',
): HostRecord {
  return {
    id,
    zone,
    name,
    passwordHash,
    contactEmail: null,
    ipv4: null,
    ipv6: null,
    ipv6Prefix: null,
    wildcard: false,
    status: 'active',
    createdAt: new Date(0),
    addressChangedAt: null,
    lastSeenAt: null,
    passwordChangedAt: new Date(0),
    credentialVersion: 1,
    mail: { enabled: false, port: null, clientAddress: 'xclient', tls: 'opportunistic', fingerprint: null },
  };
}

/** A bcrypt whose compares wait until `release()`; `hash-of:<secret>` matches `<secret>`. */
function fakeBcrypt(options: { maxPerOwner?: number; queueFull?: boolean } = {}) {
  const waiting: (() => void)[] = [];
  const held = new Map<string, number>();
  let compares = 0;
  let autoRelease = false;
  const pool: BcryptPool = {
    async compare(secret, hash, owner = '') {
      const mine = held.get(owner) ?? 0;
      if (options.queueFull) throw new BcryptBusyError('queue');
      if (options.maxPerOwner !== undefined && mine >= options.maxPerOwner)
        throw new BcryptBusyError('owner');
      held.set(owner, mine + 1);
      compares++;
      if (!autoRelease) await new Promise<void>((resolve) => waiting.push(resolve));
      held.set(owner, (held.get(owner) ?? 1) - 1);
      return hash === `hash-of:${secret}`;
    },
    hash: async (secret) => `hash-of:${secret}`,
    stats: () => ({ threads: 1, busy: 0, queued: waiting.length, refused: 0, compares }),
    close: async () => undefined,
  };
  return {
    pool,
    compares: () => compares,
    releaseAll() {
      autoRelease = true;
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

function setup(options: { maxPerOwner?: number; queueFull?: boolean } = {}) {
  // alice twice: in the default zone and in a second one (another host, another password).
  const hosts = new Map(
    [host('alice', 1), host('bob', 2), host('alice', 3, 'hash-of:second-password', 'second.test')].map(
      (h) => [`${h.name}.${h.zone}`, h],
    ),
  );
  const tokens = new Map<string, { id: number; hostId: number; hostName: string }>();
  const aliceToken = generateToken();
  tokens.set(hashToken(aliceToken).toString('hex'), { id: 7, hostId: 1, hostName: 'alice' });
  const tokensRepository: TokensRepository = {
    create: async () => undefined,
    list: async () => [],
    revoke: async () => false,
    async find(hash, hostId) {
      const token = tokens.get(hash.toString('hex'));
      if (!token || (hostId !== undefined && token.hostId !== hostId)) return undefined;
      return { id: token.id, hostName: token.hostName, lastUsedAt: null };
    },
    touch: async () => undefined,
  };
  const bcrypt = fakeBcrypt(options);
  const events = { failures: 0, refusals: [] as string[] };
  const hooks: AuthEvents = {
    onFailure: () => {
      events.failures++;
    },
    onRefused: (refusal) => {
      events.refusals.push(refusal.reason);
    },
  };
  const authenticator = createAuthenticator({
    findHost: async (username) => {
      const name = username.toLowerCase();
      return hosts.get(name.includes('.') ? name : `${name}.mydns.test`);
    },
    tokens: tokensRepository,
    bcrypt: bcrypt.pool,
    cache: createCredentialCache({ ttlMs: 3_600_000 }),
    guard: createLoginGuard({
      source: { count: 20, windowMs: 600_000 },
      sourceHost: { count: 10, windowMs: 600_000 },
      blockMs: 900_000,
    }),
    limitKey: (source) => limitKey(source, 64),
    events: hooks,
  });
  return { authenticator, bcrypt, aliceToken, events };
}

const ip = (text: string) => {
  const parsed = parseIpAddress(text);
  assert.ok(parsed);
  return parsed;
};

const attempt = (
  source: string,
  username: string | undefined,
  secret: string,
  purpose = 'update' as const,
): LoginAttempt => ({
  source: ip(source),
  username,
  secret,
  purpose,
  edge: 'update',
});

describe('authenticate: the limits hold under parallel guesses', () => {
  test('300 parallel wrong passwords from one address: at most the limit is checked, the rest refused at once', async () => {
    const { authenticator, bcrypt } = setup();
    const guesses = Array.from({ length: 300 }, (_, i) =>
      authenticator.authenticate(attempt('198.51.100.7', 'alice', `guess-${i}`)),
    );
    // The refusals answer before any bcrypt finished.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(bcrypt.compares(), 10, 'the (source, host) limit: 10 checks run');
    bcrypt.releaseAll();
    const results = await Promise.all(guesses);
    const reasons = results.map((r) => (r.ok ? 'ok' : r.reason));
    assert.equal(reasons.filter((r) => r === 'wrong').length, 10);
    assert.equal(reasons.filter((r) => r === 'blocked').length, 290);
  });

  test('spread over many hosts, the per-source limit holds', async () => {
    const { authenticator, bcrypt } = setup();
    const names = ['alice', 'bob'];
    const guesses = Array.from({ length: 100 }, (_, i) =>
      authenticator.authenticate(attempt('198.51.100.7', names[i % 2], `guess-${i}`)),
    );
    await new Promise((resolve) => setImmediate(resolve));
    bcrypt.releaseAll();
    const results = await Promise.all(guesses);
    assert.equal(results.filter((r) => !r.ok && r.reason === 'wrong').length, 20);
    assert.equal(bcrypt.compares(), 20);
  });

  test('the same label in two zones is two hosts: failures at one do not block the other', async () => {
    const { authenticator, bcrypt } = setup();
    bcrypt.releaseAll();
    for (let i = 0; i < 10; i++)
      await authenticator.authenticate(attempt('198.51.100.7', 'alice.second.test', `guess-${i}`));
    const blocked = await authenticator.authenticate(
      attempt('198.51.100.7', 'alice.second.test', 'second-password'),
    );
    assert.equal(blocked.ok ? 'ok' : blocked.reason, 'blocked', 'the second zone’s alice is over its limit');
    const other = await authenticator.authenticate(attempt('198.51.100.7', 'alice', 'alice-password'));
    assert.equal(other.ok && other.host.zone, 'mydns.test');
  });

  test('guesses at names that do not exist count as well', async () => {
    const { authenticator, bcrypt } = setup();
    for (let i = 0; i < 20; i++) await authenticator.authenticate(attempt('198.51.100.7', `nobody${i}`, 'x'));
    bcrypt.releaseAll();
    const result = await authenticator.authenticate(attempt('198.51.100.7', 'alice', 'alice-password'));
    assert.deepEqual(result, { ok: false, reason: 'blocked', host: result.ok ? undefined : result.host });
    assert.equal(bcrypt.compares(), 0, 'no bcrypt for a name that does not exist');
  });

  test('IPv6 sources are counted per /64', async () => {
    const { authenticator, bcrypt } = setup();
    bcrypt.releaseAll();
    for (let i = 0; i < 20; i++)
      await authenticator.authenticate(attempt(`2001:db8:1:2::${(i + 1).toString(16)}`, `nobody${i}`, 'x'));
    const sameNetwork = await authenticator.authenticate(
      attempt('2001:db8:1:2:ffff::1', 'alice', 'alice-password'),
    );
    assert.equal(!sameNetwork.ok && sameNetwork.reason, 'blocked');
    const nextNetwork = await authenticator.authenticate(
      attempt('2001:db8:1:3::1', 'alice', 'alice-password'),
    );
    assert.equal(nextNetwork.ok, true);
  });

  test('a source over its share of the bcrypt queue is refused at once, and that is not a failure', async () => {
    const { authenticator, bcrypt, events } = setup({ maxPerOwner: 2 });
    const guesses = Array.from({ length: 6 }, (_, i) =>
      authenticator.authenticate(attempt('198.51.100.7', 'alice', `guess-${i}`)),
    );
    await new Promise((resolve) => setImmediate(resolve));
    bcrypt.releaseAll();
    const reasons = (await Promise.all(guesses)).map((r) => (r.ok ? 'ok' : r.reason));
    assert.deepEqual(reasons.sort(), ['blocked', 'blocked', 'blocked', 'blocked', 'wrong', 'wrong']);
    assert.equal(events.failures, 2);
    assert.deepEqual(events.refusals, ['share', 'share', 'share', 'share']);
  });

  test('a full queue (overload) answers busy, and that is not a failure', async () => {
    const { authenticator, events } = setup({ queueFull: true });
    const result = await authenticator.authenticate(attempt('198.51.100.7', 'alice', 'alice-password'));
    assert.equal(!result.ok && result.reason, 'busy');
    assert.equal(events.failures, 0);
    assert.deepEqual(events.refusals, ['busy']);
  });
});

describe('authenticate: shared addresses do not lock out what already works', () => {
  test('a credential that verified recently is accepted while its source is blocked', async () => {
    const { authenticator, bcrypt } = setup();
    bcrypt.releaseAll();
    assert.equal((await authenticator.authenticate(attempt('100.64.0.1', 'bob', 'bob-password'))).ok, true);
    for (let i = 0; i < 20; i++)
      await authenticator.authenticate(attempt('100.64.0.1', 'alice', `guess-${i}`));
    const blocked = await authenticator.authenticate(attempt('100.64.0.1', 'alice', 'alice-password'));
    assert.equal(
      !blocked.ok && blocked.reason,
      'blocked',
      'a cold login from the blocked address is refused',
    );
    const cached = await authenticator.authenticate(attempt('100.64.0.1', 'bob', 'bob-password'));
    assert.equal(cached.ok, true, "bob's router keeps working");
  });

  test('a valid token is accepted while its source is blocked', async () => {
    const { authenticator, bcrypt, aliceToken } = setup();
    bcrypt.releaseAll();
    for (let i = 0; i < 20; i++) await authenticator.authenticate(attempt('100.64.0.1', 'bob', `guess-${i}`));
    const byToken = await authenticator.authenticate(attempt('100.64.0.1', undefined, aliceToken));
    assert.equal(byToken.ok && byToken.host.name, 'alice');
    const withName = await authenticator.authenticate(attempt('100.64.0.1', 'alice', aliceToken));
    assert.equal(withName.ok && withName.credential.via, 'token');
  });
});

describe('authenticate: results', () => {
  test('identical checks in flight share one bcrypt', async () => {
    const { authenticator, bcrypt } = setup();
    const burst = Array.from({ length: 50 }, () =>
      authenticator.authenticate(attempt('198.51.100.7', 'alice', 'alice-password')),
    );
    await new Promise((resolve) => setImmediate(resolve));
    bcrypt.releaseAll();
    const results = await Promise.all(burst);
    assert.equal(results.filter((r) => r.ok).length, 50);
    assert.equal(bcrypt.compares(), 1);
  });

  test('the same wrong password in parallel still counts once per attempt', async () => {
    const { authenticator, bcrypt } = setup();
    const burst = Array.from({ length: 50 }, () =>
      authenticator.authenticate(attempt('198.51.100.7', 'alice', 'the same guess')),
    );
    await new Promise((resolve) => setImmediate(resolve));
    bcrypt.releaseAll();
    const reasons = (await Promise.all(burst)).map((r) => (r.ok ? 'ok' : r.reason));
    assert.equal(reasons.filter((r) => r === 'wrong').length, 10);
    assert.equal(reasons.filter((r) => r === 'blocked').length, 40);
  });

  test('the token policy: a token updates, only the password manages', async () => {
    const { authenticator, bcrypt, aliceToken } = setup();
    bcrypt.releaseAll();
    const manage = await authenticator.authenticate(
      attempt('198.51.100.7', 'alice', aliceToken, 'manage' as never),
    );
    assert.equal(!manage.ok && manage.reason, 'token_not_allowed');
    const password = await authenticator.authenticate(
      attempt('198.51.100.7', 'alice', 'alice-password', 'manage' as never),
    );
    assert.equal(password.ok && password.credential.via, 'password');
  });

  test("another host's token does not open this host", async () => {
    const { authenticator, bcrypt, aliceToken } = setup();
    bcrypt.releaseAll();
    const result = await authenticator.authenticate(attempt('198.51.100.7', 'bob', aliceToken));
    assert.equal(!result.ok && result.reason, 'wrong');
  });

  test('an empty or overlong secret fails without bcrypt', async () => {
    const { authenticator, bcrypt, events } = setup();
    bcrypt.releaseAll();
    assert.equal((await authenticator.authenticate(attempt('198.51.100.7', 'alice', ''))).ok, false);
    assert.equal(
      (await authenticator.authenticate(attempt('198.51.100.7', 'alice', 'x'.repeat(73)))).ok,
      false,
    );
    assert.equal(bcrypt.compares(), 0);
    assert.equal(events.failures, 2);
  });
});
