import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkRegistrableLabel,
  fqdn,
  type HostName,
  isValidHostname,
  type LabelCheck,
  labelFromUsername,
  MAX_HOSTNAMES_PER_REQUEST,
  type NameResolution,
  normaliseName,
  RESERVED_LABELS,
  resolveHostName,
} from './hostname.ts';

const ZONE = 'mydns.test';
/** Several zones, the default first; one lies inside another. */
const ZONES = [ZONE, 'dyn.example.net', 'home.dyn.example.net'];

const INVALID_CHARACTERS: LabelCheck = {
  ok: false,
  problem: 'invalid_characters',
  message: 'use only letters a-z, digits 0-9 and hyphens (one label, no dots)',
};
const EMPTY: LabelCheck = { ok: false, problem: 'empty', message: 'the hostname is empty' };
const TOO_LONG: LabelCheck = {
  ok: false,
  problem: 'too_long',
  message: 'a hostname label has at most 63 characters',
};
const HYPHEN_EDGE: LabelCheck = {
  ok: false,
  problem: 'hyphen_edge',
  message: 'a hostname cannot start or end with a hyphen',
};
const IDN: LabelCheck = {
  ok: false,
  problem: 'idn',
  message: 'hyphens in the third and fourth position are reserved',
};

describe('checkRegistrableLabel', () => {
  const cases: readonly { name: string; input: string; check: LabelCheck }[] = [
    { name: 'a plain label', input: 'alice', check: { ok: true, label: 'alice' } },
    { name: 'upper case is lowered', input: 'Alice', check: { ok: true, label: 'alice' } },
    { name: 'surrounding blanks are trimmed', input: '  alice\t', check: { ok: true, label: 'alice' } },
    { name: 'one character', input: 'a', check: { ok: true, label: 'a' } },
    { name: 'digits only', input: '42', check: { ok: true, label: '42' } },
    { name: 'inner hyphens', input: 'my-home-router', check: { ok: true, label: 'my-home-router' } },
    { name: 'a double hyphen elsewhere than 3-4', input: 'a--b', check: { ok: true, label: 'a--b' } },
    { name: '63 characters', input: 'a'.repeat(63), check: { ok: true, label: 'a'.repeat(63) } },
    {
      name: 'the full name is reduced to its label',
      input: 'alice.mydns.test',
      check: { ok: true, label: 'alice' },
    },
    {
      name: 'the full name in upper case with a trailing dot',
      input: 'ALICE.MyDNS.Test.',
      check: { ok: true, label: 'alice' },
    },
    { name: 'a trailing dot on the bare label', input: 'alice.', check: { ok: true, label: 'alice' } },
    { name: 'empty', input: '', check: EMPTY },
    { name: 'blank', input: '   ', check: EMPTY },
    { name: 'only a dot', input: '.', check: EMPTY },
    { name: 'only the zone suffix', input: '.mydns.test', check: EMPTY },
    { name: '64 characters', input: 'a'.repeat(64), check: TOO_LONG },
    { name: '64 characters under the zone', input: `${'b'.repeat(64)}.mydns.test`, check: TOO_LONG },
    { name: 'a dot: two labels', input: 'home.alice', check: INVALID_CHARACTERS },
    { name: 'a name in another zone', input: 'alice.example.org', check: INVALID_CHARACTERS },
    { name: 'the zone itself', input: 'mydns.test', check: INVALID_CHARACTERS },
    { name: 'an underscore', input: 'al_ice', check: INVALID_CHARACTERS },
    { name: 'a space inside', input: 'al ice', check: INVALID_CHARACTERS },
    { name: 'a non-ASCII letter', input: 'bücher', check: INVALID_CHARACTERS },
    { name: 'a wildcard', input: '*', check: INVALID_CHARACTERS },
    { name: 'a leading hyphen', input: '-alice', check: HYPHEN_EDGE },
    { name: 'a trailing hyphen', input: 'alice-', check: HYPHEN_EDGE },
    { name: 'only a hyphen', input: '-', check: HYPHEN_EDGE },
    { name: 'punycode', input: 'xn--bcher-kva', check: IDN },
    { name: 'any ??-- prefix', input: 'ab--cd', check: IDN },
    {
      name: 'a reserved word',
      input: 'www',
      check: { ok: false, problem: 'reserved', message: '"www" is reserved' },
    },
    {
      name: 'a reserved word as a full name in upper case',
      input: 'Admin.MYDNS.test',
      check: { ok: false, problem: 'reserved', message: '"admin" is reserved' },
    },
  ];
  for (const row of cases) {
    test(`${row.name}: ${JSON.stringify(row.input)}`, () => {
      assert.deepEqual(checkRegistrableLabel(row.input, ZONE), row.check);
    });
  }

  test('every reserved label is refused, as label and as full name', () => {
    assert.ok(RESERVED_LABELS.size > 0);
    for (const label of RESERVED_LABELS) {
      const refused: LabelCheck = { ok: false, problem: 'reserved', message: `"${label}" is reserved` };
      assert.deepEqual(checkRegistrableLabel(label, ZONE), refused, label);
      assert.deepEqual(checkRegistrableLabel(`${label.toUpperCase()}.${ZONE}`, ZONE), refused, label);
    }
  });

  test('the names the service and the relay publish are reserved', () => {
    for (const label of [
      'ns1',
      'ns2',
      'mx',
      'www',
      'api',
      'mail',
      'postmaster',
      'hostmaster',
      'abuse',
      'mydns',
    ]) {
      assert.equal(RESERVED_LABELS.has(label), true, label);
    }
  });

  test('a reserved word inside a longer label is fine', () => {
    assert.deepEqual(checkRegistrableLabel('www-alice', ZONE), { ok: true, label: 'www-alice' });
    assert.deepEqual(checkRegistrableLabel('mx1', ZONE), { ok: true, label: 'mx1' });
  });

  test('the suffix is only stripped for the configured zone', () => {
    assert.deepEqual(checkRegistrableLabel('alice.example.org', 'example.org'), { ok: true, label: 'alice' });
    assert.deepEqual(checkRegistrableLabel('alice.example.org', ZONE), INVALID_CHARACTERS);
  });
});

describe('normaliseName', () => {
  const cases: readonly { input: string; name: string }[] = [
    { input: 'alice.mydns.test', name: 'alice.mydns.test' },
    { input: ' ALICE.MyDNS.Test. ', name: 'alice.mydns.test' },
    { input: 'alice..', name: 'alice.' },
    { input: '.', name: '' },
  ];
  for (const row of cases) {
    test(JSON.stringify(row.input), () => {
      assert.equal(normaliseName(row.input), row.name);
    });
  }
});

describe('isValidHostname', () => {
  const label63 = 'a'.repeat(63);
  // 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters.
  const name253 = [label63, label63, label63, 'a'.repeat(61)].join('.');
  const cases: readonly { name: string; input: string; valid: boolean }[] = [
    { name: 'one label', input: 'alice', valid: true },
    { name: 'a full name', input: 'alice.mydns.test', valid: true },
    { name: '253 characters', input: name253, valid: true },
    { name: '254 characters', input: `${name253}a`, valid: false },
    { name: 'a 63-character label', input: `${label63}.test`, valid: true },
    { name: 'a 64-character label', input: `${label63}a.test`, valid: false },
    { name: 'empty', input: '', valid: false },
    { name: 'an empty label', input: 'bad..name', valid: false },
    { name: 'a trailing dot (not normalised)', input: 'alice.', valid: false },
    { name: 'upper case (not normalised)', input: 'Alice', valid: false },
    { name: 'an underscore', input: '_acme-challenge.alice', valid: false },
    { name: 'a hyphen at a label edge', input: 'alice-.test', valid: false },
  ];
  for (const row of cases) {
    test(row.name, () => {
      assert.equal(isValidHostname(row.input), row.valid);
    });
  }
});

describe('resolveHostName', () => {
  const label = (value: string, zone = ZONE): NameResolution => ({ kind: 'label', label: value, zone });
  const NOTFQDN: NameResolution = { kind: 'notfqdn' };
  const FOREIGN: NameResolution = { kind: 'foreign' };
  const cases: readonly { name: string; input: string; resolution: NameResolution }[] = [
    { name: 'a bare label means <label>.<zone>', input: 'alice', resolution: label('alice') },
    { name: 'the full name', input: 'alice.mydns.test', resolution: label('alice') },
    { name: 'upper case and a trailing dot', input: 'ALICE.MyDNS.Test.', resolution: label('alice') },
    { name: 'blanks around', input: ' alice ', resolution: label('alice') },
    { name: 'a reserved word still resolves (registration decides)', input: 'www', resolution: label('www') },
    { name: 'another zone', input: 'alice.example.org', resolution: FOREIGN },
    { name: 'deeper inside our zone', input: 'home.alice.mydns.test', resolution: FOREIGN },
    { name: 'the zone apex', input: 'mydns.test', resolution: FOREIGN },
    { name: 'a look-alike suffix without the dot', input: 'evilmydns.test', resolution: FOREIGN },
    { name: 'our zone as a prefix of another', input: 'alice.mydns.test.evil.example', resolution: FOREIGN },
    { name: 'an empty label', input: 'bad..name', resolution: NOTFQDN },
    { name: 'two trailing dots', input: 'alice.mydns.test..', resolution: NOTFQDN },
    { name: 'empty', input: '', resolution: NOTFQDN },
    { name: 'an underscore', input: 'al_ice', resolution: NOTFQDN },
    { name: 'a leading hyphen', input: '-alice.mydns.test', resolution: NOTFQDN },
    { name: 'a 64-character label', input: 'a'.repeat(64), resolution: NOTFQDN },
    { name: 'an IP address', input: '203.0.113.7', resolution: FOREIGN },
    { name: 'a space inside', input: 'al ice.mydns.test', resolution: NOTFQDN },
    // Several zones (ZONES: the default first): a full name in any of them, a bare label in the default.
    {
      name: 'a full name in the second zone',
      input: 'Alice.Dyn.Example.NET.',
      resolution: label('alice', 'dyn.example.net'),
    },
    {
      name: 'a zone inside another: still one label',
      input: 'bob.home.dyn.example.net',
      resolution: label('bob', 'home.dyn.example.net'),
    },
    { name: 'deeper inside the second zone', input: 'a.b.dyn.example.net', resolution: FOREIGN },
    { name: 'the second zone apex', input: 'dyn.example.net', resolution: FOREIGN },
  ];
  for (const row of cases) {
    test(`${row.name}: ${JSON.stringify(row.input)}`, () => {
      assert.deepEqual(resolveHostName(row.input, ZONES), row.resolution);
    });
  }

  test('with one zone, a name in another zone is foreign', () => {
    assert.deepEqual(resolveHostName('alice.dyn.example.net', [ZONE]), FOREIGN);
    assert.deepEqual(resolveHostName('alice', ['dyn.example.net', ZONE]), label('alice', 'dyn.example.net'));
  });
});

describe('labelFromUsername', () => {
  const cases: readonly { username: string; host: HostName | undefined }[] = [
    { username: 'alice', host: { label: 'alice', zone: ZONE } },
    { username: 'ALICE', host: { label: 'alice', zone: ZONE } },
    { username: 'alice.mydns.test', host: { label: 'alice', zone: ZONE } },
    { username: 'Alice.MyDNS.Test.', host: { label: 'alice', zone: ZONE } },
    { username: 'alice.dyn.example.net', host: { label: 'alice', zone: 'dyn.example.net' } },
    { username: 'alice.example.org', host: undefined },
    { username: 'home.alice.mydns.test', host: undefined },
    { username: 'mydns.test', host: undefined },
    { username: 'alice smith', host: undefined },
    { username: '', host: undefined },
  ];
  for (const row of cases) {
    test(JSON.stringify(row.username), () => {
      assert.deepEqual(labelFromUsername(row.username, ZONES), row.host);
    });
  }
});

describe('fqdn and the hostname limit', () => {
  test('fqdn joins label and zone', () => {
    assert.equal(fqdn('alice', ZONE), 'alice.mydns.test');
  });

  test('at most 20 names per request (Dyn RA-API)', () => {
    assert.equal(MAX_HOSTNAMES_PER_REQUEST, 20);
  });
});
