import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { reply, SmtpError, SmtpRejection } from '@mydns/smtp-client';
import { afterFailure, isPermanent, retryDelayMs } from './retry.ts';

const POLICY = { retryMs: 30_000, retryMaxMs: 3_600_000, giveUpMs: 2 * 86_400_000 };

describe('retries', () => {
  test('30 s doubling up to 1 h', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9, 50, 1000].map((n) => retryDelayMs(n, POLICY) / 1000);
    assert.deepEqual(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
  });

  test('the default policy keeps trying for two days, then gives up', () => {
    let ageMs = 0;
    let attempts = 0;
    for (;;) {
      attempts++;
      const outcome = afterFailure(new SmtpError('connect', 'refused'), { attempts, ageMs }, POLICY);
      if (outcome.kind === 'fail') {
        assert.equal(outcome.reason, 'expired');
        break;
      }
      ageMs += outcome.delayMs;
    }
    assert.ok(
      ageMs <= POLICY.giveUpMs && ageMs > POLICY.giveUpMs - 3_600_000,
      `gave up at ${ageMs / 3_600_000} h`,
    );
    assert.ok(attempts > 40 && attempts < 60, `${attempts} attempts`);
  });

  test('what is permanent: a 5xx to RCPT, DATA or the message; not to MAIL, not 530, not 4xx', () => {
    const cases: [unknown, boolean][] = [
      [new SmtpRejection('rcpt', reply(550, '5.1.1 unknown user')), true],
      [new SmtpRejection('final', reply(554, '5.7.1 rejected as spam')), true],
      [new SmtpRejection('data', reply(554, '5.5.1 no valid recipients')), true],
      [new SmtpRejection('mail', reply(553, '5.7.1 sender not owned by user')), false],
      [new SmtpRejection('rcpt', reply(530, '5.7.0 Authentication required')), false],
      [new SmtpRejection('rcpt', reply(450, '4.2.0 greylisted')), false],
      [new SmtpRejection('final', reply(451, '4.3.0 try later')), false],
      [new SmtpError('auth', 'AUTH PLAIN refused: 535 5.7.8'), false],
      [new SmtpError('protocol', 'TLS handshake failed', { tlsHandshake: true }), false],
      [new Error('something else'), false],
    ];
    for (const [error, permanent] of cases) assert.equal(isPermanent(error), permanent, String(error));
    assert.deepEqual(
      afterFailure(new SmtpRejection('rcpt', reply(550, '5.1.1 no')), { attempts: 1, ageMs: 0 }, POLICY),
      { kind: 'fail', reason: 'rejected' },
    );
    assert.deepEqual(afterFailure(new SmtpError('connect', 'x'), { attempts: 3, ageMs: 0 }, POLICY), {
      kind: 'defer',
      delayMs: 120_000,
    });
  });
});
