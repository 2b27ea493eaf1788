/**
 * Backend connections shared across client sessions (backend-share.ts), over
 * real loopback sockets with scripted home servers that record every byte:
 * taken over where the home server cannot tell (`none`, `xclient` with this
 * client's own XCLIENT), never with a PROXY header, never in the middle of a
 * transaction, and not at all with MYDNS_RELAY_BACKEND_SHARE=false.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type IpAddress, parseIpAddress } from '@mydns/domain';
import {
  politeServer,
  rawSmtp,
  type ScriptedBackend,
  startScriptedBackend,
  startTestRelay,
  type TestRelay,
} from '../../../test/support/smtp.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { createBackendSlots } from './backend-pool.ts';
import { createStaticHostDirectory } from './hosts.ts';
import { mailHost, TEST_ZONE } from './testing/hosts.ts';

const ZONE = TEST_ZONE;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const XCLIENT_EXTENSIONS = ['PIPELINING', '8BITMIME', 'XCLIENT NAME ADDR PORT PROTO HELO'];

async function home(extensions?: readonly string[]): Promise<ScriptedBackend> {
  const server = await startScriptedBackend(politeServer(extensions ? { extensions } : {}));
  cleanups.push(() => server.close());
  return server;
}

async function relayFor(
  host: ReturnType<typeof mailHost>,
  env: Record<string, string> = {},
): Promise<TestRelay> {
  const relay = await startTestRelay(
    { MYDNS_ZONE: ZONE, ...env },
    { hosts: createStaticHostDirectory([host]), lookupMx: async () => [] },
  );
  cleanups.push(() => relay.stopAll());
  return relay;
}

/** One whole session: a message to alice from `localAddress`, introduced as `helo`; the last reply. */
async function sendOne(relayPort: number, localAddress: string, helo: string): Promise<string> {
  const client = await rawSmtp(relayPort, { localAddress });
  await client.reply();
  client.send(`EHLO ${helo}\r\n`);
  await client.reply();
  client.send(`MAIL FROM:<s@${helo}>\r\nRCPT TO:<u@alice.${ZONE}>\r\nDATA\r\n`);
  for (let i = 0; i < 3; i++) await client.reply();
  client.send('Subject: x\r\n\r\nhello\r\n.\r\n');
  const done = await client.reply();
  client.send('QUIT\r\n');
  await client.reply();
  client.close();
  return done.trim();
}

const count = (text: string, what: string) => text.split(what).length - 1;

describe('backend connections shared across sessions', () => {
  test('`none`: the next session takes the connection over after an RSET; one connection, both messages', async () => {
    const server = await home();
    const relay = await relayFor(mailHost('alice', server.port));
    assert.equal(await sendOne(relay.port, '127.0.0.2', 'one.example'), '250 2.0.0 Ok: queued');
    assert.equal(await sendOne(relay.port, '127.0.0.3', 'two.example'), '250 2.0.0 Ok: queued');
    assert.equal(server.connections().length, 1);
    const saw = server.connections()[0]?.received().toString('latin1') ?? '';
    assert.equal(count(saw, '\r\n.\r\n'), 2);
    assert.match(saw, /\r\n\.\r\nRSET\r\nMAIL FROM:<s@two\.example>/);
    assert.doesNotMatch(saw, /QUIT/, 'parked, not closed');
  });

  test('`xclient`: the next client sends its own XCLIENT and EHLO before its MAIL', async () => {
    const server = await home(XCLIENT_EXTENSIONS);
    const relay = await relayFor(mailHost('alice', server.port, { mail: { clientAddress: 'xclient' } }));
    assert.equal(await sendOne(relay.port, '127.0.0.2', 'one.example'), '250 2.0.0 Ok: queued');
    assert.equal(await sendOne(relay.port, '127.0.0.3', 'two.example'), '250 2.0.0 Ok: queued');
    assert.equal(server.connections().length, 1);
    const saw = server.connections()[0]?.received().toString('latin1') ?? '';
    const first =
      /XCLIENT PROTO=ESMTP HELO=one\.example NAME=\[UNAVAILABLE\] PORT=\d+ ADDR=127\.0\.0\.2\r\nEHLO one\.example\r\nMAIL FROM:<s@one\.example>/;
    const second =
      /\r\n\.\r\nXCLIENT PROTO=ESMTP HELO=two\.example NAME=\[UNAVAILABLE\] PORT=\d+ ADDR=127\.0\.0\.3\r\nEHLO two\.example\r\nMAIL FROM:<s@two\.example>/;
    assert.match(saw, first);
    assert.match(saw, second);
  });

  test('a home server that refuses the second XCLIENT: the connection goes, a new one carries the mail', async () => {
    let xclients = 0;
    const server = await startScriptedBackend(
      politeServer({
        extensions: XCLIENT_EXTENSIONS,
        override: (line, c) => {
          if (!line.startsWith('XCLIENT')) return false;
          xclients++;
          // Refuse every XCLIENT after the first on a connection (each connection's first is its own).
          const own = c.received().toString('latin1').split('XCLIENT').length - 1;
          c.send(
            own > 1 ? '550 5.7.0 Error: insufficient authorization\r\n' : '220 home.scripted.test ESMTP\r\n',
          );
          return true;
        },
      }),
    );
    cleanups.push(() => server.close());
    const relay = await relayFor(mailHost('alice', server.port, { mail: { clientAddress: 'xclient' } }));
    assert.equal(await sendOne(relay.port, '127.0.0.2', 'one.example'), '250 2.0.0 Ok: queued');
    assert.equal(await sendOne(relay.port, '127.0.0.3', 'two.example'), '250 2.0.0 Ok: queued');
    assert.equal(xclients, 3);
    assert.equal(server.connections().length, 2);
    const second = server.connections()[1]?.received().toString('latin1') ?? '';
    assert.match(
      second,
      /XCLIENT [^\r]*ADDR=127\.0\.0\.3\r\nEHLO two\.example\r\nMAIL FROM:<s@two\.example>/,
    );
    const first = server.connections()[0]?.received().toString('latin1') ?? '';
    assert.doesNotMatch(
      first,
      /MAIL FROM:<s@two\.example>/,
      "the second client's mail never went where its XCLIENT was refused",
    );
  });

  test("two hosts at one address and port: never each other's connection (counted per host)", async () => {
    const server = await home();
    const relay = await startTestRelay(
      { MYDNS_ZONE: ZONE },
      {
        hosts: createStaticHostDirectory([mailHost('alice', server.port), mailHost('bob', server.port)]),
        lookupMx: async () => [],
      },
    );
    cleanups.push(() => relay.stopAll());
    await sendOne(relay.port, '127.0.0.2', 'one.example');
    const client = await rawSmtp(relay.port, { localAddress: '127.0.0.3' });
    await client.reply();
    client.send(`EHLO two.example\r\nMAIL FROM:<s@two.example>\r\nRCPT TO:<u@bob.${ZONE}>\r\nQUIT\r\n`);
    for (let i = 0; i < 4; i++) await client.reply();
    client.close();
    assert.equal(server.connections().length, 2);
  });

  test('`proxy-v2`: never shared (the header names one client, once)', async () => {
    const server = await home();
    const relay = await relayFor(mailHost('alice', server.port, { mail: { clientAddress: 'proxy-v2' } }));
    await sendOne(relay.port, '127.0.0.2', 'one.example');
    await sendOne(relay.port, '127.0.0.3', 'two.example');
    assert.equal(server.connections().length, 2);
  });

  test('a session that ends in the middle of a transaction: its connection is cut, never shared', async () => {
    const server = await home();
    const relay = await relayFor(mailHost('alice', server.port));
    const client = await rawSmtp(relay.port, { localAddress: '127.0.0.2' });
    await client.reply();
    client.send(`EHLO one.example\r\nMAIL FROM:<s@one.example>\r\nRCPT TO:<u@alice.${ZONE}>\r\n`);
    for (let i = 0; i < 3; i++) await client.reply();
    client.close();
    await waitFor(() => server.connections()[0]?.socket.destroyed === true, {
      message: 'the half-done connection to close',
    });
    assert.equal(await sendOne(relay.port, '127.0.0.3', 'two.example'), '250 2.0.0 Ok: queued');
    assert.equal(server.connections().length, 2);
    assert.doesNotMatch(server.connections()[0]?.received().toString('latin1') ?? '', /two\.example/);
  });

  test('MYDNS_RELAY_BACKEND_SHARE=false: every session opens its own and QUITs it', async () => {
    const server = await home();
    const relay = await relayFor(mailHost('alice', server.port), { MYDNS_RELAY_BACKEND_SHARE: 'false' });
    await sendOne(relay.port, '127.0.0.2', 'one.example');
    await sendOne(relay.port, '127.0.0.3', 'two.example');
    assert.equal(server.connections().length, 2);
    await server.connections()[0]?.waitFor('QUIT\r\n');
  });

  test('the relay stops: parked connections QUIT', async () => {
    const server = await home();
    const relay = await relayFor(mailHost('alice', server.port));
    await sendOne(relay.port, '127.0.0.2', 'one.example');
    await relay.stop();
    await server.connections()[0]?.waitFor('QUIT\r\n');
  });
});

describe('backend slots of parked connections', () => {
  const ip = (text: string) => parseIpAddress(text) as IpAddress;
  test('a parked connection keeps its place in the host count, gives back the client share, and is claimed once', () => {
    const slots = createBackendSlots({ perHost: 2, perClientHost: 1, ipv6Prefix: 64 });
    const first = slots.acquire('alice', ip('203.0.113.1'));
    assert.ok(first.granted);
    const parked = first.park();
    // The client's share is free again; the host's count is not.
    const again = slots.acquire('alice', ip('203.0.113.1'));
    assert.ok(again.granted);
    assert.deepEqual(slots.acquire('alice', ip('203.0.113.2')), { granted: false, limit: 'host' });
    // The same client holds its share: it cannot take the parked one too.
    assert.deepEqual(parked.claim(ip('203.0.113.1')), { granted: false, limit: 'client-host' });
    const claimed = parked.claim(ip('203.0.113.2'));
    assert.ok(claimed.granted);
    assert.deepEqual(parked.claim(ip('203.0.113.3')), { granted: false, limit: 'host' }, 'claimed once');
    parked.release(); // spent: no effect
    claimed.release();
    again.release();
    assert.ok(slots.acquire('alice', ip('203.0.113.4')).granted);
    assert.ok(slots.acquire('alice', ip('203.0.113.5')).granted);
    assert.deepEqual(slots.acquire('alice', ip('203.0.113.6')), { granted: false, limit: 'host' });
  });
});
