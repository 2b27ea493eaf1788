import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostDnsState, OwnerRecord } from '@mydns/domain';
import { host } from '../../../test/support/fake-dns-store.ts';
import type { RrsetChange } from './client.ts';
import { hostRrsets, zoneRrsets } from './projection.ts';

/**
 * The host → rrsets projection by table, over every state a host can be in.
 * Every host always owns the same four rrsets (A, AAAA, the ACME TXT and MX),
 * each given in full; `-` means "remove it".
 */

const show = (changes: readonly RrsetChange[]) =>
  changes.map((c) => `${c.type} ${c.name} ${c.ttl} ${c.records.length > 0 ? c.records.join(' ') : '-'}`);

const rows: [string, HostDnsState | undefined, string[]][] = [
  [
    'active with IPv4',
    host('alice', { ipv4: '198.51.100.1' }),
    [
      'A alice.dyn.test 60 198.51.100.1',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'active with IPv6',
    host('alice', { ipv6: '2001:db8::1' }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 2001:db8::1',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'active with both',
    host('alice', { ipv4: '198.51.100.1', ipv6: '2001:db8::1' }),
    [
      'A alice.dyn.test 60 198.51.100.1',
      'AAAA alice.dyn.test 60 2001:db8::1',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'active with no address yet',
    host('alice'),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'active with mail forwarding: MX towards the relay',
    host('alice', { ipv4: '198.51.100.1', mailEnabled: true }),
    [
      'A alice.dyn.test 60 198.51.100.1',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 10 alice.mx.dyn.test.',
    ],
  ],
  [
    'active with mail forwarding and no address: the MX still points at the relay',
    host('alice', { mailEnabled: true }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 10 alice.mx.dyn.test.',
    ],
  ],
  [
    'active with ACME values: TXT, sorted',
    host('alice', { ipv4: '198.51.100.1', acme: ['zeta', 'alpha'] }),
    [
      'A alice.dyn.test 60 198.51.100.1',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 alpha zeta',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'dormant: no addresses, no MX',
    host('alice', { ipv4: '198.51.100.1', ipv6: '2001:db8::1', status: 'dormant', mailEnabled: true }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'dormant with ACME values: the TXT stays (renewals come from machines that may not update)',
    host('alice', { ipv4: '198.51.100.1', status: 'dormant', acme: ['token'] }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 token',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'disabled: nothing, not even ACME',
    host('alice', { ipv4: '198.51.100.1', status: 'disabled', acme: ['token'], mailEnabled: true }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'deleted (no row): everything removed',
    undefined,
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
];

/** Without the wildcard on, `*.<host>` is removed too (it may have been on before). */
const NO_WILDCARD = ['A *.alice.dyn.test 60 -', 'AAAA *.alice.dyn.test 60 -'];
const sorted = (lines: readonly string[]) => [...lines].sort();

describe('hostRrsets', () => {
  for (const [name, state, expected] of rows) {
    test(name, () =>
      assert.deepEqual(
        sorted(show(hostRrsets('dyn.test', 'alice', state, 60))),
        sorted([...expected, ...NO_WILDCARD]),
      ),
    );
  }

  test('the TTL given is on every rrset', () => {
    const ttls = hostRrsets('dyn.test', 'alice', host('alice', { ipv4: '198.51.100.1' }), 300).map(
      (c) => c.ttl,
    );
    assert.deepEqual(ttls, [300, 300, 300, 300, 300, 300]);
  });

  test('the ACME values of the row are not reordered in place', () => {
    const acme = ['b', 'a'];
    hostRrsets('dyn.test', 'alice', host('alice', { acme }), 60);
    assert.deepEqual(acme, ['b', 'a']);
  });
});

const HOST_RRSETS = [
  'A alice.dyn.test 60 198.51.100.1',
  'AAAA alice.dyn.test 60 2001:db8:0:1::9',
  'TXT _acme-challenge.alice.dyn.test 60 -',
  'MX alice.dyn.test 60 -',
];
const record = (subname: string, type: OwnerRecord['type'], content: string, ttl = 300): OwnerRecord => ({
  subname,
  type,
  content,
  ttl,
});
const both = { ipv4: '198.51.100.1', ipv6: '2001:db8:0:1::9' };

const ownerRows: [string, HostDnsState | undefined, string[], string[]?][] = [
  [
    'the wildcard follows the host’s addresses',
    host('alice', { ...both, wildcard: true }),
    [...HOST_RRSETS, 'A *.alice.dyn.test 60 198.51.100.1', 'AAAA *.alice.dyn.test 60 2001:db8:0:1::9'],
  ],
  [
    'the wildcard of a dormant host is withdrawn',
    host('alice', { ...both, wildcard: true, status: 'dormant' }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
      ...NO_WILDCARD,
    ],
  ],
  [
    'every owner type, with @ and an interface identifier on the AAAA’s /64',
    host('alice', {
      ...both,
      records: [
        record('', 'TXT', 'v=spf1 -all'),
        record('', 'CAA', '0 issue "letsencrypt.org"'),
        record('www', 'CNAME', 'alice.dyn.test.'),
        record('_sip._udp', 'SRV', '10 5 5060 sip.example.org.'),
        record('vpn', 'A', '@'),
        record('vpn', 'A', '192.0.2.7'),
        record('nas', 'AAAA', '::211:22ff:fe33:4455'),
        record('nas', 'AAAA', '2001:db8::77'),
      ],
    }),
    [
      ...HOST_RRSETS,
      ...NO_WILDCARD,
      'TXT alice.dyn.test 300 "v=spf1 -all"',
      'CAA alice.dyn.test 300 0 issue "letsencrypt.org"',
      'CNAME www.alice.dyn.test 300 alice.dyn.test.',
      'SRV _sip._udp.alice.dyn.test 300 10 5 5060 sip.example.org.',
      'A vpn.alice.dyn.test 300 198.51.100.1 192.0.2.7',
      'AAAA nas.alice.dyn.test 300 2001:db8:0:1:211:22ff:fe33:4455 2001:db8::77',
    ],
  ],
  [
    'identifiers follow the stored prefix (the LAN’s), not the AAAA’s',
    host('alice', { ...both, ipv6Prefix: '2001:db8:5:6::/64', records: [record('nas', 'AAAA', '::2')] }),
    [...HOST_RRSETS, ...NO_WILDCARD, 'AAAA nas.alice.dyn.test 300 2001:db8:5:6::2'],
  ],
  [
    'what a record follows is absent: the rrset is removed',
    host('alice', { records: [record('vpn', 'A', '@'), record('nas', 'AAAA', '::2')] }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
      ...NO_WILDCARD,
      'A vpn.alice.dyn.test 300 -',
      'AAAA nas.alice.dyn.test 300 -',
    ],
  ],
  [
    'an owner’s MX at the host joins the relay’s',
    host('alice', { ...both, mailEnabled: true, records: [record('', 'MX', '20 backup.example.org.')] }),
    [
      'A alice.dyn.test 60 198.51.100.1',
      'AAAA alice.dyn.test 60 2001:db8:0:1::9',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 10 alice.mx.dyn.test. 20 backup.example.org.',
      ...NO_WILDCARD,
    ],
  ],
  [
    'dormant and disabled hosts: the owner’s records are withdrawn',
    host('alice', {
      ...both,
      status: 'disabled',
      records: [record('', 'TXT', 'x'), record('www', 'A', '192.0.2.1')],
    }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
      ...NO_WILDCARD,
      'TXT alice.dyn.test 300 -',
      'A www.alice.dyn.test 300 -',
    ],
  ],
  [
    'stale rrsets: those not wanted now are removed, those wanted are written',
    host('alice', { ...both, records: [record('www', 'CNAME', 'x.example.')] }),
    [
      ...HOST_RRSETS,
      ...NO_WILDCARD,
      'CNAME www.alice.dyn.test 300 x.example.',
      'A www.alice.dyn.test 60 -',
      'TXT old.alice.dyn.test 60 -',
    ],
    ['A:www', 'CNAME:www', 'TXT:old', 'bogus', 'NS:www'],
  ],
  [
    'a deleted host with records: their names come as stale',
    undefined,
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
      ...NO_WILDCARD,
      'CNAME www.alice.dyn.test 60 -',
      'TXT alice.dyn.test 60 -',
    ],
    ['CNAME:www', 'TXT:', 'MX:'],
  ],
];

describe('hostRrsets: the wildcard and the owner’s records', () => {
  for (const [name, state, expected, stale] of ownerRows) {
    test(name, () =>
      assert.deepEqual(sorted(show(hostRrsets('dyn.test', 'alice', state, 60, stale))), sorted(expected)),
    );
  }

  test('removals come before writes (a name turning from A into CNAME loses its A first)', () => {
    const changes = hostRrsets(
      'dyn.test',
      'alice',
      host('alice', { ...both, records: [record('www', 'CNAME', 'x.example.')] }),
      60,
      ['A:www'],
    );
    const firstWrite = changes.findIndex((change) => change.records.length > 0);
    assert.ok(changes.slice(firstWrite).every((change) => change.records.length > 0));
  });
});

describe('zoneRrsets: the relay’s names', () => {
  const cases: [string, string[], string[]][] = [
    [
      'IPv4 and IPv6',
      ['192.0.2.25', '2001:db8::25'],
      [
        'A mx.dyn.test 60 192.0.2.25',
        'AAAA mx.dyn.test 60 2001:db8::25',
        'A *.mx.dyn.test 60 192.0.2.25',
        'AAAA *.mx.dyn.test 60 2001:db8::25',
      ],
    ],
    [
      'IPv4 only: the AAAA are removed',
      ['192.0.2.25', '192.0.2.26'],
      [
        'A mx.dyn.test 60 192.0.2.25 192.0.2.26',
        'AAAA mx.dyn.test 60 -',
        'A *.mx.dyn.test 60 192.0.2.25 192.0.2.26',
        'AAAA *.mx.dyn.test 60 -',
      ],
    ],
    [
      'no relay: all removed',
      [],
      ['A mx.dyn.test 60 -', 'AAAA mx.dyn.test 60 -', 'A *.mx.dyn.test 60 -', 'AAAA *.mx.dyn.test 60 -'],
    ],
  ];
  const relayNames = (lines: string[]) => lines.filter((line) => /mx\.dyn\.test/.test(line));
  for (const [name, addresses, expected] of cases) {
    test(name, () => assert.deepEqual(relayNames(show(zoneRrsets('dyn.test', addresses, 60))), expected));
  }
});

describe('zoneRrsets: update.<zone>, update4.<zone>, update6.<zone> (MYDNS_API_ADDRESS)', () => {
  const updateNames = (lines: string[]) => lines.filter((line) => /update[46]?\.dyn\.test/.test(line));
  test('both families: update has both, update4 only A, update6 only AAAA', () => {
    assert.deepEqual(updateNames(show(zoneRrsets('dyn.test', [], 60, ['192.0.2.80', '2001:db8::80']))), [
      'A update.dyn.test 60 192.0.2.80',
      'AAAA update.dyn.test 60 2001:db8::80',
      'A update4.dyn.test 60 192.0.2.80',
      'AAAA update4.dyn.test 60 -',
      'A update6.dyn.test 60 -',
      'AAAA update6.dyn.test 60 2001:db8::80',
    ]);
  });
  test('unset: all removed', () => {
    assert.ok(updateNames(show(zoneRrsets('dyn.test', [], 60))).every((line) => line.endsWith(' -')));
  });
});
