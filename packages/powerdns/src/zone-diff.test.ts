import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostDnsState } from '@mydns/domain';
import { host } from '../../../test/support/fake-dns-store.ts';
import type { Rrset } from './client.ts';
import { type Difference, desiredRrsets, diffZone, hostOfName } from './zone-diff.ts';

/**
 * The reconciler's decisions by table: Postgres (host rows and the relay's
 * addresses) against what PowerDNS holds, and the operator's names.
 */

const ZONE = 'dyn.test';
const TTL = 60;

/** An rrset as PowerDNS lists it; `label` is relative to the zone (`@` for the apex). */
function rr(label: string, type: string, records: string[], ttl = TTL): Rrset {
  return { name: label === '@' ? `${ZONE}.` : `${label}.${ZONE}.`, type, ttl, records };
}

const SOA = rr('@', 'SOA', ['ns1.dyn.test. hostmaster.dyn.test. 7 10800 3600 604800 60'], 300);
const NS = rr('@', 'NS', ['ns1.example.net.'], 3600);
const RELAY = ['192.0.2.25'];
const RELAY_RRSETS = [rr('mx', 'A', RELAY), rr('*.mx', 'A', RELAY)];

const label = (name: string) => (name === `${ZONE}.` ? '@' : name.slice(0, -`.${ZONE}.`.length));
const showDifference = (d: Difference) => `${d.kind} ${d.type} ${label(d.name)}`;
const showChange = (c: Rrset) =>
  c.records.length === 0
    ? `remove ${c.type} ${label(c.name)}`
    : `write ${c.type} ${label(c.name)} ${c.ttl} ${c.records.join(' ')}`;

interface Row {
  readonly name: string;
  readonly hosts?: readonly HostDnsState[];
  readonly relay?: readonly string[];
  readonly actual: readonly Rrset[];
  readonly operatorRecords?: readonly string[];
  readonly nameservers?: readonly string[];
  readonly differences?: readonly string[];
  readonly changes?: readonly string[];
  readonly refused?: readonly string[];
}

const alice = host('alice', { ipv4: '198.51.100.1' });
const aliceInDns = rr('alice', 'A', ['198.51.100.1']);

const rows: readonly Row[] = [
  { name: 'an empty zone and no hosts: nothing to do', relay: [], actual: [] },
  {
    name: 'PowerDNS equals Postgres: nothing to do',
    hosts: [alice, host('bob', { ipv4: '198.51.100.2', ipv6: '2001:db8::2', mailEnabled: true })],
    actual: [
      SOA,
      NS,
      ...RELAY_RRSETS,
      aliceInDns,
      rr('bob', 'A', ['198.51.100.2']),
      rr('bob', 'AAAA', ['2001:db8::2']),
      rr('bob', 'MX', ['10 bob.mx.dyn.test.']),
    ],
  },
  {
    name: 'the same records in another order are the same rrset',
    hosts: [host('multi', { acme: ['token-b', 'token-a'] })],
    actual: [SOA, NS, ...RELAY_RRSETS, rr('_acme-challenge.multi', 'TXT', ['"token-b"', '"token-a"'])],
  },
  {
    name: 'a wiped zone: every rrset Postgres wants is missing',
    hosts: [alice, host('carol', { ipv6: '2001:db8::3', acme: ['carol-token'] })],
    actual: [],
    differences: [
      'missing A mx',
      'missing A *.mx',
      'missing A alice',
      'missing AAAA carol',
      'missing TXT _acme-challenge.carol',
    ],
    changes: [
      'write A mx 60 192.0.2.25',
      'write A *.mx 60 192.0.2.25',
      'write A alice 60 198.51.100.1',
      'write AAAA carol 60 2001:db8::3',
      'write TXT _acme-challenge.carol 60 "carol-token"',
    ],
  },
  {
    name: 'a host’s A deleted behind our back: missing',
    hosts: [alice],
    actual: [SOA, NS, ...RELAY_RRSETS],
    differences: ['missing A alice'],
    changes: ['write A alice 60 198.51.100.1'],
  },
  {
    name: 'another address: wrong',
    hosts: [alice],
    actual: [SOA, NS, ...RELAY_RRSETS, rr('alice', 'A', ['192.0.2.66'])],
    differences: ['wrong A alice'],
    changes: ['write A alice 60 198.51.100.1'],
  },
  {
    name: 'only the TTL differs: wrong',
    hosts: [alice],
    actual: [SOA, NS, ...RELAY_RRSETS, rr('alice', 'A', ['198.51.100.1'], 3600)],
    differences: ['wrong A alice'],
    changes: ['write A alice 60 198.51.100.1'],
  },
  {
    name: 'a name nobody owns: extra, removed',
    hosts: [alice],
    actual: [SOA, NS, ...RELAY_RRSETS, aliceInDns, rr('stray', 'A', ['192.0.2.99'])],
    differences: ['extra A stray'],
    changes: ['remove A stray'],
  },
  {
    name: 'a deleted host’s records (no row): extra',
    hosts: [],
    actual: [SOA, NS, ...RELAY_RRSETS, aliceInDns, rr('alice', 'MX', ['10 alice.mx.dyn.test.'])],
    differences: ['extra A alice', 'extra MX alice'],
    changes: ['remove A alice', 'remove MX alice'],
  },
  ...(['dormant', 'disabled'] as const).map(
    (status): Row => ({
      name: `a ${status} host’s address is extra`,
      hosts: [host('alice', { ipv4: '198.51.100.1', status })],
      actual: [SOA, NS, ...RELAY_RRSETS, aliceInDns],
      differences: ['extra A alice'],
      changes: ['remove A alice'],
    }),
  ),
  {
    name: 'an AAAA left after the host dropped IPv6: extra',
    hosts: [alice],
    actual: [SOA, NS, ...RELAY_RRSETS, aliceInDns, rr('alice', 'AAAA', ['2001:db8::1'])],
    differences: ['extra AAAA alice'],
    changes: ['remove AAAA alice'],
  },
  {
    name: 'ACME TXT: a new value is wrong, a forged one at a host without values is extra',
    hosts: [host('gamma', { acme: ['new-token'] }), alice],
    actual: [
      SOA,
      NS,
      ...RELAY_RRSETS,
      aliceInDns,
      rr('_acme-challenge.gamma', 'TXT', ['"old-token"']),
      rr('_acme-challenge.alice', 'TXT', ['"forged"']),
    ],
    differences: ['wrong TXT _acme-challenge.gamma', 'extra TXT _acme-challenge.alice'],
    changes: ['remove TXT _acme-challenge.alice', 'write TXT _acme-challenge.gamma 60 "new-token"'],
  },
  {
    name: 'removals first: a stray CNAME at a host’s name goes before the host’s A is written',
    hosts: [alice],
    actual: [SOA, NS, ...RELAY_RRSETS, rr('alice', 'CNAME', ['elsewhere.example.org.'])],
    differences: ['missing A alice', 'extra CNAME alice'],
    changes: ['remove CNAME alice', 'write A alice 60 198.51.100.1'],
  },
  {
    name: 'the apex SOA and NS are left alone, whatever they hold',
    hosts: [],
    actual: [rr('@', 'SOA', ['a. b. 99 1 1 1 1'], 9), rr('@', 'NS', ['ns9.example.org.']), ...RELAY_RRSETS],
  },
  {
    name: 'other apex records are extra, unless the operator lists @',
    hosts: [],
    actual: [SOA, NS, ...RELAY_RRSETS, rr('@', 'TXT', ['"v=spf1 -all"'])],
    differences: ['extra TXT @'],
    changes: ['remove TXT @'],
  },
  {
    name: 'operator records are kept: @, an exact name, a subtree (not its top)',
    operatorRecords: ['@', 'www', ' *.Lab '],
    hosts: [],
    actual: [
      SOA,
      NS,
      ...RELAY_RRSETS,
      rr('@', 'TXT', ['"v=spf1 -all"']),
      rr('www', 'A', ['192.0.2.80']),
      rr('www', 'CNAME', ['web.example.org.']),
      rr('printer.lab', 'A', ['192.0.2.81']),
      rr('deep.printer.lab', 'AAAA', ['2001:db8::81']),
      rr('lab', 'A', ['192.0.2.82']),
    ],
    differences: ['extra A lab'],
    changes: ['remove A lab'],
  },
  {
    name: 'a name server’s own address inside the zone is kept',
    nameservers: ['ns1.dyn.test', 'ns2.example.net'],
    hosts: [],
    actual: [SOA, NS, ...RELAY_RRSETS, rr('ns1', 'A', ['203.0.113.53']), rr('ns1', 'AAAA', ['2001:db8::53'])],
  },
  {
    name: 'the relay’s names follow its addresses: missing, wrong, extra',
    relay: ['192.0.2.26', '2001:db8::25'],
    hosts: [],
    actual: [
      SOA,
      NS,
      rr('mx', 'A', ['192.0.2.25']),
      rr('*.mx', 'A', ['192.0.2.26']),
      rr('*.mx', 'TXT', ['"x"']),
    ],
    differences: ['wrong A mx', 'missing AAAA mx', 'missing AAAA *.mx', 'extra TXT *.mx'],
    changes: [
      'remove TXT *.mx',
      'write A mx 60 192.0.2.26',
      'write AAAA mx 60 2001:db8::25',
      'write AAAA *.mx 60 2001:db8::25',
    ],
  },
  {
    name: 'no relay addresses: the relay’s names are extra',
    relay: [],
    hosts: [],
    actual: [SOA, NS, ...RELAY_RRSETS],
    differences: ['extra A mx', 'extra A *.mx'],
    changes: ['remove A mx', 'remove A *.mx'],
  },
  {
    name: 'mail forwarding: MX towards the relay while on, extra once off',
    hosts: [
      host('mailer', { ipv4: '198.51.100.9', mailEnabled: true }),
      host('quiet', { ipv4: '198.51.100.10' }),
    ],
    actual: [
      SOA,
      NS,
      ...RELAY_RRSETS,
      rr('mailer', 'A', ['198.51.100.9']),
      rr('quiet', 'A', ['198.51.100.10']),
      rr('quiet', 'MX', ['10 quiet.mx.dyn.test.']),
    ],
    differences: ['missing MX mailer', 'extra MX quiet'],
    changes: ['remove MX quiet', 'write MX mailer 60 10 mailer.mx.dyn.test.'],
  },
  {
    name: 'Postgres wants a record at an operator’s name: refused and reported, the operator’s record stays',
    operatorRecords: ['printer'],
    hosts: [host('printer', { ipv4: '198.51.100.5' })],
    actual: [SOA, NS, ...RELAY_RRSETS, rr('printer', 'A', ['192.0.2.81']), rr('printer', 'TXT', ['"mine"'])],
    refused: ['wrong A printer'],
  },
  {
    name: 'names outside the zone are not ours',
    hosts: [],
    actual: [
      SOA,
      NS,
      ...RELAY_RRSETS,
      { name: 'other.example.org.', type: 'A', ttl: 60, records: ['192.0.2.1'] },
    ],
  },
];

describe('diffZone', () => {
  for (const row of rows) {
    test(row.name, () => {
      const result = diffZone({
        zone: ZONE,
        desired: desiredRrsets(ZONE, TTL, row.hosts ?? [], row.relay ?? RELAY),
        actual: row.actual,
        nameservers: row.nameservers ?? ['ns1.example.net'],
        operatorRecords: row.operatorRecords ?? [],
      });
      assert.deepEqual(
        {
          differences: result.differences.map(showDifference),
          changes: result.changes.map(showChange),
          refused: result.refused.map(showDifference),
        },
        { differences: row.differences ?? [], changes: row.changes ?? [], refused: row.refused ?? [] },
      );
    });
  }

  test('applying the changes leaves nothing to do', () => {
    for (const row of rows) {
      const desired = desiredRrsets(ZONE, TTL, row.hosts ?? [], row.relay ?? RELAY);
      const input = {
        zone: ZONE,
        desired,
        nameservers: row.nameservers ?? ['ns1.example.net'],
        operatorRecords: row.operatorRecords ?? [],
      };
      const zone = new Map(row.actual.map((r) => [`${r.name} ${r.type}`, r]));
      for (const change of diffZone({ ...input, actual: row.actual }).changes) {
        if (change.records.length === 0) zone.delete(`${change.name} ${change.type}`);
        else zone.set(`${change.name} ${change.type}`, change);
      }
      const again = diffZone({ ...input, actual: [...zone.values()] });
      assert.deepEqual(again.differences, [], row.name);
      assert.deepEqual(again.refused.length, (row.refused ?? []).length, `${row.name}: refusals stay`);
    }
  });

  test('a difference says what PowerDNS has and what Postgres wants', () => {
    const { differences } = diffZone({
      zone: ZONE,
      desired: desiredRrsets(ZONE, TTL, [alice], []),
      actual: [rr('alice', 'A', ['192.0.2.66']), rr('stray', 'TXT', ['"x"'])],
      nameservers: [],
      operatorRecords: [],
    });
    assert.deepEqual(differences, [
      { kind: 'wrong', name: 'alice.dyn.test.', type: 'A', have: ['192.0.2.66'], want: ['198.51.100.1'] },
      { kind: 'extra', name: 'stray.dyn.test.', type: 'TXT', have: ['"x"'], want: [] },
    ]);
  });
});

describe('hostOfName', () => {
  const cases: [string, string | undefined][] = [
    ['alice.dyn.test.', 'alice'],
    ['_acme-challenge.alice.dyn.test.', 'alice'],
    ['*.alice.dyn.test.', 'alice'],
    ['_sip._udp.alice.dyn.test.', 'alice'],
    ['dyn.test.', undefined],
    // Below a label is that label's (an owner's subname); `mx` is reserved, no host has it.
    ['printer.lab.dyn.test.', 'lab'],
    ['*.mx.dyn.test.', 'mx'],
    ['alice.other.test.', undefined],
  ];
  for (const [name, expected] of cases) {
    test(`${name} → ${expected ?? 'no host'}`, () => assert.equal(hostOfName(ZONE, name), expected));
  }
});
