import type {
  AcmeRepository,
  HistoryRepository,
  HostRecord,
  HostsRepository,
  MailSettings,
  SessionsRepository,
  TokenRecord,
  TokensRepository,
} from '@mydns/db';
import {
  checkRegistrableLabel,
  fqdn,
  labelFromUsername,
  normaliseName,
  resolveHostName,
} from '@mydns/domain';
import type { BcryptPool } from '../auth/bcrypt-pool.ts';
import { checkNewPassword } from '../auth/password-policy.ts';
import { generateToken, hashToken } from '../auth/tokens.ts';
import { apiError } from '../errors.ts';
import { checkMailSettings } from './mail-settings.ts';
/** ACME DNS-01 values live an hour: long enough for any CA, short enough to not pile up. */
export const ACME_TTL_MS = 3_600_000;
/** Enough for a wildcard + apex certificate and a few retries; more is a runaway script. */
export const MAX_ACME_VALUES = 10;
export const MAX_TOKENS = 20;

export interface HostView {
  readonly hostname: string;
  /** The label, and the zone it is in: `hostname` is `<name>.<zone>`. */
  readonly name: string;
  readonly zone: string;
  readonly ipv4: string | null;
  readonly ipv6: string | null;
  /** The /64 the interface-identifier records follow, when it is not the AAAA's own. */
  readonly ipv6Prefix: string | null;
  readonly wildcard: boolean;
  readonly status: string;
  readonly createdAt: string;
  readonly updatedAt: string | null;
  readonly lastSeenAt: string | null;
  readonly mail: MailSettings;
}

export interface TokenView {
  readonly id: number;
  readonly label: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

export interface HistoryView {
  readonly at: string;
  /** Identical repeated attempts counted on this entry, and the time of the last one. */
  readonly count: number;
  readonly lastAt: string | null;
  readonly sourceAddress: string;
  readonly userAgent: string | null;
  readonly result: string;
  /** Why the update was refused, in a person's words (null when it was not refused). */
  readonly reason: string | null;
  readonly old: { readonly ipv4: string | null; readonly ipv6: string | null };
  readonly new: { readonly ipv4: string | null; readonly ipv6: string | null };
}

export interface RegistrationInput {
  readonly hostname: unknown;
  readonly password: unknown;
  readonly email?: unknown;
  /** One of the zones served; omitted: the zone a full hostname names, else the default zone. */
  readonly zone?: unknown;
}

/** What a change to DNS returns: whether PowerDNS took it within the push deadline. */
export type Pushed = { readonly pushed: boolean };

export interface HostsService {
  /** `owner`: the source's limit key, so its bcrypt work queues fairly (auth/bcrypt-pool.ts). */
  register(input: RegistrationInput, options?: { bypassClosed?: boolean; owner?: string }): Promise<HostView>;
  find(name: string): Promise<HostRecord | undefined>;
  /** The host named `name` (bare label or full name), or a 404. */
  get(name: string): Promise<HostRecord>;
  list(): Promise<HostView[]>;
  view(host: HostRecord): HostView;
  /** Sets a new password and ends every session of the host but `keepSession`. */
  changePassword(
    host: HostRecord,
    password: unknown,
    options?: { keepSession?: { readonly tokenHash: Buffer } | undefined; owner?: string },
  ): Promise<void>;
  updateMail(host: HostRecord, input: unknown): Promise<MailSettings & Pushed>;
  /**
   * Deletes the host; its name is quarantined (MYDNS_NAME_QUARANTINE_DAYS; for
   * good when it was disabled). Only the operator may delete a disabled host.
   */
  remove(host: HostRecord, options?: { byOperator?: boolean }): Promise<Pushed>;
  /** Makes a quarantined name (bare label or full name) registrable at once (operator CLI). */
  releaseName(name: string): Promise<boolean>;
  /** Whether a (valid) label can be registered now in `zone` (default: the default zone): not taken, not quarantined. */
  isAvailable(label: string, zone?: string): Promise<boolean>;
  /** The zone a registration goes to (see RegistrationInput.zone); 400 `unknown_zone` for one not served. */
  registrationZone(input: Pick<RegistrationInput, 'hostname' | 'zone'>): string;
  setStatus(name: string, status: 'active' | 'disabled'): Promise<Pushed>;
  createToken(host: HostRecord, label: unknown): Promise<{ id: number; token: string; label: string }>;
  listTokens(host: HostRecord): Promise<TokenView[]>;
  revokeToken(host: HostRecord, id: number): Promise<void>;
  addAcmeValue(host: HostRecord, value: unknown): Promise<Pushed>;
  removeAcmeValue(host: HostRecord, value: string): Promise<Pushed>;
  history(host: HostRecord, limit?: number): Promise<HistoryView[]>;
}

function checkEmail(email: unknown): string | null {
  if (email === undefined || email === null || email === '') return null;
  if (typeof email !== 'string' || email.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw apiError('invalid_email', 'the contact e-mail address is not valid');
  }
  return email;
}

/** TXT values from ACME clients: base64url digests (43 chars); printable ASCII, short. */
function checkAcmeValue(value: unknown): string {
  if (
    typeof value !== 'string' ||
    !/^[\x21-\x7e]{1,255}$/.test(value) ||
    value.includes('"') ||
    value.includes('\\')
  ) {
    throw apiError(
      'invalid_acme_value',
      'value must be 1-255 printable characters without quotes or backslashes',
    );
  }
  return value;
}

export function createHostsService(deps: {
  /** The zones served, the default zone first: registration takes these. */
  zones: readonly string[];
  /**
   * Zones that still hold hosts but are no longer served: their hosts can be
   * found (to show, move or delete them; the operator CLI), never registered.
   */
  retiredZones?: readonly string[];
  hosts: HostsRepository;
  tokens: TokensRepository;
  acme: AcmeRepository;
  history: HistoryRepository;
  /**
   * Writes the history entries still buffered in memory (history-recorder.ts), so a
   * history read right after an update lists it.
   */
  flushHistory?: () => Promise<void>;
  bcrypt: BcryptPool;
  bcryptCost: number;
  registration: 'open' | 'closed';
  /** A password change ends the host's other sessions. */
  sessions: Pick<SessionsRepository, 'removeOthers'>;
  /** Days a deleted name stays unregistrable (0: none). */
  quarantineDays: number;
  now?: () => Date;
  /** The writer of each zone (packages/powerdns zone-writers.ts). */
  zoneWriters: { push(zone: string, outboxId: number, timeoutMs: number): Promise<boolean> };
  pushTimeoutMs: number;
}): HostsService {
  const defaultZone = deps.zones[0] ?? '';
  /** Where names are looked up: the served zones (a bare label: the default), then the retired ones. */
  const lookupZones = [...deps.zones, ...(deps.retiredZones ?? [])];
  const push = async (host: { zone: string }, outboxId: number | undefined): Promise<Pushed> => ({
    pushed:
      outboxId === undefined ? true : await deps.zoneWriters.push(host.zone, outboxId, deps.pushTimeoutMs),
  });
  const view = (host: HostRecord): HostView => ({
    hostname: fqdn(host.name, host.zone),
    name: host.name,
    zone: host.zone,
    ipv4: host.ipv4,
    ipv6: host.ipv6,
    ipv6Prefix: host.ipv6Prefix,
    wildcard: host.wildcard,
    status: host.status,
    createdAt: host.createdAt.toISOString(),
    updatedAt: host.addressChangedAt?.toISOString() ?? null,
    lastSeenAt: host.lastSeenAt?.toISOString() ?? null,
    mail: host.mail,
  });
  /** The host a bare label or full name means, or undefined. */
  const find = async (name: string) => {
    const host = labelFromUsername(name, lookupZones);
    return host === undefined ? undefined : deps.hosts.findByName(host.zone, host.label);
  };
  const registrationZone = (input: Pick<RegistrationInput, 'hostname' | 'zone'>): string => {
    if (input.zone !== undefined && input.zone !== null && input.zone !== '') {
      const zone = typeof input.zone === 'string' ? normaliseName(input.zone) : '';
      if (!deps.zones.includes(zone)) {
        throw apiError('unknown_zone', `there is no zone ${String(input.zone)} here`, {
          details: { zones: deps.zones },
        });
      }
      return zone;
    }
    // A full name in one of the zones says which; anything else is checked in the default zone.
    if (typeof input.hostname === 'string' && input.hostname.includes('.')) {
      const named = resolveHostName(input.hostname, deps.zones);
      if (named.kind === 'label') return named.zone;
    }
    return defaultZone;
  };
  const now = deps.now ?? (() => new Date());
  /** A disabled host may be read, never changed (README "Security": abuse controls that stick). */
  const checkChangeable = (host: HostRecord) => {
    if (host.status === 'disabled') {
      throw apiError('host_disabled', 'this host is disabled by the operator; it cannot be changed');
    }
  };
  const passwordContext = (host: { name: string; zone: string; contactEmail?: string | null }) => ({
    label: host.name,
    hostname: fqdn(host.name, host.zone),
    email: host.contactEmail ?? null,
  });
  return {
    async register(input, options = {}) {
      if (deps.registration === 'closed' && !options.bypassClosed) {
        throw apiError('registration_closed', 'registration is closed on this service');
      }
      if (typeof input.hostname !== 'string') throw apiError('hostname_required', 'a hostname is required');
      const zone = registrationZone(input);
      const label = checkRegistrableLabel(input.hostname, zone);
      if (!label.ok) throw apiError(`hostname_${label.problem}`, label.message);
      // A label that is another zone's name here (dyn in example.net beside dyn.example.net) would sit on its delegation.
      if (deps.zones.includes(fqdn(label.label, zone))) {
        throw apiError('hostname_reserved', `"${label.label}" is reserved`);
      }
      const key = { zone, name: label.label };
      const hostname = fqdn(label.label, zone);
      const contactEmail = checkEmail(input.email);
      const password = checkNewPassword(input.password, passwordContext({ ...key, contactEmail }));
      if (await deps.hosts.findByName(zone, label.label)) {
        throw apiError('hostname_taken', `${hostname} is already taken`);
      }
      const quarantined = await deps.hosts.quarantinedUntil(key);
      if (quarantined !== undefined) {
        throw apiError(
          'hostname_quarantined',
          quarantined === 'forever'
            ? `${hostname} is not available`
            : `${hostname} was deleted recently; it can be registered again from ${quarantined.toISOString().slice(0, 10)}`,
        );
      }
      const passwordHash = await deps.bcrypt.hash(password, deps.bcryptCost, options.owner);
      const created = await deps.hosts.create({ ...key, passwordHash, contactEmail });
      if (!created) throw apiError('hostname_taken', `${hostname} is already taken`);
      return view(created);
    },
    find,
    registrationZone,
    async get(name) {
      const host = await find(name);
      if (!host) throw apiError('host_not_found', `no host ${name}`);
      return host;
    },
    async list() {
      return (await deps.hosts.list({ limit: 100_000 })).map(view);
    },
    view,
    async changePassword(host, password, options = {}) {
      checkChangeable(host);
      const checked = checkNewPassword(password, passwordContext(host));
      await deps.hosts.changePassword(
        host.id,
        await deps.bcrypt.hash(checked, deps.bcryptCost, options.owner),
      );
      await deps.sessions.removeOthers(host.id, options.keepSession?.tokenHash);
    },
    async updateMail(host, input) {
      checkChangeable(host);
      const mail = checkMailSettings(input, host.mail);
      const outboxId = await deps.hosts.updateMail(host.id, mail);
      return { ...mail, ...(await push(host, outboxId)) };
    },
    async remove(host, options = {}) {
      if (!options.byOperator) checkChangeable(host);
      const quarantineUntil =
        host.status === 'disabled'
          ? ('forever' as const)
          : deps.quarantineDays > 0
            ? new Date(now().getTime() + deps.quarantineDays * 86_400_000)
            : undefined;
      return push(host, await deps.hosts.remove(host, quarantineUntil ? { quarantineUntil } : {}));
    },
    async releaseName(name) {
      const host = labelFromUsername(name, lookupZones);
      return host !== undefined && deps.hosts.releaseName({ zone: host.zone, name: host.label });
    },
    async isAvailable(label, zone = defaultZone) {
      if (await deps.hosts.findByName(zone, label)) return false;
      return (await deps.hosts.quarantinedUntil({ zone, name: label })) === undefined;
    },
    async setStatus(name, status) {
      const host = labelFromUsername(name, lookupZones);
      const key = host && { zone: host.zone, name: host.label };
      const outboxId = key && (await deps.hosts.setStatus(key, status));
      if (!key || outboxId === undefined) throw apiError('host_not_found', `no host ${name}`);
      return push(key, outboxId);
    },
    async createToken(host, label) {
      checkChangeable(host);
      if (typeof label !== 'string' || label.trim() === '' || label.length > 64) {
        throw apiError('invalid_token_label', 'a token needs a label of 1-64 characters');
      }
      const token = generateToken();
      const created = await deps.tokens.create(host.id, label.trim(), hashToken(token), MAX_TOKENS);
      if (!created) {
        throw apiError('too_many_tokens', `a host can have at most ${MAX_TOKENS} tokens; revoke one first`);
      }
      return { id: created.id, token, label: created.label };
    },
    async listTokens(host) {
      return (await deps.tokens.list(host.id)).map((token: TokenRecord) => ({
        id: token.id,
        label: token.label,
        createdAt: token.createdAt.toISOString(),
        lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
      }));
    },
    async revokeToken(host, id) {
      checkChangeable(host);
      if (!(await deps.tokens.revoke(host.id, id))) throw apiError('token_not_found', `no token ${id}`);
      // The revocation bumped the credential version; stop trusting what this process remembers.
      deps.hosts.forget(host);
    },
    async addAcmeValue(host, value) {
      const checked = checkAcmeValue(value);
      checkChangeable(host);
      const outboxId = await deps.acme.add(host, checked, ACME_TTL_MS, MAX_ACME_VALUES);
      if (outboxId === undefined) {
        throw apiError('too_many_acme_values', `at most ${MAX_ACME_VALUES} ACME values at a time`);
      }
      return push(host, outboxId);
    },
    async removeAcmeValue(host, value) {
      checkChangeable(host);
      const outboxId = await deps.acme.remove(host, value);
      if (outboxId === undefined) throw apiError('acme_value_not_found', 'no such ACME value');
      return push(host, outboxId);
    },
    async history(host, limit = 100) {
      await deps.flushHistory?.();
      return (await deps.history.latest(host.id, limit)).map((entry) => ({
        at: entry.at.toISOString(),
        count: entry.count,
        lastAt: entry.lastAt?.toISOString() ?? null,
        sourceAddress: entry.sourceAddress,
        userAgent: entry.userAgent,
        result: entry.result,
        reason: entry.reason ?? null,
        old: { ipv4: entry.oldIpv4, ipv6: entry.oldIpv6 },
        new: { ipv4: entry.newIpv4, ipv6: entry.newIpv6 },
      }));
    },
  };
}
