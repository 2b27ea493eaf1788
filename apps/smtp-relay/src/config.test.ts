import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StartupError } from '@mydns/runtime';
import { loadRelayConfig } from './config.ts';

describe('loadRelayConfig', () => {
  test('defaults (docs/smtp-relay.md "Limits")', () => {
    const config = loadRelayConfig({});
    assert.equal(config.listen.port, 2525);
    assert.equal(config.zone, 'mydns.test');
    assert.equal(config.hostname, 'mx.mydns.test');
    assert.deepEqual(
      config.relayAddresses.map((a) => a.text),
      ['127.0.0.1'],
    );
    assert.equal(config.allowPrivateTargets, false);
    assert.equal(config.tls, undefined);
    assert.deepEqual(config.limits, {
      sessions: 1000,
      clientSessions: 10,
      clientRate: { count: 60, windowMs: 60_000 },
      hostSessions: 10,
      clientHostSessions: 3,
      clientIpv6Prefix: 64,
      lineLength: 2048,
      recipients: 100,
      transactions: 50,
      errors: 20,
      messageSize: 52_428_800,
    });
    assert.equal(config.timeouts.lineMs, 60_000);
    assert.equal(config.timeouts.idleMs, 300_000);
    assert.equal(config.timeouts.busyIdleMs, 30_000);
    assert.equal(config.timeouts.connectMs, 15_000);
    assert.equal(config.timeouts.backendGreetingMs, 60_000);
    assert.equal(config.timeouts.backendFinalMs, 590_000);
  });
  test('zones: MYDNS_ZONES as the API reads it; the relay names itself after the default zone', () => {
    const config = loadRelayConfig({ MYDNS_ZONES: 'Dyn.Example.NET., home.example.org' });
    assert.equal(config.zone, 'dyn.example.net');
    assert.deepEqual(config.zones, ['dyn.example.net', 'home.example.org']);
    assert.equal(config.hostname, 'mx.dyn.example.net');
    assert.deepEqual(loadRelayConfig({}).zones, ['mydns.test']);
    assert.throws(
      () =>
        loadRelayConfig({ MYDNS_ZONE: 'home.example.org', MYDNS_ZONES: 'dyn.example.net,home.example.org' }),
      (error: Error) => error instanceof StartupError && /^MYDNS_ZONES: its first zone/m.test(error.message),
    );
  });
  test('values as an operator writes them', () => {
    const config = loadRelayConfig({
      MYDNS_ZONE: 'Dyn.Example.NET.',
      MYDNS_SMTP_PORT: '25',
      MYDNS_RELAY_ADDRESS: '198.51.100.25, 2001:db8::25',
      MYDNS_RELAY_ALLOW_PRIVATE_TARGETS: 'yes',
      MYDNS_RELAY_TLS_CERT: '/etc/mydns/cert.pem',
      MYDNS_RELAY_TLS_KEY: '/etc/mydns/key.pem',
      MYDNS_RELAY_DNS_SERVERS: '127.0.0.1:5300, [::1]:53, 9.9.9.9',
      MYDNS_RELAY_CLIENT_RATE: '100/10m',
      MYDNS_RELAY_IDLE_TIMEOUT: '2m',
    });
    assert.equal(config.zone, 'dyn.example.net');
    assert.equal(config.hostname, 'mx.dyn.example.net');
    assert.equal(config.listen.port, 25);
    assert.deepEqual(
      config.relayAddresses.map((a) => a.text),
      ['198.51.100.25', '2001:db8::25'],
    );
    assert.equal(config.allowPrivateTargets, true);
    assert.deepEqual(config.tls, { certFile: '/etc/mydns/cert.pem', keyFile: '/etc/mydns/key.pem' });
    assert.deepEqual(config.dnsServers, ['127.0.0.1:5300', '[::1]:53', '9.9.9.9']);
    assert.deepEqual(config.limits.clientRate, { count: 100, windowMs: 600_000 });
    assert.equal(config.timeouts.idleMs, 120_000);
  });
  test("one client's share of a host's backend connections, and the IPv6 prefix that is one client", () => {
    const set = loadRelayConfig({
      MYDNS_RELAY_HOST_SESSIONS: '20',
      MYDNS_RELAY_CLIENT_HOST_SESSIONS: '5',
      MYDNS_RELAY_CLIENT_IPV6_PREFIX: '56',
    });
    assert.equal(set.limits.clientHostSessions, 5);
    assert.equal(set.limits.clientIpv6Prefix, 56);
    // Unset, the share is 3, or the whole when a host may have fewer connections than that.
    assert.equal(loadRelayConfig({ MYDNS_RELAY_HOST_SESSIONS: '2' }).limits.clientHostSessions, 2);
    assert.equal(loadRelayConfig({ MYDNS_RELAY_CLIENT_HOST_SESSIONS: '10' }).limits.clientHostSessions, 10);
    const problems = (env: Record<string, string>) => {
      try {
        loadRelayConfig(env);
        return [];
      } catch (error) {
        assert.ok(error instanceof StartupError);
        return error.message.split('\n').slice(1);
      }
    };
    assert.deepEqual(problems({ MYDNS_RELAY_CLIENT_HOST_SESSIONS: '11' }), [
      "MYDNS_RELAY_CLIENT_HOST_SESSIONS: must be at most MYDNS_RELAY_HOST_SESSIONS (10): it is one client's share of them",
    ]);
    assert.deepEqual(problems({ MYDNS_RELAY_HOST_SESSIONS: '4', MYDNS_RELAY_CLIENT_HOST_SESSIONS: '5' }), [
      "MYDNS_RELAY_CLIENT_HOST_SESSIONS: must be at most MYDNS_RELAY_HOST_SESSIONS (4): it is one client's share of them",
    ]);
    assert.deepEqual(problems({ MYDNS_RELAY_CLIENT_HOST_SESSIONS: '0' }), [
      'MYDNS_RELAY_CLIENT_HOST_SESSIONS: must be at least 1',
    ]);
    assert.deepEqual(problems({ MYDNS_RELAY_CLIENT_IPV6_PREFIX: '129' }), [
      'MYDNS_RELAY_CLIENT_IPV6_PREFIX: must be at most 128',
    ]);
    assert.deepEqual(problems({ MYDNS_RELAY_CLIENT_IPV6_PREFIX: '/64' }), [
      'MYDNS_RELAY_CLIENT_IPV6_PREFIX: must be a whole number',
    ]);
    assert.deepEqual(problems({ MYDNS_RELAY_CLIENT_IPV6_PREFIX: '16' }), [
      'MYDNS_RELAY_CLIENT_IPV6_PREFIX: must be at least 32',
    ]);
  });
  test('one line per bad setting, naming the variable', () => {
    assert.throws(
      () =>
        loadRelayConfig({
          MYDNS_SMTP_PORT: '0',
          MYDNS_RELAY_ADDRESS: 'relay.example',
          MYDNS_RELAY_MAX_SESSIONS: 'lots',
          MYDNS_RELAY_DNS_SERVERS: 'dns.example',
          MYDNS_RELAY_TLS_CERT: '/etc/cert.pem',
          MYDNS_RELAY_CONNECT_TIMEOUT: '0s',
          MYDNS_RELAY_ALLOW_PRIVATE_TARGETS: 'maybe',
        }),
      (error: unknown) => {
        assert.ok(error instanceof StartupError);
        const lines = error.message.split('\n');
        assert.equal(lines[0], 'invalid settings:');
        assert.deepEqual(
          lines
            .slice(1)
            .map((line) => line.split(':')[0])
            .sort(),
          [
            'MYDNS_RELAY_ADDRESS',
            'MYDNS_RELAY_ALLOW_PRIVATE_TARGETS',
            'MYDNS_RELAY_CONNECT_TIMEOUT',
            'MYDNS_RELAY_DNS_SERVERS',
            'MYDNS_RELAY_MAX_SESSIONS',
            'MYDNS_RELAY_TLS_KEY',
            'MYDNS_SMTP_PORT',
          ],
        );
        return true;
      },
    );
  });
});
