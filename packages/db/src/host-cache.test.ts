import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CachedHost } from './host-cache.ts';
import type { HostRecord } from './hosts-repository.ts';

const full: HostRecord = {
  id: 7,
  zone: 'dyn.example.net',
  name: 'alice',
  passwordHash: '$2a$10$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVW',
  contactEmail: 'alice@example.org',
  ipv4: '198.51.100.7',
  ipv6: '2001:db8::7',
  ipv6Prefix: '2001:db8:0:7::/64',
  wildcard: true,
  status: 'dormant',
  createdAt: new Date('2026-01-02T03:04:05.678Z'),
  addressChangedAt: new Date('2026-02-03T04:05:06.789Z'),
  lastSeenAt: new Date('2026-03-04T05:06:07.891Z'),
  passwordChangedAt: new Date('2026-01-02T03:04:05.678Z'),
  credentialVersion: 3,
  mail: {
    enabled: true,
    port: 2525,
    clientAddress: 'xclient',
    tls: 'fingerprint',
    fingerprint: 'ab'.repeat(32),
  },
  accountId: 11,
};

test('a cached host is rebuilt field for field, nulls included', () => {
  assert.deepStrictEqual(new CachedHost(full, 0).record(), full);
  const sparse: HostRecord = {
    ...full,
    contactEmail: null,
    ipv4: null,
    ipv6: null,
    ipv6Prefix: null,
    wildcard: false,
    status: 'active',
    addressChangedAt: null,
    lastSeenAt: null,
    mail: { enabled: false, port: null, clientAddress: 'none', tls: 'opportunistic', fingerprint: null },
    accountId: null,
  };
  assert.deepStrictEqual(new CachedHost(sparse, 0).record(), sparse);
});

test('each hit gets its own record: changing one does not change the entry', () => {
  const entry = new CachedHost(full, 0);
  const first = entry.record();
  (first.createdAt as Date).setTime(0);
  assert.deepStrictEqual(entry.record(), full);
});
