/**
 * The worker against an outbox in memory and a scripted transport: what it
 * marks, what it retries, how a batch shares one session. (Against Postgres
 * and real smarthosts: test/integration/mail.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClaimedMail, MailOutboxRepository, MailQueueStats } from '@mydns/db';
import { createLogger } from '@mydns/runtime';
import { reply, SmtpError, SmtpRejection } from '@mydns/smtp-client';
import type { MailSession, MailTransport } from './smarthost.ts';
import { createMailWorker } from './worker.ts';

interface Row {
  id: number;
  kind: string;
  recipient: string;
  message: string | null;
  status: 'queued' | 'sent' | 'failed';
  attempts: number;
  due: number;
  created: number;
  error: string | null;
}

function memoryOutbox(clock: { now: number }) {
  const rows: Row[] = [];
  const repository: MailOutboxRepository = {
    async insert(mail) {
      rows.push({
        id: rows.length + 1,
        kind: mail.kind,
        recipient: mail.recipient,
        message: mail.message,
        status: 'queued',
        attempts: 0,
        due: clock.now,
        created: clock.now,
        error: null,
      });
      return rows.length;
    },
    async claim(limit, leaseMs) {
      const due = rows.filter((r) => r.status === 'queued' && r.due <= clock.now).slice(0, limit);
      return due.map((r): ClaimedMail => {
        r.attempts++;
        r.due = clock.now + leaseMs;
        return {
          id: r.id,
          kind: r.kind,
          recipient: r.recipient,
          message: r.message ?? '',
          attempts: r.attempts,
          ageMs: clock.now - r.created,
        };
      });
    },
    async markSent(id) {
      Object.assign(rows[id - 1] as Row, { status: 'sent', message: null, error: null });
    },
    async defer(id, delayMs, error) {
      Object.assign(rows[id - 1] as Row, { due: clock.now + delayMs, error });
    },
    async fail(id, error) {
      Object.assign(rows[id - 1] as Row, { status: 'failed', message: null, error });
    },
    async release(ids) {
      for (const id of ids) {
        const row = rows[id - 1] as Row;
        row.due = clock.now;
        row.attempts--;
      }
    },
    async prune() {
      return 0;
    },
    async stats(): Promise<MailQueueStats> {
      return {
        queued: rows.filter((r) => r.status === 'queued').length,
        oldestQueuedSeconds: 0,
        overdueSeconds: 0,
      };
    },
    async nextDueInMs() {
      const due = rows.filter((r) => r.status === 'queued').map((r) => r.due - clock.now);
      return due.length > 0 ? Math.min(...due) : undefined;
    },
  };
  return { rows, repository };
}

/** A transport whose sessions do what `script` says per recipient; it records what it was asked. */
function scriptedTransport(script: { open?: () => void; send?: (recipient: string) => void } = {}) {
  const log: string[] = [];
  const transport: MailTransport = {
    async open() {
      log.push('open');
      script.open?.();
      const session: MailSession = {
        async send(recipient) {
          log.push(`send ${recipient}`);
          script.send?.(recipient);
        },
        close: () => log.push('close'),
        abort: () => log.push('abort'),
      };
      return session;
    },
  };
  return { transport, log };
}

const POLICY = { retryMs: 30_000, retryMaxMs: 3_600_000, giveUpMs: 2 * 86_400_000 };
const logger = createLogger({ level: 'error', format: 'json', silent: true });

function setup(script: Parameters<typeof scriptedTransport>[0] = {}, batchSize = 10) {
  const clock = { now: 1_000_000 };
  const outbox = memoryOutbox(clock);
  const transport = scriptedTransport(script);
  const events: string[] = [];
  const worker = createMailWorker({
    outbox: outbox.repository,
    transport: transport.transport,
    policy: POLICY,
    timeoutMs: 1000,
    keepMs: 86_400_000,
    logger,
    batchSize,
    events: {
      onSent: (kind) => events.push(`sent ${kind}`),
      onDeferred: (kind) => events.push(`deferred ${kind}`),
      onFailed: (kind, reason) => events.push(`failed ${kind} ${reason}`),
    },
  });
  const queue = (...recipients: string[]) =>
    Promise.all(
      recipients.map((recipient) =>
        outbox.repository.insert({ kind: 'test', recipient, message: 'Subject: x\r\n\r\nx' }),
      ),
    );
  return { clock, outbox, transport, events, worker, queue };
}

describe('the mail worker', () => {
  test('a batch goes out through one session, each mail marked sent', async () => {
    const { outbox, transport, events, worker, queue } = setup();
    await queue('a@example.org', 'b@example.org', 'c@example.org');
    assert.deepEqual(await worker.runOnce(), { claimed: 3, sent: 3, deferred: 0, failed: 0, released: 0 });
    assert.deepEqual(transport.log, [
      'open',
      'send a@example.org',
      'send b@example.org',
      'send c@example.org',
      'close',
    ]);
    assert.deepEqual(
      outbox.rows.map((r) => [r.status, r.message]),
      [
        ['sent', null],
        ['sent', null],
        ['sent', null],
      ],
    );
    assert.deepEqual(events, ['sent test', 'sent test', 'sent test']);
    assert.deepEqual(await worker.runOnce(), { claimed: 0, sent: 0, deferred: 0, failed: 0, released: 0 });
  });

  test('smarthost down: one connection attempt, the whole batch waits, 30 s then 60 s', async () => {
    let down = true;
    const { clock, outbox, transport, worker, queue } = setup({
      open: () => {
        if (down) throw new SmtpError('connect', 'connect to 127.0.0.1:2525 failed: ECONNREFUSED');
      },
    });
    await queue('a@example.org', 'b@example.org');
    assert.deepEqual(await worker.runOnce(), { claimed: 2, sent: 0, deferred: 2, failed: 0, released: 0 });
    assert.deepEqual(transport.log, ['open']);
    assert.deepEqual(
      outbox.rows.map((r) => [r.status, r.due - clock.now, r.error]),
      [
        ['queued', 30_000, 'connect to 127.0.0.1:2525 failed: ECONNREFUSED'],
        ['queued', 30_000, 'connect to 127.0.0.1:2525 failed: ECONNREFUSED'],
      ],
    );
    clock.now += 29_999;
    assert.equal((await worker.runOnce()).claimed, 0, 'not due yet');
    clock.now += 1;
    assert.equal((await worker.runOnce()).deferred, 2);
    assert.deepEqual(
      outbox.rows.map((r) => r.due - clock.now),
      [60_000, 60_000],
    );
    down = false;
    clock.now += 60_000;
    assert.equal((await worker.runOnce()).sent, 2);
    assert.deepEqual(
      outbox.rows.map((r) => [r.status, r.attempts]),
      [
        ['sent', 3],
        ['sent', 3],
      ],
    );
  });

  test('a refused recipient is given up, the others still go out on the same session', async () => {
    const { outbox, transport, events, worker, queue } = setup({
      send: (recipient) => {
        if (recipient === 'nobody@example.org')
          throw new SmtpRejection(
            'rcpt',
            reply(550, '5.1.1 <nobody@example.org>: Recipient address rejected'),
          );
      },
    });
    await queue('a@example.org', 'nobody@example.org', 'c@example.org');
    assert.deepEqual(await worker.runOnce(), { claimed: 3, sent: 2, deferred: 0, failed: 1, released: 0 });
    assert.equal(transport.log.filter((l) => l === 'open').length, 1);
    assert.deepEqual(
      outbox.rows.map((r) => r.status),
      ['sent', 'failed', 'sent'],
    );
    // The reason kept for the operator names the domain only.
    assert.equal(
      outbox.rows[1]?.error,
      'RCPT refused: 550 5.1.1 <…@example.org>: Recipient address rejected',
    );
    assert.deepEqual(events, ['sent test', 'failed test rejected', 'sent test']);
  });

  test('a session that breaks mid-batch: that mail and the rest wait, the ones before are sent', async () => {
    const { outbox, transport, worker, queue } = setup({
      send: (recipient) => {
        if (recipient === 'b@example.org') throw new SmtpError('protocol', 'connection lost');
      },
    });
    await queue('a@example.org', 'b@example.org', 'c@example.org');
    assert.deepEqual(await worker.runOnce(), { claimed: 3, sent: 1, deferred: 2, failed: 0, released: 0 });
    assert.deepEqual(transport.log, ['open', 'send a@example.org', 'send b@example.org', 'abort']);
    assert.deepEqual(
      outbox.rows.map((r) => [r.status, r.error]),
      [
        ['sent', null],
        ['queued', 'connection lost'],
        ['queued', 'connection lost'],
      ],
    );
  });

  test('after MYDNS_MAIL_GIVE_UP a failing mail is given up, and said so', async () => {
    const { clock, outbox, events, worker, queue } = setup({
      open: () => {
        throw new SmtpError('connect', 'refused');
      },
    });
    await queue('a@example.org');
    for (let i = 0; i < 100 && outbox.rows[0]?.status === 'queued'; i++) {
      await worker.runOnce();
      clock.now = Math.max(clock.now, outbox.rows[0]?.due ?? 0);
    }
    assert.equal(outbox.rows[0]?.status, 'failed');
    assert.ok(clock.now - 1_000_000 <= POLICY.giveUpMs);
    assert.equal(events.at(-1), 'failed test expired');
  });

  test('stop: the mail in flight finishes, the rest of the batch is released uncounted', async () => {
    let release: () => void = () => undefined;
    const { outbox, worker, queue } = setup({
      send: () => undefined,
    });
    await queue('a@example.org', 'b@example.org', 'c@example.org');
    // Hold the first send until stop() has been called.
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const original = outbox.repository.markSent;
    let first = true;
    outbox.repository.markSent = async (id) => {
      if (first) {
        first = false;
        await held;
      }
      return original(id);
    };
    const batch = worker.runOnce();
    await new Promise((resolve) => setImmediate(resolve));
    const stopped = worker.stop();
    release();
    assert.deepEqual(await batch, { claimed: 3, sent: 1, deferred: 0, failed: 0, released: 2 });
    await stopped;
    assert.deepEqual(
      outbox.rows.map((r) => [r.status, r.attempts]),
      [
        ['sent', 1],
        ['queued', 0],
        ['queued', 0],
      ],
    );
  });

  test('stop while the smarthost hangs before its greeting: the opening is cut after the grace', {
    timeout: 10_000,
  }, async () => {
    const clock = { now: 1_000_000 };
    const outbox = memoryOutbox(clock);
    let opening = 0;
    const transport: MailTransport = {
      // Never answers; only an abort ends the wait.
      open: (signal) =>
        new Promise((_resolve, reject) => {
          opening++;
          signal?.addEventListener('abort', () => reject(new SmtpError('connect', 'aborted')));
        }),
    };
    const worker = createMailWorker({
      outbox: outbox.repository,
      transport,
      policy: POLICY,
      timeoutMs: 600_000,
      keepMs: 86_400_000,
      logger,
      stopGraceMs: 50,
    });
    await outbox.repository.insert({ kind: 'test', recipient: 'a@example.org', message: 'x' });
    const batch = worker.runOnce();
    while (opening === 0) await new Promise((resolve) => setImmediate(resolve));
    await worker.stop();
    assert.deepEqual(await batch, { claimed: 1, sent: 0, deferred: 1, failed: 0, released: 0 });
    assert.equal(outbox.rows[0]?.status, 'queued');
  });
});
