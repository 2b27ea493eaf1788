import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { flag, option, UsageError, wantsHelp } from './args.ts';

describe('wantsHelp', () => {
  const cases: readonly [string[], boolean][] = [
    [['help'], true],
    [['--help'], true],
    [['-h'], true],
    [['host', 'help'], true],
    [['zone', 'help'], true],
    [['zone', 'move', 'a.example', 'b.example', '--help'], true],
    [['host', '--help'], true],
    [['host', 'create', '--help'], true],
    [['host', 'password', 'alice', '-h'], true],
    [['reconcile', '--help'], true],
    [['migrate', '-h'], true],
    [[], false],
    [['host', 'list'], false],
    [['zone', 'list'], false],
    [['host', 'show', 'help'], false],
    [['reconcile', '--dry-run'], false],
  ];
  for (const [args, expected] of cases) {
    test(`${JSON.stringify(args.join(' '))} → ${expected}`, () => assert.equal(wantsHelp(args), expected));
  }
});

describe('option and flag', () => {
  test('take what they find out of the arguments', () => {
    const args = ['alice', '--email', 'a@example.org', '--password-stdin'];
    assert.equal(option(args, '--email'), 'a@example.org');
    assert.equal(flag(args, '--password-stdin'), true);
    assert.deepEqual(args, ['alice']);
    assert.equal(option(args, '--email'), undefined);
    assert.equal(flag(args, '--dry-run'), false);
  });

  test('an option without its value is a usage error', () => {
    assert.throws(() => option(['alice', '--email'], '--email'), UsageError);
    assert.throws(() => option(['--email', '--password-stdin'], '--email'), UsageError);
  });
});
