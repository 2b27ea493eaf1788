import type {
  AccountRecord,
  AccountsRepository,
  AccountTokenRecord,
  HostRecord,
  HostsRepository,
  SessionsRepository,
} from '@mydns/db';
import { checkRegistrableLabel, fqdn, labelFromUsername } from '@mydns/domain';
import type { BcryptPool } from '../auth/bcrypt-pool.ts';
import { checkNewPassword } from '../auth/password-policy.ts';
import { generateToken, hashToken } from '../auth/tokens.ts';
import { apiError } from '../errors.ts';
import type { HostsService, HostView, Pushed } from '../hosts/hosts-service.ts';
import { normaliseAddress } from '../mail/addresses.ts';
import type { MailOutbox } from '../mail/outbox.ts';
import { accountMails } from './account-mails.ts';
import { createLinkToken, LINK_TTL_MS } from './link-tokens.ts';
import type { AccountSecondFactor } from './second-factor.ts';

/**
 * Accounts (README "Accounts"): an e-mail address and a password holding up
 * to MYDNS_HOSTS_PER_ACCOUNT hosts, its tokens, its mailed links. Logins are
 * not here: they go through the one authentication path
 * (auth/authenticator.ts); this is what a proven account may do.
 */

export const MAX_ACCOUNT_TOKENS = 20;

export interface AccountView {
  readonly email: string;
  readonly verified: boolean;
  readonly totp: boolean;
  readonly hosts: readonly HostView[];
}

export interface AccountTokenView {
  readonly id: number;
  readonly label: string;
  /** The hostnames it covers; null: every host of the account. */
  readonly hosts: readonly string[] | null;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

export interface AccountsService {
  register(
    input: { email: unknown; password: unknown },
    options?: { owner?: string },
  ): Promise<AccountRecord>;
  find(email: string): Promise<AccountRecord | undefined>;
  findById(id: number): Promise<AccountRecord | undefined>;
  /** The account by its address, or a 404. */
  get(email: string): Promise<AccountRecord>;
  reload(account: AccountRecord): Promise<AccountRecord>;
  view(account: AccountRecord): Promise<AccountView>;
  hostsOf(account: AccountRecord): Promise<HostRecord[]>;
  /** A new host in the account (no password of its own). */
  addHost(account: AccountRecord, input: { hostname: unknown; zone?: unknown }): Promise<HostView>;
  /** A host without an account, whose password the caller has proven, moves into the account. */
  claimHost(account: AccountRecord, host: HostRecord): Promise<HostView>;
  createToken(
    account: AccountRecord,
    input: { label: unknown; hosts?: unknown },
  ): Promise<{ id: number; token: string; label: string; hosts: readonly string[] | null }>;
  listTokens(account: AccountRecord): Promise<AccountTokenView[]>;
  revokeToken(account: AccountRecord, id: number): Promise<void>;
  /** A new password; every session of the account but `keepSession` ends. */
  changePassword(
    account: AccountRecord,
    password: unknown,
    options?: { keepSession?: { readonly tokenHash: Buffer } | undefined; owner?: string },
  ): Promise<void>;
  /** Deletes the account's hosts (records out of DNS, names quarantined), then the account. */
  remove(account: AccountRecord): Promise<Pushed>;
  /** Mails a verification link (when mail is configured); false when no mail goes out. */
  sendVerification(account: AccountRecord): Promise<boolean>;
  verifyEmail(token: unknown): Promise<AccountRecord>;
  /** The operator's word for it (`account create` in the CLI). */
  markVerified(account: AccountRecord): Promise<void>;
  /** A reset link for the account, not mailed (the operator's CLI prints it). */
  resetLink(account: AccountRecord): Promise<string>;
  /** Mails a reset link, if the account exists; the caller answers the same either way. */
  mailPasswordReset(email: string): Promise<void>;
  /** Whether a reset token is live (the reset page asks for the new password only then). */
  isResetTokenLive(token: unknown): Promise<boolean>;
  confirmPasswordReset(
    token: unknown,
    password: unknown,
    options?: { owner?: string },
  ): Promise<AccountRecord>;
  readonly secondFactor: AccountSecondFactor;
}

export interface AccountsServiceDeps {
  /** The zones served, the default first. */
  zones: readonly string[];
  accounts: AccountsRepository;
  hostsRepository: Pick<HostsRepository, 'findByName' | 'listByAccount' | 'quarantinedUntil' | 'forget'>;
  hosts: Pick<HostsService, 'view' | 'remove' | 'registrationZone'>;
  sessions: Pick<SessionsRepository, 'removeOthersOfAccount'>;
  bcrypt: BcryptPool;
  bcryptCost: number;
  mail: Pick<MailOutbox, 'enabled' | 'links' | 'enqueue'>;
  hostsPerAccount: number;
  secondFactor: AccountSecondFactor;
  now?: () => Date;
}

/** The address, as mail takes it (a 400 otherwise). */
export function checkEmail(email: unknown): string {
  const normalised = typeof email === 'string' ? normaliseAddress(email) : undefined;
  if (!normalised) throw apiError('invalid_email', 'the e-mail address is not valid');
  return normalised;
}

export function createAccountsService(deps: AccountsServiceDeps): AccountsService {
  const now = deps.now ?? (() => new Date());
  const mails = accountMails(deps.mail.links);
  const reload = async (account: AccountRecord) => {
    const fresh = await deps.accounts.findById(account.id);
    if (!fresh) throw apiError('not_found', 'the account no longer exists');
    return fresh;
  };
  const hostsOf = (account: AccountRecord) => deps.hostsRepository.listByAccount(account.id);
  const hostName = (host: HostRecord) => fqdn(host.name, host.zone);
  const tokenView = (token: AccountTokenRecord, hosts: readonly HostRecord[]): AccountTokenView => ({
    id: token.id,
    label: token.label,
    hosts:
      token.hostIds === null ? null : hosts.filter((host) => token.hostIds?.includes(host.id)).map(hostName),
    createdAt: token.createdAt.toISOString(),
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
  });
  const newLink = async (account: AccountRecord, purpose: 'verify_email' | 'password_reset') => {
    const link = createLinkToken();
    await deps.accounts.createLink({
      accountId: account.id,
      purpose,
      hash: link.hash,
      expiresAt: new Date(now().getTime() + LINK_TTL_MS),
      ...(purpose === 'verify_email' ? { email: account.email } : {}),
    });
    return link.token;
  };
  const tokenHash = (token: unknown) =>
    typeof token === 'string' && /^[A-Za-z0-9_-]{22,128}$/.test(token) ? hashToken(token) : undefined;
  const invalidToken = () =>
    apiError('invalid_token', 'this link is not valid: it was used already, it expired, or it was mistyped');

  const service: AccountsService = {
    secondFactor: deps.secondFactor,
    async register(input, options = {}) {
      const email = checkEmail(input.email);
      const password = checkNewPassword(input.password, { email });
      if (await deps.accounts.findByEmail(email))
        throw apiError('email_taken', 'this address has an account already');
      const passwordHash = await deps.bcrypt.hash(password, deps.bcryptCost, options.owner);
      const created = await deps.accounts.create({ email, passwordHash });
      if (!created) throw apiError('email_taken', 'this address has an account already');
      await service.sendVerification(created);
      return created;
    },
    find: (email) => deps.accounts.findByEmail(email),
    findById: (id) => deps.accounts.findById(id),
    async get(email) {
      const account = await deps.accounts.findByEmail(email);
      if (!account) throw apiError('not_found', 'no account with this address');
      return account;
    },
    reload,
    async view(account) {
      return {
        email: account.email,
        verified: account.emailVerifiedAt !== null,
        totp: account.totpSecret !== null,
        hosts: (await hostsOf(account)).map((host) => deps.hosts.view(host)),
      };
    },
    hostsOf,
    async addHost(account, input) {
      if (typeof input.hostname !== 'string') throw apiError('hostname_required', 'a hostname is required');
      // The same rules as a registration of a host of its own (hosts-service.ts).
      const zone = deps.hosts.registrationZone({ hostname: input.hostname, zone: input.zone });
      const label = checkRegistrableLabel(input.hostname, zone);
      if (!label.ok) throw apiError(`hostname_${label.problem}`, label.message);
      if (deps.zones.includes(fqdn(label.label, zone))) {
        throw apiError('hostname_reserved', `"${label.label}" is reserved`);
      }
      const key = { zone, name: label.label };
      const name = fqdn(label.label, zone);
      if (await deps.hostsRepository.findByName(zone, label.label))
        throw apiError('hostname_taken', `${name} is already taken`);
      const quarantined = await deps.hostsRepository.quarantinedUntil(key);
      if (quarantined !== undefined) {
        throw apiError(
          'hostname_quarantined',
          quarantined === 'forever'
            ? `${name} is not available`
            : `${name} was deleted recently; it can be registered again from ${quarantined.toISOString().slice(0, 10)}`,
        );
      }
      const added = await deps.accounts.addHost(account.id, key, deps.hostsPerAccount);
      if (!added.ok) {
        if (added.reason === 'limit') throw hostLimit(deps.hostsPerAccount);
        throw apiError('hostname_taken', `${name} is already taken`);
      }
      const host = await deps.hostsRepository.findByName(zone, label.label);
      if (!host) throw apiError('host_not_found', `no host ${name}`);
      return deps.hosts.view(host);
    },
    async claimHost(account, host) {
      if (host.accountId === account.id) return deps.hosts.view(host);
      if (host.accountId !== null && host.accountId !== undefined)
        throw apiError('host_owned', `${hostName(host)} belongs to another account`);
      const claimed = await deps.accounts.claimHost(account.id, host.id, deps.hostsPerAccount);
      if (claimed === 'limit') throw hostLimit(deps.hostsPerAccount);
      if (claimed === 'owned') throw apiError('host_owned', `${hostName(host)} belongs to another account`);
      deps.hostsRepository.forget(host);
      const updated = await deps.hostsRepository.findByName(host.zone, host.name);
      if (!updated) throw apiError('host_not_found', `no host ${hostName(host)}`);
      return deps.hosts.view(updated);
    },
    async createToken(account, input) {
      const label = input.label;
      if (typeof label !== 'string' || label.trim() === '' || label.length > 64) {
        throw apiError('invalid_token_label', 'a token needs a label of 1-64 characters');
      }
      const hosts = await hostsOf(account);
      let hostIds: number[] | null = null;
      if (input.hosts !== undefined && input.hosts !== null) {
        if (!Array.isArray(input.hosts) || input.hosts.length === 0 || input.hosts.length > 100)
          throw apiError('bad_request', 'hosts must be a list of hostnames of this account');
        hostIds = [];
        for (const name of input.hosts) {
          const named = typeof name === 'string' ? labelFromUsername(name, deps.zones) : undefined;
          const host = hosts.find((h) => h.name === named?.label && h.zone === named.zone);
          if (!host) throw apiError('unknown_host', `${String(name)} is not a host of this account`);
          if (!hostIds.includes(host.id)) hostIds.push(host.id);
        }
      }
      const token = generateToken();
      const created = await deps.accounts.createToken({
        accountId: account.id,
        label: label.trim(),
        hash: hashToken(token),
        hostIds,
        max: MAX_ACCOUNT_TOKENS,
      });
      if (!created) {
        throw apiError(
          'too_many_tokens',
          `an account can have at most ${MAX_ACCOUNT_TOKENS} tokens; revoke one first`,
        );
      }
      return { id: created.id, token, label: created.label, hosts: tokenView(created, hosts).hosts };
    },
    async listTokens(account) {
      const [tokens, hosts] = await Promise.all([deps.accounts.listTokens(account.id), hostsOf(account)]);
      return tokens.map((token) => tokenView(token, hosts));
    },
    async revokeToken(account, id) {
      if (!(await deps.accounts.revokeToken(account.id, id)))
        throw apiError('token_not_found', `no token ${id}`);
    },
    async changePassword(account, password, options = {}) {
      const checked = checkNewPassword(password, { email: account.email });
      await deps.accounts.changePassword(
        account.id,
        await deps.bcrypt.hash(checked, deps.bcryptCost, options.owner),
      );
      await deps.sessions.removeOthersOfAccount(account.id, options.keepSession?.tokenHash);
    },
    async remove(account) {
      const hosts = await hostsOf(account);
      const disabled = hosts.find((host) => host.status === 'disabled');
      // A disabled host is the operator's to delete (hosts-service.ts), and so its account is too.
      if (disabled) {
        throw apiError(
          'host_disabled',
          `${hostName(disabled)} is disabled by the operator; the account cannot be deleted while it holds it`,
        );
      }
      let pushed = true;
      for (const host of hosts) pushed = (await deps.hosts.remove(host)).pushed && pushed;
      await deps.accounts.remove(account.id);
      return { pushed };
    },
    async sendVerification(account) {
      if (!deps.mail.enabled || account.emailVerifiedAt !== null) return false;
      const token = await newLink(account, 'verify_email');
      const result = await deps.mail.enqueue(mails.verification(account.email, token));
      return result.queued;
    },
    async verifyEmail(token) {
      const hash = tokenHash(token);
      const link = hash ? await deps.accounts.consumeLink('verify_email', hash) : undefined;
      if (!link) throw invalidToken();
      const account = await deps.accounts.findById(link.accountId);
      if (!account || !link.email || !(await deps.accounts.markVerified(account.id, link.email)))
        throw invalidToken();
      return reload(account);
    },
    async markVerified(account) {
      await deps.accounts.markVerified(account.id, account.email);
    },
    resetLink: async (account) => mails.resetUrl(await newLink(account, 'password_reset')),
    async mailPasswordReset(email) {
      const account = await deps.accounts.findByEmail(email);
      if (!account || !deps.mail.enabled) return;
      const token = await newLink(account, 'password_reset');
      await deps.mail.enqueue(mails.passwordReset(account.email, token));
    },
    async isResetTokenLive(token) {
      const hash = tokenHash(token);
      return hash !== undefined && (await deps.accounts.findLink('password_reset', hash)) !== undefined;
    },
    async confirmPasswordReset(token, password, options = {}) {
      const hash = tokenHash(token);
      const live = hash ? await deps.accounts.findLink('password_reset', hash) : undefined;
      const account = live ? await deps.accounts.findById(live.accountId) : undefined;
      if (!hash || !account) throw invalidToken();
      // The new password is checked before the link is used up: a refused one can be retried.
      const checked = checkNewPassword(password, { email: account.email });
      const passwordHash = await deps.bcrypt.hash(checked, deps.bcryptCost, options.owner);
      if (!(await deps.accounts.consumeLink('password_reset', hash))) throw invalidToken();
      await deps.accounts.changePassword(account.id, passwordHash);
      // Every session ends: whoever reset the password signs in again with it.
      await deps.sessions.removeOthersOfAccount(account.id, undefined);
      // The link came by mail to the address: the address is proven too.
      await deps.accounts.markVerified(account.id, account.email);
      return reload(account);
    },
  };
  return service;
}

function hostLimit(max: number) {
  return apiError('host_limit', `an account can hold at most ${max} hosts`);
}
