import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  closestSettingName,
  describeUnknownSetting,
  editDistance,
  findUnknownSettings,
} from './setting-names.ts';

const KNOWN = [
  'DATABASE_URL',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'NODE_ENV',
  'MYDNS_ZONE',
  'MYDNS_HTTP_PORT',
  'MYDNS_HTTP_ADDRESS',
  'MYDNS_SMTP_PORT',
  'MYDNS_DNS_PORT',
  'MYDNS_RELAY_ADDRESS',
  'MYDNS_RELAY_ENABLED',
];

describe('editDistance', () => {
  const cases: readonly [string, string, number][] = [
    ['', '', 0],
    ['PORT', 'PORT', 0],
    ['PORT', '', 4],
    ['', 'PORT', 4],
    ['PROT', 'PORT', 1], // neighbours swapped: one slip
    ['PRT', 'PORT', 1],
    ['POORT', 'PORT', 1],
    ['PART', 'PORT', 1],
    ['TROP', 'PORT', 3],
    ['MYDNS_HTTP_PROT', 'MYDNS_HTTP_PORT', 1],
    ['DATABSE_URL', 'DATABASE_URL', 1],
    ['kitten', 'sitting', 3],
  ];
  for (const [a, b, distance] of cases) {
    test(`${JSON.stringify(a)} → ${JSON.stringify(b)} is ${distance}`, () => {
      assert.equal(editDistance(a, b), distance);
      assert.equal(editDistance(b, a), distance);
    });
  }
});

describe('closestSettingName', () => {
  const cases: readonly [string, string | undefined][] = [
    ['MYDNS_HTTP_PROT', 'MYDNS_HTTP_PORT'],
    ['MYDNS_HTTPPORT', 'MYDNS_HTTP_PORT'],
    ['MYDNS_ZONES', 'MYDNS_ZONE'],
    ['MYDNS_RELAY_ADRESS', 'MYDNS_RELAY_ADDRESS'],
    ['MYDNS_RELAY_ENABLE', 'MYDNS_RELAY_ENABLED'],
    // Under the prefix by mistake: found without it.
    ['MYDNS_LOG_LEVEL', 'LOG_LEVEL'],
    ['MYDNS_DATABASE_URL', 'DATABASE_URL'],
    ['DATABSE_URL', 'DATABASE_URL'],
    // Nothing near enough: no guess.
    ['MYDNS_FROBNICATE', undefined],
    ['MYDNS_X', undefined],
  ];
  for (const [name, expected] of cases) {
    test(`${name} → ${expected ?? 'no suggestion'}`, () => {
      assert.equal(closestSettingName(name, KNOWN), expected);
    });
  }

  test('a tie goes to the alphabetically first name, whatever the order given', () => {
    // Both are one substitution away.
    assert.equal(
      closestSettingName('MYDNS_XTTP_PORT', ['MYDNS_HTTP_PORT', 'MYDNS_ATTP_PORT']),
      'MYDNS_ATTP_PORT',
    );
    assert.equal(
      closestSettingName('MYDNS_XTTP_PORT', ['MYDNS_ATTP_PORT', 'MYDNS_HTTP_PORT']),
      'MYDNS_ATTP_PORT',
    );
  });
});

describe('findUnknownSettings', () => {
  test('every unknown name under MYDNS_, with its suggestion; known names and values are not reported', () => {
    const found = findUnknownSettings(
      {
        MYDNS_HTTP_PROT: '9000',
        MYDNS_HTTP_PORT: '8080',
        MYDNS_ZONE: 'example.net',
        MYDNS_FROBNICATE: 'yes',
        LOG_LEVEL: 'debug',
      },
      { known: KNOWN },
    );
    assert.deepEqual(found, [
      { name: 'MYDNS_FROBNICATE', suggestion: undefined },
      { name: 'MYDNS_HTTP_PROT', suggestion: 'MYDNS_HTTP_PORT' },
    ]);
  });

  test('the rest of the environment is not noise; only near-misses of the few other known names count', () => {
    const found = findUnknownSettings(
      {
        PATH: '/usr/bin',
        HOME: '/root',
        LANG: 'C.UTF-8',
        NODE_OPTIONS: '--max-old-space-size=512',
        NODE_PATH: '/usr/lib/node',
        LOGNAME: 'root',
        PGPASSWORD: 'x',
        HOSTNAME: 'box',
        DATABSE_URL: 'postgres://localhost/mydns',
        LOG_LEVE: 'debug',
        NODE_EVN: 'production',
      },
      { known: KNOWN },
    );
    assert.deepEqual(found, [
      { name: 'DATABSE_URL', suggestion: 'DATABASE_URL' },
      { name: 'LOG_LEVE', suggestion: 'LOG_LEVEL' },
      { name: 'NODE_EVN', suggestion: 'NODE_ENV' },
    ]);
  });

  test('names of other tools under the prefix can be set aside, and unset values are not there', () => {
    const found = findUnknownSettings(
      { MYDNS_TEST_WORK_DIR: '/tmp/x', MYDNS_ZONEZ: undefined },
      { known: KNOWN, ignorePrefixes: ['MYDNS_TEST_'] },
    );
    assert.deepEqual(found, []);
  });
});

describe('describeUnknownSetting', () => {
  test('one line naming the setting and the one meant, never the value', () => {
    assert.equal(
      describeUnknownSetting({ name: 'MYDNS_HTTP_PROT', suggestion: 'MYDNS_HTTP_PORT' }),
      'MYDNS_HTTP_PROT is not a MyDNS setting; did you mean MYDNS_HTTP_PORT?',
    );
    assert.equal(
      describeUnknownSetting({ name: 'MYDNS_FROBNICATE', suggestion: undefined }),
      'MYDNS_FROBNICATE is not a MyDNS setting and is ignored (README.md, "Settings", lists them all)',
    );
  });
});
