import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { StartupError } from '@mydns/runtime';
import { type Config, loadConfig } from './config.ts';

/** The lines of the StartupError loadConfig throws for `env`, without the heading. */
function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof StartupError, 'a StartupError');
    const [heading, ...lines] = error.message.split('\n');
    assert.equal(heading, 'invalid settings:');
    return lines;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

const DEFAULTS: Config = {
  databaseUrl: undefined,
  zone: 'mydns.test',
  zones: ['mydns.test'],
  http: { port: 8080, address: '127.0.0.1' },
  publicUrl: undefined,
  dataDir: '.data',
  powerdns: { mode: 'managed', dnsPort: 5300, apiPort: 8081, binary: undefined },
  nameservers: ['ns1.mydns.test'],
  nameserversByZone: { 'mydns.test': ['ns1.mydns.test'] },
  recordTtl: 60,
  trustedProxies: [],
  allowPrivateAddresses: true,
  labMode: true,
  registration: 'open',
  accounts: { hostsPerAccount: 5, operatorContact: undefined },
  limits: {
    hostUpdates: { count: 30, windowMs: 600_000 },
    loginFailures: { count: 20, windowMs: 600_000 },
    loginHostFailures: { count: 10, windowMs: 600_000 },
    loginBlockMs: 900_000,
    ipv6Prefix: 64,
    registrations: { count: 10, windowMs: 3_600_000 },
  },
  bcrypt: { cost: 10, threads: availableParallelism(), queue: 128 },
  nameQuarantineDays: 30,
  credentialCacheTtlMs: 3_600_000,
  hostCacheTtlMs: 3_600_000,
  lifecycle: {
    inactivityDays: 30,
    dormancyWarningDays: 7,
    maintenanceIntervalMs: 60_000,
    historyMaxPerHost: 200,
    historyMaxAgeMs: 90 * 86_400_000,
  },
  relayAddresses: ['127.0.0.1'],
  apiAddresses: [],
  relayEnabled: true,
  secondaries: [],
  dnssec: true,
  notifyIntervalMs: 5000,
  reconcile: { intervalMs: 3_600_000, operatorRecords: [] },
  pushTimeoutMs: 3000,
  blockedUserAgents: [],
  dbPoolSize: 10,
  log: { level: 'info', format: 'pretty' },
  mail: {
    smarthost: undefined,
    from: { name: 'MyDNS', address: 'no-reply@mydns.test' },
    publicUrl: 'http://127.0.0.1:8080',
    clientName: 'mydns.test',
    timeoutMs: 60_000,
    retryMs: 30_000,
    retryMaxMs: 3_600_000,
    giveUpMs: 2 * 86_400_000,
    keepMs: 7 * 86_400_000,
    limits: { recipient: { count: 5, windowMs: 3_600_000 }, source: { count: 20, windowMs: 3_600_000 } },
  },
  webhooks: { allowPrivate: false, retryMs: 10_000 },
};

describe('loadConfig: defaults (README.md, "Settings")', () => {
  test('an empty environment gives the documented defaults', () => {
    assert.deepEqual(loadConfig({}), DEFAULTS);
  });

  test('NODE_ENV=production logs JSON; LOG_FORMAT wins over it', () => {
    assert.deepEqual(loadConfig({ NODE_ENV: 'production' }).log, { level: 'info', format: 'json' });
    assert.deepEqual(loadConfig({ NODE_ENV: 'production', LOG_FORMAT: 'pretty' }).log, {
      level: 'info',
      format: 'pretty',
    });
  });
});

describe('loadConfig: webhooks (README.md, "Webhooks")', () => {
  test('private targets only when asked; the first retry wait', () => {
    assert.deepEqual(
      loadConfig({ MYDNS_ALLOW_PRIVATE_WEBHOOKS: 'true', MYDNS_WEBHOOK_RETRY: '2s' }).webhooks,
      { allowPrivate: true, retryMs: 2000 },
    );
    // A loopback listener makes a lab for update addresses, not for webhook targets.
    assert.equal(loadConfig({ MYDNS_ALLOW_PRIVATE_ADDRESSES: 'true' }).webhooks.allowPrivate, false);
  });
});

describe('loadConfig: private addresses on a loopback-only listener (the quick start)', () => {
  const cases: { name: string; env: Record<string, string>; allowed: boolean; lab: boolean }[] = [
    { name: 'default: loopback listener, a lab', env: {}, allowed: true, lab: true },
    { name: 'listening on ::1', env: { MYDNS_HTTP_ADDRESS: '::1' }, allowed: true, lab: true },
    { name: 'listening on 127.0.0.2', env: { MYDNS_HTTP_ADDRESS: '127.0.0.2' }, allowed: true, lab: true },
    {
      name: 'listening on every address: strict',
      env: { MYDNS_HTTP_ADDRESS: '::' },
      allowed: false,
      lab: false,
    },
    {
      name: 'listening on 0.0.0.0 (compose): strict',
      env: { MYDNS_HTTP_ADDRESS: '0.0.0.0' },
      allowed: false,
      lab: false,
    },
    { name: 'a LAN address: strict', env: { MYDNS_HTTP_ADDRESS: '192.168.1.5' }, allowed: false, lab: false },
    {
      name: 'loopback behind a trusted proxy: strict',
      env: { MYDNS_TRUSTED_PROXIES: '127.0.0.1' },
      allowed: false,
      lab: false,
    },
    {
      name: 'loopback, but the setting says false',
      env: { MYDNS_ALLOW_PRIVATE_ADDRESSES: 'false' },
      allowed: false,
      lab: false,
    },
    {
      name: 'public listener, the setting says true',
      env: { MYDNS_HTTP_ADDRESS: '::', MYDNS_ALLOW_PRIVATE_ADDRESSES: 'true' },
      allowed: true,
      lab: false,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const config = loadConfig(c.env);
      assert.equal(config.allowPrivateAddresses, c.allowed);
      assert.equal(config.labMode, c.lab);
    });
  }
});

describe('loadConfig: values are parsed and normalised', () => {
  test('zone and nameservers: lower case, no trailing dot; the default NS follows the zone', () => {
    const config = loadConfig({ MYDNS_ZONE: 'DynDNS.Example.ORG.' });
    assert.equal(config.zone, 'dyndns.example.org');
    assert.deepEqual(config.nameservers, ['ns1.dyndns.example.org']);
    assert.deepEqual(loadConfig({ MYDNS_NAMESERVERS: 'NS1.Example.net., ns2.example.net,' }).nameservers, [
      'ns1.example.net',
      'ns2.example.net',
    ]);
  });

  test('zones: MYDNS_ZONES lists them, the first is the default; MYDNS_ZONE alone is one zone', () => {
    const several = loadConfig({ MYDNS_ZONES: 'Dyn.Example.ORG., home.example.net , ,' });
    assert.equal(several.zone, 'dyn.example.org');
    assert.deepEqual(several.zones, ['dyn.example.org', 'home.example.net']);
    // MYDNS_NAMESERVERS applies to every zone; unset, each zone has its own ns1.
    assert.deepEqual(several.nameserversByZone, {
      'dyn.example.org': ['ns1.dyn.example.org'],
      'home.example.net': ['ns1.home.example.net'],
    });
    assert.deepEqual(several.nameservers, ['ns1.dyn.example.org']);
    const shared = loadConfig({ MYDNS_ZONES: 'a.example,b.example', MYDNS_NAMESERVERS: 'ns.example.net' });
    assert.deepEqual(shared.nameserversByZone, {
      'a.example': ['ns.example.net'],
      'b.example': ['ns.example.net'],
    });
    assert.deepEqual(loadConfig({ MYDNS_ZONE: 'one.example' }).zones, ['one.example']);
    // Both set: fine when MYDNS_ZONE is the default zone (the first of MYDNS_ZONES).
    const both = loadConfig({ MYDNS_ZONE: 'A.example', MYDNS_ZONES: 'a.example,b.example' });
    assert.deepEqual(both.zones, ['a.example', 'b.example']);
  });

  test('MYDNS_ZONE and MYDNS_ZONES that disagree on the default zone: one clear line', () => {
    assert.deepEqual(problems({ MYDNS_ZONE: 'b.example', MYDNS_ZONES: 'a.example,b.example' }), [
      'MYDNS_ZONES: its first zone (a.example) is the default zone, but MYDNS_ZONE says b.example: set only MYDNS_ZONES, or make MYDNS_ZONE its first zone',
    ]);
    assert.deepEqual(problems({ MYDNS_ZONES: 'a.example,localhost,A.example.' }), [
      'MYDNS_ZONES: "localhost" is not a DNS name with at least two labels',
      'MYDNS_ZONES: a.example is listed twice',
    ]);
    assert.deepEqual(problems({ MYDNS_ZONES: ' , ' }), ['MYDNS_ZONES: must name at least one zone']);
    // Empty, as a .env line `MYDNS_ZONES=` leaves it: unset, MYDNS_ZONE decides.
    assert.deepEqual(loadConfig({ MYDNS_ZONE: 'one.example', MYDNS_ZONES: '' }).zones, ['one.example']);
  });

  test('the dormancy warning comes before the dormancy: fewer days than MYDNS_INACTIVITY_DAYS, or 0 for none', () => {
    assert.equal(loadConfig({ MYDNS_DORMANCY_WARNING_DAYS: '0' }).lifecycle.dormancyWarningDays, 0);
    assert.equal(
      loadConfig({ MYDNS_INACTIVITY_DAYS: '10', MYDNS_DORMANCY_WARNING_DAYS: '9' }).lifecycle
        .dormancyWarningDays,
      9,
    );
    assert.deepEqual(problems({ MYDNS_INACTIVITY_DAYS: '5' }), [
      'MYDNS_DORMANCY_WARNING_DAYS: must be less than MYDNS_INACTIVITY_DAYS (5), or 0 for no warning',
    ]);
    assert.deepEqual(problems({ MYDNS_DORMANCY_WARNING_DAYS: '-1' }), [
      'MYDNS_DORMANCY_WARNING_DAYS: Too small: expected number to be >=0',
    ]);
  });

  test('an external PowerDNS needs URL and key; the server id defaults to localhost', () => {
    assert.deepEqual(
      loadConfig({ MYDNS_PDNS_API_URL: 'http://pdns:8081', MYDNS_PDNS_API_KEY: 'secret' }).powerdns,
      { mode: 'external', apiUrl: 'http://pdns:8081', apiKey: 'secret', serverId: 'localhost' },
    );
  });

  test('ports, limits, durations, booleans and lists', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://mydns:pw@db:5432/mydns',
      MYDNS_HTTP_PORT: '8088',
      MYDNS_HTTP_ADDRESS: '127.0.0.1',
      MYDNS_DNS_PORT: '53',
      MYDNS_PDNS_BINARY: '/usr/sbin/pdns_server',
      MYDNS_RECORD_TTL: '300',
      MYDNS_TRUSTED_PROXIES: '10.0.0.0/8, 2001:DB8::/32 ,192.0.2.1',
      MYDNS_ALLOW_PRIVATE_ADDRESSES: 'yes',
      MYDNS_REGISTRATION: 'closed',
      MYDNS_HOST_UPDATE_LIMIT: '60/1h',
      MYDNS_LOGIN_FAILURE_LIMIT: '5/m',
      MYDNS_LOGIN_BLOCK: '1h',
      MYDNS_REGISTRATION_LIMIT: '3/1d',
      MYDNS_BCRYPT_COST: '12',
      MYDNS_BCRYPT_THREADS: '2',
      MYDNS_CREDENTIAL_CACHE_TTL: '10m',
      MYDNS_PUSH_TIMEOUT: '500ms',
      MYDNS_BLOCKED_USER_AGENTS: 'BadBot/1.0, EvilScanner',
      MYDNS_DB_POOL_SIZE: '25',
      LOG_LEVEL: 'debug',
    });
    assert.equal(config.databaseUrl, 'postgres://mydns:pw@db:5432/mydns');
    assert.deepEqual(config.http, { port: 8088, address: '127.0.0.1' });
    assert.deepEqual(config.powerdns, {
      mode: 'managed',
      dnsPort: 53,
      apiPort: 8081,
      binary: '/usr/sbin/pdns_server',
    });
    assert.equal(config.recordTtl, 300);
    assert.deepEqual(
      config.trustedProxies.map((cidr) => cidr.text),
      ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1/32'],
    );
    assert.equal(config.allowPrivateAddresses, true);
    assert.equal(config.registration, 'closed');
    assert.deepEqual(config.limits, {
      hostUpdates: { count: 60, windowMs: 3_600_000 },
      loginFailures: { count: 5, windowMs: 60_000 },
      loginHostFailures: { count: 10, windowMs: 600_000 },
      loginBlockMs: 3_600_000,
      ipv6Prefix: 64,
      registrations: { count: 3, windowMs: 86_400_000 },
    });
    assert.deepEqual(config.bcrypt, { cost: 12, threads: 2, queue: 128 });
    assert.equal(config.credentialCacheTtlMs, 600_000);
    assert.equal(config.pushTimeoutMs, 500);
    assert.deepEqual(config.blockedUserAgents, ['badbot/1.0', 'evilscanner']);
    assert.equal(config.dbPoolSize, 25);
    assert.equal(config.log.level, 'debug');
  });
});

describe('loadConfig: a bad value is one line naming the variable', () => {
  const cases: readonly {
    variable: string;
    value: string;
    line: string | RegExp;
    extra?: Record<string, string>;
  }[] = [
    { variable: 'DATABASE_URL', value: 'not a url', line: 'DATABASE_URL: must be a postgres:// URL' },
    {
      variable: 'MYDNS_ZONE',
      value: 'localhost',
      line: 'MYDNS_ZONE: must be a DNS name with at least two labels',
    },
    {
      variable: 'MYDNS_ZONE',
      value: 'bad..zone',
      line: 'MYDNS_ZONE: must be a DNS name with at least two labels',
    },
    { variable: 'MYDNS_HTTP_PORT', value: '0', line: 'MYDNS_HTTP_PORT: must be between 1 and 65535' },
    { variable: 'MYDNS_HTTP_PORT', value: 'http', line: 'MYDNS_HTTP_PORT: must be a port number' },
    { variable: 'MYDNS_DNS_PORT', value: '70000', line: 'MYDNS_DNS_PORT: must be between 1 and 65535' },
    { variable: 'MYDNS_PDNS_API_PORT', value: '80.5', line: 'MYDNS_PDNS_API_PORT: must be a port number' },
    {
      variable: 'MYDNS_PDNS_API_URL',
      value: 'not a url',
      line: 'MYDNS_PDNS_API_URL: must be an http(s):// URL',
      extra: { MYDNS_PDNS_API_KEY: 'secret' },
    },
    {
      variable: 'MYDNS_PDNS_API_URL',
      value: 'http://pdns:8081',
      line: 'MYDNS_PDNS_API_KEY: is required when MYDNS_PDNS_API_URL points at an external PowerDNS',
    },
    {
      variable: 'MYDNS_NAMESERVERS',
      value: 'ns1.example.net,bad_ns',
      line: 'MYDNS_NAMESERVERS: "bad_ns" is not a host name',
    },
    { variable: 'MYDNS_RECORD_TTL', value: '0', line: /^MYDNS_RECORD_TTL: / },
    { variable: 'MYDNS_RECORD_TTL', value: '86401', line: /^MYDNS_RECORD_TTL: / },
    { variable: 'MYDNS_RECORD_TTL', value: 'soon', line: /^MYDNS_RECORD_TTL: / },
    {
      variable: 'MYDNS_TRUSTED_PROXIES',
      value: '10.0.0.0/8,bogus',
      line: 'MYDNS_TRUSTED_PROXIES: "bogus" is not an address or CIDR range',
    },
    {
      variable: 'MYDNS_TRUSTED_PROXIES',
      value: '10.0.0.0/33',
      line: 'MYDNS_TRUSTED_PROXIES: "10.0.0.0/33" is not an address or CIDR range',
    },
    {
      variable: 'MYDNS_ALLOW_PRIVATE_ADDRESSES',
      value: 'maybe',
      line: 'MYDNS_ALLOW_PRIVATE_ADDRESSES: "maybe" is not true or false',
    },
    { variable: 'MYDNS_REGISTRATION', value: 'sometimes', line: /^MYDNS_REGISTRATION: .*open.*closed/ },
    {
      variable: 'MYDNS_HOST_UPDATE_LIMIT',
      value: 'lots',
      line: 'MYDNS_HOST_UPDATE_LIMIT: "lots" is not a rate like 30/10m (count/window)',
    },
    {
      variable: 'MYDNS_LOGIN_FAILURE_LIMIT',
      value: '0/10m',
      line: 'MYDNS_LOGIN_FAILURE_LIMIT: "0/10m" is not a rate like 30/10m (count/window)',
    },
    {
      variable: 'MYDNS_REGISTRATION_LIMIT',
      value: '10/forever',
      line: 'MYDNS_REGISTRATION_LIMIT: "10/forever" is not a rate like 30/10m (count/window)',
    },
    {
      variable: 'MYDNS_LOGIN_BLOCK',
      value: 'forever',
      line: 'MYDNS_LOGIN_BLOCK: "forever" is not a duration like 500ms, 30s, 10m, 1h',
    },
    {
      variable: 'MYDNS_CREDENTIAL_CACHE_TTL',
      value: '1 hour',
      line: 'MYDNS_CREDENTIAL_CACHE_TTL: "1 hour" is not a duration like 500ms, 30s, 10m, 1h',
    },
    {
      variable: 'MYDNS_PUSH_TIMEOUT',
      value: '-1',
      line: 'MYDNS_PUSH_TIMEOUT: "-1" is not a duration like 500ms, 30s, 10m, 1h',
    },
    { variable: 'MYDNS_BCRYPT_COST', value: '3', line: /^MYDNS_BCRYPT_COST: / },
    { variable: 'MYDNS_BCRYPT_COST', value: '16', line: /^MYDNS_BCRYPT_COST: / },
    { variable: 'MYDNS_BCRYPT_THREADS', value: '0', line: /^MYDNS_BCRYPT_THREADS: / },
    { variable: 'MYDNS_DB_POOL_SIZE', value: '0', line: /^MYDNS_DB_POOL_SIZE: / },
    { variable: 'MYDNS_DATA_DIR', value: '', line: /^MYDNS_DATA_DIR: / },
    { variable: 'LOG_LEVEL', value: 'loud', line: /^LOG_LEVEL: .*info/ },
    { variable: 'LOG_FORMAT', value: 'xml', line: /^LOG_FORMAT: .*json.*pretty/ },
  ];
  for (const row of cases) {
    test(`${row.variable}=${JSON.stringify(row.value)}`, () => {
      const lines = problems({ ...row.extra, [row.variable]: row.value });
      assert.equal(lines.length, 1, lines.join('\n'));
      if (typeof row.line === 'string') assert.equal(lines[0], row.line);
      else assert.match(lines[0] ?? '', row.line);
    });
  }

  test('two bad items in one list are two lines', () => {
    assert.deepEqual(problems({ MYDNS_TRUSTED_PROXIES: 'bogus, 10.0.0.0/8, worse' }), [
      'MYDNS_TRUSTED_PROXIES: "bogus" is not an address or CIDR range',
      'MYDNS_TRUSTED_PROXIES: "worse" is not an address or CIDR range',
    ]);
  });
});

describe('loadConfig: several problems are reported at once', () => {
  test('every bad variable has its line', () => {
    const lines = problems({
      DATABASE_URL: 'nope',
      MYDNS_ZONE: 'localhost',
      MYDNS_HTTP_PORT: 'http',
      MYDNS_RECORD_TTL: '0',
      MYDNS_TRUSTED_PROXIES: 'bogus',
      MYDNS_ALLOW_PRIVATE_ADDRESSES: 'maybe',
      MYDNS_REGISTRATION: 'sometimes',
      MYDNS_HOST_UPDATE_LIMIT: 'lots',
      MYDNS_LOGIN_BLOCK: 'forever',
      LOG_LEVEL: 'loud',
    });
    assert.deepEqual(
      lines.map((line) => line.slice(0, line.indexOf(':'))),
      [
        'DATABASE_URL',
        'MYDNS_ZONE',
        'MYDNS_HTTP_PORT',
        'MYDNS_RECORD_TTL',
        'MYDNS_TRUSTED_PROXIES',
        'MYDNS_ALLOW_PRIVATE_ADDRESSES',
        'MYDNS_REGISTRATION',
        'MYDNS_HOST_UPDATE_LIMIT',
        'MYDNS_LOGIN_BLOCK',
        'LOG_LEVEL',
      ],
    );
  });

  test('cross-variable checks are reported beside a bad range value', () => {
    assert.deepEqual(
      problems({
        MYDNS_HTTP_PORT: '0',
        MYDNS_PDNS_API_URL: 'http://pdns:8081',
        MYDNS_NAMESERVERS: 'bad_ns',
      }),
      [
        'MYDNS_HTTP_PORT: must be between 1 and 65535',
        'MYDNS_NAMESERVERS: "bad_ns" is not a host name',
        'MYDNS_PDNS_API_KEY: is required when MYDNS_PDNS_API_URL points at an external PowerDNS',
      ],
    );
  });

  test('cross-variable checks are reported beside a field that does not parse at all', () => {
    assert.deepEqual(
      problems({
        MYDNS_HTTP_PORT: 'abc',
        MYDNS_PDNS_API_URL: 'http://pdns:8081',
        MYDNS_NAMESERVERS: 'bad_ns',
      }),
      [
        'MYDNS_HTTP_PORT: must be a port number',
        'MYDNS_NAMESERVERS: "bad_ns" is not a host name',
        'MYDNS_PDNS_API_KEY: is required when MYDNS_PDNS_API_URL points at an external PowerDNS',
      ],
    );
  });
});
