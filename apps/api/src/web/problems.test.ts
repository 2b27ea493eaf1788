import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MailSettings } from '@mydns/db';
import { AppError, badRequest } from '@mydns/runtime';
import { checkPassword } from '../hosts/hosts-service.ts';
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
  const error = thrown(() => checkPassword('short'));
  assert.deepEqual(
    describeProblem(error, { fields: { password: 'new-password' }, passwordNoun: 'The new password' }),
    {
      text: 'The new password needs at least 8 characters.',
      field: 'new-password',
    },
  );
  assert.deepEqual(describeProblem(error), { text: 'The password needs at least 8 characters.' });
});

test('an unknown code keeps the service message, as a sentence; hostname codes point at the hostname', () => {
  assert.deepEqual(describeProblem(badRequest('something_new', 'a thing went wrong')), {
    text: 'A thing went wrong.',
  });
  assert.deepEqual(
    describeProblem(badRequest('hostname_reserved', '"www" is reserved'), {
      fields: { hostname: 'hostname' },
    }),
    { text: '"www" is reserved.', field: 'hostname' },
  );
});
