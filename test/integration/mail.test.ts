/**
 * Outbound mail end to end: the API's outbox in the run's Postgres, its
 * worker, and a real smarthost (python3-aiosmtpd: plain, STARTTLS and smtps
 * with a certificate made by openssl here, AUTH PLAIN and LOGIN), whose own
 * parser (Python's `email`) reads back what arrived. Also: a smarthost that
 * is down at first, one that refuses a recipient, one that hangs while an
 * update is answered. Recipients, tokens and the smarthost password are noted
 * as secrets: the run's log check (test/run.ts) proves no line names them.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MailInputError, type MailRequest } from '../../apps/api/src/mail/index.ts';
import { harness } from '../support/harness.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { noteSecret } from '../support/secrets.ts';
import {
  makeSelfSignedCertificate,
  type Smarthost,
  type SmarthostMessage,
  startSmarthost,
  type TestCertificate,
} from '../support/smarthost.ts';
import { startScriptedBackend } from '../support/smtp.ts';
import { waitFor } from '../support/wait.ts';

const PUBLIC_URL = 'https://dyn.example.net';
const SENDER = 'no-reply@dyn.example.net';
const SMARTHOST_USER = 'mailer@dyn.example.net';
// Characters that must be %-encoded in the URL, to see them decoded.
const SMARTHOST_PASSWORD = `p@ss:w/rd#${randomBytes(6).toString('hex')}`;
noteSecret(SMARTHOST_PASSWORD);

let certificate: TestCertificate;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

before(async () => {
  certificate = await makeSelfSignedCertificate(mkdtempSync(join(harness().workDir, 'mail-')));
});

async function smarthost(options: Parameters<typeof startSmarthost>[0] = {}): Promise<Smarthost> {
  const peer = await startSmarthost(options);
  cleanups.push(async () => {
    await peer.stop();
  });
  return peer;
}

async function mydnsWithMail(mailUrl: string, env: Record<string, string> = {}): Promise<TestMyDns> {
  const mydns = await startTestMyDns({
    env: {
      MYDNS_MAIL_URL: mailUrl,
      MYDNS_MAIL_FROM: `MyDNS Dienst <${SENDER}>`,
      MYDNS_PUBLIC_URL: PUBLIC_URL,
      // Short waits, so a retry comes within the test (the policy itself is unit-tested).
      MYDNS_MAIL_RETRY: '200ms',
      MYDNS_MAIL_RETRY_MAX: '1s',
      MYDNS_MAIL_TIMEOUT: '5s',
      ...env,
    },
  });
  cleanups.push(() => mydns.stop());
  return mydns;
}

const credentials = `${encodeURIComponent(SMARTHOST_USER)}:${encodeURIComponent(SMARTHOST_PASSWORD)}`;

/** A verification mail as the accounts feature will send it: a link with a fresh token. */
function verificationMail(mydns: TestMyDns, to: string): { request: MailRequest; link: string } {
  const token = randomBytes(24).toString('base64url');
  noteSecret(token);
  noteSecret(to);
  const link = mydns.services.mail.links.link('account/verify-email', { token });
  return {
    link,
    request: {
      to,
      kind: 'verify_email',
      subject: 'Bestätigen Sie Ihre Adresse – MyDNS ✓',
      text: `Hallo,\n\nbitte bestätigen Sie Ihre Adresse:\n${link}\n\n.\nIhr MyDNS\n`,
      html: `<p>Hallo,</p><p><a href="${link}">Adresse bestätigen</a></p>`,
    },
  };
}

const recipient = (name: string) => `${name}-${randomBytes(4).toString('hex')}@example.org`;

interface OutboxRow {
  status: string;
  message: string | null;
  attempts: number;
  last_error: string | null;
}

async function outboxRow(mydns: TestMyDns, id: number): Promise<OutboxRow> {
  const row = await mydns.db('mail_outbox').where({ id }).first();
  assert.ok(row, `outbox row ${id}`);
  return row as OutboxRow;
}

/** Waits until the outbox row of `id` is as `wanted` says, and returns it. */
async function waitForRow(mydns: TestMyDns, id: number, what: string, wanted: (row: OutboxRow) => boolean) {
  let last: OutboxRow | undefined;
  await waitFor(
    async () => {
      last = await outboxRow(mydns, id);
      return wanted(last);
    },
    {
      intervalMs: 50,
      message: () => `mail ${id} ${what} (now: ${JSON.stringify({ ...last, message: undefined })})`,
    },
  );
  return last as OutboxRow;
}

async function enqueue(mydns: TestMyDns, request: MailRequest): Promise<number> {
  const result = await mydns.services.mail.enqueue(request);
  assert.ok(result.queued, JSON.stringify(result));
  return result.queued ? result.id : -1;
}

function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Every URL in a decoded part. */
const urlsIn = (text: string) => text.match(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi) ?? [];

function assertVerificationMail(message: SmarthostMessage, to: string, link: string): void {
  assert.equal(message.from, SENDER, 'envelope sender');
  assert.deepEqual(message.to, [to]);
  assert.equal(message.headers.from, `MyDNS Dienst <${SENDER}>`);
  assert.equal(message.headers.to, to);
  assert.equal(message.headers.subject, 'Bestätigen Sie Ihre Adresse – MyDNS ✓');
  assert.match(message.headers['message-id'] ?? '', /^<[0-9a-f]{32}@dyn\.example\.net>$/);
  assert.ok(!Number.isNaN(Date.parse(message.headers.date ?? '')), `Date: ${message.headers.date}`);
  assert.equal(message.headers['mime-version'], '1.0');
  assert.match(message.headers['content-type'] ?? '', /^multipart\/alternative; boundary=/);
  assert.deepEqual(message.defects, [], 'Python finds nothing wrong with it');
  assert.deepEqual(
    message.parts.map((p) => [p.type, p.charset]),
    [
      ['text/plain', 'utf-8'],
      ['text/html', 'utf-8'],
    ],
  );
  // Python keeps the CRLF line ends of the decoded text.
  const [text, html] = message.parts.map((p) => ({ ...p, content: p.content.replace(/\r\n/g, '\n') }));
  assert.ok(
    text?.content.includes(`bitte bestätigen Sie Ihre Adresse:\n${link}\n\n.\nIhr MyDNS`),
    text?.content,
  );
  assert.ok(html?.content.includes(`<a href="${link}">Adresse bestätigen</a>`), html?.content);
  for (const part of message.parts)
    for (const url of urlsIn(part.content)) assert.ok(url.startsWith(`${PUBLIC_URL}/`), url);
  for (const line of message.raw.split('\r\n')) assert.ok(line.length <= 998);
}

describe('mail through a plain smarthost', () => {
  let mydns: TestMyDns;
  let peer: Smarthost;
  before(async () => {
    peer = await smarthost();
    mydns = await mydnsWithMail(`smtp://127.0.0.1:${peer.port}`);
  });

  test('a queued mail is delivered: headers, both parts, links under MYDNS_PUBLIC_URL; the row keeps no text', async () => {
    const to = recipient('alice');
    const { request, link } = verificationMail(mydns, to);
    assert.ok(link.startsWith(`${PUBLIC_URL}/account/verify-email?token=`));
    const id = await enqueue(mydns, request);
    const [message] = await peer.waitForMessages(1);
    assert.ok(message);
    assertVerificationMail(message, to, link);
    assert.equal(message.tls, false);
    const row = await waitForRow(mydns, id, 'marked sent', (r) => r.status === 'sent');
    assert.equal(row.message, null, 'the text (with its token) is gone once sent');
    assert.equal(row.attempts, 1);
    const metrics = (await mydns.request('/metrics')).body;
    assert.equal(metric(metrics, 'mydns_mail_queued_total{kind="verify_email"}'), 1);
    assert.equal(metric(metrics, 'mydns_mail_sent_total{kind="verify_email"}'), 1);
    assert.equal(metric(metrics, 'mydns_mail_queue_length'), 0);
    assert.equal(metric(metrics, 'mydns_mail_oldest_due_seconds'), 0);
  });

  test("in the caller's transaction: queued when it commits, not at all when it rolls back", async () => {
    const before = peer.messages().length;
    const rolledBack = verificationMail(mydns, recipient('rollback'));
    await assert.rejects(
      mydns.db.transaction(async (trx) => {
        await mydns.services.mail.enqueue(rolledBack.request, trx);
        throw new Error('the change failed');
      }),
      /the change failed/,
    );
    const committed = verificationMail(mydns, recipient('commit'));
    await mydns.db.transaction(async (trx) => {
      const result = await mydns.services.mail.enqueue(committed.request, trx);
      assert.ok(result.queued);
      // Not visible to the worker before the commit.
      const outside = await mydns.db('mail_outbox').where({ id: result.id }).first();
      assert.equal(outside, undefined);
    });
    const messages = await peer.waitForMessages(before + 1);
    assert.deepEqual(messages.at(-1)?.to, [committed.request.to]);
    assert.equal(
      await mydns.db('mail_outbox').where({ recipient: rolledBack.request.to }).first(),
      undefined,
    );
  });

  test('a dedupe key queues one mail; a link elsewhere, a bad address or a header line break queue none', async () => {
    const { request } = verificationMail(mydns, recipient('dedupe'));
    const first = await mydns.services.mail.enqueue({ ...request, dedupeKey: `warn:${request.to}` });
    const second = await mydns.services.mail.enqueue({ ...request, dedupeKey: `warn:${request.to}` });
    assert.ok(first.queued);
    assert.deepEqual(second, { queued: false, reason: 'duplicate' });
    const bad: Partial<MailRequest>[] = [
      { html: '<a href="https://dyn.example.net.evil.example/account?token=x">x</a>' },
      { text: 'see http://dyn.example.net/x' },
      { to: 'not an address' },
      { subject: 'Hello\r\nBcc: eve@example.net' },
      { kind: 'Not A Kind' },
    ];
    for (const change of bad)
      await assert.rejects(
        mydns.services.mail.enqueue({ ...request, ...change }),
        MailInputError,
        JSON.stringify(change),
      );
    const rows = await mydns
      .db('mail_outbox')
      .where('recipient', request.to)
      .count<{ count: string }[]>({ count: '*' });
    assert.equal(Number(rows[0]?.count), 1);
  });

  test('a recipient the smarthost refuses is given up at once, logged by domain only; others go out', async () => {
    const nobody = recipient('nobody');
    const refusing = await smarthost({ reject: [nobody] });
    const other = await mydnsWithMail(`smtp://127.0.0.1:${refusing.port}`);
    const refused = await enqueue(other, verificationMail(other, nobody).request);
    const good = verificationMail(other, recipient('bob'));
    await enqueue(other, good.request);
    await refusing.waitForMessages(1);
    const row = await waitForRow(other, refused, 'given up', (r) => r.status === 'failed');
    assert.equal(row.attempts, 1, 'not retried');
    assert.match(row.last_error ?? '', /^RCPT refused: 550 5\.1\.1 <…@example\.org>/);
    assert.ok(!row.last_error?.includes(nobody.split('@')[0] ?? '?'));
    assert.equal(row.message, null);
    const metrics = (await other.request('/metrics')).body;
    assert.equal(metric(metrics, 'mydns_mail_failed_total{kind="verify_email",reason="rejected"}'), 1);
  });
});

describe('mail through smarthosts that want TLS and AUTH', () => {
  test('STARTTLS, then AUTH PLAIN (credentials URL-decoded)', async () => {
    const peer = await smarthost({
      tls: 'starttls',
      certificate,
      auth: { user: SMARTHOST_USER, pass: SMARTHOST_PASSWORD, mechanisms: ['PLAIN'] },
    });
    const mydns = await mydnsWithMail(`smtp://${credentials}@127.0.0.1:${peer.port}?tls=no-verify`);
    const to = recipient('tls-plain');
    const { request, link } = verificationMail(mydns, to);
    await enqueue(mydns, request);
    const [message] = await peer.waitForMessages(1);
    assert.ok(message);
    assertVerificationMail(message, to, link);
    assert.equal(message.tls, true);
    assert.equal(message.authUser, SMARTHOST_USER);
    assert.deepEqual(peer.auths(), [{ mechanism: 'PLAIN', ok: true }]);
  });

  test('STARTTLS, then AUTH LOGIN', async () => {
    const peer = await smarthost({
      tls: 'starttls',
      certificate,
      auth: { user: SMARTHOST_USER, pass: SMARTHOST_PASSWORD, mechanisms: ['LOGIN'] },
    });
    const mydns = await mydnsWithMail(`smtp://${credentials}@127.0.0.1:${peer.port}?tls=no-verify`);
    await enqueue(mydns, verificationMail(mydns, recipient('tls-login')).request);
    const [message] = await peer.waitForMessages(1);
    assert.equal(message?.tls, true);
    assert.equal(message?.authUser, SMARTHOST_USER);
    assert.deepEqual(peer.auths(), [{ mechanism: 'LOGIN', ok: true }]);
  });

  test('smtps://: TLS from the first byte, AUTH inside it', async () => {
    const peer = await smarthost({
      tls: 'implicit',
      certificate,
      auth: { user: SMARTHOST_USER, pass: SMARTHOST_PASSWORD },
    });
    const mydns = await mydnsWithMail(`smtps://${credentials}@127.0.0.1:${peer.port}?tls=no-verify`);
    const to = recipient('smtps');
    const { request, link } = verificationMail(mydns, to);
    await enqueue(mydns, request);
    const [message] = await peer.waitForMessages(1);
    assert.ok(message);
    assertVerificationMail(message, to, link);
    assert.equal(message.tls, true);
    assert.equal(message.authUser, SMARTHOST_USER);
  });

  test('tls=verify (the default) against a self-signed smarthost: the mail waits; nothing goes out in plaintext', async () => {
    const peer = await smarthost({
      tls: 'starttls',
      certificate,
      auth: { user: SMARTHOST_USER, pass: SMARTHOST_PASSWORD },
    });
    const mydns = await mydnsWithMail(`smtp://${credentials}@127.0.0.1:${peer.port}`);
    const id = await enqueue(mydns, verificationMail(mydns, recipient('verify')).request);
    const row = await waitForRow(mydns, id, 'retried', (r) => r.attempts >= 2);
    assert.equal(row.status, 'queued');
    assert.match(row.last_error ?? '', /TLS handshake failed: .*certificate/i);
    assert.deepEqual(peer.auths(), [], 'no AUTH attempt');
    assert.deepEqual(peer.messages(), []);
  });

  test('wrong credentials: the mail waits (an operator fixes the setting), it is not given up', async () => {
    const peer = await smarthost({
      tls: 'starttls',
      certificate,
      auth: { user: SMARTHOST_USER, pass: 'another-password' },
    });
    const mydns = await mydnsWithMail(`smtp://${credentials}@127.0.0.1:${peer.port}?tls=no-verify`);
    const id = await enqueue(mydns, verificationMail(mydns, recipient('badauth')).request);
    const row = await waitForRow(mydns, id, 'retried', (r) => r.attempts >= 2);
    assert.equal(row.status, 'queued');
    assert.match(row.last_error ?? '', /^AUTH PLAIN refused: 535/);
  });
});

describe('a smarthost that is away', () => {
  test('down at first: the mail waits, retried, and arrives once the smarthost is up', async () => {
    const port = await freePort();
    const mydns = await mydnsWithMail(`smtp://127.0.0.1:${port}`);
    const to = recipient('later');
    const { request, link } = verificationMail(mydns, to);
    const id = await enqueue(mydns, request);
    const waiting = await waitForRow(mydns, id, 'retried while down', (r) => r.attempts >= 2);
    assert.equal(waiting.status, 'queued');
    assert.match(waiting.last_error ?? '', /connect to 127\.0\.0\.1:\d+ failed/);
    const metrics = (await mydns.request('/metrics')).body;
    assert.ok((metric(metrics, 'mydns_mail_deferred_total{kind="verify_email"}') ?? 0) >= 1);
    assert.equal(metric(metrics, 'mydns_mail_queue_length'), 1);
    assert.ok((metric(metrics, 'mydns_mail_oldest_queued_seconds') ?? 0) > 0);

    const peer = await smarthost({ port });
    const [message] = await peer.waitForMessages(1);
    assert.ok(message);
    assertVerificationMail(message, to, link);
    const sent = await waitForRow(mydns, id, 'sent', (r) => r.status === 'sent');
    assert.ok(sent.attempts >= 3);
  });

  test('a smarthost that hangs: updates and registrations answer meanwhile, and queuing does not wait', async () => {
    // Takes the connection, never greets.
    const hanging = await startScriptedBackend(() => undefined);
    cleanups.push(() => hanging.close());
    const mydns = await mydnsWithMail(`smtp://127.0.0.1:${hanging.port}`, { MYDNS_MAIL_TIMEOUT: '10m' });
    const first = await enqueue(mydns, verificationMail(mydns, recipient('hang')).request);
    await waitFor(() => hanging.connections().length > 0, {
      message: 'the worker to be stuck at the greeting',
    });
    // More mails than the request pool has connections: the worker holds none while it waits.
    for (let i = 0; i < 12; i++) await enqueue(mydns, verificationMail(mydns, recipient(`more${i}`)).request);
    const password = `hang-${randomBytes(6).toString('hex')}`;
    await mydns.createHost('hangs', password);
    for (const ip of ['203.0.113.10', '203.0.113.11', '203.0.113.12']) {
      const reply = await mydns.request(`/nic/update?hostname=hangs&myip=${ip}`, {
        auth: ['hangs', password],
      });
      assert.equal(reply.body.trim(), `good ${ip}`);
    }
    // All of that happened while the worker still waited for the smarthost's greeting.
    const row = await outboxRow(mydns, first);
    assert.deepEqual([row.status, row.attempts], ['queued', 1]);
    assert.equal(hanging.connections().length, 1);
    const metrics = (await mydns.request('/metrics')).body;
    assert.equal(metric(metrics, 'mydns_mail_queue_length'), 13);
  });
});
