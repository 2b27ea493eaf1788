import { availableParallelism } from 'node:os';
import { type Cidr, isValidHostname, normaliseName, parseCidr, parseIpAddress } from '@mydns/domain';
import {
  type LogSettings,
  logSettings,
  parseSettings,
  type RateLimit,
  sharedLogSettings,
  sharedSettings,
  zAddressList,
  zBoolean,
  zDuration,
  zList,
  zoneSettingsProblems,
  zPort,
  zRateLimit,
} from '@mydns/runtime';
import { z } from 'zod';
import { type MailConfig, mailCrossChecks, mailSettingsShape, toMailConfig } from './mail/settings.ts';

/**
 * The API's settings: the only reader of process.env (through `env`). Names
 * and defaults are the contract in docs/interfaces.md; README.md documents each one.
 */

const zCidrList = zList.transform((items, ctx) => {
  const cidrs: Cidr[] = [];
  for (const item of items) {
    const cidr = parseCidr(item);
    if (cidr) cidrs.push(cidr);
    else ctx.addIssue({ code: 'custom', message: `"${item}" is not an address or CIDR range` });
  }
  return cidrs;
});

const schema = z.object({
  // DATABASE_URL, MYDNS_ZONE(S) and MYDNS_RELAY_ADDRESS, as the relay reads them (LOG_* at the end).
  ...sharedSettings,
  MYDNS_HTTP_PORT: zPort.default(8080),
  // Loopback by default: `npm start` is a lab until someone opens it up (README "Quick start").
  MYDNS_HTTP_ADDRESS: z.string().default('127.0.0.1'),
  MYDNS_PUBLIC_URL: z
    .string()
    .url('must be an http(s):// URL like https://dyn.example.net')
    .refine(
      (url) => /^https?:\/\/[^/]+\/?$/.test(url),
      'must be just the scheme and host, like https://dyn.example.net',
    )
    .transform((url) => url.replace(/\/$/, ''))
    .optional(),
  /** The API's public addresses: `update(4|6).<zone>` point at them (README "Setups"). */
  MYDNS_API_ADDRESS: zAddressList.default([]),
  MYDNS_DATA_DIR: z.string().min(1).default('.data'),
  MYDNS_PDNS_API_URL: z.string().url('must be an http(s):// URL').optional(),
  MYDNS_PDNS_API_KEY: z.string().min(1).optional(),
  MYDNS_PDNS_SERVER_ID: z.string().min(1).default('localhost'),
  MYDNS_DNS_PORT: zPort.default(5300),
  MYDNS_PDNS_API_PORT: zPort.default(8081),
  MYDNS_PDNS_BINARY: z.string().min(1).optional(),
  MYDNS_NAMESERVERS: zList
    .transform((names, ctx) => {
      for (const ns of names) {
        if (!isValidHostname(normaliseName(ns)))
          ctx.addIssue({ code: 'custom', message: `"${ns}" is not a host name` });
      }
      return names;
    })
    .optional(),
  MYDNS_RECORD_TTL: z.coerce.number().int().min(1).max(86_400).default(60),
  MYDNS_TRUSTED_PROXIES: zCidrList.default([]),
  // Unset: allowed exactly when the API listens on loopback only (see loadConfig).
  MYDNS_ALLOW_PRIVATE_ADDRESSES: zBoolean.optional(),
  MYDNS_REGISTRATION: z.enum(['open', 'closed']).default('open'),
  MYDNS_HOST_UPDATE_LIMIT: zRateLimit.default({ count: 30, windowMs: 600_000 }),
  MYDNS_LOGIN_FAILURE_LIMIT: zRateLimit.default({ count: 20, windowMs: 600_000 }),
  MYDNS_LOGIN_HOST_FAILURE_LIMIT: zRateLimit.default({ count: 10, windowMs: 600_000 }),
  MYDNS_LOGIN_BLOCK: zDuration.default(900_000),
  MYDNS_IPV6_LIMIT_PREFIX: z.coerce.number().int().min(32).max(128).default(64),
  MYDNS_BCRYPT_QUEUE: z.coerce.number().int().min(1).max(100_000).default(128),
  MYDNS_NAME_QUARANTINE_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  MYDNS_REGISTRATION_LIMIT: zRateLimit.default({ count: 10, windowMs: 3_600_000 }),
  MYDNS_HOSTS_PER_ACCOUNT: z.coerce.number().int().min(1).max(1000).default(5),
  // Said where mail would be needed and there is none (README "Accounts"): an address or a URL.
  MYDNS_OPERATOR_CONTACT: z.string().max(200).optional(),
  MYDNS_BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(10),
  MYDNS_BCRYPT_THREADS: z.coerce.number().int().min(1).max(64).default(availableParallelism()),
  MYDNS_CREDENTIAL_CACHE_TTL: zDuration.default(3_600_000),
  MYDNS_HOST_CACHE_TTL: zDuration.default(3_600_000),
  MYDNS_INACTIVITY_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  // 0: no warning, only the notice when the host has gone dormant.
  MYDNS_DORMANCY_WARNING_DAYS: z.coerce.number().int().min(0).max(3650).default(7),
  MYDNS_MAINTENANCE_INTERVAL: zDuration.default(60_000),
  MYDNS_RECONCILE_INTERVAL: zDuration.default(3_600_000),
  MYDNS_OPERATOR_RECORDS: zList.default([]),
  MYDNS_SECONDARIES: zList
    .transform((items, ctx) => {
      for (const item of items) {
        const match = /^\[?([0-9a-fA-F:.]+?)\]?(?::([0-9]{1,5}))?$/.exec(item);
        const address = match?.[1] ? parseIpAddress(match[1]) : undefined;
        if (!address || (match?.[2] !== undefined && Number(match[2]) > 65535)) {
          ctx.addIssue({ code: 'custom', message: `"${item}" is not an address or address:port` });
        }
      }
      return items;
    })
    .default([]),
  MYDNS_NOTIFY_INTERVAL: zDuration.default(5000),
  MYDNS_HISTORY_MAX_PER_HOST: z.coerce.number().int().min(0).max(100_000).default(200),
  MYDNS_HISTORY_MAX_AGE: zDuration.default(90 * 86_400_000),
  MYDNS_RELAY_ENABLED: zBoolean.default(true),
  MYDNS_DNSSEC: zBoolean.default(true),
  MYDNS_PUSH_TIMEOUT: zDuration.default(3000),
  MYDNS_BLOCKED_USER_AGENTS: zList.default([]),
  MYDNS_DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  MYDNS_ALLOW_PRIVATE_WEBHOOKS: zBoolean.default(false),
  MYDNS_WEBHOOK_RETRY: zDuration.default(10_000),
  ...sharedLogSettings,
  ...mailSettingsShape,
});

/** Every variable the API reads (README's settings table lists each; settings-docs.test.ts checks it). */
export const API_SETTING_NAMES: readonly string[] = Object.keys(schema.shape);

/** Rules that involve two variables: reported together with every field problem. */
function crossChecks(env: Record<string, string | undefined>): [string, string][] {
  const problems: [string, string][] = [...zoneSettingsProblems(env)];
  if (env.MYDNS_PDNS_API_URL && !env.MYDNS_PDNS_API_KEY) {
    problems.push([
      'MYDNS_PDNS_API_KEY',
      'is required when MYDNS_PDNS_API_URL points at an external PowerDNS',
    ]);
  }
  // A warning as early as the dormancy itself (or earlier) would go out at every update's next pass.
  const warning = Number(env.MYDNS_DORMANCY_WARNING_DAYS ?? 7);
  const inactivity = Number(env.MYDNS_INACTIVITY_DAYS ?? 30);
  if (Number.isInteger(warning) && Number.isInteger(inactivity) && warning > 0 && warning >= inactivity) {
    problems.push([
      'MYDNS_DORMANCY_WARNING_DAYS',
      `must be less than MYDNS_INACTIVITY_DAYS (${inactivity}), or 0 for no warning`,
    ]);
  }
  return [...problems, ...mailCrossChecks(env)];
}

export interface Config {
  readonly databaseUrl: string | undefined;
  /** The default zone: bare labels mean `<label>.<zone>` (the first of `zones`). */
  readonly zone: string;
  /** Every zone served (MYDNS_ZONES, else MYDNS_ZONE), the default zone first. */
  readonly zones: readonly string[];
  readonly http: { readonly port: number; readonly address: string };
  /** Where clients reach the service (setup snippets); from the request's Host when unset. */
  readonly publicUrl: string | undefined;
  readonly dataDir: string;
  readonly powerdns:
    | {
        readonly mode: 'external';
        readonly apiUrl: string;
        readonly apiKey: string;
        readonly serverId: string;
      }
    | {
        readonly mode: 'managed';
        readonly dnsPort: number;
        readonly apiPort: number;
        readonly binary: string | undefined;
      };
  /** The default zone's NS names (`nameserversByZone` has every zone's). */
  readonly nameservers: readonly string[];
  /** MYDNS_NAMESERVERS for every zone, or `ns1.<zone>` for each. */
  readonly nameserversByZone: Readonly<Record<string, readonly string[]>>;
  readonly recordTtl: number;
  readonly trustedProxies: readonly Cidr[];
  readonly allowPrivateAddresses: boolean;
  /**
   * True when private addresses are allowed only because the API listens on
   * loopback alone and MYDNS_ALLOW_PRIVATE_ADDRESSES is unset (a lab on one
   * machine: the quick start's curl comes from 127.0.0.1). Said in the start log.
   */
  readonly labMode: boolean;
  readonly registration: 'open' | 'closed';
  readonly accounts: {
    readonly hostsPerAccount: number;
    /** How people reach the operator (a password reset without mail); undefined: not said. */
    readonly operatorContact: string | undefined;
  };
  readonly limits: {
    readonly hostUpdates: RateLimit;
    /** Failed logins per source (an IPv4 address or an IPv6 network of `ipv6Prefix` bits). */
    readonly loginFailures: RateLimit;
    /** Failed logins per (source, host). */
    readonly loginHostFailures: RateLimit;
    readonly loginBlockMs: number;
    /** Every per-address limit counts IPv6 sources per network of this many bits. */
    readonly ipv6Prefix: number;
    readonly registrations: RateLimit;
  };
  readonly bcrypt: { readonly cost: number; readonly threads: number; readonly queue: number };
  /** Days a deleted host's name cannot be registered again. */
  readonly nameQuarantineDays: number;
  readonly credentialCacheTtlMs: number;
  readonly hostCacheTtlMs: number;
  readonly lifecycle: {
    readonly inactivityDays: number;
    /** Days before a host goes dormant that its account gets a warning (notices on); 0: none. */
    readonly dormancyWarningDays: number;
    readonly maintenanceIntervalMs: number;
    readonly historyMaxPerHost: number;
    readonly historyMaxAgeMs: number;
  };
  readonly reconcile: {
    /** 0 turns the periodic run off (it still runs at start and from the CLI). */
    readonly intervalMs: number;
    /** Names in the zone that belong to the operator, not to MyDNS (`@`, `www`, `*.lab`). */
    readonly operatorRecords: readonly string[];
  };
  /** Zones MyDNS creates are signed (NSEC3); existing zones are left as they are (docs/dnssec.md). */
  readonly dnssec: boolean;
  /** Secondaries PowerDNS notifies (ip or ip:port); none means a Native zone. */
  readonly secondaries: readonly string[];
  /** At most one NOTIFY per zone per this many ms (0: after every batch of changes). */
  readonly notifyIntervalMs: number;
  /** The relay's public addresses, published for `mx.<zone>` and `*.mx.<zone>`. */
  readonly relayAddresses: readonly string[];
  /** MYDNS_API_ADDRESS: published as `update.<zone>`, `update4.<zone>`, `update6.<zone>`. */
  readonly apiAddresses: readonly string[];
  /** `npm start` runs the SMTP relay beside the API (compose runs it as a service of its own). */
  readonly relayEnabled: boolean;
  readonly pushTimeoutMs: number;
  readonly blockedUserAgents: readonly string[];
  readonly dbPoolSize: number;
  readonly log: LogSettings;
  /** Outbound mail (README "Mail"). */
  readonly mail: MailConfig;
  /** Host webhooks (README "Webhooks"). */
  readonly webhooks: {
    /** Targets on private, loopback … addresses are allowed (labs and tests). */
    readonly allowPrivate: boolean;
    /** The first wait after a failed delivery; the waits double up to 10 minutes, for an hour. */
    readonly retryMs: number;
  };
}

/** 127.0.0.0/8, ::1 or localhost: nobody but this machine can connect. */
export function isLoopbackListener(address: string): boolean {
  const parsed = parseIpAddress(address);
  if (address.toLowerCase() === 'localhost') return true;
  if (!parsed) return false;
  return parsed.family === 4 ? parsed.bytes[0] === 127 : parsed.text === '::1';
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const s = parseSettings(schema, env, crossChecks);
  // A public deployment (any non-loopback listener, or a proxy in front) stays strict unless told otherwise.
  const labMode =
    s.MYDNS_ALLOW_PRIVATE_ADDRESSES === undefined &&
    isLoopbackListener(s.MYDNS_HTTP_ADDRESS) &&
    s.MYDNS_TRUSTED_PROXIES.length === 0;
  const zones = s.MYDNS_ZONES ?? [s.MYDNS_ZONE];
  const zone = zones[0] ?? s.MYDNS_ZONE;
  const nameserversByZone = Object.fromEntries(
    zones.map((served) => [served, (s.MYDNS_NAMESERVERS ?? [`ns1.${served}`]).map(normaliseName)]),
  );
  return {
    databaseUrl: s.DATABASE_URL,
    zone,
    zones,
    http: { port: s.MYDNS_HTTP_PORT, address: s.MYDNS_HTTP_ADDRESS },
    publicUrl: s.MYDNS_PUBLIC_URL,
    dataDir: s.MYDNS_DATA_DIR,
    powerdns:
      s.MYDNS_PDNS_API_URL && s.MYDNS_PDNS_API_KEY
        ? {
            mode: 'external',
            apiUrl: s.MYDNS_PDNS_API_URL,
            apiKey: s.MYDNS_PDNS_API_KEY,
            serverId: s.MYDNS_PDNS_SERVER_ID,
          }
        : {
            mode: 'managed',
            dnsPort: s.MYDNS_DNS_PORT,
            apiPort: s.MYDNS_PDNS_API_PORT,
            binary: s.MYDNS_PDNS_BINARY,
          },
    nameservers: nameserversByZone[zone] ?? [],
    nameserversByZone,
    recordTtl: s.MYDNS_RECORD_TTL,
    trustedProxies: s.MYDNS_TRUSTED_PROXIES,
    allowPrivateAddresses: s.MYDNS_ALLOW_PRIVATE_ADDRESSES ?? labMode,
    labMode,
    registration: s.MYDNS_REGISTRATION,
    accounts: {
      hostsPerAccount: s.MYDNS_HOSTS_PER_ACCOUNT,
      operatorContact: s.MYDNS_OPERATOR_CONTACT?.trim() || undefined,
    },
    limits: {
      hostUpdates: s.MYDNS_HOST_UPDATE_LIMIT,
      loginFailures: s.MYDNS_LOGIN_FAILURE_LIMIT,
      loginHostFailures: s.MYDNS_LOGIN_HOST_FAILURE_LIMIT,
      loginBlockMs: s.MYDNS_LOGIN_BLOCK,
      ipv6Prefix: s.MYDNS_IPV6_LIMIT_PREFIX,
      registrations: s.MYDNS_REGISTRATION_LIMIT,
    },
    bcrypt: { cost: s.MYDNS_BCRYPT_COST, threads: s.MYDNS_BCRYPT_THREADS, queue: s.MYDNS_BCRYPT_QUEUE },
    nameQuarantineDays: s.MYDNS_NAME_QUARANTINE_DAYS,
    credentialCacheTtlMs: s.MYDNS_CREDENTIAL_CACHE_TTL,
    hostCacheTtlMs: s.MYDNS_HOST_CACHE_TTL,
    lifecycle: {
      inactivityDays: s.MYDNS_INACTIVITY_DAYS,
      dormancyWarningDays: s.MYDNS_DORMANCY_WARNING_DAYS,
      maintenanceIntervalMs: s.MYDNS_MAINTENANCE_INTERVAL,
      historyMaxPerHost: s.MYDNS_HISTORY_MAX_PER_HOST,
      historyMaxAgeMs: s.MYDNS_HISTORY_MAX_AGE,
    },
    relayAddresses: s.MYDNS_RELAY_ADDRESS.map((address) => address.text),
    apiAddresses: s.MYDNS_API_ADDRESS.map((address) => address.text),
    relayEnabled: s.MYDNS_RELAY_ENABLED,
    secondaries: s.MYDNS_SECONDARIES,
    dnssec: s.MYDNS_DNSSEC,
    notifyIntervalMs: s.MYDNS_NOTIFY_INTERVAL,
    reconcile: { intervalMs: s.MYDNS_RECONCILE_INTERVAL, operatorRecords: s.MYDNS_OPERATOR_RECORDS },
    pushTimeoutMs: s.MYDNS_PUSH_TIMEOUT,
    blockedUserAgents: s.MYDNS_BLOCKED_USER_AGENTS.map((agent) => agent.toLowerCase()),
    dbPoolSize: s.MYDNS_DB_POOL_SIZE,
    log: logSettings(s),
    mail: toMailConfig(s, { zone, publicUrl: s.MYDNS_PUBLIC_URL, httpPort: s.MYDNS_HTTP_PORT }),
    webhooks: { allowPrivate: s.MYDNS_ALLOW_PRIVATE_WEBHOOKS, retryMs: s.MYDNS_WEBHOOK_RETRY },
  };
}
