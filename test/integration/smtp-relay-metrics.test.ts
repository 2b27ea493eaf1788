import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { requireProgram } from '../support/programs.ts';
import { runSwaks, type SmtpSink, startSmtpSink, startTestRelay, type TestRelay } from '../support/smtp.ts';

/**
 * The relay's metrics (docs/operations.md, "Metrics"): sessions accepted and refused, messages
 * by outcome, open sessions; served by the relay itself when it runs alone
 * (MYDNS_RELAY_METRICS_PORT), as docker compose runs it.
 */

let mydns: TestMyDns;
let relay: TestRelay;
let home: SmtpSink;
let metricsPort: number;

before(async () => {
  requireProgram('swaks', 'swaks');
  requireProgram('smtp-sink', 'postfix');
  mydns = await startTestMyDns();
  home = await startSmtpSink({ args: ['-v'] });
  await mydns.createHost('metered', 'a-metering-secret');
  const db = new pg.Client({ connectionString: mydns.databaseUrl });
  await db.connect();
  await db.query(
    "update hosts set mail_enabled = true, mail_port = $1, mail_client_address = 'none', ipv4 = '127.0.0.1' where name = 'metered'",
    [home.port],
  );
  await db.end();
  metricsPort = await freePort();
  relay = await startTestRelay({
    DATABASE_URL: mydns.databaseUrl,
    MYDNS_ZONE: mydns.zone,
    MYDNS_RELAY_METRICS_PORT: String(metricsPort),
  });
});
after(async () => {
  await relay?.stopAll();
  await home?.stop();
  await mydns?.stop();
});

test('sessions and messages are counted on the relay’s own /metrics', async () => {
  const sent = await runSwaks([
    '--server',
    '127.0.0.1',
    '--port',
    String(relay.port),
    '--from',
    'sender@example.org',
    '--to',
    `someone@metered.${mydns.zone}`,
  ]);
  assert.equal(sent.code, 0, sent.output);
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const value = (metric: string) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(`${metric} `))
        ?.split(' ')[1],
    );
  assert.equal(value('mydns_relay_sessions_total{outcome="accepted"}'), 1);
  assert.equal(value('mydns_relay_messages_total{outcome="relayed",reply="2xx"}'), 1);
  assert.equal(value('mydns_relay_open_sessions'), 0);
  assert.ok(text.includes('mydns_relay_process_resident_memory_bytes'));
  assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
});
