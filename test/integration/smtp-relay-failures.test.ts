/**
 * The relay against scripted home servers that misbehave (node:net, every
 * byte recorded), with hosts in a real Postgres. Every failure on our side
 * is a 4xx, so the sending MTA keeps the mail and retries: nothing is lost.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createSecureContext, TLSSocket } from 'node:tls';
import pg from 'pg';
import { TEST_CERT_FILE, TEST_KEY_FILE } from '../../apps/smtp-relay/src/testing/fixtures.ts';
import { createTestDatabase } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import {
  politeServer,
  rawSmtp,
  type ScriptedBackend,
  type ScriptedConnection,
  startScriptedBackend,
  startTestRelay,
  type TestRelay,
} from '../support/smtp.ts';
import { waitFor } from '../support/wait.ts';

const ZONE = 'relay-failures.test';
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: pg.Client;
let relay: TestRelay;
const cleanups: (() => Promise<unknown>)[] = [];
let hostCount = 0;

before(async () => {
  database = await createTestDatabase();
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  relay = await startTestRelay({
    DATABASE_URL: database.url,
    MYDNS_ZONE: ZONE,
    MYDNS_RELAY_BACKEND_GREETING_TIMEOUT: '1s',
    MYDNS_RELAY_HOST_SESSIONS: '1',
  });
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await relay?.stopAll();
  await db?.end();
  await database?.drop();
});

/** A new host forwarding to `port` on 127.0.0.1; returns its name. */
async function hostAt(
  port: number,
  clientAddress = 'none',
  tls: { mode: string; fingerprint?: string } = { mode: 'none' },
): Promise<string> {
  const name = `h${++hostCount}`;
  await db.query(
    `insert into hosts (zone, name, password_hash, ipv4, mail_enabled, mail_port, mail_client_address, mail_tls, mail_tls_fingerprint)
     values ($6, $1, 'x', '127.0.0.1', true, $2, $3, $4, $5)`,
    [name, port, clientAddress, tls.mode, tls.fingerprint ?? null, ZONE],
  );
  return name;
}

/**
 * A home server that offers STARTTLS with the test certificate; records the
 * commands it got after the handshake.
 */
function tlsHome(afterTls: string[]) {
  const context = createSecureContext({
    cert: readFileSync(TEST_CERT_FILE),
    key: readFileSync(TEST_KEY_FILE),
  });
  return (c: ScriptedConnection) => {
    let socket: Socket = c.socket;
    let secured = false;
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let lf = pending.indexOf('\r\n'); lf !== -1; lf = pending.indexOf('\r\n')) {
        const line = pending.slice(0, lf);
        pending = pending.slice(lf + 2);
        if (secured) afterTls.push(line);
        const verb = line.split(' ')[0]?.toUpperCase();
        if (verb === 'EHLO') {
          socket.write(
            `250-home.tls.test\r\n250-PIPELINING\r\n${secured ? '' : '250-STARTTLS\r\n'}250 8BITMIME\r\n`,
          );
        } else if (verb === 'STARTTLS') {
          socket.write('220 2.0.0 Ready to start TLS\r\n');
          socket.off('data', onData);
          const secure = new TLSSocket(socket, { isServer: true, secureContext: context });
          secure.on('error', () => undefined);
          secure.on('data', onData);
          socket = secure;
          secured = true;
          pending = '';
          return;
        } else if (verb === 'QUIT') {
          socket.end('221 bye\r\n');
        } else {
          socket.write('250 2.0.0 Ok\r\n');
        }
      }
    };
    socket.on('data', onData);
    socket.write('220 home.tls.test ESMTP\r\n');
  };
}

async function scripted(script: (c: ScriptedConnection) => Promise<void> | void): Promise<ScriptedBackend> {
  const backend = await startScriptedBackend(script);
  cleanups.push(() => backend.close());
  return backend;
}

/** EHLO, MAIL, RCPT to `<host>.<zone>`; the reply to RCPT (one line). */
async function rcptReply(host: string, options: { localAddress?: string } = {}): Promise<string> {
  const client = await rawSmtp(relay.port, options);
  try {
    await client.reply();
    client.send('EHLO client.example.org\r\nMAIL FROM:<sender@example.org>\r\n');
    await client.reply();
    await client.reply();
    client.send(`RCPT TO:<someone@${host}.${ZONE}>\r\n`);
    return (await client.reply()).trimEnd();
  } finally {
    client.close();
  }
}

describe('home servers that fail', () => {
  test('refused: 451 4.4.1', async () => {
    const host = await hostAt(await freePort());
    assert.equal(
      await rcptReply(host),
      `451 4.4.1 No answer from ${host}.${ZONE} mail server, try again later`,
    );
  });

  test('silent (accepts, never greets): 451 4.4.2 after the greeting timeout, nothing sent to it', async () => {
    const backend = await scripted(() => undefined);
    const host = await hostAt(backend.port);
    const started = Date.now();
    assert.equal(
      await rcptReply(host),
      `451 4.4.2 Bad connection to ${host}.${ZONE} mail server, try again later`,
    );
    assert.ok(Date.now() - started >= 900);
    assert.equal(backend.connections()[0]?.received().length, 0, 'not a byte before a 220 banner');
  });

  test('554 greeting: 451 4.4.2 (temporary for us), and no command sent', async () => {
    const backend = await scripted((c) => c.send('554 5.7.1 go away\r\n'));
    const host = await hostAt(backend.port);
    assert.equal(
      await rcptReply(host),
      `451 4.4.2 Bad connection to ${host}.${ZONE} mail server, try again later`,
    );
    assert.equal(backend.connections()[0]?.received().length, 0);
  });

  test('something that is not SMTP (an HTTP server): 451 4.4.2, and nothing sent to it', async () => {
    const backend = await scripted((c) => c.send('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    const host = await hostAt(backend.port);
    assert.equal(
      await rcptReply(host),
      `451 4.4.2 Bad connection to ${host}.${ZONE} mail server, try again later`,
    );
    assert.equal(backend.connections()[0]?.received().length, 0);
  });

  test('connection closed after MAIL: 451 4.4.2', async () => {
    const backend = await scripted(
      politeServer({
        override: (line, c) => {
          if (!line.startsWith('MAIL')) return false;
          c.socket.destroy();
          return true;
        },
      }),
    );
    const host = await hostAt(backend.port);
    assert.equal(
      await rcptReply(host),
      `451 4.4.2 Bad connection to ${host}.${ZONE} mail server, try again later`,
    );
  });

  test('a backend 421 is never relayed: 451 4.4.2', async () => {
    const backend = await scripted(
      politeServer({
        override: (line, c) => {
          if (!line.startsWith('RCPT')) return false;
          c.send('421 4.3.0 home shutting down\r\n');
          c.socket.end();
          return true;
        },
      }),
    );
    const host = await hostAt(backend.port);
    assert.equal(
      await rcptReply(host),
      `451 4.4.2 Bad connection to ${host}.${ZONE} mail server, try again later`,
    );
  });

  test("the home server's own answers are relayed: 550 to RCPT, 553 to MAIL (on the RCPT)", async () => {
    const rejecting = await scripted(
      politeServer({
        override: (line, c) => {
          if (!line.startsWith('RCPT')) return false;
          c.send('550-5.1.1 User unknown\r\n550 5.1.1 in virtual mailbox table\r\n');
          return true;
        },
      }),
    );
    assert.equal(
      await rcptReply(await hostAt(rejecting.port)),
      '550-5.1.1 User unknown\r\n550 5.1.1 in virtual mailbox table',
    );
    const senderRefused = await scripted(
      politeServer({
        override: (line, c) => {
          if (!line.startsWith('MAIL')) return false;
          c.send('553 5.7.1 Sender address rejected\r\n');
          return true;
        },
      }),
    );
    assert.equal(await rcptReply(await hostAt(senderRefused.port)), '553 5.7.1 Sender address rejected');
  });

  test('a home server that names us in its EHLO reply (a loop): 451 4.4.6', async () => {
    const backend = await scripted(
      politeServer({
        override: (line, c) => {
          if (!line.startsWith('EHLO')) return false;
          c.send(`250 ${relay.config.hostname}\r\n`);
          return true;
        },
      }),
    );
    const host = await hostAt(backend.port);
    assert.equal(await rcptReply(host), `451 4.4.6 Mail for ${host}.${ZONE} loops back to myself`);
  });

  test('connection lost in the middle of DATA: 451 4.4.2 after the end of data', async () => {
    const backend = await scripted(
      politeServer({
        override: (line, c) => {
          if (!line.startsWith('DATA')) return false;
          c.send('354 go ahead\r\n');
          c.socket.destroySoon();
          return true;
        },
      }),
    );
    const host = await hostAt(backend.port);
    const client = await rawSmtp(relay.port);
    await client.reply();
    client.send(`EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@${host}.${ZONE}>\r\nDATA\r\n`);
    for (let i = 0; i < 4; i++) await client.reply();
    await waitFor(() => backend.connections()[0]?.socket.closed === true, {
      message: 'the backend to close its connection',
      intervalMs: 10,
    });
    // The relay learns of the loss from its own socket's close event, which nothing outside
    // it shows: the shortest pause that lets that event come before the body does.
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.send('Subject: x\r\n\r\nbody\r\n.\r\n');
    assert.equal(
      await client.reply(),
      `451 4.4.2 Bad connection to ${host}.${ZONE} mail server, try again later\r\n`,
    );
    client.close();
  });

  test('per-host backend connections are limited: 451 4.4.5', async () => {
    const backend = await scripted(politeServer());
    const host = await hostAt(backend.port);
    const first = await rawSmtp(relay.port);
    await first.reply();
    first.send(`EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@${host}.${ZONE}>\r\n`);
    for (let i = 0; i < 3; i++) await first.reply();
    assert.equal(
      await rcptReply(host),
      `451 4.4.5 Mail system congestion for ${host}.${ZONE}, try again later`,
    );
    first.close();
  });
});

describe('the real client address reaches the home server', () => {
  for (const answer of ['220 home.scripted.test ESMTP', '250 2.0.0 Ok']) {
    test(`XCLIENT with every attribute (server answers "${answer.slice(0, 3)}")`, async () => {
      const backend = await scripted(
        politeServer({
          extensions: ['PIPELINING', 'XCLIENT NAME ADDR PORT PROTO HELO LOGIN'],
          override: (line, c) => {
            if (!line.startsWith('XCLIENT')) return false;
            c.send(`${answer}\r\n`);
            return true;
          },
        }),
      );
      const host = await hostAt(backend.port, 'xclient');
      assert.equal(await rcptReply(host, { localAddress: '127.0.0.2' }), '250 2.0.0 Ok');
      const lines = backend.connections()[0]?.received().toString('latin1').split('\r\n') ?? [];
      assert.equal(lines[0], `EHLO ${relay.config.hostname}`);
      assert.match(
        lines[1] ?? '',
        /^XCLIENT PROTO=ESMTP HELO=client\.example\.org NAME=\[UNAVAILABLE\] PORT=\d+ ADDR=127\.0\.0\.2$/,
      );
      assert.equal(lines[2], 'EHLO client.example.org');
      assert.equal(lines[3], 'MAIL FROM:<sender@example.org>');
    });
  }

  test('PROXY v2: the header comes first, before the greeting is even read', async () => {
    const backend = await scripted(async (c) => {
      await c.waitFor('QUIT\n').catch(() => undefined);
    });
    const proxyHost = await hostAt(backend.port, 'proxy-v2');
    const reply = rcptReply(proxyHost, { localAddress: '127.0.0.2' });
    await waitFor(() => (backend.connections()[0]?.received().length ?? 0) > 0, {
      message: 'the PROXY header to arrive',
      timeoutMs: 5000,
      intervalMs: 20,
    });
    const header = backend.connections()[0]?.received() ?? Buffer.alloc(0);
    assert.equal(header.subarray(0, 12).toString('hex'), '0d0a0d0a000d0a515549540a');
    assert.equal(header[12], 0x21);
    assert.equal(header[13], 0x11);
    assert.deepEqual([...header.subarray(16, 20)], [127, 0, 0, 2]);
    assert.equal(
      await reply,
      `451 4.4.2 Bad connection to ${proxyHost}.${ZONE} mail server, try again later`,
    );
  });
});

describe('TLS to the home server, per its policy', () => {
  const pin = new X509Certificate(readFileSync(TEST_CERT_FILE)).fingerprint256;

  test('opportunistic: STARTTLS when offered (self-signed accepted), EHLO again inside TLS', async () => {
    const afterTls: string[] = [];
    const backend = await scripted(tlsHome(afterTls));
    const host = await hostAt(backend.port, 'none', { mode: 'opportunistic' });
    assert.equal(await rcptReply(host), '250 2.0.0 Ok');
    assert.deepEqual(afterTls.slice(0, 3), [
      `EHLO ${relay.config.hostname}`,
      'MAIL FROM:<sender@example.org>',
      `RCPT TO:<someone@${host}.${ZONE}>`,
    ]);
  });

  test('fingerprint: the pinned certificate is accepted (colons and case do not matter)', async () => {
    const afterTls: string[] = [];
    const backend = await scripted(tlsHome(afterTls));
    const host = await hostAt(backend.port, 'none', { mode: 'fingerprint', fingerprint: pin.toLowerCase() });
    assert.equal(await rcptReply(host), '250 2.0.0 Ok');
    assert.ok(afterTls.length > 0);
  });

  test('fingerprint: another certificate, or no pin, is a 451 4.4.2 and nothing goes inside TLS', async () => {
    for (const fingerprint of ['00'.repeat(32), undefined]) {
      const afterTls: string[] = [];
      const backend = await scripted(tlsHome(afterTls));
      const host = await hostAt(backend.port, 'none', {
        mode: 'fingerprint',
        ...(fingerprint ? { fingerprint } : {}),
      });
      assert.equal(
        await rcptReply(host),
        `451 4.4.2 Bad connection to ${host}.${ZONE} mail server, try again later`,
      );
      assert.deepEqual(afterTls, []);
    }
  });

  test('verify: a self-signed certificate fails verification: 451 4.4.2', async () => {
    const afterTls: string[] = [];
    const backend = await scripted(tlsHome(afterTls));
    const host = await hostAt(backend.port, 'none', { mode: 'verify' });
    assert.equal(
      await rcptReply(host),
      `451 4.4.2 Bad connection to ${host}.${ZONE} mail server, try again later`,
    );
  });

  test('verify without STARTTLS on offer: 451 4.4.2, never plaintext', async () => {
    const backend = await scripted(politeServer());
    const host = await hostAt(backend.port, 'none', { mode: 'verify' });
    assert.equal(
      await rcptReply(host),
      `451 4.4.2 Bad connection to ${host}.${ZONE} mail server, try again later`,
    );
    assert.doesNotMatch(backend.connections()[0]?.received().toString('latin1') ?? '', /MAIL FROM/);
  });
});
