import { type IpAddress, parseIpAddress } from '@mydns/domain';
import {
  type LogSettings,
  logSettings,
  parseSettings,
  type RateLimit,
  sharedLogSettings,
  sharedSettings,
  zBoolean,
  zDuration,
  zHostname,
  zList,
  zoneSettingsProblems,
  zPort,
  zRateLimit,
} from '@mydns/runtime';
import { z } from 'zod';

/**
 * The relay's settings: the only reader of the environment (through `env`).
 * Names and defaults follow docs/smtp-relay.md ("Limits"); the
 * README documents each one. Every limit and timeout is a setting.
 */

/** `127.0.0.1`, `127.0.0.1:5300`, `::1`, `[::1]:5300`: what node's `Resolver.setServers` takes. */
const zDnsServers = zList.transform((items, ctx) => {
  for (const item of items) {
    const bracketed = /^\[([^\]]+)\](?::([0-9]{1,5}))?$/.exec(item);
    const v4 = /^([0-9.]+)(?::([0-9]{1,5}))?$/.exec(item);
    const address = bracketed?.[1] ?? v4?.[1] ?? item;
    const port = bracketed?.[2] ?? v4?.[2];
    if (!parseIpAddress(address) || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
      ctx.addIssue({
        code: 'custom',
        message: `"${item}" is not a DNS server address (ip, ip:port or [ipv6]:port)`,
      });
    }
  }
  return items;
});

const count = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const schema = z.object({
  // DATABASE_URL, MYDNS_ZONE(S) and MYDNS_RELAY_ADDRESS, as the API reads them (LOG_* at the end).
  ...sharedSettings,
  MYDNS_SMTP_PORT: zPort.default(2525),
  MYDNS_SMTP_ADDRESS: z.string().min(1).default('::'),
  MYDNS_RELAY_METRICS_PORT: zPort.optional(),
  MYDNS_RELAY_METRICS_ADDRESS: z.string().min(1).default('127.0.0.1'),
  MYDNS_RELAY_HOSTNAME: zHostname.optional(),
  MYDNS_RELAY_ALLOW_PRIVATE_TARGETS: zBoolean.default(false),
  MYDNS_RELAY_TLS_CERT: z.string().min(1).optional(),
  MYDNS_RELAY_TLS_KEY: z.string().min(1).optional(),
  MYDNS_RELAY_DNS_SERVERS: zDnsServers.default([]),
  MYDNS_RELAY_SMTPUTF8: zBoolean.default(true),
  MYDNS_RELAY_BACKEND_SHARE: zBoolean.default(true),
  MYDNS_RELAY_MAX_SESSIONS: count(1, 1_000_000).default(1000),
  MYDNS_RELAY_CLIENT_SESSIONS: count(1, 1_000_000).default(10),
  MYDNS_RELAY_CLIENT_RATE: zRateLimit.default({ count: 60, windowMs: 60_000 }),
  MYDNS_RELAY_HOST_SESSIONS: count(1, 100_000).default(10),
  MYDNS_RELAY_CLIENT_HOST_SESSIONS: count(1, 100_000).optional(),
  MYDNS_RELAY_CLIENT_IPV6_PREFIX: count(32, 128).default(64),
  MYDNS_RELAY_MAX_LINE: count(512, 65_536).default(2048),
  MYDNS_RELAY_MAX_RECIPIENTS: count(1, 100_000).default(100),
  MYDNS_RELAY_MAX_TRANSACTIONS: count(1, 100_000).default(50),
  MYDNS_RELAY_MAX_ERRORS: count(1, 100_000).default(20),
  MYDNS_RELAY_MAX_MESSAGE_SIZE: count(1024, 2 ** 40).default(52_428_800),
  MYDNS_RELAY_GREETING_DELAY: zDuration.default(0),
  MYDNS_RELAY_LINE_TIMEOUT: zDuration.default(60_000),
  MYDNS_RELAY_IDLE_TIMEOUT: zDuration.default(300_000),
  MYDNS_RELAY_BUSY_IDLE_TIMEOUT: zDuration.default(30_000),
  MYDNS_RELAY_DATA_TIMEOUT: zDuration.default(300_000),
  MYDNS_RELAY_SESSION_TIMEOUT: zDuration.default(3_600_000),
  MYDNS_RELAY_TLS_TIMEOUT: zDuration.default(30_000),
  MYDNS_RELAY_CONNECT_TIMEOUT: zDuration.default(15_000),
  MYDNS_RELAY_BACKEND_GREETING_TIMEOUT: zDuration.default(60_000),
  MYDNS_RELAY_BACKEND_REPLY_TIMEOUT: zDuration.default(60_000),
  MYDNS_RELAY_BACKEND_DATA_TIMEOUT: zDuration.default(120_000),
  MYDNS_RELAY_BACKEND_FINAL_TIMEOUT: zDuration.default(590_000),
  MYDNS_RELAY_BACKEND_IDLE: zDuration.default(30_000),
  MYDNS_RELAY_ROUTING_TIMEOUT: zDuration.default(120_000),
  MYDNS_RELAY_HOST_CACHE_TTL: zDuration.default(5_000),
  MYDNS_RELAY_MX_CACHE_TTL: zDuration.default(300_000),
  MYDNS_RELAY_MX_NEGATIVE_TTL: zDuration.default(60_000),
  MYDNS_RELAY_STOP_GRACE: zDuration.default(30_000),
  MYDNS_RELAY_DB_POOL_SIZE: count(1, 100).default(4),
  ...sharedLogSettings,
});

/** Every variable the relay reads (README's relay table lists each; the API's settings-docs.test.ts checks it). */
export const RELAY_SETTING_NAMES: readonly string[] = Object.keys(schema.shape);

const POSITIVE_DURATIONS = [
  'MYDNS_RELAY_LINE_TIMEOUT',
  'MYDNS_RELAY_IDLE_TIMEOUT',
  'MYDNS_RELAY_BUSY_IDLE_TIMEOUT',
  'MYDNS_RELAY_DATA_TIMEOUT',
  'MYDNS_RELAY_SESSION_TIMEOUT',
  'MYDNS_RELAY_TLS_TIMEOUT',
  'MYDNS_RELAY_CONNECT_TIMEOUT',
  'MYDNS_RELAY_BACKEND_GREETING_TIMEOUT',
  'MYDNS_RELAY_BACKEND_REPLY_TIMEOUT',
  'MYDNS_RELAY_BACKEND_DATA_TIMEOUT',
  'MYDNS_RELAY_BACKEND_FINAL_TIMEOUT',
  'MYDNS_RELAY_ROUTING_TIMEOUT',
] as const;

/** One client's share of a host's backend connections, unless set: well below the host's own limit. */
const DEFAULT_CLIENT_HOST_SESSIONS = 3;

function crossChecks(env: Record<string, string | undefined>): [string, string][] {
  const problems: [string, string][] = [...zoneSettingsProblems(env)];
  const perHost = Number(env.MYDNS_RELAY_HOST_SESSIONS ?? 10);
  const perClientHost = Number(env.MYDNS_RELAY_CLIENT_HOST_SESSIONS);
  // A share as large as the whole would let one client hold every connection to a host again.
  if (env.MYDNS_RELAY_CLIENT_HOST_SESSIONS !== undefined && perClientHost > perHost) {
    problems.push([
      'MYDNS_RELAY_CLIENT_HOST_SESSIONS',
      `must be at most MYDNS_RELAY_HOST_SESSIONS (${perHost}): it is one client's share of them`,
    ]);
  }
  if (Boolean(env.MYDNS_RELAY_TLS_CERT) !== Boolean(env.MYDNS_RELAY_TLS_KEY)) {
    const missing = env.MYDNS_RELAY_TLS_CERT ? 'MYDNS_RELAY_TLS_KEY' : 'MYDNS_RELAY_TLS_CERT';
    problems.push([missing, 'is required together with the other TLS file setting (certificate and key)']);
  }
  for (const name of POSITIVE_DURATIONS) {
    const value = env[name];
    if (value !== undefined && /^\s*0+\s*(ms|s|m|h|d)?\s*$/.test(value))
      problems.push([name, 'must be more than 0']);
  }
  return problems;
}

export interface RelayLimits {
  readonly sessions: number;
  readonly clientSessions: number;
  readonly clientRate: RateLimit;
  readonly hostSessions: number;
  /** Backend connections one client (address, IPv6 prefix) may hold to one host. */
  readonly clientHostSessions: number;
  /** IPv6 clients are one client per prefix of this length (one subscriber usually holds a /64). */
  readonly clientIpv6Prefix: number;
  readonly lineLength: number;
  readonly recipients: number;
  readonly transactions: number;
  readonly errors: number;
  readonly messageSize: number;
}

export interface RelayTimeouts {
  readonly greetingDelayMs: number;
  readonly lineMs: number;
  readonly idleMs: number;
  readonly busyIdleMs: number;
  readonly dataMs: number;
  readonly sessionMs: number;
  readonly tlsMs: number;
  readonly connectMs: number;
  readonly backendGreetingMs: number;
  readonly backendReplyMs: number;
  readonly backendDataMs: number;
  readonly backendFinalMs: number;
  readonly backendIdleMs: number;
  readonly routingMs: number;
  readonly stopGraceMs: number;
}

export interface RelayConfig {
  readonly databaseUrl: string | undefined;
  /** The default zone (the first of `zones`). */
  readonly zone: string;
  /** Every zone the API serves: `<host>.<zone>` and `<host>.mx.<zone>` route in each. */
  readonly zones: readonly string[];
  readonly listen: { readonly port: number; readonly address: string };
  /** The relay alone serves /metrics here (unset: no metrics server of its own). */
  readonly metricsPort: number | undefined;
  readonly metricsAddress: string;
  /** Our name in greetings, EHLO and the Received header. */
  readonly hostname: string;
  /** The relay's public addresses: never a backend (loops). */
  readonly relayAddresses: readonly IpAddress[];
  readonly allowPrivateTargets: boolean;
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** Resolvers for custom-domain MX lookups; empty: the system's. */
  readonly dnsServers: readonly string[];
  readonly smtputf8: boolean;
  /** Backend connections go from one client's session to the next where the host's settings allow (backend-share.ts). */
  readonly backendShare: boolean;
  readonly limits: RelayLimits;
  readonly timeouts: RelayTimeouts;
  readonly cache: { readonly hostTtlMs: number; readonly mxTtlMs: number; readonly mxNegativeTtlMs: number };
  readonly dbPoolSize: number;
  readonly log: LogSettings;
}

export function loadRelayConfig(env: Record<string, string | undefined>): RelayConfig {
  const s = parseSettings(schema, env, crossChecks);
  const zones = s.MYDNS_ZONES ?? [s.MYDNS_ZONE];
  const zone = zones[0] ?? s.MYDNS_ZONE;
  return {
    databaseUrl: s.DATABASE_URL,
    zone,
    zones,
    listen: { port: s.MYDNS_SMTP_PORT, address: s.MYDNS_SMTP_ADDRESS },
    metricsPort: s.MYDNS_RELAY_METRICS_PORT,
    metricsAddress: s.MYDNS_RELAY_METRICS_ADDRESS,
    hostname: s.MYDNS_RELAY_HOSTNAME ?? `mx.${zone}`,
    relayAddresses: s.MYDNS_RELAY_ADDRESS,
    allowPrivateTargets: s.MYDNS_RELAY_ALLOW_PRIVATE_TARGETS,
    tls:
      s.MYDNS_RELAY_TLS_CERT && s.MYDNS_RELAY_TLS_KEY
        ? { certFile: s.MYDNS_RELAY_TLS_CERT, keyFile: s.MYDNS_RELAY_TLS_KEY }
        : undefined,
    dnsServers: s.MYDNS_RELAY_DNS_SERVERS,
    smtputf8: s.MYDNS_RELAY_SMTPUTF8,
    backendShare: s.MYDNS_RELAY_BACKEND_SHARE,
    limits: {
      sessions: s.MYDNS_RELAY_MAX_SESSIONS,
      clientSessions: s.MYDNS_RELAY_CLIENT_SESSIONS,
      clientRate: s.MYDNS_RELAY_CLIENT_RATE,
      hostSessions: s.MYDNS_RELAY_HOST_SESSIONS,
      clientHostSessions:
        s.MYDNS_RELAY_CLIENT_HOST_SESSIONS ??
        Math.min(DEFAULT_CLIENT_HOST_SESSIONS, s.MYDNS_RELAY_HOST_SESSIONS),
      clientIpv6Prefix: s.MYDNS_RELAY_CLIENT_IPV6_PREFIX,
      lineLength: s.MYDNS_RELAY_MAX_LINE,
      recipients: s.MYDNS_RELAY_MAX_RECIPIENTS,
      transactions: s.MYDNS_RELAY_MAX_TRANSACTIONS,
      errors: s.MYDNS_RELAY_MAX_ERRORS,
      messageSize: s.MYDNS_RELAY_MAX_MESSAGE_SIZE,
    },
    timeouts: {
      greetingDelayMs: s.MYDNS_RELAY_GREETING_DELAY,
      lineMs: s.MYDNS_RELAY_LINE_TIMEOUT,
      idleMs: s.MYDNS_RELAY_IDLE_TIMEOUT,
      busyIdleMs: s.MYDNS_RELAY_BUSY_IDLE_TIMEOUT,
      dataMs: s.MYDNS_RELAY_DATA_TIMEOUT,
      sessionMs: s.MYDNS_RELAY_SESSION_TIMEOUT,
      tlsMs: s.MYDNS_RELAY_TLS_TIMEOUT,
      connectMs: s.MYDNS_RELAY_CONNECT_TIMEOUT,
      backendGreetingMs: s.MYDNS_RELAY_BACKEND_GREETING_TIMEOUT,
      backendReplyMs: s.MYDNS_RELAY_BACKEND_REPLY_TIMEOUT,
      backendDataMs: s.MYDNS_RELAY_BACKEND_DATA_TIMEOUT,
      backendFinalMs: s.MYDNS_RELAY_BACKEND_FINAL_TIMEOUT,
      backendIdleMs: s.MYDNS_RELAY_BACKEND_IDLE,
      routingMs: s.MYDNS_RELAY_ROUTING_TIMEOUT,
      stopGraceMs: s.MYDNS_RELAY_STOP_GRACE,
    },
    cache: {
      hostTtlMs: s.MYDNS_RELAY_HOST_CACHE_TTL,
      mxTtlMs: s.MYDNS_RELAY_MX_CACHE_TTL,
      mxNegativeTtlMs: s.MYDNS_RELAY_MX_NEGATIVE_TTL,
    },
    dbPoolSize: s.MYDNS_RELAY_DB_POOL_SIZE,
    log: logSettings(s),
  };
}
