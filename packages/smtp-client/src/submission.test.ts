/**
 * Submission sessions against a scripted server on a loopback socket, which
 * records every line it gets (TLS, with real peers, is in
 * test/integration/mail.test.ts).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { freePort } from '../../../test/support/ports.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { SmtpRejection } from './commands.ts';
import { SmtpError } from './errors.ts';
import { openSubmission, type SubmissionOptions } from './submission.ts';

interface Script {
  greeting?: string;
  ehlo?: string[];
  /** Answers a command line; undefined: the default (250, 354 for DATA, 221 for QUIT). */
  answer?: (line: string) => string | undefined;
}

interface Recorded {
  /** Command lines, and the message bodies as one entry each (`<body>` + the text). */
  lines: string[];
  /** The raw bytes of each TCP read, to see what came in one packet. */
  packets: string[];
}

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

async function scriptedServer(script: Script): Promise<{ port: number; recorded: Recorded }> {
  const recorded: Recorded = { lines: [], packets: [] };
  const server = createServer((socket: Socket) => {
    socket.on('error', () => undefined);
    socket.write(`${script.greeting ?? '220 smtp.test ESMTP'}\r\n`);
    let pending = '';
    let inData = false;
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      recorded.packets.push(text);
      pending += text;
      for (;;) {
        if (inData) {
          const end = pending.indexOf('\r\n.\r\n');
          if (end === -1) return;
          recorded.lines.push(`<body>${pending.slice(0, end + 2)}`);
          pending = pending.slice(end + 5);
          inData = false;
          socket.write(`${script.answer?.('<end>') ?? '250 2.0.0 Ok: queued'}\r\n`);
          continue;
        }
        const lf = pending.indexOf('\r\n');
        if (lf === -1) return;
        const line = pending.slice(0, lf);
        pending = pending.slice(lf + 2);
        recorded.lines.push(line);
        const custom = script.answer?.(line);
        if (custom !== undefined) {
          if (custom !== '') socket.write(`${custom}\r\n`);
          continue;
        }
        const verb = line.split(' ')[0]?.toUpperCase();
        if (verb === 'EHLO') {
          const lines = ['smtp.test', ...(script.ehlo ?? ['PIPELINING', '8BITMIME'])];
          socket.write(lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 Bye\r\n');
        } else {
          socket.write('250 2.0.0 Ok\r\n');
        }
      }
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, recorded };
}

const options = (port: number, more: Partial<SubmissionOptions> = {}): SubmissionOptions => ({
  host: '127.0.0.1',
  port,
  security: 'starttls',
  tls: 'verify',
  clientName: 'dyn.example.net',
  timeouts: { connectMs: 5000, replyMs: 5000, finalMs: 5000 },
  ...more,
});

const MESSAGE = 'Subject: hi\r\n\r\n.leading dot\nbare LF\r\n';

describe('openSubmission', () => {
  test('without credentials or STARTTLS: EHLO, MAIL and RCPT in one packet, the body stuffed, QUIT', async () => {
    const { port, recorded } = await scriptedServer({});
    const session = await openSubmission(options(port));
    assert.equal(session.authenticated, undefined);
    const { reply } = await session.send({ from: 'no-reply@example.net', to: ['bob@example.org'] }, MESSAGE);
    assert.equal(reply.code, 250);
    session.close();
    await waitFor(() => recorded.lines.includes('QUIT'), { message: 'QUIT at the server' });
    assert.deepEqual(recorded.lines, [
      'EHLO dyn.example.net',
      'MAIL FROM:<no-reply@example.net>',
      'RCPT TO:<bob@example.org>',
      'DATA',
      '<body>Subject: hi\r\n\r\n..leading dot\r\nbare LF\r\n',
      'QUIT',
    ]);
    assert.ok(
      recorded.packets.includes('MAIL FROM:<no-reply@example.net>\r\nRCPT TO:<bob@example.org>\r\n'),
      'pipelined',
    );
  });

  test('without PIPELINING, one command at a time; a refused MAIL names no recipient', async () => {
    const { port, recorded } = await scriptedServer({
      ehlo: ['8BITMIME'],
      answer: (line) => (line.startsWith('MAIL') ? '553 5.7.1 sender not owned' : undefined),
    });
    const session = await openSubmission(options(port));
    const refused = await session
      .send({ from: 'x@example.net', to: ['bob@example.org'] }, MESSAGE)
      .catch((e: unknown) => e);
    assert.ok(refused instanceof SmtpRejection);
    assert.equal(refused.at, 'mail');
    assert.equal(refused.permanent, true);
    assert.ok(!recorded.lines.some((line) => line.startsWith('RCPT')));
    assert.equal(recorded.lines.at(-1), 'RSET');
    session.abort();
  });

  test('a refused recipient is a rejection after RSET, and the session carries the next message', async () => {
    const { port, recorded } = await scriptedServer({
      answer: (line) =>
        line === 'RCPT TO:<nobody@example.org>' ? '550 5.1.1 <nobody@example.org>: unknown' : undefined,
    });
    const session = await openSubmission(options(port));
    const refused = await session
      .send({ from: 'a@example.net', to: ['nobody@example.org'] }, MESSAGE)
      .catch((e: unknown) => e);
    assert.ok(refused instanceof SmtpRejection && refused.at === 'rcpt' && refused.reply.code === 550);
    assert.ok(recorded.lines.includes('RSET'));
    assert.ok(!recorded.lines.includes('DATA'), 'no DATA after a refused recipient');
    assert.equal(
      (await session.send({ from: 'a@example.net', to: ['bob@example.org'] }, MESSAGE)).reply.code,
      250,
    );
    session.abort();
  });

  test('a 4xx after the end of data is a temporary rejection', async () => {
    const { port } = await scriptedServer({
      answer: (line) => (line === '<end>' ? '451 4.3.0 try later' : undefined),
    });
    const session = await openSubmission(options(port));
    const refused = await session
      .send({ from: 'a@example.net', to: ['b@example.org'] }, MESSAGE)
      .catch((e: unknown) => e);
    assert.ok(refused instanceof SmtpRejection && refused.at === 'final' && !refused.permanent);
    session.abort();
  });

  test('credentials are never sent where the server offers no STARTTLS (unless tls is none)', async () => {
    const { port, recorded } = await scriptedServer({ ehlo: ['AUTH PLAIN LOGIN'] });
    const refused = await openSubmission(
      options(port, { credentials: { user: 'mailer', pass: 'not-in-plaintext' } }),
    ).catch((e: unknown) => e);
    assert.ok(refused instanceof SmtpError && refused.kind === 'protocol');
    assert.match(refused.message, /not sent without TLS/);
    assert.ok(!recorded.lines.some((line) => line.startsWith('AUTH')));
  });

  test('AUTH PLAIN with the initial response (tls none: plaintext by choice)', async () => {
    const { port, recorded } = await scriptedServer({
      ehlo: ['AUTH LOGIN PLAIN'],
      answer: (line) => (line.startsWith('AUTH') ? '235 2.7.0 Authentication successful' : undefined),
    });
    const session = await openSubmission(
      options(port, { tls: 'none', credentials: { user: 'mailer', pass: 's3cret' } }),
    );
    assert.equal(session.authenticated, 'PLAIN');
    assert.ok(recorded.lines.includes(`AUTH PLAIN ${Buffer.from('\0mailer\0s3cret').toString('base64')}`));
    session.abort();
  });

  test('AUTH LOGIN: user name and password, each in answer to its 334 prompt', async () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const { port, recorded } = await scriptedServer({
      ehlo: ['AUTH LOGIN'],
      answer: (line) => {
        if (line === 'AUTH LOGIN') return `334 ${b64('Username:')}`;
        if (line === b64('mailer')) return `334 ${b64('Password:')}`;
        if (line === b64('s3cret')) return '235 2.7.0 Ok';
        return undefined;
      },
    });
    const session = await openSubmission(
      options(port, { tls: 'none', credentials: { user: 'mailer', pass: 's3cret' } }),
    );
    assert.equal(session.authenticated, 'LOGIN');
    assert.deepEqual(recorded.lines.slice(1, 4), ['AUTH LOGIN', b64('mailer'), b64('s3cret')]);
    session.abort();
  });

  test('wrong credentials are an auth failure; an AUTH we do not speak too', async () => {
    const wrong = await scriptedServer({
      ehlo: ['AUTH PLAIN'],
      answer: (line) => (line.startsWith('AUTH') ? '535 5.7.8 Error: authentication failed' : undefined),
    });
    const failed = await openSubmission(
      options(wrong.port, { tls: 'none', credentials: { user: 'u', pass: 'wrong-one' } }),
    ).catch((e: unknown) => e);
    assert.ok(failed instanceof SmtpError && failed.kind === 'auth' && failed.reply?.code === 535);
    const exotic = await scriptedServer({ ehlo: ['AUTH CRAM-MD5 XOAUTH2'] });
    const unknown = await openSubmission(
      options(exotic.port, { tls: 'none', credentials: { user: 'u', pass: 'whatever1' } }),
    ).catch((e: unknown) => e);
    assert.ok(unknown instanceof SmtpError && unknown.kind === 'auth');
  });

  test('a 554 greeting, a refused EHLO and HELO, a silent server, a closed port', async () => {
    const busy = await scriptedServer({ greeting: '554 5.3.2 not now' });
    const e1 = await openSubmission(options(busy.port)).catch((e: unknown) => e);
    assert.ok(e1 instanceof SmtpError && e1.kind === 'protocol' && e1.reply?.code === 554);

    const grumpy = await scriptedServer({ answer: (l) => (/^(EHLO|HELO)/.test(l) ? '502 no' : undefined) });
    const e2 = await openSubmission(options(grumpy.port)).catch((e: unknown) => e);
    assert.ok(e2 instanceof SmtpError && /EHLO and HELO refused/.test(e2.message));

    const silent = await scriptedServer({ greeting: '220-still typing' });
    const e3 = await openSubmission(
      options(silent.port, { timeouts: { connectMs: 5000, replyMs: 100, finalMs: 100 } }),
    ).catch((e: unknown) => e);
    assert.ok(e3 instanceof SmtpError && /no reply within 100 ms/.test(e3.message));

    // A port of our own that nothing listens on.
    const e4 = await openSubmission(options(await freePort())).catch((e: unknown) => e);
    assert.ok(e4 instanceof SmtpError && e4.kind === 'connect');
  });

  test('addresses that would break the command line are refused before anything is sent', async () => {
    const { port, recorded } = await scriptedServer({});
    const session = await openSubmission(options(port));
    for (const to of ['bob@example.org>\r\nRCPT TO:<eve@example.org', 'a b@example.org', 'bob@exämple.org']) {
      const refused = await session
        .send({ from: 'a@example.net', to: [to] }, MESSAGE)
        .catch((e: unknown) => e);
      assert.ok(refused instanceof SmtpError && refused.kind === 'protocol', to);
    }
    assert.ok(!recorded.lines.some((line) => line.startsWith('MAIL')));
    session.abort();
  });
});
