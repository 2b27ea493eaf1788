/**
 * The SMTP relay end to end with real peers from Debian: swaks as the
 * sender (plain, STARTTLS, pipelining), Postfix's smtp-sink as a home server
 * that takes XCLIENT, aiosmtpd as a home server that takes PROXY v2; hosts
 * in the API's Postgres; custom-domain MX records in the run's PowerDNS; an
 * address change through /nic/update. A missing program fails the test,
 * naming its Debian package.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { TEST_CERT_FILE, TEST_KEY_FILE } from '../../apps/smtp-relay/src/testing/fixtures.ts';
import { harness } from '../support/harness.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { requireProgram } from '../support/programs.ts';
import {
  type Aiosmtpd,
  runSwaks,
  type SmtpSink,
  startAiosmtpd,
  startScriptedBackend,
  startSmtpSink,
  startTestRelay,
  type TestRelay,
} from '../support/smtp.ts';

const PASSWORD = 'relay-test-secret-42';
let mydns: TestMyDns;
let db: pg.Client;
let relay: TestRelay;
let aliceHome: SmtpSink;
let bobHome: Aiosmtpd;
let workDir: string;
const cleanups: (() => Promise<unknown>)[] = [];

async function setMail(
  name: string,
  mail: { port: number; clientAddress?: string; enabled?: boolean },
  ipv4: string | null = '127.0.0.1',
): Promise<void> {
  await db.query(
    `update hosts set mail_enabled = $2, mail_port = $3, mail_client_address = $4, mail_tls = 'opportunistic',
            ipv4 = coalesce($5, ipv4) where name = $1`,
    [name, mail.enabled ?? true, mail.port, mail.clientAddress ?? 'none', ipv4],
  );
}

function swaksTo(to: string, extra: string[] = []): Promise<{ code: number; output: string }> {
  return runSwaks([
    '--server',
    '127.0.0.1',
    '--port',
    String(relay.port),
    '--ehlo',
    'client.example.org',
    '--from',
    'sender@example.org',
    '--to',
    to,
    ...extra,
  ]);
}

before(async () => {
  // Fail at once, naming the packages, when the peers are missing.
  requireProgram('swaks', 'swaks');
  requireProgram('smtp-sink', 'postfix');
  mydns = await startTestMyDns();
  db = new pg.Client({ connectionString: mydns.databaseUrl });
  await db.connect();
  workDir = mkdtempSync(join(harness().workDir, 'smtp-relay-'));
  aliceHome = await startSmtpSink({ args: ['-v'] });
  bobHome = await startAiosmtpd({ proxy: true });
  for (const name of ['alice', 'bob', 'carol', 'dave']) await mydns.createHost(name, PASSWORD);
  await setMail('alice', { port: aliceHome.port, clientAddress: 'xclient' });
  await setMail('bob', { port: bobHome.port, clientAddress: 'proxy-v2' });
  // carol has forwarding off; dave forwards to a port where nothing listens.
  await setMail('carol', { port: aliceHome.port, enabled: false });
  await setMail('dave', { port: await freePort() });
  relay = await startTestRelay({
    DATABASE_URL: mydns.databaseUrl,
    MYDNS_ZONE: mydns.zone,
    MYDNS_RELAY_TLS_CERT: TEST_CERT_FILE,
    MYDNS_RELAY_TLS_KEY: TEST_KEY_FILE,
    MYDNS_RELAY_DNS_SERVERS: `127.0.0.1:${harness().dnsPort}`,
  });
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await relay?.stopAll();
  await aliceHome?.stop();
  await bobHome?.stop();
  await db?.end();
  await mydns?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('SMTP relay with real peers', () => {
  test('swaks → relay → smtp-sink, with XCLIENT carrying the client HELO', async () => {
    const result = await swaksTo(`someone@alice.${mydns.zone}`);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /<- {2}250 2\.0\.0 Ok/);
    // smtp-sink offers XCLIENT NAME HELO (not ADDR): the client's HELO reaches it.
    assert.match(aliceHome.output(), /XCLIENT HELO=client\.example\.org NAME=\[UNAVAILABLE\]/);
    assert.match(
      aliceHome.output(),
      new RegExp(`RCPT TO:<someone@alice\\.${mydns.zone.replace(/\./g, '\\.')}>`),
    );
  });

  test('swaks with PIPELINING', async () => {
    const result = await swaksTo(`someone@alice.${mydns.zone}`, ['--pipeline']);
    assert.equal(result.code, 0, result.output);
    assert.match(
      result.output,
      /-> MAIL FROM:<sender@example\.org>\n -> RCPT TO:<someone@alice\.[^>]+>\n -> DATA/,
    );
  });

  test('swaks with STARTTLS (the relay certificate)', async () => {
    const result = await swaksTo(`someone@alice.${mydns.zone}`, ['-tls']);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /TLS started with cipher TLSv1\.[23]/);
  });

  test('aiosmtpd behind PROXY v2 sees the real client address, and exactly the bytes sent', async () => {
    const message = [
      'From: sender@example.org',
      `To: someone@bob.${mydns.zone}`,
      'Subject: exact bytes',
      '',
      'first line',
      '.a line that starts with a dot',
      '..and one with two',
      'an 8-bit byte: caf\u00e9',
      // No line end here: swaks ends the data with CRLF "." CRLF itself.
      'the end',
    ].join('\r\n');
    const file = join(workDir, 'message.eml');
    writeFileSync(file, Buffer.from(message, 'latin1'));
    const result = await runSwaks([
      '--server',
      '127.0.0.1',
      '--port',
      String(relay.port),
      '--local-interface',
      '127.0.0.2',
      '--ehlo',
      'client.example.org',
      '--from',
      'sender@example.org',
      '--to',
      `someone@bob.${mydns.zone}`,
      '--data',
      `@${file}`,
    ]);
    assert.equal(result.code, 0, result.output);
    const events = bobHome.events();
    const proxy = events.find((e) => e.event === 'PROXY');
    assert.equal(proxy?.src, '127.0.0.2', 'the PROXY header names the sender, not the relay');
    const data = events.find((e) => e.event === 'DATA');
    assert.ok(data?.content);
    const delivered = Buffer.from(data.content, 'base64').toString('latin1');
    const headerEnd = delivered.indexOf('\r\nFrom: ');
    assert.match(
      delivered.slice(0, headerEnd + 2),
      /^Received: from client\.example\.org \(unknown \[127\.0\.0\.2\]\)\r\n\tby /,
    );
    assert.equal(
      delivered.slice(headerEnd + 2),
      `${message}\r\n`,
      'delivered bytes after the Received header equal the sent bytes',
    );
  });

  test('never an open relay: unknown domains and hosts without forwarding get 554 5.7.1', async () => {
    // Domains the run's PowerDNS answers for: one with its own MX, one with no MX at all.
    const suffix = Date.now().toString(36);
    const elsewhere = `elsewhere${suffix}.test`;
    const noMx = `nomx${suffix}.test`;
    for (const [zone, rrsets] of [
      [elsewhere, [{ name: elsewhere, type: 'MX' as const, ttl: 60, records: [`10 mx.${elsewhere}.`] }]],
      [noMx, []],
    ] as const) {
      await mydns.pdns.createZone({
        name: zone,
        kind: 'Native',
        nameservers: [`ns1.${zone}`],
        soa: { ttl: 60, content: `ns1.${zone}. hostmaster.${zone}. 1 10800 3600 604800 60` },
        rrsets,
      });
      cleanups.push(() => mydns.pdns.deleteZone(zone));
    }
    for (const to of [
      `victim@${elsewhere}`,
      `victim@${noMx}`,
      `x@nobody.${mydns.zone}`,
      `x@carol.${mydns.zone}`,
      `x@${mydns.zone}`,
      `x@alice.mx.${mydns.zone}`,
      'x@[127.0.0.1]',
    ]) {
      const result = await swaksTo(to);
      assert.equal(result.code, 24, `${to}: ${result.output}`);
      assert.match(result.output, /<\*\* 554 5\.7\.1 <[^>]+>: Relay access denied/, to);
    }
    // A domain the resolver cannot answer for (PowerDNS refuses zones it does not host) is a
    // temporary lookup failure: still never relayed.
    const unknown = await swaksTo('victim@gmail.com');
    assert.equal(unknown.code, 24, unknown.output);
    assert.match(unknown.output, /<\*\* 451 4\.4\.3 Directory server failure/);
  });

  test('a second user in one transaction gets 452 4.5.3, the first still gets the mail', async () => {
    const before = (aliceHome.output().match(/: \.\n/g) ?? []).length;
    const result = await swaksTo(`u@alice.${mydns.zone},v@bob.${mydns.zone}`);
    assert.match(result.output, /<\*\* 452 4\.5\.3 <v@bob\.[^>]+>: use a separate transaction for bob\./);
    assert.match(result.output, /<- {2}250 2\.0\.0 Ok/);
    const afterCount = (aliceHome.output().match(/: \.\n/g) ?? []).length;
    assert.equal(afterCount, before + 1);
  });

  test('home server down: 451 4.4.1, a temporary failure (the sender keeps the mail)', async () => {
    const result = await swaksTo(`x@dave.${mydns.zone}`);
    assert.equal(result.code, 24, result.output);
    assert.match(result.output, /<\*\* 451 4\.4\.1 No answer from dave\./);
  });

  test('a custom domain whose MX points at <host>.mx.<zone> reaches that host', async () => {
    const custom = `custom${Date.now().toString(36)}.test`;
    await mydns.pdns.createZone({
      name: custom,
      kind: 'Native',
      nameservers: [`ns1.${custom}`],
      soa: { ttl: 60, content: `ns1.${custom}. hostmaster.${custom}. 1 10800 3600 604800 60` },
      rrsets: [{ name: custom, type: 'MX', ttl: 60, records: [`10 alice.mx.${mydns.zone}.`] }],
    });
    cleanups.push(() => mydns.pdns.deleteZone(custom));
    const result = await swaksTo(`someone@${custom}`);
    assert.equal(result.code, 0, result.output);
    assert.match(aliceHome.output(), new RegExp(`RCPT TO:<someone@${custom.replace(/\./g, '\\.')}>`));
  });

  test('private targets are refused without a connect attempt when not allowed', async () => {
    const home = await startScriptedBackend((c) => c.send('220 home ESMTP\r\n'));
    cleanups.push(() => home.close());
    await setMail('dave', { port: home.port });
    const strict = await startTestRelay({
      DATABASE_URL: mydns.databaseUrl,
      MYDNS_ZONE: mydns.zone,
      MYDNS_RELAY_ALLOW_PRIVATE_TARGETS: 'false',
    });
    cleanups.push(() => strict.stopAll());
    const result = await runSwaks([
      '--server',
      '127.0.0.1',
      '--port',
      String(strict.port),
      '--from',
      'sender@example.org',
      '--to',
      `x@dave.${mydns.zone}`,
    ]);
    assert.equal(result.code, 24, result.output);
    assert.match(result.output, /<\*\* 451 4\.4\.4 Unable to route mail for dave\./);
    assert.equal(home.connections().length, 0, 'no connection was attempted');
  });

  test('an address change through /nic/update re-routes the next session', async () => {
    const port = await freePort();
    const oldHome = await startSmtpSink({ host: '127.0.0.1', port, args: ['-v'] });
    const newHome = await startSmtpSink({ host: '127.0.0.3', port, args: ['-v'] });
    cleanups.push(
      () => oldHome.stop(),
      () => newHome.stop(),
    );
    await mydns.createHost('erin', PASSWORD);
    await setMail('erin', { port }, null);
    const update = async (ip: string) => {
      const reply = await mydns.request(`/nic/update?hostname=erin.${mydns.zone}&myip=${ip}`, {
        auth: ['erin', PASSWORD],
      });
      assert.match(reply.body, /^(good|nochg) /, reply.body);
    };
    await update('127.0.0.1');
    const first = await swaksTo(`x@erin.${mydns.zone}`);
    assert.equal(first.code, 0, first.output);
    assert.match(oldHome.output(), /RCPT TO:<x@erin\./);
    await update('127.0.0.3');
    const second = await swaksTo(`y@erin.${mydns.zone}`);
    assert.equal(second.code, 0, second.output);
    assert.match(newHome.output(), /RCPT TO:<y@erin\./, 'the next session went to the new address');
    assert.doesNotMatch(oldHome.output(), /RCPT TO:<y@erin\./);
  });
});
