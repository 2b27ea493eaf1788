import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatReply } from '@mydns/smtp-client';
import { LineReader } from './line-reader.ts';
import { SessionState, type StateOptions, type Step } from './state-machine.ts';

const OPTIONS: StateOptions = {
  hostname: 'mx.example-dyn.test',
  maxRecipients: 3,
  maxTransactions: 2,
  maxMessageSize: 1000,
  smtputf8: true,
  tlsConfigured: true,
};

/** What a step amounts to, in one short string: the reply's first line, or the step's kind. */
function describeStep(step: Step): string {
  if (step.kind === 'reply' || step.kind === 'helo' || step.kind === 'mail') {
    const text = formatReply(step.reply).split('\r\n')[0] ?? '';
    return step.kind === 'reply' && step.close ? `${text} [close]` : text;
  }
  if (step.kind === 'rcpt') return `rcpt ${step.address}`;
  return step.kind;
}

/** Feeds input through the line reader and the state machine; routed recipients are accepted for `host`. */
function drive(
  input: string,
  options: Partial<StateOptions> = {},
  host = 'alice',
): { steps: string[]; state: SessionState } {
  const state = new SessionState({ ...OPTIONS, ...options });
  const reader = new LineReader(512);
  reader.push(Buffer.from(input, 'latin1'));
  const steps: string[] = [];
  for (let event = reader.next(); event; event = reader.next()) {
    if (event.kind === 'too-long') {
      steps.push('too-long');
      continue;
    }
    const step = state.handle(event.line);
    steps.push(describeStep(step));
    if (step.kind === 'rcpt') state.recipientAccepted(host);
    if (step.kind === 'data' || step.kind === 'rset') state.endTransaction();
  }
  return { steps, state };
}

describe('SessionState: order of commands', () => {
  test('a whole pipelined transaction in one packet', () => {
    const { steps } = drive(
      'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@alice.example-dyn.test>\r\nRCPT TO:<v@alice.example-dyn.test>\r\nDATA\r\n',
    );
    assert.deepEqual(steps, [
      '250-mx.example-dyn.test',
      '250 2.1.0 Ok',
      'rcpt u@alice.example-dyn.test',
      'rcpt v@alice.example-dyn.test',
      'data',
    ]);
  });
  test('commands before HELO, RCPT before MAIL, nested MAIL, DATA without recipients', () => {
    const { steps } = drive(
      'MAIL FROM:<a@b.example>\r\nRCPT TO:<a@b.example>\r\nDATA\r\nHELO c\r\nRCPT TO:<a@b.example>\r\nDATA\r\nMAIL FROM:<a@b.example>\r\nMAIL FROM:<a@b.example>\r\nDATA\r\n',
    );
    assert.deepEqual(steps, [
      '503 5.5.1 Error: send HELO/EHLO first',
      '503 5.5.1 Error: send HELO/EHLO first',
      '503 5.5.1 Error: send HELO/EHLO first',
      '250 mx.example-dyn.test',
      '503 5.5.1 Error: need MAIL command',
      '503 5.5.1 Error: need MAIL command',
      '250 2.1.0 Ok',
      '503 5.5.1 Error: nested MAIL command',
      '554 5.5.1 Error: no valid recipients',
    ]);
  });
  test('EHLO lists the extensions; HELO gets none; STARTTLS only before TLS', () => {
    const state = new SessionState(OPTIONS);
    const ehlo = state.handle(Buffer.from('EHLO c.example'));
    assert.equal(ehlo.kind, 'helo');
    if (ehlo.kind !== 'helo') return;
    assert.equal(
      formatReply(ehlo.reply),
      '250-mx.example-dyn.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 STARTTLS\r\n',
    );
    assert.equal(state.handle(Buffer.from('STARTTLS')).kind, 'starttls');
    state.tlsStarted();
    assert.equal(state.phase, 'greeted');
    assert.equal(state.helo, undefined);
    const again = state.handle(Buffer.from('EHLO c.example'));
    assert.ok(again.kind === 'helo' && !formatReply(again.reply).includes('STARTTLS'));
    assert.equal(describeStep(state.handle(Buffer.from('STARTTLS'))), '554 5.5.1 Error: TLS already active');
    const helo = new SessionState(OPTIONS).handle(Buffer.from('HELO c.example'));
    assert.ok(helo.kind === 'helo' && formatReply(helo.reply) === '250 mx.example-dyn.test\r\n');
  });
  test('no certificate: no STARTTLS offered or accepted', () => {
    const { steps } = drive('EHLO c\r\nSTARTTLS\r\n', { tlsConfigured: false });
    assert.equal(steps[1], '502 5.5.1 Error: command not implemented');
  });
  test('STARTTLS inside a transaction or with arguments is refused', () => {
    const { steps } = drive('EHLO c\r\nSTARTTLS now\r\nMAIL FROM:<a@b.example>\r\nSTARTTLS\r\n');
    assert.deepEqual(steps.slice(1), [
      '501 5.5.4 Syntax: STARTTLS',
      '250 2.1.0 Ok',
      '503 5.5.1 Error: MAIL transaction in progress',
    ]);
  });
  test('RSET, NOOP, VRFY, HELP, QUIT, unknown and refused commands', () => {
    const { steps } = drive(
      'EHLO c\r\nRSET\r\nNOOP\r\nVRFY root\r\nHELP\r\nEXPN staff\r\nAUTH PLAIN x\r\nXCLIENT ADDR=1.2.3.4\r\nBDAT 10 LAST\r\nFOO\r\nQUIT\r\n',
    );
    assert.deepEqual(steps.slice(1), [
      'rset',
      '250 2.0.0 Ok',
      '252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery',
      '214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY QUIT STARTTLS',
      '502 5.5.1 Error: command not implemented',
      '502 5.5.1 Error: command not implemented',
      '502 5.5.1 Error: command not implemented',
      '502 5.5.1 Error: command not implemented',
      '500 5.5.2 Error: command not recognized',
      'quit',
    ]);
  });
  test('EHLO in the middle of a transaction ends it', () => {
    const { steps, state } = drive(
      'EHLO c\r\nMAIL FROM:<a@b.example>\r\nEHLO c\r\nRCPT TO:<u@alice.example-dyn.test>\r\n',
    );
    assert.equal(steps[3], '503 5.5.1 Error: need MAIL command');
    assert.equal(state.transaction, undefined);
  });
});

describe('SessionState: addresses and limits', () => {
  test('source routes, percent hacks, bang paths, quoted @ and literals are refused at RCPT', () => {
    const { steps } = drive(
      [
        'EHLO c',
        'MAIL FROM:<@relay.example:s@example.org>',
        'RCPT TO:<@alice.example-dyn.test:victim@elsewhere.example>',
        'RCPT TO:<victim%elsewhere.example@alice.example-dyn.test>',
        'RCPT TO:<elsewhere.example!victim@alice.example-dyn.test>',
        'RCPT TO:<"victim@elsewhere.example"@alice.example-dyn.test>',
        'RCPT TO:<u@[127.0.0.1]>',
        'RCPT TO:<postmaster>',
        'RCPT TO:<u@alice.example-dyn.test> NOTIFY=NEVER',
        'RCPT TO:u@alice.example-dyn.test',
        '',
      ].join('\r\n'),
    );
    assert.deepEqual(steps.slice(1), [
      '250 2.1.0 Ok',
      '550 5.7.1 <victim@elsewhere.example>: Recipient address rejected: source routes are not allowed',
      '550 5.7.1 <victim%elsewhere.example@alice.example-dyn.test>: Recipient address rejected: "%" routing is not allowed',
      '550 5.7.1 <elsewhere.example!victim@alice.example-dyn.test>: Recipient address rejected: "!" routing is not allowed',
      '550 5.7.1 <"victim@elsewhere.example"@alice.example-dyn.test>: Recipient address rejected: quoted routing characters are not allowed',
      '554 5.7.1 <u@[127.0.0.1]>: Relay access denied',
      '550 5.1.1 <postmaster>: this relay has no local mailboxes',
      '555 5.5.4 Unsupported option: NOTIFY',
      '501 5.1.3 Bad recipient address syntax',
    ]);
  });
  test('SIZE over the limit, unknown MAIL parameters, non-ASCII without SMTPUTF8', () => {
    const { steps } = drive(
      'EHLO c\r\nMAIL FROM:<a@b.example> SIZE=1001\r\nMAIL FROM:<a@b.example> RET=HDRS\r\nMAIL FROM:<j\u00c3\u00b6@b.example>\r\nMAIL FROM:<j\u00c3\u00b6@b.example> SMTPUTF8\r\n',
    );
    assert.deepEqual(steps.slice(1), [
      '552 5.3.4 Message size exceeds fixed limit',
      '555 5.5.4 Unsupported option: RET',
      '553 5.6.7 Non-ASCII sender address needs SMTPUTF8',
      '250 2.1.0 Ok',
    ]);
  });
  test('recipients per transaction', () => {
    const rcpts = Array.from({ length: 4 }, (_, i) => `RCPT TO:<u${i}@alice.example-dyn.test>`).join('\r\n');
    const { steps } = drive(`EHLO c\r\nMAIL FROM:<a@b.example>\r\n${rcpts}\r\n`);
    assert.equal(steps[4], 'rcpt u2@alice.example-dyn.test');
    assert.equal(steps[5], '452 4.5.3 Error: too many recipients');
  });
  test('transactions per session: the one past the limit closes with 421', () => {
    const tx = 'MAIL FROM:<a@b.example>\r\nRSET\r\n';
    const { steps } = drive(`EHLO c\r\n${tx}${tx}MAIL FROM:<a@b.example>\r\n`);
    assert.equal(
      steps[5],
      '421 4.7.0 mx.example-dyn.test Error: too many transactions in one session [close]',
    );
  });
  test('bad characters (a bare CR smuggling a second command) and long lines', () => {
    const { steps } = drive(`EHLO c\r\nNOOP\rQUIT\r\n${'A'.repeat(600)}\r\nNOOP\r\n`);
    assert.deepEqual(steps.slice(1), [
      '500 5.5.2 Error: bad characters in command',
      'too-long',
      '250 2.0.0 Ok',
    ]);
  });
  test('syntax errors', () => {
    const { steps } = drive(
      'EHLO\r\nHELO\r\nEHLO c\r\nMAIL TO:<a@b.example>\r\nMAIL FROM:a@b.example\r\nDATA x\r\nRSET x\r\nVRFY\r\n',
    );
    assert.deepEqual(steps, [
      '501 5.5.4 Syntax: EHLO hostname',
      '501 5.5.4 Syntax: HELO hostname',
      '250-mx.example-dyn.test',
      '501 5.1.7 Bad sender address syntax',
      '501 5.1.7 Bad sender address syntax',
      '503 5.5.1 Error: need MAIL command',
      '501 5.5.4 Syntax: RSET',
      '501 5.5.4 Syntax: VRFY address',
    ]);
  });
});
