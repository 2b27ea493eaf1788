import { createHmac, randomBytes } from 'node:crypto';
import type { AccountRecord, AccountTokenRecord, HostRecord, TokensRepository } from '@mydns/db';
import { NO_HOST_PASSWORD } from '@mydns/db';
import type { IpAddress } from '@mydns/domain';
import { BcryptBusyError, type BcryptPool } from './bcrypt-pool.ts';
import type { CredentialCache } from './credential-cache.ts';
import type { BlockScope, LoginGuard } from './login-guard.ts';
import { hashToken, looksLikeToken } from './tokens.ts';

/**
 * The one authentication path. Every edge (the update endpoints, the JSON
 * API, the web sign-in and the dashboard's password forms) hands a credential
 * to `authenticate` and maps the result to its own words (`badauth`/`abuse`,
 * 401/429/403, a message beside a form). The order is what makes the limits
 * hold:
 *
 * 1. Find the host (by the username, or by the token when the secret comes alone).
 * 2. Cheap proofs first: a credential that verified recently (the cache) and
 *    an update token (SHA-256 lookup) are accepted even when the source is over
 *    the failure limit, so a shared address (CGNAT) under attack does not lock
 *    out the routers that already work.
 * 3. Anything that needs bcrypt is admitted by the login guard first, counted
 *    while it runs, and goes to the fair, bounded bcrypt queue.
 * 4. Identical checks in flight (the same secret for the same host) share one
 *    bcrypt: a burst of updates from one router after a restart costs one check.
 *
 * The token policy lives here too: `purpose: 'manage'` (the JSON API's host
 * management, sign-in) takes the password only; `'update'` takes a token as well.
 *
 * Accounts (README "Accounts") go the same way, when the caller accepts them
 * (`accounts: true`): a username with an `@` is an account's e-mail address
 * (any case), and an account token may come alone or with the name of a host
 * it covers. An unknown address costs a bcrypt like a known one (against a
 * dummy hash), so the time taken does not tell whether an account exists.
 * With TOTP on, the account's password is refused outright (the second
 * factor cannot travel in Basic auth): only the web sign-in, which asks for
 * the code next (`secondFactor: 'ask'`), and a signed-in session confirming
 * its password (`secondFactor: 'session'`) still take it.
 */

/** bcrypt reads at most 72 bytes; a longer secret cannot be a password and is refused before any work. */
const MAX_PASSWORD_BYTES = 72;

/** How a request proved who it is. A token may update; only the password (or a session) may manage. */
export type Credential =
  | { readonly via: 'password' }
  | { readonly via: 'token'; readonly tokenId: number }
  /** An account's token: it may update the account's hosts it lists (null: all of them). */
  | { readonly via: 'account_token'; readonly tokenId: number; readonly hostIds: readonly number[] | null };

export type AuthPurpose = 'update' | 'manage';
/** Where the attempt came in: the log and the metrics say it. */
export type AuthEdge = 'update' | 'api' | 'web';

export interface LoginAttempt {
  readonly source: IpAddress;
  /** The username as sent (bare label or full name); undefined when the secret alone names the host (a token). */
  readonly username: string | undefined;
  readonly secret: string;
  readonly purpose: AuthPurpose;
  readonly edge: AuthEdge;
  /** The caller handles account logins (an `@` username, an account token alone). */
  readonly accounts?: boolean;
  /**
   * With TOTP on: `ask` (the web sign-in) checks the password and answers
   * `totp_required`, the code comes next; `session` (a signed-in session
   * confirming its password) takes the password alone. Unset: refused.
   */
  readonly secondFactor?: 'ask' | 'session';
}

/** An account proved who it is. */
export interface AccountLogin {
  readonly ok: true;
  readonly account: AccountRecord;
  readonly credential: Credential;
  readonly host?: undefined;
}

/** The account's password was right, and its TOTP code is to be asked for next. */
export interface SecondFactorRequired {
  readonly ok: false;
  readonly reason: 'totp_required';
  readonly account: AccountRecord;
}

export type AnyLoginResult = LoginResult | AccountLogin | SecondFactorRequired;

export type LoginResult =
  | {
      readonly ok: true;
      readonly host: HostRecord;
      readonly credential: Credential;
      readonly account?: undefined;
    }
  | {
      readonly ok: false;
      /**
       * `wrong`: no such host or a wrong secret (401); `blocked`: the source, or the
       * source and this host, are over the failure limit or the source's share of the
       * bcrypt queue (abuse/429); `busy`: the whole bcrypt queue is full, the service is
       * overloaded, try again soon (911/503); `token_not_allowed`: a valid update token
       * where only the password will do (403).
       */
      readonly reason: 'wrong' | 'blocked' | 'busy' | 'token_not_allowed';
      readonly host?: HostRecord;
    };

export interface Authenticator {
  authenticate(attempt: LoginAttempt & { readonly accounts: true }): Promise<AnyLoginResult>;
  authenticate(attempt: LoginAttempt): Promise<LoginResult>;
  /**
   * A TOTP code (or a recovery code) for an account whose password was just
   * right: counted by the login guard like a password (six digits are few).
   */
  verifySecondFactor(attempt: {
    readonly source: IpAddress;
    readonly account: AccountRecord;
    readonly code: string;
    readonly edge: AuthEdge;
  }): Promise<{ readonly ok: true } | { readonly ok: false; readonly reason: 'wrong' | 'blocked' }>;
  /** The key this source is counted under (an IPv4 address, an IPv6 /64): every per-address limit uses it. */
  limitKey(source: IpAddress): string;
}

export interface AuthEvents {
  /** A wrong secret, or no such host (never the secret itself). */
  onFailure?(failure: { edge: AuthEdge; source: string; host: string }): void;
  /** Refused without a check. */
  onRefused?(refusal: {
    edge: AuthEdge;
    source: string;
    host: string;
    /** `blocked`: the failure limit; `share`: the source's share of the bcrypt queue; `busy`: the whole queue. */
    reason: 'blocked' | 'share' | 'busy';
  }): void;
  onBlock?(block: { scope: BlockScope; source: string; host: string; until: Date }): void;
}

export interface AuthenticatorDeps {
  /** The host named by a username (bare label or full name), or undefined. */
  findHost(username: string): Promise<HostRecord | undefined>;
  tokens: TokensRepository;
  bcrypt: BcryptPool;
  cache: CredentialCache;
  guard: LoginGuard;
  limitKey(source: IpAddress): string;
  events?: AuthEvents;
  /** Accounts; without them, every login is a host's. */
  accounts?: AccountLookups;
}

export interface AccountLookups {
  findByEmail(email: string): Promise<AccountRecord | undefined>;
  findById(id: number): Promise<AccountRecord | undefined>;
  findToken(hash: Buffer): Promise<AccountTokenRecord | undefined>;
  touchToken(id: number): Promise<void>;
  /** A bcrypt hash of nothing anyone knows, at the current cost: what an unknown address is checked against. */
  dummyHash(): Promise<string>;
  /** The second factor: whether `code` is a current TOTP code or an unused recovery code (using it up). */
  checkSecondFactor(account: AccountRecord, code: string): Promise<boolean>;
}

/** Whose secret is checked: a host's password, or an account's. */
interface Subject {
  /** Keys the credential cache and the shared checks: `host id` or `account:<id>`. */
  readonly key: number | string;
  readonly hash: string;
  /** The stored hash and the credential version: a change makes what was verified worthless. */
  readonly binding: string;
  /** For the login guard and the log: the host's label, or `account <id>` (never an address). */
  readonly name: string;
}

/** What the log and the guard call an address that names no account (never the address itself). */
const UNKNOWN_ACCOUNT = '(unknown account)';

export const isAccountUsername = (username: string): boolean => username.includes('@');

/** Whether an account credential may act on `host`. */
export function covers(account: { id: number }, credential: Credential, host: HostRecord): boolean {
  if (host.accountId !== account.id) return false;
  if (credential.via !== 'account_token') return true;
  return credential.hostIds === null || credential.hostIds.includes(host.id);
}

type Check =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'wrong' | 'blocked' | 'share' | 'busy' };

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  // Cached verifications are bound to the stored hash and the credential
  // version: a password change or a revoked token makes them worthless.
  const binding = (host: HostRecord) => `${host.passwordHash}\0${host.credentialVersion}`;
  const hostSubject = (host: HostRecord): Subject => ({
    key: host.id,
    hash: host.passwordHash,
    binding: binding(host),
    // The full name, as the same label in two zones is two hosts (one's failures must not lock out the other).
    name: `${host.name}.${host.zone}`,
  });
  const accountSubject = (account: AccountRecord): Subject => ({
    key: `account:${account.id}`,
    hash: account.passwordHash,
    binding: `${account.passwordHash}\0${account.credentialVersion}`,
    name: `account ${account.id}`,
  });
  /** Password checks in flight, by a process-keyed HMAC of (subject, secret, binding). */
  const inFlight = new Map<string, Promise<Check>>();
  const flightKey = randomBytes(32);
  const keyOf = (subject: Subject, secret: string) =>
    createHmac('sha256', flightKey)
      .update(`${subject.key}\0${subject.binding}\0${secret}`)
      .digest('base64url');

  /** One admitted, counted bcrypt check. */
  const checkPassword = async (subject: Subject, secret: string, source: string): Promise<Check> => {
    const admission = await deps.guard.admit(source, subject.name);
    if (!admission.admitted) return { ok: false, reason: 'blocked' };
    let right: boolean;
    try {
      right = await deps.bcrypt.compare(secret, subject.hash, source);
    } catch (error) {
      admission.attempt.cancelled();
      if (error instanceof BcryptBusyError)
        return { ok: false, reason: error.scope === 'owner' ? 'share' : 'busy' };
      throw error;
    }
    if (right) admission.attempt.succeeded();
    else await admission.attempt.failed();
    return right ? { ok: true } : { ok: false, reason: 'wrong' };
  };

  /** A failure that needed no bcrypt (no such host, an overlong secret, a shared failed check) still counts. */
  const countFailure = async (source: string, name: string): Promise<Check> => {
    const admission = await deps.guard.admit(source, name);
    if (!admission.admitted) return { ok: false, reason: 'blocked' };
    await admission.attempt.failed();
    return { ok: false, reason: 'wrong' };
  };

  const verifyPassword = async (subject: Subject, secret: string, source: string): Promise<Check> => {
    // A host made in an account has no password of its own: nothing matches.
    if (Buffer.byteLength(secret) > MAX_PASSWORD_BYTES || subject.hash === NO_HOST_PASSWORD)
      return countFailure(source, subject.name);
    const key = keyOf(subject, secret);
    const shared = inFlight.get(key);
    if (shared) {
      // Someone else is checking the same secret: share the answer; a wrong one counts for each.
      const check = await shared;
      return check.ok || check.reason !== 'wrong' ? check : countFailure(source, subject.name);
    }
    const check = checkPassword(subject, secret, source).finally(() => inFlight.delete(key));
    inFlight.set(key, check);
    return check;
  };

  /** An account token that covers `host`, as a credential (not cached: its revocation bumps the account, not the host). */
  const accountTokenFor = async (host: HostRecord, secret: string): Promise<Credential | undefined> => {
    if (!deps.accounts || host.accountId === null || host.accountId === undefined) return undefined;
    const token = await deps.accounts.findToken(hashToken(secret));
    if (!token || token.accountId !== host.accountId) return undefined;
    if (token.hostIds !== null && !token.hostIds.includes(host.id)) return undefined;
    await deps.accounts.touchToken(token.id);
    return { via: 'account_token', tokenId: token.id, hostIds: token.hostIds };
  };

  async function authenticateAccount(
    attempt: LoginAttempt,
    source: string,
    refuse: (check: 'wrong' | 'blocked' | 'share' | 'busy', name: string) => LoginResult,
    lookups: AccountLookups,
    found?: { account: AccountRecord; token: AccountTokenRecord },
  ): Promise<AnyLoginResult> {
    const { secret } = attempt;
    const account = found?.account ?? (await lookups.findByEmail((attempt.username ?? '').trim()));
    if (!account) {
      // As much work as for a known address: the time says nothing about who has an account.
      const dummy: Subject = {
        key: '(dummy)',
        hash: await lookups.dummyHash(),
        binding: '',
        name: UNKNOWN_ACCOUNT,
      };
      const check =
        secret === '' || looksLikeToken(secret)
          ? await countFailure(source, UNKNOWN_ACCOUNT)
          : await verifyPassword(dummy, secret, source);
      return refuse(check.ok ? 'wrong' : check.reason, UNKNOWN_ACCOUNT);
    }
    const subject = accountSubject(account);
    const totpOn = account.totpSecret !== null;
    let credential: Credential | undefined =
      secret === '' ? undefined : deps.cache.get(subject.key, secret, subject.binding);
    if (!credential && looksLikeToken(secret)) {
      const token = found?.token ?? (await lookups.findToken(hashToken(secret)));
      if (token && token.accountId === account.id) {
        credential = { via: 'account_token', tokenId: token.id, hostIds: token.hostIds };
        deps.cache.remember(subject.key, secret, subject.binding, credential);
        await lookups.touchToken(token.id);
      }
    }
    // With TOTP on, the password alone is no credential (not even checked: it proves nothing here).
    if (credential?.via === 'password' && totpOn && !attempt.secondFactor) credential = undefined;
    if (!credential) {
      const check =
        secret === '' || (totpOn && !attempt.secondFactor)
          ? await countFailure(source, subject.name)
          : await verifyPassword(subject, secret, source);
      if (!check.ok) return refuse(check.reason, subject.name);
      credential = { via: 'password' };
      deps.cache.remember(subject.key, secret, subject.binding, credential);
    }
    if (attempt.purpose === 'manage' && credential.via !== 'password') {
      return { ok: false, reason: 'token_not_allowed' };
    }
    if (credential.via === 'password' && totpOn && attempt.secondFactor === 'ask') {
      return { ok: false, reason: 'totp_required', account };
    }
    return { ok: true, account, credential };
  }

  async function authenticate(attempt: LoginAttempt): Promise<AnyLoginResult> {
    const source = deps.limitKey(attempt.source);
    const { secret } = attempt;
    const refuse = (
      check: 'wrong' | 'blocked' | 'share' | 'busy',
      name: string,
      host?: HostRecord,
    ): LoginResult => {
      if (check === 'wrong') deps.events?.onFailure?.({ edge: attempt.edge, source, host: name });
      else deps.events?.onRefused?.({ edge: attempt.edge, source, host: name, reason: check });
      // Over its share of the queue, a source is refused like one over the failure limit.
      const reason = check === 'share' ? 'blocked' : check;
      return host ? { ok: false, reason, host } : { ok: false, reason };
    };
    const accounts = attempt.accounts ? deps.accounts : undefined;
    if (accounts && attempt.username !== undefined && isAccountUsername(attempt.username)) {
      return authenticateAccount(attempt, source, refuse, accounts);
    }

    // 1. The host.
    let host: HostRecord | undefined;
    let token: { id: number } | undefined;
    if (attempt.username === undefined) {
      const found = looksLikeToken(secret) ? await deps.tokens.find(hashToken(secret)) : undefined;
      if (found) {
        host = await deps.findHost(found.hostName);
        token = found;
      } else if (accounts && looksLikeToken(secret)) {
        // An account's token alone names its account.
        const accountToken = await accounts.findToken(hashToken(secret));
        const account = accountToken ? await accounts.findById(accountToken.accountId) : undefined;
        if (accountToken && account)
          return authenticateAccount(attempt, source, refuse, accounts, { account, token: accountToken });
      }
      if (!host) {
        const check = await countFailure(source, '(token)');
        return refuse(check.ok ? 'wrong' : check.reason, '(token)');
      }
    } else {
      host = await deps.findHost(attempt.username);
      if (!host) {
        const check = await countFailure(source, attempt.username.toLowerCase());
        return refuse(check.ok ? 'wrong' : check.reason, attempt.username.toLowerCase());
      }
    }

    // 2. Cheap proofs, accepted whatever the source's failure count.
    let credential: Credential | undefined =
      secret === '' ? undefined : deps.cache.get(host.id, secret, binding(host));
    if (!credential && looksLikeToken(secret)) {
      token ??= await deps.tokens.find(hashToken(secret), host.id);
      if (token) {
        credential = { via: 'token', tokenId: token.id };
        deps.cache.remember(host.id, secret, binding(host), credential);
        await deps.tokens.touch(token.id);
      } else {
        credential = await accountTokenFor(host, secret);
      }
    }

    // 3. The password, admitted and counted.
    if (!credential) {
      const subject = hostSubject(host);
      const check =
        secret === ''
          ? await countFailure(source, subject.name)
          : await verifyPassword(subject, secret, source);
      if (!check.ok) return refuse(check.reason, subject.name, host);
      credential = { via: 'password' };
      deps.cache.remember(host.id, secret, binding(host), credential);
    }

    if (attempt.purpose === 'manage' && credential.via !== 'password') {
      return { ok: false, reason: 'token_not_allowed', host };
    }
    return { ok: true, host, credential };
  }

  return {
    limitKey: deps.limitKey,
    authenticate: authenticate as Authenticator['authenticate'],
    async verifySecondFactor({ source: address, account, code, edge }) {
      const source = deps.limitKey(address);
      const name = `account ${account.id}`;
      const admission = await deps.guard.admit(source, name);
      if (!admission.admitted) return { ok: false, reason: 'blocked' };
      const right = deps.accounts ? await deps.accounts.checkSecondFactor(account, code) : false;
      if (right) {
        admission.attempt.succeeded();
        return { ok: true };
      }
      await admission.attempt.failed();
      deps.events?.onFailure?.({ edge, source, host: name });
      return { ok: false, reason: 'wrong' };
    },
  };
}
