import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type IpAddress, type Ipv6Prefix, parseIpAddress, parseIpv6Prefix } from '@mydns/domain';
import {
  type AddressPlan,
  type Credentials,
  type FamilyPlan,
  type ParsedUpdate,
  type ParseOptions,
  parseBasicAuthorization,
  parseUpdateRequest,
  planAddresses,
  type RequestedHost,
  type UpdateEndpoint,
} from './parse-update-request.ts';
import { decodeQuery } from './query.ts';

const ZONE = 'mydns.test';
/** The zones served, the default first. */
const ZONES = [ZONE, 'dyn.example.net'];

function ip(text: string): IpAddress {
  const address = parseIpAddress(text);
  if (!address) throw new Error(`test setup: ${text} is not an IP address`);
  return address;
}

/** `Authorization: Basic` as clients build it: UTF-8 bytes of `user:pass`, base64. */
function basic(username: string, secret: string): string {
  return `Basic ${Buffer.from(`${username}:${secret}`, 'utf8').toString('base64')}`;
}

const creds = (username: string, secret: string): Credentials => ({ username, secret });
const ours = (name: string, label: string, zone = ZONE): RequestedHost => ({
  name,
  resolution: { kind: 'label', label, zone },
});
const foreign = (name: string): RequestedHost => ({ name, resolution: { kind: 'foreign' } });
const notfqdn = (name: string): RequestedHost => ({ name, resolution: { kind: 'notfqdn' } });

const KEEP: FamilyPlan = { action: 'keep' };
const DELETE: FamilyPlan = { action: 'delete' };
const set = (address: string): FamilyPlan => ({ action: 'set', address });
const plan = (v4: FamilyPlan, v6: FamilyPlan, lan?: string): AddressPlan => ({
  ok: true,
  v4,
  v6,
  ...(lan === undefined ? {} : { lanPrefix: prefixOf(lan) }),
});
function prefixOf(text: string): Ipv6Prefix {
  const parsed = parseIpv6Prefix(text);
  if (!parsed?.ok) throw new Error(`test setup: ${text} is not a prefix`);
  return parsed.prefix;
}
const prefix = (text: string): FamilyPlan => ({ action: 'prefix', prefix: prefixOf(text) });
const refused = (reason: string): AddressPlan => ({ ok: false, reason });

const HOST1 = ours('host1.mydns.test', 'host1');
const HOST2 = ours('host2.mydns.test', 'host2');
/** `alice:s3cret`, the header ddclient 3.10 and inadyn 2.10 sent in the observed runs (docs/protocol.md, "What real clients send"). */
const ALICE_BASIC = 'Basic YWxpY2U6czNjcmV0';
const ALICE = creds('alice', 's3cret');

interface ParseCase {
  readonly name: string;
  readonly endpoint: UpdateEndpoint;
  /** The raw query string, without `?`, exactly as the client puts it on the request line. */
  readonly query: string;
  readonly body?: string;
  readonly authorization?: string;
  /** The TCP peer (or what a trusted proxy reported). */
  readonly client: string;
  readonly credentials: Credentials | undefined;
  readonly hosts: readonly RequestedHost[];
  readonly addresses: AddressPlan;
}

function parse(row: ParseCase, allowPrivateAddresses: boolean): ParsedUpdate {
  return parseUpdateRequest(
    {
      endpoint: row.endpoint,
      query: row.query,
      ...(row.body === undefined ? {} : { body: row.body }),
      authorization: row.authorization,
      client: ip(row.client),
    },
    { zones: ZONES, allowPrivateAddresses },
  );
}

function expected(row: ParseCase): ParsedUpdate {
  return { kind: 'update', credentials: row.credentials, hosts: row.hosts, addresses: row.addresses };
}

/**
 * One row per request shape a real client sends (docs/protocol.md). The addresses are the
 * documentation ranges the research used, so these rows run with private
 * addresses allowed (as the integration tests do); the private-address rule has
 * its own table below.
 */
const CLIENT_REQUESTS: readonly ParseCase[] = [
  {
    name: 'ddclient 3.10: one host, preemptive Basic (§2.1, observed)',
    endpoint: 'dyndns2',
    query: 'system=dyndns&hostname=host1.mydns.test&myip=203.0.113.7',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'ddclient 3.10: hosts grouped as hostname=h1,h2, with wildcard/mx/backmx ignored',
    endpoint: 'dyndns2',
    query:
      'system=dyndns&hostname=host1.mydns.test,host2.mydns.test&myip=203.0.113.7&wildcard=ON&mx=mx.example.net&backmx=NO',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1, HOST2],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'ddclient 3.10: IPv6 only (usev6) sends myip= empty; the IPv6 peer is used',
    endpoint: 'dyndns2',
    query: 'system=dyndns&hostname=host1.mydns.test&myip=',
    authorization: ALICE_BASIC,
    client: '2001:db8::1',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(KEEP, set('2001:db8::1')),
  },
  {
    name: 'ddclient 3.10: use=ip with an IPv6 address sends it raw',
    endpoint: 'dyndns2',
    query: 'system=dyndns&hostname=host1.mydns.test&myip=2001:db8::1',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(KEEP, set('2001:db8::1')),
  },
  {
    name: 'ddclient 3.11: myip=v4,v6 comma-joined',
    endpoint: 'dyndns2',
    query: 'system=dyndns&hostname=host1.mydns.test&myip=203.0.113.7,2001:db8::1',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), set('2001:db8::1')),
  },
  {
    name: 'ddclient 4: no system=, two hosts, myip=v6,v4 (either order)',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test,host2.mydns.test&myip=2001:db8::1,203.0.113.7',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1, HOST2],
    addresses: plan(set('203.0.113.7'), set('2001:db8::1')),
  },
  {
    name: 'inadyn 2.10 custom: hostname=%h&myip=%i (§2.2, observed)',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=203.0.113.7',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'inadyn 2.10 custom, IPv6: %i percent-encoded as myip=2001%3adb8%3a%3a1',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=2001%3adb8%3a%3a1',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(KEEP, set('2001:db8::1')),
  },
  {
    name: 'inadyn 2.10 legacy ddns-path "/nic/update?hostname=": no myip, the peer is used',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('198.51.100.4'), KEEP),
  },
  {
    name: 'inadyn / DD-WRT ddns-path "/nic/update?": the hostname as a bare key',
    endpoint: 'dyndns2',
    query: 'host1.mydns.test',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('198.51.100.4'), KEEP),
  },
  {
    name: 'inadyn: password p@ss:w&rd in the Basic header splits on the first colon (observed)',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=203.0.113.7',
    authorization: 'Basic YWxpY2U6cEBzczp3JnJk',
    client: '198.51.100.4',
    credentials: creds('alice', 'p@ss:w&rd'),
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'OpenWrt uclient-fetch, first try: no Authorization before the challenge; [IP] fully zero-padded',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=2001:0db8:0000:0000:0000:0000:0000:0001',
    client: '198.51.100.4',
    credentials: undefined,
    hosts: [HOST1],
    addresses: plan(KEEP, set('2001:db8::1')),
  },
  {
    name: 'OpenWrt wget/uclient-fetch after the 401 challenge: Basic from the URL userinfo',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=2001:0db8:0000:0000:0000:0000:0000:0001',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(KEEP, set('2001:db8::1')),
  },
  {
    name: 'OpenWrt curl without HTTP auth: [USERNAME]/[PASSWORD] in the query',
    endpoint: 'dyndns2',
    query: 'username=alice&password=s3cret&hostname=host1.mydns.test&myip=203.0.113.7',
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'Fritz!Box: myip=<ipaddr>,<ip6lanprefix>, the prefix with its /64: a prefix update',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=203.0.113.7,2001:db8:1:2::/64',
    authorization: ALICE_BASIC,
    client: '203.0.113.7',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), prefix('2001:db8:1:2::/64')),
  },
  {
    name: 'Fritz!Box pair: myip=<ipaddr>,<ip6addr>&ip6lanprefix=<ip6lanprefix>',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=203.0.113.7,2001:db8:ff::1&ip6lanprefix=2001:db8:1:2::/64',
    authorization: ALICE_BASIC,
    client: '203.0.113.7',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), set('2001:db8:ff::1'), '2001:db8:1:2::/64'),
  },
  {
    name: 'Fritz!Box: <username>/<pass> placeholders in the query as user/pass',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=203.0.113.7&user=alice&pass=s3cret',
    client: '203.0.113.7',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'Fritz!Box bare URL: only Basic auth; host from the username, address from the peer',
    endpoint: 'dyndns2',
    query: '',
    authorization: basic('host1.mydns.test', 's3cret'),
    client: '203.0.113.7',
    credentials: creds('host1.mydns.test', 's3cret'),
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'Fritz!Box bare URL with the bare label as username',
    endpoint: 'dyndns2',
    query: '',
    authorization: basic('Host1', 's3cret'),
    client: '2001:db8:1:2::1',
    credentials: creds('Host1', 's3cret'),
    hosts: [ours('host1', 'host1')],
    addresses: plan(KEEP, set('2001:db8:1:2::1')),
  },
  {
    name: 'pfSense custom: %IP% substituted, preemptive Basic (CURLOPT_USERPWD)',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=203.0.113.7',
    authorization: ALICE_BASIC,
    client: '203.0.113.7',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'pfSense custom (v6): a separate entry with the IPv6 in %IP%',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=2001:db8::7',
    authorization: ALICE_BASIC,
    client: '2001:db8::7',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(KEEP, set('2001:db8::7')),
  },
  {
    name: 'OPNsense: python-requests encodes the comma as %2C; wildcard=NOCHG ignored',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test%2Chost2.mydns.test&myip=203.0.113.7&wildcard=NOCHG',
    authorization: ALICE_BASIC,
    client: '203.0.113.7',
    credentials: ALICE,
    hosts: [HOST1, HOST2],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'OPNsense: an IPv6 address encoded with upper-case %3A',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=2001%3ADB8%3A%3A1&wildcard=ON',
    authorization: ALICE_BASIC,
    client: '203.0.113.7',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(KEEP, set('2001:db8::1')),
  },
  {
    name: 'MikroTik /tool fetch with user= password= (Basic)',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&myip=203.0.113.7',
    authorization: basic('alice', 's3cret'),
    client: '203.0.113.7',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'curl -u alice:s3cret, no myip: the peer is used',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test',
    authorization: basic('alice', 's3cret'),
    client: '203.0.113.7',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'curl simple URL on /update: hostname + password (a token), no username',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test&password=Zt9_kQ-4mW2xYb7LpV3nR8',
    client: '203.0.113.7',
    credentials: creds('host1.mydns.test', 'Zt9_kQ-4mW2xYb7LpV3nR8'),
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'PowerShell 5.1/7: preemptive Basic header from UTF-8 bytes',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test',
    authorization: basic('alice', 'pässwört'),
    client: '2001:db8::99',
    credentials: creds('alice', 'pässwört'),
    hosts: [HOST1],
    addresses: plan(KEEP, set('2001:db8::99')),
  },
  {
    name: 'PowerShell -Credential, first try: no Authorization before the challenge',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test',
    client: '203.0.113.7',
    credentials: undefined,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: 'UniFi with hostname= left empty: the host the credential names',
    endpoint: 'dyndns2',
    query: 'hostname=&myip=203.0.113.7',
    authorization: basic('host1.mydns.test', 's3cret'),
    client: '203.0.113.7',
    credentials: creds('host1.mydns.test', 's3cret'),
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: '/u.php: hostname + password',
    endpoint: 'simple',
    query: 'hostname=host1.mydns.test&password=s3cret',
    client: '198.51.100.4',
    credentials: creds('host1.mydns.test', 's3cret'),
    hosts: [HOST1],
    addresses: plan(set('198.51.100.4'), KEEP),
  },
  {
    name: '/u.php: host + pass',
    endpoint: 'simple',
    query: 'host=host1&pass=s3cret',
    client: '198.51.100.4',
    credentials: creds('host1', 's3cret'),
    hosts: [ours('host1', 'host1')],
    addresses: plan(set('198.51.100.4'), KEEP),
  },
  {
    name: '/u.php: domain + pwd',
    endpoint: 'simple',
    query: 'domain=host1.mydns.test&pwd=s3cret',
    client: '198.51.100.4',
    credentials: creds('host1.mydns.test', 's3cret'),
    hosts: [HOST1],
    addresses: plan(set('198.51.100.4'), KEEP),
  },
  {
    name: '/u.php: h + p',
    endpoint: 'simple',
    query: 'h=host1.mydns.test&p=s3cret',
    client: '2001:db8::4',
    credentials: creds('host1.mydns.test', 's3cret'),
    hosts: [HOST1],
    addresses: plan(KEEP, set('2001:db8::4')),
  },
  {
    name: '/u.php: hostname + token',
    endpoint: 'simple',
    query: 'hostname=host1.mydns.test&token=Zt9_kQ-4mW2xYb7LpV3nR8',
    client: '198.51.100.4',
    credentials: creds('host1.mydns.test', 'Zt9_kQ-4mW2xYb7LpV3nR8'),
    hosts: [HOST1],
    addresses: plan(set('198.51.100.4'), KEEP),
  },
  {
    name: '/u.php: an explicit myip beside hostname + password',
    endpoint: 'simple',
    query: 'hostname=host1.mydns.test&password=s3cret&myip=203.0.113.7',
    client: '198.51.100.4',
    credentials: creds('host1.mydns.test', 's3cret'),
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
  {
    name: '/u.php: Basic auth also accepted, and it wins over the query password',
    endpoint: 'simple',
    query: 'hostname=host1.mydns.test&password=other',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('198.51.100.4'), KEEP),
  },
  {
    name: 'POST: the form body is read after the query',
    endpoint: 'dyndns2',
    query: 'hostname=host1.mydns.test',
    body: 'hostname=host2.mydns.test&myip=203.0.113.7',
    authorization: ALICE_BASIC,
    client: '198.51.100.4',
    credentials: ALICE,
    hosts: [HOST1],
    addresses: plan(set('203.0.113.7'), KEEP),
  },
];

describe('parseUpdateRequest: real client request shapes', () => {
  for (const row of CLIENT_REQUESTS) {
    test(row.name, () => {
      assert.deepEqual(parse(row, true), expected(row));
    });
  }
});

describe('parseBasicAuthorization', () => {
  const cases: readonly { name: string; header: string | undefined; credentials: Credentials | undefined }[] =
    [
      { name: 'no header', header: undefined, credentials: undefined },
      { name: 'empty header', header: '', credentials: undefined },
      { name: 'another scheme', header: 'Bearer YWxpY2U6czNjcmV0', credentials: undefined },
      { name: 'plain user:pass', header: ALICE_BASIC, credentials: ALICE },
      { name: 'scheme in any case', header: 'bAsIc YWxpY2U6czNjcmV0', credentials: ALICE },
      { name: 'surrounding whitespace', header: '  Basic   YWxpY2U6czNjcmV0  ', credentials: ALICE },
      {
        name: 'split on the first colon only',
        header: basic('alice', 'p@ss:w&rd'),
        credentials: creds('alice', 'p@ss:w&rd'),
      },
      {
        name: 'password starting with a colon',
        header: basic('alice', ':pw:'),
        credentials: creds('alice', ':pw:'),
      },
      { name: 'no colon: empty password', header: 'Basic YWxpY2U=', credentials: creds('alice', '') },
      {
        name: 'inadyn with no credentials configured sends Og==',
        header: 'Basic Og==',
        credentials: creds('', ''),
      },
      {
        name: '+ and % are literal in the header (no URL decoding)',
        header: basic('alice', 'a+b%20c%'),
        credentials: creds('alice', 'a+b%20c%'),
      },
      {
        name: 'full hostname as username, UTF-8 password',
        header: basic('Host1.MyDNS.test', 'grüße'),
        credentials: creds('Host1.MyDNS.test', 'grüße'),
      },
    ];
  for (const row of cases) {
    test(row.name, () => {
      assert.deepEqual(parseBasicAuthorization(row.header), row.credentials);
    });
  }
});

describe('parseUpdateRequest: credentials from the query', () => {
  const cases: readonly {
    name: string;
    endpoint: UpdateEndpoint;
    query: string;
    authorization?: string;
    credentials: Credentials | undefined;
  }[] = [
    {
      name: 'username + password',
      endpoint: 'dyndns2',
      query: 'hostname=host1&username=alice&password=pw',
      credentials: creds('alice', 'pw'),
    },
    {
      name: 'user + pwd',
      endpoint: 'dyndns2',
      query: 'hostname=host1&user=alice&pwd=pw',
      credentials: creds('alice', 'pw'),
    },
    {
      name: 'username without any password: no credentials',
      endpoint: 'dyndns2',
      query: 'hostname=host1&username=alice',
      credentials: undefined,
    },
    {
      name: 'dyndns2 does not take the /u.php-only alias token',
      endpoint: 'dyndns2',
      query: 'hostname=host1&token=abc',
      credentials: undefined,
    },
    {
      name: 'dyndns2 does not take the /u.php-only alias p',
      endpoint: 'dyndns2',
      query: 'hostname=host1&p=abc',
      credentials: undefined,
    },
    {
      name: 'a colon in a query password is kept',
      endpoint: 'simple',
      query: 'hostname=host1&password=a:b:c',
      credentials: creds('host1', 'a:b:c'),
    },
    {
      name: '+ decodes to a space (form encoding)',
      endpoint: 'simple',
      query: 'hostname=host1&password=a+b',
      credentials: creds('host1', 'a b'),
    },
    {
      name: '%2B decodes to +',
      endpoint: 'simple',
      query: 'hostname=host1&password=a%2Bb',
      credentials: creds('host1', 'a+b'),
    },
    {
      name: 'a stray % is kept as sent',
      endpoint: 'simple',
      query: 'hostname=host1&password=50%off',
      credentials: creds('host1', '50%off'),
    },
    {
      name: 'a trailing % is kept as sent',
      endpoint: 'simple',
      query: 'hostname=host1&password=pw%',
      credentials: creds('host1', 'pw%'),
    },
    {
      name: 'a stray % beside valid escapes: the escapes decode, the rest stays',
      endpoint: 'simple',
      query: 'hostname=host1&password=p%zz%41+b',
      credentials: creds('host1', 'p%zzA b'),
    },
    {
      name: '%25 decodes to %',
      endpoint: 'simple',
      query: 'hostname=host1&password=100%25',
      credentials: creds('host1', '100%'),
    },
    {
      name: 'percent-encoded UTF-8',
      endpoint: 'simple',
      query: 'hostname=host1&password=p%C3%A4ss',
      credentials: creds('host1', 'päss'),
    },
    {
      name: 'the first hostname names the account',
      endpoint: 'simple',
      query: 'hostname=Host1.MyDNS.test,host2&password=pw',
      credentials: creds('Host1.MyDNS.test', 'pw'),
    },
    {
      name: 'an explicit username wins over the hostname',
      endpoint: 'simple',
      query: 'hostname=host1&username=alice&password=pw',
      credentials: creds('alice', 'pw'),
    },
    {
      name: 'password first among the aliases',
      endpoint: 'simple',
      query: 'hostname=host1&token=second&password=first',
      credentials: creds('host1', 'first'),
    },
    {
      name: 'a Basic header that does not parse falls back to the query',
      endpoint: 'dyndns2',
      query: 'hostname=host1&user=alice&pass=pw',
      authorization: 'Basic !!not base64!!',
      credentials: creds('alice', 'pw'),
    },
  ];
  for (const row of cases) {
    test(row.name, () => {
      const parsed = parseUpdateRequest(
        {
          endpoint: row.endpoint,
          query: row.query,
          authorization: row.authorization,
          client: ip('198.51.100.4'),
        },
        { zones: ZONES, allowPrivateAddresses: true },
      );
      assert.equal(parsed.kind, 'update');
      if (parsed.kind === 'update') assert.deepEqual(parsed.credentials, row.credentials);
    });
  }
});

describe('parseUpdateRequest: hostnames', () => {
  const hostsOf = (query: string, endpoint: UpdateEndpoint = 'dyndns2', authorization?: string) =>
    parseUpdateRequest(
      { endpoint, query, authorization, client: ip('198.51.100.4') },
      { zones: ZONES, allowPrivateAddresses: true },
    );

  const cases: readonly { name: string; query: string; hosts: readonly RequestedHost[] }[] = [
    {
      name: 'empty items in the list are dropped, items trimmed',
      query: 'hostname=,host1.mydns.test,,%20host2%20,',
      hosts: [HOST1, ours('host2', 'host2')],
    },
    {
      name: 'upper case and one trailing dot are normalised',
      query: 'hostname=HOST1.MyDNS.Test.,Host2.',
      hosts: [HOST1, ours('host2', 'host2')],
    },
    {
      name: 'request order is kept, duplicates too (one reply line each)',
      query: 'hostname=host2,host1.mydns.test,host2',
      hosts: [ours('host2', 'host2'), HOST1, ours('host2', 'host2')],
    },
    {
      name: 'invalid names are notfqdn, names outside the zone foreign',
      query: 'hostname=bad..name,host1.example.org,a.b.mydns.test,mydns.test,xmydns.test,-bad,host1..',
      hosts: [
        notfqdn('bad..name'),
        foreign('host1.example.org'),
        foreign('a.b.mydns.test'),
        foreign('mydns.test'),
        foreign('xmydns.test'),
        notfqdn('-bad'),
        notfqdn('host1.'),
      ],
    },
    {
      name: 'several zones: a full name in the second zone is its host; a bare label is the default zone',
      query: 'hostname=host1.dyn.example.net,host1,Host2.DYN.example.net.',
      hosts: [
        ours('host1.dyn.example.net', 'host1', 'dyn.example.net'),
        ours('host1', 'host1'),
        ours('host2.dyn.example.net', 'host2', 'dyn.example.net'),
      ],
    },
    {
      name: 'the first of repeated hostname keys wins',
      query: 'hostname=host1.mydns.test&hostname=host2.mydns.test',
      hosts: [HOST1],
    },
    {
      name: 'a bare key without a dot is not a hostname',
      query: 'host1&hostname=host2.mydns.test',
      hosts: [HOST2],
    },
    {
      name: 'the hostname parameter wins over a bare key',
      query: 'host1.mydns.test&hostname=host2.mydns.test',
      hosts: [HOST2],
    },
    {
      name: 'the /u.php alias host= means nothing on /nic/update: the Basic username names the host',
      query: 'host=host2.mydns.test',
      hosts: [HOST1],
    },
  ];
  for (const row of cases) {
    test(row.name, () => {
      const parsed = hostsOf(row.query, 'dyndns2', basic('host1.mydns.test', 'pw'));
      assert.equal(parsed.kind, 'update');
      if (parsed.kind === 'update') assert.deepEqual(parsed.hosts, row.hosts);
    });
  }

  test('no hostname and no credentials: no hosts', () => {
    const parsed = hostsOf('myip=203.0.113.7');
    assert.equal(parsed.kind, 'update');
    if (parsed.kind === 'update') assert.deepEqual(parsed.hosts, []);
  });

  test('20 names are fine', () => {
    const names = Array.from({ length: 20 }, (_, i) => `h${i}.mydns.test`);
    const parsed = hostsOf(`hostname=${names.join(',')}`);
    assert.equal(parsed.kind, 'update');
    if (parsed.kind === 'update') {
      assert.deepEqual(
        parsed.hosts.map((host) => host.name),
        names,
      );
    }
  });

  test('21 names: numhost, whatever else the request holds', () => {
    const names = Array.from({ length: 21 }, (_, i) => `h${i}.mydns.test`);
    assert.deepEqual(hostsOf(`hostname=${names.join(',')}&myip=203.0.113.7`, 'dyndns2', ALICE_BASIC), {
      kind: 'numhost',
    });
    assert.deepEqual(hostsOf(`hostname=${names.join(',')}&password=pw`, 'simple'), { kind: 'numhost' });
  });

  test('21 names on the simple URL under the alias h=', () => {
    const names = Array.from({ length: 21 }, () => 'host1');
    assert.deepEqual(hostsOf(`h=${names.join(',')}&p=pw`, 'simple'), { kind: 'numhost' });
  });

  test('empty items do not count towards the limit', () => {
    const names = Array.from({ length: 20 }, () => 'host1.mydns.test');
    const parsed = hostsOf(`hostname=${names.join(',,')},,`);
    assert.equal(parsed.kind, 'update');
    if (parsed.kind === 'update') assert.equal(parsed.hosts.length, 20);
  });
});

interface PlanCase {
  readonly name: string;
  readonly query: string;
  readonly client: string;
  readonly addresses: AddressPlan;
}

function checkPlans(rows: readonly PlanCase[], options: ParseOptions): void {
  for (const row of rows) {
    test(row.name, () => {
      assert.deepEqual(planAddresses(decodeQuery(row.query), ip(row.client), options), row.addresses);
    });
  }
}

describe('planAddresses: which family is set, kept or withdrawn', () => {
  checkPlans(
    [
      {
        name: 'nothing given: the peer (IPv4)',
        query: '',
        client: '198.51.100.4',
        addresses: plan(set('198.51.100.4'), KEEP),
      },
      {
        name: 'nothing given: the peer (IPv6)',
        query: '',
        client: '2001:db8::5',
        addresses: plan(KEEP, set('2001:db8::5')),
      },
      {
        name: 'myip= empty: the peer',
        query: 'myip=',
        client: '198.51.100.4',
        addresses: plan(set('198.51.100.4'), KEEP),
      },
      {
        name: 'myip= blank: the peer',
        query: 'myip=+',
        client: '198.51.100.4',
        addresses: plan(set('198.51.100.4'), KEEP),
      },
      {
        name: 'ip= (v4 or v6), IPv4',
        query: 'ip=203.0.113.7',
        client: '198.51.100.4',
        addresses: plan(set('203.0.113.7'), KEEP),
      },
      {
        name: 'ip= (v4 or v6), IPv6',
        query: 'ip=2001:db8::7',
        client: '198.51.100.4',
        addresses: plan(KEEP, set('2001:db8::7')),
      },
      {
        name: 'myipv4=',
        query: 'myipv4=203.0.113.7',
        client: '2001:db8::5',
        addresses: plan(set('203.0.113.7'), KEEP),
      },
      {
        name: 'myipv6=',
        query: 'myipv6=2001:db8::7',
        client: '198.51.100.4',
        addresses: plan(KEEP, set('2001:db8::7')),
      },
      {
        name: 'myip6=',
        query: 'myip6=2001:db8::7',
        client: '198.51.100.4',
        addresses: plan(KEEP, set('2001:db8::7')),
      },
      {
        name: 'ipv6=',
        query: 'ipv6=2001:db8::7',
        client: '198.51.100.4',
        addresses: plan(KEEP, set('2001:db8::7')),
      },
      {
        name: 'myipv4= and myipv6= together (separate parameters)',
        query: 'myipv4=203.0.113.7&myipv6=2001:db8::7',
        client: '198.51.100.4',
        addresses: plan(set('203.0.113.7'), set('2001:db8::7')),
      },
      {
        name: 'the same address in two parameters and two spellings is no conflict',
        query: 'myip=2001:db8::7&myipv6=2001:0DB8:0:0:0:0:0:0007',
        client: '198.51.100.4',
        addresses: plan(KEEP, set('2001:db8::7')),
      },
      {
        name: 'IPv4-mapped ::ffff:1.2.3.4 is IPv4',
        query: 'myip=::ffff:1.2.3.4',
        client: '198.51.100.4',
        addresses: plan(set('1.2.3.4'), KEEP),
      },
      {
        name: 'IPv4-mapped in hex (::ffff:102:304) is IPv4',
        query: 'myip=%3A%3Affff%3A102%3A304,2001:db8::7',
        client: '198.51.100.4',
        addresses: plan(set('1.2.3.4'), set('2001:db8::7')),
      },
      {
        name: 'bracketed IPv6 and surrounding blanks',
        query: 'myip=+[2001:DB8::7]+',
        client: '198.51.100.4',
        addresses: plan(KEEP, set('2001:db8::7')),
      },
      {
        name: 'bracketed IPv6 with a prefix length (myipv6=[…]/64): a prefix, host bits ignored',
        query: 'myipv6=%5B2001:db8::7%5D/64',
        client: '198.51.100.4',
        addresses: plan(KEEP, prefix('2001:db8::/64')),
      },
      {
        name: 'myipv6=<prefix>/56 (deSEC’s form)',
        query: 'myipv6=2001:db8:1200::/56',
        client: '198.51.100.4',
        addresses: plan(KEEP, prefix('2001:db8:1200::/56')),
      },
      {
        name: 'a prefix in myip beside an IPv4 address',
        query: 'myip=203.0.113.7,2001:db8:5:6::/64',
        client: '198.51.100.4',
        addresses: plan(set('203.0.113.7'), prefix('2001:db8:5:6::/64')),
      },
      {
        name: '/128 is an address, as before',
        query: 'myipv6=2001:db8::7/128',
        client: '198.51.100.4',
        addresses: plan(KEEP, set('2001:db8::7')),
      },
      {
        name: 'a prefix length outside 48–64 is refused',
        query: 'myipv6=2001:db8::/32',
        client: '198.51.100.4',
        addresses: refused('a prefix must be /48 to /64; "2001:db8::/32" is /32'),
      },
      {
        name: 'ip6lanprefix alone: the LAN prefix; the addresses by the usual rules',
        query: 'ip6lanprefix=2001:db8:1:2::/64',
        client: '198.51.100.4',
        addresses: plan(set('198.51.100.4'), KEEP, '2001:db8:1:2::/64'),
      },
      {
        name: 'ip6lanprefix without a length is its /64',
        query: 'myipv6=2001:db8:ff::1&ip6lanprefix=2001:db8:1:2::',
        client: '198.51.100.4',
        addresses: plan(KEEP, set('2001:db8:ff::1'), '2001:db8:1:2::/64'),
      },
      {
        name: 'a bad ip6lanprefix is refused',
        query: 'myipv6=2001:db8:ff::1&ip6lanprefix=nonsense',
        client: '198.51.100.4',
        addresses: refused('"nonsense" is not an IPv6 prefix'),
      },
      {
        name: 'an empty item in myip is skipped',
        query: 'myip=203.0.113.7,,',
        client: '198.51.100.4',
        addresses: plan(set('203.0.113.7'), KEEP),
      },
      {
        name: 'the first of repeated myip keys wins',
        query: 'myip=203.0.113.7&myip=203.0.113.8',
        client: '198.51.100.4',
        addresses: plan(set('203.0.113.7'), KEEP),
      },
      {
        name: 'myipv4= explicitly empty withdraws IPv4, keeps IPv6',
        query: 'myipv4=',
        client: '198.51.100.4',
        addresses: plan(DELETE, KEEP),
      },
      {
        name: 'myipv6= explicitly empty withdraws IPv6, keeps IPv4',
        query: 'myipv6=',
        client: '198.51.100.4',
        addresses: plan(KEEP, DELETE),
      },
      {
        name: 'myipv4= empty with a new IPv6',
        query: 'myipv4=&myipv6=2001:db8::7',
        client: '198.51.100.4',
        addresses: plan(DELETE, set('2001:db8::7')),
      },
      {
        name: 'myipv4= and myipv6= both empty withdraw both',
        query: 'myipv4=&myipv6=',
        client: '198.51.100.4',
        addresses: plan(DELETE, DELETE),
      },
      {
        name: 'ip= empty is like myip= empty: the peer',
        query: 'ip=',
        client: '198.51.100.4',
        addresses: plan(set('198.51.100.4'), KEEP),
      },
      {
        name: 'offline=YES withdraws both',
        query: 'offline=YES',
        client: '198.51.100.4',
        addresses: plan(DELETE, DELETE),
      },
      {
        name: 'offline=yes beside an address still withdraws both',
        query: 'myip=203.0.113.7&offline=yes',
        client: '198.51.100.4',
        addresses: plan(DELETE, DELETE),
      },
      {
        name: 'offline=NO is an ordinary update',
        query: 'myip=203.0.113.7&offline=NO',
        client: '198.51.100.4',
        addresses: plan(set('203.0.113.7'), KEEP),
      },
      {
        name: 'myip=preserve keeps both',
        query: 'myip=preserve',
        client: '198.51.100.4',
        addresses: plan(KEEP, KEEP),
      },
      {
        name: 'myipv4=PRESERVE keeps IPv4 beside a new IPv6',
        query: 'myipv4=PRESERVE&myipv6=2001:db8::7',
        client: '198.51.100.4',
        addresses: plan(KEEP, set('2001:db8::7')),
      },
      {
        name: 'myipv6=preserve beside a new IPv4',
        query: 'myipv4=203.0.113.7&myipv6=preserve',
        client: '2001:db8::5',
        addresses: plan(set('203.0.113.7'), KEEP),
      },
      {
        name: 'two IPv4 addresses in myip conflict',
        query: 'myip=203.0.113.7,203.0.113.8',
        client: '198.51.100.4',
        addresses: refused('conflicting values for the IPv4 address'),
      },
      {
        name: 'myip and myipv4 disagree',
        query: 'myip=203.0.113.7&myipv4=203.0.113.8',
        client: '198.51.100.4',
        addresses: refused('conflicting values for the IPv4 address'),
      },
      {
        name: 'myip and ipv6 disagree',
        query: 'myip=2001:db8::7&ipv6=2001:db8::8',
        client: '198.51.100.4',
        addresses: refused('conflicting values for the IPv6 address'),
      },
      {
        name: 'an address and an explicit withdrawal of the same family conflict',
        query: 'myip=2001:db8::7&myipv6=',
        client: '198.51.100.4',
        addresses: refused('conflicting values for the IPv6 address'),
      },
      {
        name: 'an IPv6 address in myipv4',
        query: 'myipv4=2001:db8::7',
        client: '198.51.100.4',
        addresses: refused('myipv4 does not take an IPv6 address'),
      },
      {
        name: 'an IPv4 address in myipv6',
        query: 'myipv6=203.0.113.7',
        client: '198.51.100.4',
        addresses: refused('myipv6 does not take an IPv4 address'),
      },
      {
        name: 'something that is not an address',
        query: 'myip=my.router.example',
        client: '198.51.100.4',
        addresses: refused('"my.router.example" is not an IP address'),
      },
      {
        name: 'an IPv4 address with leading zeros',
        query: 'myip=203.000.113.007',
        client: '198.51.100.4',
        addresses: refused('"203.000.113.007" is not an IP address'),
      },
      {
        name: 'an IPv6 address with a zone id',
        query: 'myip=fe80::1%25eth0',
        client: '198.51.100.4',
        addresses: refused('"fe80::1%eth0" is not an IP address'),
      },
      {
        name: 'one bad item spoils the request',
        query: 'myip=203.0.113.7,nonsense',
        client: '198.51.100.4',
        addresses: refused('"nonsense" is not an IP address'),
      },
    ],
    { zones: ZONES, allowPrivateAddresses: true },
  );
});

describe('planAddresses: private addresses when they are not allowed', () => {
  checkPlans(
    [
      {
        name: 'a public myip is taken as sent',
        query: 'myip=93.184.216.34',
        client: '8.8.8.8',
        addresses: plan(set('93.184.216.34'), KEEP),
      },
      {
        name: 'a public IPv6 myip is taken as sent',
        query: 'myip=2a00:1450:4001:80b::200e',
        client: '8.8.8.8',
        addresses: plan(KEEP, set('2a00:1450:4001:80b::200e')),
      },
      {
        name: 'private myip: the public IPv4 peer stands in',
        query: 'myip=192.168.1.2',
        client: '8.8.8.8',
        addresses: plan(set('8.8.8.8'), KEEP),
      },
      {
        name: 'private myipv4=: the public IPv4 peer stands in',
        query: 'myipv4=10.1.2.3',
        client: '8.8.8.8',
        addresses: plan(set('8.8.8.8'), KEEP),
      },
      {
        name: 'CGNAT myip: the peer stands in',
        query: 'myip=100.64.1.2',
        client: '8.8.8.8',
        addresses: plan(set('8.8.8.8'), KEEP),
      },
      {
        name: 'loopback myip: the peer stands in',
        query: 'myip=127.0.0.1',
        client: '8.8.8.8',
        addresses: plan(set('8.8.8.8'), KEEP),
      },
      {
        name: 'link-local myip: the peer stands in',
        query: 'myip=169.254.10.20',
        client: '8.8.8.8',
        addresses: plan(set('8.8.8.8'), KEEP),
      },
      {
        name: 'documentation myip: the peer stands in',
        query: 'myip=203.0.113.7',
        client: '8.8.8.8',
        addresses: plan(set('8.8.8.8'), KEEP),
      },
      {
        name: 'ULA IPv6 myip: the public IPv6 peer stands in',
        query: 'myip=fd12:3456::1',
        client: '2a00:1450:4001:80b::1',
        addresses: plan(KEEP, set('2a00:1450:4001:80b::1')),
      },
      {
        name: 'private IPv4 + public IPv6, IPv4 peer: the peer replaces the IPv4, the IPv6 stays',
        query: 'myip=10.0.0.2,2a00:1450:4001:80b::5',
        client: '8.8.8.8',
        addresses: plan(set('8.8.8.8'), set('2a00:1450:4001:80b::5')),
      },
      {
        name: 'private IPv4 + public IPv6, IPv6 peer: the IPv4 family is kept',
        query: 'myip=192.168.1.2,2a00:1450:4001:80b::5',
        client: '2a00:1450:4001:80b::1',
        addresses: plan(KEEP, set('2a00:1450:4001:80b::5')),
      },
      {
        name: 'public IPv4 + link-local IPv6, IPv4 peer: the IPv6 family is kept',
        query: 'myip=93.184.216.34,fe80::1',
        client: '8.8.8.8',
        addresses: plan(set('93.184.216.34'), KEEP),
      },
      {
        name: 'private IPv4 only, public IPv6 peer: the IPv4 family is kept, the peer sets the IPv6',
        query: 'myip=192.168.1.2',
        client: '2a00:1450:4001:80b::1',
        addresses: plan(KEEP, set('2a00:1450:4001:80b::1')),
      },
      {
        name: 'private IPv6 only, public IPv4 peer: the peer sets the IPv4, the IPv6 family is kept',
        query: 'myipv6=fd12::1',
        client: '8.8.8.8',
        addresses: plan(set('8.8.8.8'), KEEP),
      },
      {
        name: 'private IPv4 with IPv6 preserved, public IPv6 peer: the preserve wins, nothing usable',
        query: 'myip=192.168.1.2&myipv6=preserve',
        client: '2a00:1450:4001:80b::1',
        addresses: refused(
          'no public address: the addresses sent are private and the request came from 2a00:1450:4001:80b::1',
        ),
      },
      {
        name: 'private myip and a private peer: no public address remains',
        query: 'myip=192.168.1.2',
        client: '10.0.0.1',
        addresses: refused(
          'no public address: the addresses sent are private and the request came from 10.0.0.1',
        ),
      },
      {
        name: 'private IPv4 and IPv6 with a private peer: no public address remains',
        query: 'myip=192.168.1.2,fd00::2',
        client: '192.168.1.1',
        addresses: refused(
          'no public address: the addresses sent are private and the request came from 192.168.1.1',
        ),
      },
      {
        name: 'myip= empty and a private peer',
        query: 'myip=',
        client: '192.168.1.1',
        addresses: refused('no public address: the request came from 192.168.1.1'),
      },
      {
        name: 'no myip and a documentation-range peer',
        query: '',
        client: '2001:db8::1',
        addresses: refused('no public address: the request came from 2001:db8::1'),
      },
      {
        name: 'an explicit withdrawal needs no public address',
        query: 'myipv6=',
        client: '10.0.0.1',
        addresses: plan(KEEP, DELETE),
      },
      {
        name: 'IPv4-mapped public address is IPv4 and public',
        query: 'myip=::ffff:93.184.216.34',
        client: '2a00:1450:4001:80b::1',
        addresses: plan(set('93.184.216.34'), KEEP),
      },
    ],
    { zones: ZONES, allowPrivateAddresses: false },
  );
});

describe('planAddresses: private addresses when the operator allows them', () => {
  checkPlans(
    [
      {
        name: 'a private myip is taken as sent',
        query: 'myip=192.168.1.2',
        client: '8.8.8.8',
        addresses: plan(set('192.168.1.2'), KEEP),
      },
      {
        name: 'a ULA and a loopback address are taken as sent',
        query: 'myip=127.0.0.1,fd00::2',
        client: '8.8.8.8',
        addresses: plan(set('127.0.0.1'), set('fd00::2')),
      },
      {
        name: 'a private peer stands for a missing myip',
        query: '',
        client: '10.0.0.1',
        addresses: plan(set('10.0.0.1'), KEEP),
      },
    ],
    { zones: ZONES, allowPrivateAddresses: true },
  );
});

describe('decodeQuery', () => {
  test('keys are lower-cased, the first value wins, bare keys are kept in order', () => {
    const query = decodeQuery('HostName=a&hostname=b&alice.mydns.test&flag&MyIP=1.2.3.4');
    assert.deepEqual(
      [...query.values],
      [
        ['hostname', 'a'],
        ['myip', '1.2.3.4'],
      ],
    );
    assert.deepEqual(query.bareKeys, ['alice.mydns.test', 'flag']);
  });

  test('values keep everything after the first =', () => {
    assert.deepEqual([...decodeQuery('password=a=b=c').values], [['password', 'a=b=c']]);
  });

  test('empty pieces are skipped; an empty value is kept as empty', () => {
    const query = decodeQuery('&&myip=&&');
    assert.deepEqual([...query.values], [['myip', '']]);
    assert.deepEqual(query.bareKeys, []);
  });

  test('later sources (a POST body) do not override earlier ones', () => {
    const query = decodeQuery('myip=1.2.3.4', 'myip=5.6.7.8&hostname=a');
    assert.deepEqual(
      [...query.values],
      [
        ['myip', '1.2.3.4'],
        ['hostname', 'a'],
      ],
    );
  });
});
