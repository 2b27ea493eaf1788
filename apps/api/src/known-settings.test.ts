import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readDotEnv } from '@mydns/runtime';
import { loadRelayConfig } from '@mydns/smtp-relay';
import { loadConfig } from './config.ts';
import { unknownSettingWarnings } from './known-settings.ts';

const root = join(import.meta.dirname, '../../..');

describe('unknownSettingWarnings', () => {
  test('.env.example copied to .env, compose part and all, draws no warning', () => {
    assert.deepEqual(unknownSettingWarnings(readDotEnv(join(root, '.env.example'))), []);
  });

  test("the relay's settings are known to npm start, which reads the same .env", () => {
    assert.deepEqual(
      unknownSettingWarnings({ MYDNS_RELAY_MAX_SESSIONS: '10', MYDNS_SMTP_PORT: '25', PGPASSWORD: 'x' }),
      [],
    );
  });

  test('a typo is one line with the name meant; the test harness and the rest of the environment are not', () => {
    assert.deepEqual(
      unknownSettingWarnings({
        MYDNS_HTTP_PROT: '9000',
        MYDNS_RELAY_MAX_SESION: '5',
        MYDNS_TEST_WORK_DIR: '/tmp',
        PATH: '/usr/bin',
      }),
      [
        'MYDNS_HTTP_PROT is not a MyDNS setting; did you mean MYDNS_HTTP_PORT?',
        'MYDNS_RELAY_MAX_SESION is not a MyDNS setting; did you mean MYDNS_RELAY_MAX_SESSIONS?',
      ],
    );
  });
});

describe('settings both apps read', () => {
  test('mean the same in both', () => {
    const env = {
      DATABASE_URL: 'postgres://mydns@db.example:5432/mydns',
      MYDNS_ZONE: 'Dyn.Example.NET.',
      MYDNS_RELAY_ADDRESS: '192.0.2.25, 2001:db8::25',
      LOG_LEVEL: 'debug',
      NODE_ENV: 'production',
    };
    const api = loadConfig(env);
    const relay = loadRelayConfig(env);
    assert.equal(api.databaseUrl, relay.databaseUrl);
    assert.equal(api.zone, 'dyn.example.net');
    assert.equal(relay.zone, api.zone);
    assert.deepEqual(api.relayAddresses, ['192.0.2.25', '2001:db8::25']);
    assert.deepEqual(
      relay.relayAddresses.map((address) => address.text),
      api.relayAddresses,
    );
    assert.deepEqual(api.log, { level: 'debug', format: 'json' });
    assert.deepEqual(relay.log, api.log);
  });

  test('and are refused with the same words', () => {
    const env = { MYDNS_ZONE: 'localhost', LOG_LEVEL: 'loud' };
    const problems = (load: () => unknown) => {
      try {
        load();
      } catch (error) {
        return (error as Error).message.split('\n').filter((line) => /^(MYDNS_ZONE|LOG_LEVEL):/.test(line));
      }
      return [];
    };
    const api = problems(() => loadConfig(env));
    assert.equal(api.length, 2, api.join('\n'));
    assert.deepEqual(
      problems(() => loadRelayConfig(env)),
      api,
    );
  });
});
