import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MailSettings } from '@mydns/db';
import { AppError } from '@mydns/runtime';
import { checkNewPassword } from '../auth/password-policy.ts';
import { checkMailSettings } from '../hosts/mail-settings.ts';
import { describeProblem } from './problems.ts';

const CURRENT: MailSettings = {
  enabled: false,
  port: null,
  clientAddress: 'xclient',
  tls: 'opportunistic',
  fingerprint: null,
};
const MAIL_FIELDS = {
  port: 'mail-port',
  clientAddress: 'mail-client',
  tls: 'mail-tls',
  fingerprint: 'mail-fingerprint',
} as const;

function thrown(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  assert.fail('no error');
}

test('every mistake the mail settings can have is said in words, beside its field', () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ port: Number.NaN }, 'mail-port', 'The port must be a number from 1 to 65535.'],
    [{ port: 70000 }, 'mail-port', 'The port must be a number from 1 to 65535.'],
    [{ port: 5432 }, 'mail-port', 'Port 5432 cannot be used'],
    [{ enabled: true, port: null }, 'mail-port', 'Enter the port your mail server listens on'],
    [{ clientAddress: 'smtp' }, 'mail-client', 'Choose how your server learns'],
    [{ tls: 'maybe' }, 'mail-tls', 'Choose how the relay uses TLS'],
    [{ fingerprint: 'abc' }, 'mail-fingerprint', 'The fingerprint must be a SHA-256'],
    [{ tls: 'fingerprint' }, 'mail-fingerprint', 'A pinned certificate needs its SHA-256'],
  ];
  for (const [input, field, words] of cases) {
    const error = thrown(() => checkMailSettings(input, CURRENT));
    const problem = describeProblem(error, {
      fields: MAIL_FIELDS,
      values: { port: String(input.port ?? '') },
    });
    assert.equal(problem.field, field, JSON.stringify(input));
    assert.ok(problem.text.startsWith(words), `${JSON.stringify(input)}: ${problem.text}`);
    assert.doesNotMatch(problem.text, /mail\.|clientAddress|_/, 'no field names or codes');
  }
});

test('passwords are named as the form names them', () => {
  const error = thrown(() => checkNewPassword('short'));
  assert.deepEqual(
    describeProblem(error, { fields: { password: 'new-password' }, passwordNoun: 'The new password' }),
    {
      text: 'The new password needs at least 8 characters.',
      field: 'new-password',
    },
  );
  assert.deepEqual(describeProblem(error), { text: 'The password needs at least 8 characters.' });
});

test('the password policy speaks of the password the form sets', () => {
  const context = { fields: { password: 'new-password' }, passwordNoun: 'The new password' } as const;
  for (const [password, words] of [
    ['password', 'The new password is one of the most common ones'],
    ['        ', 'The new password cannot be only spaces.'],
    ['my-alice-secret', 'The new password cannot contain the hostname.'],
  ] as const) {
    const problem = describeProblem(
      thrown(() => checkNewPassword(password, { label: 'alice', hostname: 'alice.dyn.example.net' })),
      context,
    );
    assert.equal(problem.field, 'new-password', password);
    assert.ok(problem.text.startsWith(words), `${password}: ${problem.text}`);
  }
});

test('an unknown code keeps the service message, as a sentence; hostname codes point at the hostname', () => {
  assert.deepEqual(describeProblem(new AppError('something_new', 'a thing went wrong', { status: 400 })), {
    text: 'A thing went wrong.',
  });
  assert.deepEqual(
    describeProblem(new AppError('hostname_reserved', '"www" is reserved', { status: 400 }), {
      fields: { hostname: 'hostname' },
    }),
    { text: '"www" is reserved.', field: 'hostname' },
  );
});
