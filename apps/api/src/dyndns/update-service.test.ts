import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AddressChange, FamilyChange, HistoryEntry, HostRecord } from '@mydns/db';
import { parseIpAddress } from '@mydns/domain';
import { createLogger } from '@mydns/runtime';
import type { LoginAttempt, LoginResult } from '../auth/authenticator.ts';
import { createRateLimiter } from '../auth/rate-limiter.ts';
import { parseUpdateRequest } from './parse-update-request.ts';
import { createUpdateService } from './update-service.ts';

/**
 * The update service in the fast tier: Postgres, PowerDNS and the
 * authenticator are in-memory fakes passed to its factory, so each rule is
 * checked in microseconds. deSEC's canonical test first: a repeated `nochg`
 * makes no PowerDNS write.
 */

const ZONE = 'mydns.test';
const logger = createLogger({ level: 'error', format: 'pretty', silent: true });

function hostRecord(overrides: Partial<HostRecord> = {}): HostRecord {
  return {
    id: 1,
    zone: ZONE,
    name: 'alice',
    passwordHash: 'x',
    contactEmail: null,
    ipv4: null,
    ipv6: null,
    ipv6Prefix: null,
    wildcard: false,
    status: 'active',
    createdAt: new Date(0),
    addressChangedAt: null,
    lastSeenAt: new Date(),
    passwordChangedAt: new Date(0),
    credentialVersion: 1,
    mail: { enabled: false, port: null, clientAddress: 'xclient', tls: 'opportunistic', fingerprint: null },
    ...overrides,
  };
}

function setup(
  options: { login?: LoginResult['ok'] extends true ? never : LoginResult; pushed?: boolean } = {},
) {
  let host = hostRecord();
  const calls = { applied: 0, pushes: 0, touches: 0, logins: [] as LoginAttempt[] };
  const history: HistoryEntry[] = [];
  let outbox = 0;
  const service = createUpdateService({
    hosts: {
      async applyAddressChange(_id, v4: FamilyChange, v6: FamilyChange): Promise<AddressChange | undefined> {
        calls.applied++;
        const ipv4 = v4.keep ? host.ipv4 : v4.address;
        const ipv6 = v6.keep ? host.ipv6 : v6.address;
        if (ipv4 === host.ipv4 && ipv6 === host.ipv6 && host.status === 'active') return undefined;
        const change = {
          oldIpv4: host.ipv4,
          oldIpv6: host.ipv6,
          oldIpv6Prefix: null,
          ipv4,
          ipv6,
          ipv6Prefix: null,
          outboxId: ++outbox,
        };
        host = { ...host, ipv4, ipv6, status: 'active' };
        return change;
      },
      async touchLastSeen() {
        calls.touches++;
      },
    },
    authenticator: {
      async authenticate(attempt) {
        calls.logins.push(attempt);
        return options.login ?? { ok: true, host, credential: { via: 'password' } };
      },
    },
    zoneWriters: {
      async push() {
        calls.pushes++;
        return options.pushed ?? true;
      },
    },
    history: { record: (entry) => history.push(entry) },
    hostLimiter: createRateLimiter({ count: 5, windowMs: 600_000 }),
    pushTimeoutMs: 3000,
    blockedUserAgents: ['evilbot'],
  });
  const update = async (query: string, extra: { dryRun?: boolean; client?: string; agent?: string } = {}) => {
    const client = parseIpAddress(extra.client ?? '198.51.100.4');
    assert.ok(client);
    const request = parseUpdateRequest(
      {
        endpoint: 'dyndns2',
        query,
        authorization: `Basic ${Buffer.from('alice:the-password').toString('base64')}`,
        client,
      },
      { zones: [ZONE], allowPrivateAddresses: false },
    );
    return service.update(request, {
      client,
      userAgent: extra.agent,
      logger,
      ...(extra.dryRun ? { dryRun: true } : {}),
    });
  };
  return {
    update,
    calls,
    history,
    setHost(next: Partial<HostRecord>) {
      host = { ...host, ...next };
    },
  };
}

const lines = (outcome: Awaited<ReturnType<ReturnType<typeof setup>['update']>>) =>
  outcome.kind === 'hosts'
    ? outcome.results.map((r) => ('addresses' in r ? `${r.code} ${r.addresses.join(',')}` : r.code))
    : [outcome.code];

describe('update service (fakes)', () => {
  test('a repeated nochg makes no PowerDNS write and no Postgres write', async () => {
    const { update, calls } = setup();
    assert.deepEqual(lines(await update('hostname=alice&myip=9.9.9.7')), ['good 9.9.9.7']);
    assert.equal(calls.pushes, 1);
    const applied = calls.applied;
    // Four more: with the first, the host's limit of five requests.
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(lines(await update('hostname=alice&myip=9.9.9.7')), ['nochg 9.9.9.7']);
    }
    assert.equal(calls.pushes, 1, 'no PowerDNS write for a nochg');
    assert.equal(calls.applied, applied, 'no Postgres write for a nochg');
    assert.equal(calls.touches, 0, 'last seen is fresh: not even a touch');
  });

  test('HEAD (dry run) answers as GET would and changes, counts and records nothing', async () => {
    const { update, calls, history } = setup();
    assert.deepEqual(lines(await update('hostname=alice&myip=9.9.9.8', { dryRun: true })), ['good 9.9.9.8']);
    assert.equal(calls.applied, 0);
    assert.equal(calls.pushes, 0);
    assert.equal(history.length, 0);
    // Five real updates still fit the host's limit of five: the dry runs were not counted.
    for (let i = 0; i < 5; i++) await update(`hostname=alice&myip=9.9.9.${10 + i}`);
    assert.deepEqual(lines(await update('hostname=alice&myip=9.9.9.20')), ['abuse']);
  });

  test('the reason of a refusal goes to the history', async () => {
    const { update, history } = setup();
    assert.deepEqual(lines(await update('hostname=alice', { client: '127.0.0.1' })), ['dnserr']);
    assert.equal(history.at(-1)?.reason, 'no public address: the request came from 127.0.0.1');
  });

  test('a push PowerDNS did not take in time: dnserr, the change kept, and why', async () => {
    const { update, history, calls } = setup({ pushed: false });
    assert.deepEqual(lines(await update('hostname=alice&myip=9.9.9.9')), ['dnserr']);
    assert.equal(calls.applied, 1, 'committed');
    assert.match(history.at(-1)?.reason ?? '', /PowerDNS has not taken the change yet/);
  });

  test('a disabled host: abuse, nothing written', async () => {
    const state = setup();
    state.setHost({ status: 'disabled' });
    assert.deepEqual(lines(await state.update('hostname=alice&myip=9.9.9.9')), ['abuse']);
    assert.equal(state.calls.applied, 0);
    assert.equal(state.history.at(-1)?.reason, 'the host is disabled by the operator');
  });

  test('refused logins: wrong → badauth, blocked → abuse, busy → 911', async () => {
    for (const [reason, code] of [
      ['wrong', 'badauth'],
      ['blocked', 'abuse'],
      ['busy', '911'],
    ] as const) {
      const { update, calls } = setup({ login: { ok: false, reason } });
      assert.deepEqual(lines(await update('hostname=alice&myip=9.9.9.9')), [code], reason);
      assert.equal(calls.applied, 0);
      assert.equal(calls.logins[0]?.purpose, 'update', 'an update accepts tokens');
    }
  });

  test('one line per requested name, in order; the same host twice is updated once', async () => {
    const { update, calls } = setup();
    assert.deepEqual(lines(await update(`hostname=alice,bob.${ZONE},bad..name,alice&myip=9.9.9.30`)), [
      'good 9.9.9.30',
      'nohost',
      'notfqdn',
      'good 9.9.9.30',
    ]);
    assert.equal(calls.applied, 1);
  });

  test('a blocked user agent gets badagent before any login', async () => {
    const { update, calls } = setup();
    assert.deepEqual(lines(await update('hostname=alice', { agent: 'EvilBot/1.0' })), ['badagent']);
    assert.equal(calls.logins.length, 0);
  });
});
