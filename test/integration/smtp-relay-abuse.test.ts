/**
 * The relay open to the internet: what one sender must not be able to do.
 * Hosts in a real Postgres, custom-domain MX records in the run's PowerDNS,
 * scripted home servers (node:net) that record every byte they get.
 *
 * - Hold every connection to one home server: backend connections are
 *   limited per (client address, host) as well as per host, so a second
 *   sender still reaches that server.
 * - Write a recipient domain in look-alike or non-ASCII characters: the home
 *   server sees the ASCII name the relay routed by, never the raw bytes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { domainToASCII } from 'node:url';
import { createPowerDnsClient, type PowerDnsClient } from '@mydns/powerdns';
import pg from 'pg';
import { harness } from '../support/harness.ts';
import { createTestDatabase } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { noteSecret } from '../support/secrets.ts';
import {
  politeServer,
  type RawSmtp,
  rawSmtp,
  type ScriptedBackend,
  startScriptedBackend,
  startTestRelay,
  type TestRelay,
} from '../support/smtp.ts';
import { waitFor } from '../support/wait.ts';

const ZONE = 'relay-abuse.test';
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: pg.Client;
let pdns: PowerDnsClient;
let relay: TestRelay;
let metricsPort: number;
const cleanups: (() => Promise<void>)[] = [];
let hostCount = 0;

before(async () => {
  const h = harness();
  database = await createTestDatabase();
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  noteSecret(h.pdnsApiKey);
  pdns = createPowerDnsClient({ apiUrl: h.pdnsApiUrl, apiKey: h.pdnsApiKey });
  metricsPort = await freePort();
  // The default limits (10 per host, 3 per client and host) are what is tested.
  relay = await startTestRelay({
    DATABASE_URL: database.url,
    MYDNS_ZONE: ZONE,
    MYDNS_RELAY_DNS_SERVERS: `127.0.0.1:${h.dnsPort}`,
    MYDNS_RELAY_METRICS_PORT: String(metricsPort),
  });
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await relay?.stopAll();
  await db?.end();
  await database?.drop();
});

async function scripted(options: Parameters<typeof politeServer>[0] = {}): Promise<ScriptedBackend> {
  const backend = await startScriptedBackend(politeServer(options));
  cleanups.push(() => backend.close());
  return backend;
}

/** A new host forwarding to `port` on 127.0.0.1; returns its name. */
async function hostAt(port: number): Promise<string> {
  const name = `h${++hostCount}`;
  await db.query(
    `insert into hosts (zone, name, password_hash, ipv4, mail_enabled, mail_port, mail_client_address, mail_tls)
     values ($3, $1, 'x', '127.0.0.1', true, $2, 'none', 'none')`,
    [name, port, ZONE],
  );
  return name;
}

/** The last line of a reply, without its line end. */
async function lastLine(client: RawSmtp): Promise<string> {
  const lines = (await client.reply()).trimEnd().split('\r\n');
  return lines[lines.length - 1] ?? '';
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('one sender cannot hold every connection to a home server', () => {
  test('sessions from one address that hold RCPTs to a host leave room for another address', async () => {
    const home = await scripted();
    const host = await hostAt(home.port);
    const perHost = relay.config.limits.hostSessions;
    const hogs: RawSmtp[] = [];
    const hogAnswers: string[] = [];
    try {
      // As many sessions as the host has slots, all from 127.0.0.1, each stopping after its RCPT.
      for (let i = 0; i < perHost; i++) {
        const hog = await rawSmtp(relay.port, { localAddress: '127.0.0.1' });
        hogs.push(hog);
        await hog.reply();
        hog.send(`EHLO hog.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u${i}@${host}.${ZONE}>\r\n`);
        await hog.reply();
        await hog.reply();
        hogAnswers.push(await lastLine(hog));
      }

      const other = await rawSmtp(relay.port, { localAddress: '127.0.0.2' });
      try {
        await other.reply();
        other.send(
          `EHLO other.example\r\nMAIL FROM:<s@example.net>\r\nRCPT TO:<other@${host}.${ZONE}>\r\nDATA\r\n`,
        );
        const answers = [await lastLine(other), await lastLine(other), await lastLine(other)];
        assert.deepEqual(
          answers.slice(1),
          ['250 2.1.0 Ok', '250 2.0.0 Ok'],
          'the other address reaches the home server',
        );
        assert.equal(await lastLine(other), '354 End data with <CR><LF>.<CR><LF>');
        other.send('Subject: still gets through\r\n\r\nhello\r\n.\r\nQUIT\r\n');
        assert.equal(await lastLine(other), '250 2.0.0 Ok: queued');
      } finally {
        other.close();
      }
      const delivered = home
        .connections()
        .map((c) => c.received().toString('latin1'))
        .filter((text) => text.includes(`RCPT TO:<other@${host}.${ZONE}>`));
      assert.equal(delivered.length, 1);
      assert.match(delivered[0] ?? '', /Subject: still gets through\r\n\r\nhello\r\n\.\r\n/);

      // The sender over its share gets a temporary refusal that says why.
      const perClient = 3;
      assert.deepEqual(hogAnswers, [
        ...Array.from({ length: perClient }, () => '250 2.0.0 Ok'),
        ...Array.from(
          { length: perHost - perClient },
          () =>
            `451 4.7.1 Error: too many connections from 127.0.0.1 to ${host}.${ZONE} mail server at once, try again later`,
        ),
      ]);
      assert.equal(home.connections().length, perClient + 1, 'no connection was opened beyond the share');
      assert.equal(
        await metric('mydns_relay_backend_refusals_total{limit="client_host"}'),
        perHost - perClient,
      );
    } finally {
      for (const hog of hogs) hog.close();
    }
  });

  test('the share comes back when a session ends', async () => {
    const home = await scripted();
    const host = await hostAt(home.port);
    const open = async () => {
      const client = await rawSmtp(relay.port, { localAddress: '127.0.0.3' });
      await client.reply();
      client.send(`EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<u@${host}.${ZONE}>\r\n`);
      await client.reply();
      await client.reply();
      return { client, answer: await lastLine(client) };
    };
    const held = [await open(), await open(), await open()];
    assert.deepEqual(
      held.map((h) => h.answer.slice(0, 3)),
      ['250', '250', '250'],
    );
    const refused = await open();
    assert.match(refused.answer, /^451 4\.7\.1 /);
    refused.client.close();
    held[0]?.client.send('QUIT\r\n');
    await held[0]?.client.rest();
    // Mid-transaction, the relay cuts its home server connection; the slot comes back when it has closed.
    const first = home.connections()[0]?.socket;
    if (first && !first.destroyed) await new Promise((resolve) => first.once('close', resolve));
    let again: Awaited<ReturnType<typeof open>> | undefined;
    await waitFor(
      async () => {
        again?.client.close();
        again = await open();
        return again.answer.startsWith('250');
      },
      {
        message: () => `the slot to come back (last answer: ${again?.answer})`,
        timeoutMs: 5000,
        intervalMs: 20,
      },
    );
    assert.ok(again);
    assert.equal(again.answer, '250 2.0.0 Ok');
    for (const h of [...held, again]) h.client.close();
  });
});

describe('recipient domains in look-alike and non-ASCII characters', () => {
  /** One SMTPUTF8 message as UTF-8 bytes; the RCPT lines the home server got. */
  async function send(home: ScriptedBackend, recipients: readonly string[]): Promise<string[]> {
    const seen = home.connections().map((c) => c.received().length);
    const client = await rawSmtp(relay.port);
    try {
      await client.reply();
      const rcpts = recipients.map((r) => `RCPT TO:<${r}>\r\n`).join('');
      client.send(
        Buffer.from(
          `EHLO c\r\nMAIL FROM:<s@example.org> SMTPUTF8\r\n${rcpts}DATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n`,
          'utf8',
        ),
      );
      const answers: string[] = [];
      for (let i = 0; i < recipients.length + 5; i++) answers.push(await lastLine(client));
      assert.deepEqual(
        answers.slice(2),
        [
          ...recipients.map(() => '250 2.0.0 Ok'),
          '354 End data with <CR><LF>.<CR><LF>',
          '250 2.0.0 Ok: queued',
          '221 2.0.0 Bye',
        ],
        answers.join(' | '),
      );
    } finally {
      client.close();
    }
    // Over a new connection, or one an earlier session parked (backend-share.ts): what came since.
    const since = () =>
      home.connections().map((c, i) =>
        c
          .received()
          .toString('latin1')
          .slice(seen[i] ?? 0),
      );
    await waitFor(() => since().some((text) => text.includes('\r\n.\r\n')), {
      message: 'the message at the home server',
    });
    return since()
      .flatMap((text) => text.split('\r\n'))
      .filter((line) => line.startsWith('RCPT'));
  }

  test('fullwidth letters and ideographic full stops in <host>.<zone> reach the host as its ASCII name', async () => {
    const home = await scripted({ extensions: ['PIPELINING', '8BITMIME', 'SMTPUTF8'] });
    const host = await hostAt(home.port);
    // "h3" in fullwidth, upper case: Ｈ３; the dots as U+FF0E and U+3002.
    const fullwidth = [...host.toUpperCase()]
      .map((c) => String.fromCodePoint((c.codePointAt(0) ?? 0) + 0xfee0))
      .join('');
    const zone = ZONE.split('.');
    const seen = await send(home, [`u@${fullwidth}.${ZONE}`, `v@${host}\uff0e${zone[0]}\u3002${zone[1]}`]);
    assert.deepEqual(seen, [`RCPT TO:<u@${host}.${ZONE}>`, `RCPT TO:<v@${host}.${ZONE}>`]);
  });

  test('an IDN custom domain whose MX points at <host>.mx.<zone>: the home server sees its A-label', async () => {
    const home = await scripted({ extensions: ['PIPELINING', '8BITMIME', 'SMTPUTF8'] });
    const host = await hostAt(home.port);
    const unicode = `bücher-${Date.now().toString(36)}.test`;
    const aLabel = domainToASCII(unicode);
    assert.match(aLabel, /^xn--/);
    await pdns.createZone({
      name: aLabel,
      kind: 'Native',
      nameservers: [`ns1.${aLabel}`],
      soa: { ttl: 60, content: `ns1.${aLabel}. hostmaster.${aLabel}. 1 10800 3600 604800 60` },
      rrsets: [{ name: aLabel, type: 'MX', ttl: 60, records: [`10 ${host}.mx.${ZONE}.`] }],
    });
    cleanups.push(() => pdns.deleteZone(aLabel));
    const seen = await send(home, [`u@${unicode}`, `v@${unicode.toUpperCase()}`]);
    assert.deepEqual(seen, [`RCPT TO:<u@${aLabel}>`, `RCPT TO:<v@${aLabel}>`]);
  });
});
