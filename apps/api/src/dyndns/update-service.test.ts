import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type AddressChange,
  type FamilyChange,
  type HistoryEntry,
  type HostRecord,
  type Ipv6Change,
  ipv6Step,
} from '@mydns/db';
import { nextIpv6, parseIpAddress } from '@mydns/domain';
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
      async applyAddressChange(
        _id,
        v4: FamilyChange,
        v6: Ipv6Change,
        lan,
      ): Promise<AddressChange | undefined> {
        calls.applied++;
        const ipv4 = v4.keep ? host.ipv4 : v4.address;
        const { ipv6, ipv6Prefix } = nextIpv6(host, ipv6Step(v6), lan);
        const same = ipv4 === host.ipv4 && ipv6 === host.ipv6 && ipv6Prefix === host.ipv6Prefix;
        if (same && host.status === 'active') return undefined;
        const change = {
          oldIpv4: host.ipv4,
          oldIpv6: host.ipv6,
          oldIpv6Prefix: host.ipv6Prefix,
          ipv4,
          ipv6,
          ipv6Prefix,
          outboxId: ++outbox,
        };
        host = { ...host, ipv4, ipv6, ipv6Prefix, status: 'active' };
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
    ? outcome.results.map((r) => ('addresses' in r ? `${r.code} ${r.addresses.join(',')}`.trim() : r.code))
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

  test('prefix updates: the AAAA keeps its interface bits; the Fritz!Box pair sets the LAN prefix', async () => {
    const { update, calls } = setup();
    assert.deepEqual(lines(await update('hostname=alice&myip=9.9.9.7,2a02:908:ff:1::9')), [
      'good 9.9.9.7,2a02:908:ff:1::9',
    ]);
    assert.deepEqual(lines(await update('hostname=alice&myipv6=2a02:908:aa:2::/64')), [
      'good 2a02:908:aa:2::9',
    ]);
    assert.deepEqual(lines(await update('hostname=alice&myipv6=2a02:908:aa:2::/64')), [
      'nochg 2a02:908:aa:2::9',
    ]);
    const pushes = calls.pushes;
    assert.deepEqual(
      lines(await update('hostname=alice&myip=9.9.9.7,2a02:908:aa:2::9&ip6lanprefix=2a02:908:aa:77::/64')),
      ['good 9.9.9.7,2a02:908:aa:2::9'],
      'same addresses, a new LAN prefix: a change',
    );
    assert.equal(calls.pushes, pushes + 1);
  });

  /**
   * nsupdate.info's trap (PR#497): a Fritz!Box whose update sends only the LAN
   * prefix then looks up the host's AAAA, finds it is not its own address, and
   * sends the same update again, and again: that must stay `nochg`, never
   * become `abuse` (the host's limit here is 5 requests).
   */
  test('a Fritz!Box re-sending a prefix-only update is not abuse', async () => {
    const { update, calls } = setup();
    const fritz = 'hostname=alice&myip=2a02:908:1200:1234::/64';
    assert.deepEqual(lines(await update(fritz, { agent: 'Fritz!Box DDNS/1.0.1' })), ['good']);
    for (let i = 0; i < 12; i++) {
      assert.deepEqual(
        lines(await update(fritz, { agent: 'Fritz!Box DDNS/1.0.1' })),
        ['nochg'],
        `re-send ${i + 1}`,
      );
    }
    assert.equal(calls.pushes, 1);
    // A prefix that changes still counts, and a flood of changes is still abuse.
    const results = [];
    for (let i = 0; i < 8; i++)
      results.push(...lines(await update(`hostname=alice&myipv6=2a02:908:1200:${i + 1}::/64`)));
    assert.ok(results.includes('abuse'), results.join(' '));
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
