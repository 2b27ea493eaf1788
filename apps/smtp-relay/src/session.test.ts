/**
 * Sessions over real loopback sockets, with hosts from memory and scripted
 * home servers that record every byte (nothing to install): pipelining,
 * STARTTLS injection, smuggling, one host per transaction, limits, stop.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import {
  politeServer,
  rawSmtp,
  type ScriptedBackend,
  startScriptedBackend,
  startTestRelay,
  type TestRelay,
  wrapRawSmtp,
} from '../../../test/support/smtp.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { createStaticHostDirectory } from './hosts.ts';
import { TEST_CERT_FILE, TEST_KEY_FILE } from './testing/fixtures.ts';
import { mailHost, TEST_ZONE } from './testing/hosts.ts';

const ZONE = TEST_ZONE;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function backend(options: Parameters<typeof politeServer>[0] = {}): Promise<ScriptedBackend> {
  const server = await startScriptedBackend(politeServer(options));
  cleanups.push(() => server.close());
  return server;
}

async function relayFor(
  hosts: Parameters<typeof createStaticHostDirectory>[0],
  env: Record<string, string> = {},
): Promise<TestRelay> {
  const relay = await startTestRelay(
    { MYDNS_ZONE: ZONE, ...env },
    { hosts: createStaticHostDirectory(hosts), lookupMx: async () => [] },
  );
  cleanups.push(() => relay.stopAll());
  return relay;
}

/** The replies' first lines, e.g. `250 2.1.0 Ok`. */
async function replies(client: Awaited<ReturnType<typeof rawSmtp>>, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const reply = await client.reply();
    const lines = reply.trimEnd().split('\r\n');
    out.push(lines[lines.length - 1] ?? '');
  }
  return out;
}

/** The body a scripted backend received between its 354 and the final ".". */
function bodyOf(received: Buffer): string {
  const text = received.toString('latin1');
  const start = text.indexOf('DATA\r\n') + 'DATA\r\n'.length;
  const end = text.indexOf('\r\n.\r\n', start);
  return text.slice(start, end + 2);
}

describe('relay sessions (loopback, scripted home servers)', () => {
  test('a whole pipelined transaction in one packet: replies in order, body bytes exact, Received first', async () => {
    const home = await backend();
    const relay = await relayFor([mailHost('alice', home.port)]);
    const client = await rawSmtp(relay.port);
    assert.match(await client.reply(), /^220 relay\.mx\.example-dyn\.test ESMTP/);
    const body = 'Subject: hi\r\n\r\n..leading dot\r\nline\r\n';
    client.send(
      `EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@alice.${ZONE}>\r\nRCPT TO:<v@Alice.${ZONE.toUpperCase()}>\r\nDATA\r\n${body}.\r\nQUIT\r\n`,
    );
    assert.deepEqual(await replies(client, 7), [
      '250 SMTPUTF8',
      '250 2.1.0 Ok',
      '250 2.0.0 Ok',
      '250 2.0.0 Ok',
      '354 End data with <CR><LF>.<CR><LF>',
      '250 2.0.0 Ok: queued',
      '221 2.0.0 Bye',
    ]);
    const [connection] = home.connections();
    assert.ok(connection);
    // The connection stays open, parked for the next session (backend-share.ts): the message's end is there.
    await connection.waitFor('\r\n.\r\n');
    const received = connection.received().toString('latin1');
    assert.match(
      received,
      /^EHLO relay\.mx\.example-dyn\.test\r\nMAIL FROM:<s@example\.org>\r\nRCPT TO:<u@alice\.example-dyn\.test>\r\nRCPT TO:<v@alice\.example-dyn\.test>\r\nDATA\r\n/,
    );
    const delivered = bodyOf(connection.received());
    assert.match(
      delivered,
      /^Received: from c\.example \(unknown \[127\.0\.0\.1\]\)\r\n\tby relay\.mx\.example-dyn\.test \(MyDNS relay\) with ESMTP id [0-9a-f]+;\r\n\t.+\r\n/,
    );
    assert.equal(delivered.slice(delivered.indexOf('Subject:')), body);
  });

  test('smuggling: \\n.\\n and bare CRs cannot end the message at the home server', async () => {
    const home = await backend();
    const relay = await relayFor([mailHost('alice', home.port)]);
    const client = await rawSmtp(relay.port);
    await client.reply();
    client.send(`EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@alice.${ZONE}>\r\nDATA\r\n`);
    assert.deepEqual(await replies(client, 4), [
      '250 SMTPUTF8',
      '250 2.1.0 Ok',
      '250 2.0.0 Ok',
      '354 End data with <CR><LF>.<CR><LF>',
    ]);
    client.send('Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@x>\nRCPT TO:<victim@y>\r.\rDATA\r\n.\r\n');
    assert.deepEqual(await replies(client, 1), ['250 2.0.0 Ok: queued']);
    const [connection] = home.connections();
    const delivered = bodyOf(connection?.received() ?? Buffer.alloc(0));
    assert.equal(
      delivered.slice(delivered.indexOf('Subject:')),
      'Subject: x\r\n\r\nhello\r\n..\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\n..\r\nDATA\r\n',
    );
    // Exactly one message reached the home server: one DATA, one end.
    const all = connection?.received().toString('latin1') ?? '';
    assert.equal(all.split('\r\n.\r\n').length, 2);
  });

  test('a second host in one transaction gets 452 4.5.3; its own transaction reaches its own server', async () => {
    const aliceHome = await backend();
    const bobHome = await backend();
    const relay = await relayFor([mailHost('alice', aliceHome.port), mailHost('bob', bobHome.port)]);
    const client = await rawSmtp(relay.port);
    await client.reply();
    client.send(
      `EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@alice.${ZONE}>\r\nRCPT TO:<v@bob.${ZONE}>\r\nDATA\r\nx\r\n.\r\n`,
    );
    const first = await replies(client, 6);
    assert.equal(first[3], `452 4.5.3 <v@bob.${ZONE}>: use a separate transaction for bob.${ZONE}`);
    assert.equal(first[5], '250 2.0.0 Ok: queued');
    assert.equal(bobHome.connections().length, 0, "bob's server never hears of alice's transaction");
    client.send(`MAIL FROM:<s@example.org>\r\nRCPT TO:<v@bob.${ZONE}>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n`);
    assert.deepEqual(await replies(client, 5), [
      '250 2.1.0 Ok',
      '250 2.0.0 Ok',
      '354 End data with <CR><LF>.<CR><LF>',
      '250 2.0.0 Ok: queued',
      '221 2.0.0 Bye',
    ]);
    await aliceHome.connections()[0]?.waitFor('\r\n.\r\n');
    const bobSaw = bobHome.connections()[0]?.received().toString('latin1') ?? '';
    assert.match(bobSaw, /RCPT TO:<v@bob\.example-dyn\.test>/);
    assert.doesNotMatch(bobSaw, /alice/);
    assert.doesNotMatch(aliceHome.connections()[0]?.received().toString('latin1') ?? '', /bob/);
  });

  test('STARTTLS: plaintext pipelined after it is discarded, state is reset, no STARTTLS offered again', async () => {
    const home = await backend();
    const relay = await relayFor([mailHost('alice', home.port)], {
      MYDNS_RELAY_TLS_CERT: TEST_CERT_FILE,
      MYDNS_RELAY_TLS_KEY: TEST_KEY_FILE,
    });
    const plain = await rawSmtp(relay.port);
    await plain.reply();
    plain.send('EHLO c\r\n');
    assert.match(await plain.reply(), /250 STARTTLS\r\n$/);
    // A man in the middle appends commands to the client's STARTTLS (CVE-2011-0411).
    plain.send(`STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\nRCPT TO:<u@alice.${ZONE}>\r\n`);
    assert.equal(await plain.reply(), '220 2.0.0 Ready to start TLS\r\n');
    plain.socket.removeAllListeners('data');
    const secure = tlsConnect({
      socket: plain.socket,
      rejectUnauthorized: false,
      servername: 'alice.mx.example-dyn.test',
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    const client = wrapRawSmtp(secure as unknown as import('node:net').Socket);
    client.send(
      'RCPT TO:<u@alice.example-dyn.test>\r\nEHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@alice.example-dyn.test>\r\nDATA\r\nbody\r\n.\r\nQUIT\r\n',
    );
    const tlsReplies: string[] = [];
    for (let i = 0; i < 7; i++) tlsReplies.push(await client.reply());
    // The injected MAIL never ran: the first RCPT finds no HELO and no transaction.
    assert.equal(tlsReplies[0], '503 5.5.1 Error: send HELO/EHLO first\r\n');
    assert.doesNotMatch(tlsReplies[1] ?? '', /STARTTLS/);
    assert.equal(tlsReplies[5], '250 2.0.0 Ok: queued\r\n');
    const connection = home.connections()[0];
    await connection?.waitFor('\r\n.\r\n');
    const saw = connection?.received().toString('latin1') ?? '';
    assert.doesNotMatch(saw, /evil/);
    assert.match(saw, /with ESMTPS id [0-9a-f]+\r\n\t\(using TLSv1\.[23] with cipher /);
  });

  test('long lines, bad characters, unknown domains, the error limit', async () => {
    const relay = await relayFor([], { MYDNS_RELAY_MAX_ERRORS: '5' });
    const client = await rawSmtp(relay.port);
    await client.reply();
    client.send(
      `EHLO c\r\n${'N'.repeat(3000)}\r\nNOOP\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<x@gmail.com>\r\nRCPT TO:<x@${ZONE}>\r\nRCPT TO:<x@nobody.${ZONE}>\r\nNOOP\rRSET\r\nNOOP\r\n`,
    );
    assert.deepEqual(await replies(client, 9), [
      '250 SMTPUTF8',
      '500 5.5.2 Error: line too long',
      '250 2.0.0 Ok',
      '250 2.1.0 Ok',
      '554 5.7.1 <x@gmail.com>: Relay access denied',
      `554 5.7.1 <x@${ZONE}>: Relay access denied`,
      `554 5.7.1 <x@nobody.${ZONE}>: Relay access denied`,
      '500 5.5.2 Error: bad characters in command',
      '421 4.7.0 relay.mx.example-dyn.test Error: too many errors',
    ]);
    await client.rest();
  });

  test('an oversized message: 552 5.3.4, and the home server never sees its end', async () => {
    const home = await backend();
    const relay = await relayFor([mailHost('alice', home.port)], { MYDNS_RELAY_MAX_MESSAGE_SIZE: '2000' });
    const client = await rawSmtp(relay.port);
    await client.reply();
    client.send(`EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@alice.${ZONE}>\r\nDATA\r\n`);
    await replies(client, 4);
    client.send(`${'x'.repeat(998)}\r\n`.repeat(5));
    client.send('.\r\nNOOP\r\n');
    assert.deepEqual(await replies(client, 2), [
      '552 5.3.4 Message size exceeds fixed limit',
      '250 2.0.0 Ok',
    ]);
    const connection = home.connections()[0];
    assert.ok(connection);
    await waitFor(() => connection.socket.destroyed, {
      message: 'the relay to drop the home server connection',
      timeoutMs: 2000,
      intervalMs: 20,
    });
    assert.doesNotMatch(connection.received().toString('latin1'), /\r\n\.\r\n/);
  });

  test('timeouts: idle, and a line that trickles in', async () => {
    const relay = await relayFor([], {
      MYDNS_RELAY_IDLE_TIMEOUT: '300ms',
      MYDNS_RELAY_LINE_TIMEOUT: '400ms',
    });
    const idle = await rawSmtp(relay.port);
    await idle.reply();
    assert.equal(await idle.reply(), '421 4.4.2 relay.mx.example-dyn.test Error: timeout exceeded\r\n');
    const slow = await rawSmtp(relay.port);
    await slow.reply();
    const started = Date.now();
    const timer = setInterval(() => slow.send('E'), 100);
    try {
      assert.equal(await slow.reply(), '421 4.4.2 relay.mx.example-dyn.test Error: timeout exceeded\r\n');
    } finally {
      clearInterval(timer);
    }
    assert.ok(Date.now() - started < 1500, 'closed at the line deadline, not kept alive by each byte');
  });

  test('connection limits: per client address and in all', async () => {
    const relay = await relayFor([], { MYDNS_RELAY_CLIENT_SESSIONS: '2', MYDNS_RELAY_MAX_SESSIONS: '3' });
    const a = await rawSmtp(relay.port);
    const b = await rawSmtp(relay.port);
    await a.reply();
    await b.reply();
    const third = await rawSmtp(relay.port);
    assert.equal(
      await third.reply(),
      '421 4.7.0 relay.mx.example-dyn.test Error: too many connections from 127.0.0.1\r\n',
    );
    const other = await rawSmtp(relay.port, { localAddress: '127.0.0.2' });
    assert.match(await other.reply(), /^220 /);
    const fourth = await rawSmtp(relay.port, { localAddress: '127.0.0.3' });
    assert.equal(
      await fourth.reply(),
      '421 4.3.2 relay.mx.example-dyn.test Service not available, too many sessions\r\n',
    );
    for (const client of [a, b, third, other, fourth]) client.close();
  });

  test('graceful stop: idle sessions get 421 at once, a transaction in progress finishes first', async () => {
    const home = await backend();
    const relay = await startTestRelay(
      { MYDNS_ZONE: ZONE, MYDNS_RELAY_STOP_GRACE: '5s' },
      { hosts: createStaticHostDirectory([mailHost('alice', home.port)]), lookupMx: async () => [] },
    );
    const idle = await rawSmtp(relay.port);
    await idle.reply();
    const busy = await rawSmtp(relay.port);
    await busy.reply();
    busy.send(`EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@alice.${ZONE}>\r\nDATA\r\n`);
    await replies(busy, 4);
    const stopping = relay.stopAll();
    assert.equal(
      await idle.reply(),
      '421 4.3.2 relay.mx.example-dyn.test Service shutting down, try again later\r\n',
    );
    busy.send('body\r\n.\r\nNOOP\r\n');
    assert.deepEqual(await replies(busy, 2), [
      '250 2.0.0 Ok: queued',
      '421 4.3.2 relay.mx.example-dyn.test Service shutting down, try again later',
    ]);
    await stopping;
  });
});
