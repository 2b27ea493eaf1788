import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createStaticHostDirectory, type HostDirectory } from './hosts.ts';
import { createRouter, type MxRecord, routingDomain } from './routing.ts';
import { mailHost, TEST_ZONE } from './testing/hosts.ts';

const ZONE = TEST_ZONE;
/** A second zone served beside ZONE. */
const SECOND = 'second-dyn.test';

function setup(options: { hosts?: HostDirectory; mx?: Record<string, MxRecord[] | Error> } = {}) {
  let now = 0;
  const lookups: string[] = [];
  const hosts =
    options.hosts ??
    createStaticHostDirectory([
      mailHost('alice', 2526),
      mailHost('off', 2526, { mail: { enabled: false } }),
      mailHost('sleepy', 2526, { status: 'dormant' }),
      mailHost('banned', 2526, { status: 'disabled' }),
      mailHost('gone', 2526, { ipv4: null }),
      // The same label in the second zone is another host (another home server).
      mailHost('alice', 2600, { zone: SECOND }),
      mailHost('carol', 2601, { zone: SECOND }),
    ]);
  const router = createRouter({
    zones: [ZONE, SECOND],
    hosts,
    lookupMx: async (domain) => {
      lookups.push(domain);
      const answer = options.mx?.[domain] ?? [];
      if (answer instanceof Error) throw answer;
      return answer;
    },
    mxTtlMs: 300_000,
    mxNegativeTtlMs: 60_000,
    now: () => now,
  });
  return { router, lookups, advance: (ms: number) => (now += ms) };
}

describe('routing by recipient domain', () => {
  test('<host>.<zone> with forwarding on', async () => {
    const { router, lookups } = setup();
    const route = await router.route(`alice.${ZONE}`);
    assert.equal(route.kind === 'host' && route.host.name, 'alice');
    assert.equal((await router.route(`ALICE.${ZONE.toUpperCase()}.`)).kind, 'host');
    assert.deepEqual(lookups, [], 'our own names need no DNS');
  });
  test('never an open relay: everything else is not ours', async () => {
    const { router } = setup();
    for (const domain of [
      ZONE,
      `off.${ZONE}`,
      `banned.${ZONE}`,
      `nobody.${ZONE}`,
      `x.alice.${ZONE}`,
      `alice.mx.${ZONE}`,
      'gmail.com',
      'alice.example-dyn.test.evil.example',
    ]) {
      assert.equal((await router.route(domain)).kind, 'none', domain);
    }
  });
  test('dormant or address-less hosts are a temporary failure', async () => {
    const { router } = setup();
    assert.deepEqual(await router.route(`sleepy.${ZONE}`), {
      kind: 'unavailable',
      host: `sleepy.${ZONE}`,
      reason: 'host is dormant',
    });
    assert.deepEqual(await router.route(`gone.${ZONE}`), {
      kind: 'unavailable',
      host: `gone.${ZONE}`,
      reason: 'host has no address',
    });
  });
  test('every zone served routes its own hosts; a label in two zones is two hosts', async () => {
    const { router, lookups } = setup({
      mx: { 'carol-family.example': [{ exchange: `carol.mx.${SECOND}.`, priority: 10 }] },
    });
    const second = await router.route(`Alice.${SECOND.toUpperCase()}`);
    assert.equal(second.kind === 'host' && `${second.host.name}.${second.host.zone}`, `alice.${SECOND}`);
    assert.equal(second.kind === 'host' && second.host.mail.port, 2600);
    const first = await router.route(`alice.${ZONE}`);
    assert.equal(first.kind === 'host' && first.host.mail.port, 2526);
    // carol exists only in the second zone.
    assert.equal((await router.route(`carol.${ZONE}`)).kind, 'none');
    assert.equal((await router.route(`carol.${SECOND}`)).kind, 'host');
    for (const domain of [SECOND, `x.carol.${SECOND}`, `carol.mx.${SECOND}`])
      assert.equal((await router.route(domain)).kind, 'none', domain);
    assert.deepEqual(lookups, [], 'names in our zones need no DNS');
    // A custom domain whose MX is <host>.mx.<second zone>.
    const custom = await router.route('carol-family.example');
    assert.equal(custom.kind === 'host' && `${custom.host.name}.${custom.host.zone}`, `carol.${SECOND}`);
  });
  test('a custom domain whose MX is <host>.mx.<zone>, cached', async () => {
    const { router, lookups, advance } = setup({
      mx: {
        'alice-family.example': [
          { exchange: 'backup.example.net', priority: 5 },
          { exchange: `Alice.MX.${ZONE}.`, priority: 10 },
        ],
        'other.example': [{ exchange: `alice.${ZONE}`, priority: 10 }],
      },
    });
    const route = await router.route('Alice-Family.example');
    assert.equal(route.kind === 'host' && route.host.name, 'alice');
    await router.route('alice-family.example');
    assert.deepEqual(lookups, ['alice-family.example']);
    advance(300_001);
    await router.route('alice-family.example');
    assert.equal(lookups.length, 2, 'looked up again after the TTL');
    // An MX at the home name itself (port 25 blocked there) is not a route.
    assert.equal((await router.route('other.example')).kind, 'none');
  });
  test('no MX is cached shortly; a DNS failure is a temporary error, not cached', async () => {
    const { router, lookups, advance } = setup({
      mx: { 'broken.example': Object.assign(new Error('queryMx ESERVFAIL'), { code: 'ESERVFAIL' }) },
    });
    assert.equal((await router.route('none.example')).kind, 'none');
    await router.route('none.example');
    advance(60_001);
    await router.route('none.example');
    assert.deepEqual(lookups, ['none.example', 'none.example']);
    assert.equal((await router.route('broken.example')).kind, 'error');
    assert.equal((await router.route('broken.example')).kind, 'error');
    assert.equal(lookups.filter((d) => d === 'broken.example').length, 2);
  });
  test('Postgres down is a temporary error', async () => {
    const hosts: HostDirectory = {
      find: async () => {
        throw new Error('connect ECONNREFUSED');
      },
      start: async () => undefined,
      stop: async () => undefined,
    };
    const { router } = setup({ hosts });
    assert.equal((await router.route(`alice.${ZONE}`)).kind, 'error');
  });
  test('routingDomain: UTF-8 domains become A-labels', () => {
    assert.equal(
      routingDomain(Buffer.from('bücher.example', 'utf8').toString('latin1')),
      'xn--bcher-kva.example',
    );
    assert.equal(routingDomain('Example.COM.'), 'example.com');
  });
  test('routingDomain: look-alikes and non-ASCII come out as one canonical ASCII name, or none', () => {
    // The parser hands over UTF-8 bytes as latin1 characters (SMTPUTF8).
    const wire = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    for (const [input, expected] of [
      ['ａｌｉｃｅ.example-dyn.test', 'alice.example-dyn.test'], // fullwidth letters
      ['ＡＬＩＣＥ.example-dyn.test', 'alice.example-dyn.test'], // fullwidth capitals
      ['alice\uff0eexample-dyn\u3002test', 'alice.example-dyn.test'], // fullwidth and ideographic full stops
      ['alice.example-dyn.test\u3002', 'alice.example-dyn.test'], // a trailing ideographic full stop
      ['ａｌｉｃｅ１２.example-dyn.test', 'alice12.example-dyn.test'], // fullwidth digits
      ['ＢÜＣＨＥＲ.example', 'xn--bcher-kva.example'], // fullwidth and a U-label, upper case
      ['bu\u0308cher.example', 'xn--bcher-kva.example'], // u + combining diaeresis: NFC first
      ['\ufb01le.example', 'file.example'], // the ligature "ﬁ"
      ['\u0430lice.example-dyn.test', 'xn--lice-43d.example-dyn.test'], // Cyrillic а: another name, not alice
      ['a\uff0bb.example', undefined], // fullwidth plus maps to "+": not a mail domain
      ['a\uff0fb.example', undefined], // fullwidth solidus maps to "/"
      ['a\u200bb.example', 'ab.example'], // a zero-width space is dropped (UTS #46 maps it to nothing)
      ['\u3002', undefined],
    ] as const) {
      assert.equal(routingDomain(wire(input)), expected, JSON.stringify(input));
    }
    assert.equal(routingDomain('b\u00fccher.example'), undefined, 'latin1 bytes that are not UTF-8');
    assert.equal(routingDomain('alice.example-dyn.test'), 'alice.example-dyn.test', 'ASCII stays as it is');
  });
  test('a route carries the domain as it was routed, for the RCPT the home server gets', async () => {
    const { router } = setup({
      mx: { 'xn--bcher-kva.example': [{ exchange: `alice.mx.${ZONE}`, priority: 10 }] },
    });
    const wire = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    const own = await router.route(wire(`ａｌｉｃｅ．${ZONE}`));
    assert.equal(own.kind === 'host' && own.host.name, 'alice');
    assert.equal(own.kind === 'host' && own.domain, `alice.${ZONE}`);
    const custom = await router.route(wire('Bücher.example'));
    assert.equal(custom.kind === 'host' && custom.domain, 'xn--bcher-kva.example');
    assert.equal((await router.route(wire(`ａｌｉｃｅ＋x.${ZONE}`))).kind, 'none');
  });
});
