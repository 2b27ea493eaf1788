import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StartupError } from '@mydns/runtime';
import { loadConfig } from '../config.ts';
import { parseMailUrl } from './mail-url.ts';

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof StartupError);
    return error.message;
  }
  assert.fail('accepted');
}

describe('MYDNS_MAIL_URL', () => {
  test('the forms README "Mail" lists', () => {
    const cases: [string, unknown][] = [
      [
        'smtp://mail.example.net',
        { host: 'mail.example.net', port: 587, security: 'starttls', tls: 'verify' },
      ],
      ['smtp://127.0.0.1:25?tls=none', { host: '127.0.0.1', port: 25, security: 'starttls', tls: 'none' }],
      [
        'smtps://mail.example.net',
        { host: 'mail.example.net', port: 465, security: 'implicit', tls: 'verify' },
      ],
      [
        'smtps://[::1]:4465?tls=no-verify',
        { host: '::1', port: 4465, security: 'implicit', tls: 'no-verify' },
      ],
      [
        'SMTP://Mail.Bücher.Example:2525',
        { host: 'mail.xn--bcher-kva.example', port: 2525, security: 'starttls', tls: 'verify' },
      ],
    ];
    for (const [text, expected] of cases) {
      const parsed = parseMailUrl(text);
      assert.ok(parsed.ok, text);
      if (parsed.ok) assert.deepEqual(parsed.url, { ...(expected as object), credentials: undefined }, text);
    }
  });

  test('credentials are URL-decoded', () => {
    const parsed = parseMailUrl('smtp://mailer%40dyn.example.net:p%40ss%3Aw%2Frd%25@smtp.example.net:587');
    assert.ok(parsed.ok);
    if (parsed.ok)
      assert.deepEqual(parsed.url.credentials, { user: 'mailer@dyn.example.net', pass: 'p@ss:w/rd%' });
  });

  test('bad URLs stop the start, and the message never shows the URL (it holds a password)', () => {
    const bad = [
      'http://user:hunter2-secret@mail.example.net',
      'smtp://user:hunter2-secret@mail.example.net/path',
      'smtp://user:hunter2-secret@mail.example.net?tls=maybe',
      'smtp://user:hunter2-secret@mail.example.net?ca=/etc/ca.pem',
      'smtps://user:hunter2-secret@mail.example.net?tls=none',
      'smtp://user:hunter2-secret%zz@mail.example.net',
      'smtp://:hunter2-secret@mail.example.net',
      'smtp://user:hunter2-secret@mail_example.net',
      'smtp://user:hunter2-secret@mail.example.net:70000',
      'not a url hunter2-secret',
    ];
    for (const url of bad) {
      const message = problems({ MYDNS_MAIL_URL: url });
      assert.match(message, /^MYDNS_MAIL_URL: /m, url);
      assert.ok(!message.includes('hunter2'), `${url} → ${message}`);
    }
  });

  test('empty is no mail', () => {
    assert.equal(loadConfig({ MYDNS_MAIL_URL: '' }).mail.smarthost, undefined);
    assert.equal(loadConfig({}).mail.smarthost, undefined);
  });
});

describe('the other mail settings', () => {
  test('MYDNS_MAIL_FROM: the default names the zone; a name and address, or an address', () => {
    assert.deepEqual(loadConfig({ MYDNS_ZONE: 'dyn.example.net' }).mail.from, {
      name: 'MyDNS',
      address: 'no-reply@dyn.example.net',
    });
    assert.deepEqual(loadConfig({ MYDNS_MAIL_FROM: 'Dyn Service <dyn@example.net>' }).mail.from, {
      name: 'Dyn Service',
      address: 'dyn@example.net',
    });
    assert.match(problems({ MYDNS_MAIL_FROM: 'nobody' }), /MYDNS_MAIL_FROM: /);
    assert.match(problems({ MYDNS_MAIL_FROM: 'x <a@b.example>\r\nBcc: e@f.example' }), /MYDNS_MAIL_FROM: /);
  });

  test('links start with MYDNS_PUBLIC_URL, by default http://127.0.0.1:<port>; EHLO names the public host', () => {
    const open = loadConfig({ MYDNS_PUBLIC_URL: 'https://dyn.example.net/', MYDNS_ZONE: 'dyn.example.org' });
    assert.equal(open.mail.publicUrl, 'https://dyn.example.net');
    assert.equal(open.mail.clientName, 'dyn.example.net');
    const lab = loadConfig({ MYDNS_HTTP_PORT: '9090', MYDNS_ZONE: 'lab.example' });
    assert.equal(lab.mail.publicUrl, 'http://127.0.0.1:9090');
    assert.equal(lab.mail.clientName, 'lab.example');
  });

  test('retries, limits and their checks', () => {
    const mail = loadConfig({
      MYDNS_MAIL_RETRY: '1s',
      MYDNS_MAIL_RETRY_MAX: '10s',
      MYDNS_MAIL_GIVE_UP: '1m',
      MYDNS_MAIL_RECIPIENT_LIMIT: '2/10m',
    }).mail;
    assert.deepEqual([mail.retryMs, mail.retryMaxMs, mail.giveUpMs], [1000, 10_000, 60_000]);
    assert.deepEqual(mail.limits.recipient, { count: 2, windowMs: 600_000 });
    const message = problems({ MYDNS_MAIL_RETRY: '1h', MYDNS_MAIL_RETRY_MAX: '1m', MYDNS_MAIL_TIMEOUT: '0' });
    assert.match(message, /MYDNS_MAIL_RETRY_MAX: must be at least MYDNS_MAIL_RETRY/);
    assert.match(message, /MYDNS_MAIL_TIMEOUT: must be more than 0/);
    assert.match(problems({ MYDNS_MAIL_SOURCE_LIMIT: 'lots' }), /MYDNS_MAIL_SOURCE_LIMIT: /);
  });
});
