import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { z } from 'zod';
import { StartupError } from './errors.ts';
import {
  loadEnvironment,
  parseDuration,
  parseRateLimit,
  parseSettings,
  type RateLimit,
  readDotEnv,
  zBoolean,
  zDuration,
  zList,
  zPort,
  zRateLimit,
} from './settings.ts';

describe('parseDuration', () => {
  const cases: readonly { input: string; ms: number | undefined }[] = [
    { input: '500ms', ms: 500 },
    { input: '30s', ms: 30_000 },
    { input: '10m', ms: 600_000 },
    { input: '1h', ms: 3_600_000 },
    { input: '2d', ms: 172_800_000 },
    { input: '45', ms: 45_000 },
    { input: '0', ms: 0 },
    { input: ' 15 m ', ms: 900_000 },
    { input: '', ms: undefined },
    { input: 'm', ms: undefined },
    { input: '1.5h', ms: undefined },
    { input: '-1s', ms: undefined },
    { input: '10 minutes', ms: undefined },
    { input: '1w', ms: undefined },
    { input: '1h30m', ms: undefined },
  ];
  for (const row of cases) {
    test(JSON.stringify(row.input), () => {
      assert.equal(parseDuration(row.input), row.ms);
    });
  }
});

describe('parseRateLimit', () => {
  const cases: readonly { input: string; limit: RateLimit | undefined }[] = [
    { input: '30/10m', limit: { count: 30, windowMs: 600_000 } },
    { input: '20/10m', limit: { count: 20, windowMs: 600_000 } },
    { input: '10/1h', limit: { count: 10, windowMs: 3_600_000 } },
    { input: '5/m', limit: { count: 5, windowMs: 60_000 } },
    { input: '100/h', limit: { count: 100, windowMs: 3_600_000 } },
    { input: '3/30', limit: { count: 3, windowMs: 30_000 } },
    { input: '1/500ms', limit: { count: 1, windowMs: 500 } },
    { input: ' 30 /10m', limit: { count: 30, windowMs: 600_000 } },
    { input: '30', limit: undefined },
    { input: '/10m', limit: undefined },
    { input: 'x/10m', limit: undefined },
    { input: '30/10x', limit: undefined },
    { input: '0/10m', limit: undefined },
    { input: '30/0s', limit: undefined },
    { input: '-1/10m', limit: undefined },
    { input: '1.5/10m', limit: undefined },
    { input: '30/', limit: undefined },
    { input: '30/ ', limit: undefined },
    { input: '30/10m/5', limit: undefined },
  ];
  for (const row of cases) {
    test(JSON.stringify(row.input), () => {
      assert.deepEqual(parseRateLimit(row.input), row.limit);
    });
  }
});

describe('zod helpers', () => {
  test('zBoolean: the usual spellings, empty is false, anything else is a problem', () => {
    for (const text of ['1', 'true', 'TRUE', 'yes', 'On', ' yes '])
      assert.equal(zBoolean.parse(text), true, text);
    for (const text of ['0', 'false', 'No', 'off', '']) assert.equal(zBoolean.parse(text), false, text);
    const result = zBoolean.safeParse('maybe');
    assert.equal(result.success, false);
    assert.equal(result.error?.issues[0]?.message, '"maybe" is not true or false');
  });

  test('zPort: 1 to 65535', () => {
    assert.equal(zPort.parse('8080'), 8080);
    assert.equal(zPort.parse('1'), 1);
    assert.equal(zPort.parse('65535'), 65535);
    assert.equal(zPort.safeParse('0').error?.issues[0]?.message, 'must be between 1 and 65535');
    assert.equal(zPort.safeParse('65536').error?.issues[0]?.message, 'must be between 1 and 65535');
    assert.equal(zPort.safeParse('80.5').error?.issues[0]?.message, 'must be a port number');
    assert.equal(zPort.safeParse('http').error?.issues[0]?.message, 'must be a port number');
  });

  test('zList: comma-separated, trimmed, empty items dropped', () => {
    assert.deepEqual(zList.parse(' a, b ,,c ,'), ['a', 'b', 'c']);
    assert.deepEqual(zList.parse(''), []);
  });

  test('zDuration and zRateLimit name the bad value', () => {
    assert.equal(zDuration.parse('10m'), 600_000);
    assert.equal(
      zDuration.safeParse('soon').error?.issues[0]?.message,
      '"soon" is not a duration like 500ms, 30s, 10m, 1h',
    );
    assert.deepEqual(zRateLimit.parse('30/10m'), { count: 30, windowMs: 600_000 });
    assert.equal(
      zRateLimit.safeParse('lots').error?.issues[0]?.message,
      '"lots" is not a rate like 30/10m (count/window)',
    );
  });
});

describe('parseSettings', () => {
  const schema = z.object({ PORT: zPort.default(8080), DEBUG: zBoolean.default(false) });

  test('returns the parsed values, defaults filled in', () => {
    assert.deepEqual(parseSettings(schema, { DEBUG: 'yes' }), { PORT: 8080, DEBUG: true });
  });

  test('throws a StartupError with one line per problem, naming the variable', () => {
    assert.throws(
      () => parseSettings(schema, { PORT: '0', DEBUG: 'sometimes' }),
      (error: unknown) => {
        assert.ok(error instanceof StartupError);
        assert.equal(
          error.message,
          'invalid settings:\nPORT: must be between 1 and 65535\nDEBUG: "sometimes" is not true or false',
        );
        return true;
      },
    );
  });
});

describe('readDotEnv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mydns-settings-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test('a missing file is empty', () => {
    assert.deepEqual(readDotEnv(join(dir, 'does-not-exist.env')), {});
  });

  test('KEY=value lines, comments, quotes, export, CRLF', () => {
    const path = write(
      'full.env',
      [
        '# a comment',
        '',
        'PLAIN=value',
        'SPACED = spaced value ',
        'export EXPORTED=yes',
        'DOUBLE="with # hash"',
        "SINGLE='single quoted'",
        'INLINE=value # a trailing comment',
        'URL=postgres://u:p@db:5432/mydns#not-a-comment',
        'EMPTY=',
        'EQUALS=a=b=c',
        'not a setting line',
        '1BAD=x',
        '   # indented comment',
        'CRLF=windows\r',
        'HALF="unterminated',
      ].join('\n'),
    );
    assert.deepEqual(readDotEnv(path), {
      PLAIN: 'value',
      SPACED: 'spaced value',
      EXPORTED: 'yes',
      DOUBLE: 'with # hash',
      SINGLE: 'single quoted',
      INLINE: 'value',
      URL: 'postgres://u:p@db:5432/mydns#not-a-comment',
      EMPTY: '',
      EQUALS: 'a=b=c',
      CRLF: 'windows',
      HALF: '"unterminated',
    });
  });

  test('loadEnvironment: .env under the real environment', () => {
    const envDir = mkdtempSync(join(dir, 'cwd-'));
    writeFileSync(join(envDir, '.env'), 'MYDNS_SETTINGS_TEST_ONLY_IN_FILE=file\nPATH=from-file\n');
    const env = loadEnvironment(envDir);
    assert.equal(env.MYDNS_SETTINGS_TEST_ONLY_IN_FILE, 'file');
    assert.equal(env.PATH, process.env.PATH, 'the real environment wins');
  });
});
