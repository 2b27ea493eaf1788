import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatMailCommand,
  parseCommandLine,
  parseMailParameters,
  parsePath,
  relayTrick,
} from './command.ts';

describe('parseCommandLine', () => {
  const cases: readonly { input: string; verb?: string; args?: string; bad?: true }[] = [
    { input: 'EHLO client.example', verb: 'EHLO', args: 'client.example' },
    { input: 'ehlo   client.example  ', verb: 'EHLO', args: 'client.example' },
    { input: 'MAIL FROM:<a@b.example> SIZE=10', verb: 'MAIL', args: 'FROM:<a@b.example> SIZE=10' },
    { input: 'QUIT', verb: 'QUIT', args: '' },
    { input: 'NOOP\tx', verb: 'NOOP', args: 'x' },
    { input: '', verb: '', args: '' },
    // A bare CR inside a command line is a smuggling attempt, not a separator.
    { input: 'RCPT TO:<a@b.example>\rDATA', bad: true },
    { input: 'MAIL FROM:<a@b\u0000.example>', bad: true },
  ];
  for (const row of cases) {
    test(JSON.stringify(row.input), () => {
      const parsed = parseCommandLine(Buffer.from(row.input, 'latin1'));
      if (row.bad) return assert.equal(parsed.kind, 'bad-characters');
      assert.equal(parsed.kind, 'command');
      if (parsed.kind !== 'command') return;
      assert.equal(parsed.command.verb, row.verb);
      assert.equal(parsed.command.args, row.args);
    });
  }
});

describe('parsePath: what clients send, and routing tricks', () => {
  test('plain, with a space after the colon, upper-case domain, trailing dot', () => {
    for (const args of ['TO:<User@Alice.Example-Dyn.TEST>', 'to: <User@Alice.Example-Dyn.TEST.>']) {
      const path = parsePath(args, 'TO');
      assert.equal(path.kind, 'path', args);
      if (path.kind !== 'path') return;
      assert.equal(path.mailbox?.localPart, 'User');
      assert.equal(path.mailbox?.domain, 'alice.example-dyn.test');
      assert.equal(path.sourceRoute, false);
    }
  });
  test('the null reverse path and parameters', () => {
    const path = parsePath('FROM:<> SIZE=100 BODY=8BITMIME', 'FROM');
    assert.deepEqual(path, {
      kind: 'path',
      mailbox: null,
      sourceRoute: false,
      params: 'SIZE=100 BODY=8BITMIME',
    });
  });
  test('a source route is reported, and the final mailbox kept', () => {
    const path = parsePath('TO:<@relay.example,@other.example:user@victim.example>', 'TO');
    assert.equal(path.kind, 'path');
    if (path.kind !== 'path') return;
    assert.equal(path.sourceRoute, true);
    assert.equal(path.mailbox?.domain, 'victim.example');
  });
  test('a quoted local part may hold @ and >', () => {
    const path = parsePath('TO:<"a>b@c"@alice.example-dyn.test>', 'TO');
    assert.equal(path.kind, 'path');
    if (path.kind !== 'path') return;
    assert.equal(path.mailbox?.localPart, '"a>b@c"');
    assert.equal(path.mailbox?.domain, 'alice.example-dyn.test');
  });
  const bad = [
    'TO:user@alice.example-dyn.test',
    'TO:<user@alice.example-dyn.test',
    'TO:<user>',
    'TO:<@alice.example-dyn.test>',
    'TO:<user@>',
    'TO:<us er@alice.example-dyn.test>',
    'TO:<user@alice..example>',
    'TO:<user@-alice.example>',
    'TO:<user@alice.example-dyn.test>x',
    `TO:<${'a'.repeat(65)}@alice.example-dyn.test>`,
    `TO:<a@${'b'.repeat(250)}.example>`,
    'FROM:<a@b.example>',
  ];
  for (const args of bad) {
    test(`refused: ${args.slice(0, 60)}`, () => assert.equal(parsePath(args, 'TO').kind, 'bad'));
  }
  test('address literals are parsed (and later refused as not routed)', () => {
    const path = parsePath('TO:<user@[127.0.0.1]>', 'TO');
    assert.equal(path.kind === 'path' && path.mailbox?.domain, '[127.0.0.1]');
  });
});

describe('relayTrick: percent hack, bang paths, quoted routing', () => {
  const mailbox = (localPart: string) => ({
    localPart,
    domain: 'alice.example-dyn.test',
    international: false,
  });
  test('plain local parts are fine', () => {
    for (const local of ['user', 'first.last', 'user+tag', 'u-1', '"quoted name"']) {
      assert.equal(relayTrick(mailbox(local)), undefined, local);
    }
  });
  test('routing characters are refused', () => {
    for (const local of ['victim%evil.example', 'evil.example!victim', '"victim@evil.example"', '"a%b"']) {
      assert.ok(relayTrick(mailbox(local)), local);
    }
  });
});

describe('MAIL parameters', () => {
  test('SIZE, BODY, SMTPUTF8', () => {
    assert.deepEqual(parseMailParameters('SIZE=1000 BODY=8bitmime SMTPUTF8', { smtputf8: true }), {
      kind: 'ok',
      params: { size: 1000, body: '8BITMIME', smtputf8: true },
    });
    assert.deepEqual(parseMailParameters('', { smtputf8: true }), {
      kind: 'ok',
      params: { size: undefined, body: undefined, smtputf8: false },
    });
  });
  test('unsupported and bad parameters', () => {
    assert.deepEqual(parseMailParameters('RET=FULL', { smtputf8: true }), {
      kind: 'unsupported',
      name: 'RET',
    });
    assert.deepEqual(parseMailParameters('AUTH=<>', { smtputf8: true }), {
      kind: 'unsupported',
      name: 'AUTH',
    });
    assert.deepEqual(parseMailParameters('SMTPUTF8', { smtputf8: false }), {
      kind: 'unsupported',
      name: 'SMTPUTF8',
    });
    assert.deepEqual(parseMailParameters('SIZE=big', { smtputf8: true }), { kind: 'bad', name: 'SIZE' });
    assert.deepEqual(parseMailParameters('BODY=BINARYMIME', { smtputf8: true }), {
      kind: 'bad',
      name: 'BODY',
    });
  });
  test('the replayed MAIL carries only what the backend offers', () => {
    const sender = { localPart: 's', domain: 'example.org', international: false };
    const params = { size: 10, body: '8BITMIME' as const, smtputf8: true };
    assert.equal(
      formatMailCommand(sender, params, { size: true, eightBitMime: true, smtputf8: true }),
      'MAIL FROM:<s@example.org> SIZE=10 BODY=8BITMIME SMTPUTF8',
    );
    assert.equal(
      formatMailCommand(null, params, { size: false, eightBitMime: false, smtputf8: false }),
      'MAIL FROM:<>',
    );
  });
});
