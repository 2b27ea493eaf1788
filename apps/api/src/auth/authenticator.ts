import { createHmac, randomBytes } from 'node:crypto';
import type { HostRecord, TokensRepository } from '@mydns/db';
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
 */

/** bcrypt reads at most 72 bytes; a longer secret cannot be a password and is refused before any work. */
const MAX_PASSWORD_BYTES = 72;

/** How a request proved who it is. A token may update; only the password (or a session) may manage. */
export type Credential = { readonly via: 'password' } | { readonly via: 'token'; readonly tokenId: number };

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
}

export type LoginResult =
  | { readonly ok: true; readonly host: HostRecord; readonly credential: Credential }
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
  authenticate(attempt: LoginAttempt): Promise<LoginResult>;
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
}

/**
 * A host's name for the failure limits, logs and metrics: the full name, as
 * the same label in two zones is two hosts (one's failures must not lock out the other).
 */
const nameOf = (host: HostRecord) => `${host.name}.${host.zone}`;

type Check =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'wrong' | 'blocked' | 'share' | 'busy' };

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  // Cached verifications are bound to the stored hash and the credential
  // version: a password change or a revoked token makes them worthless.
  const binding = (host: HostRecord) => `${host.passwordHash}\0${host.credentialVersion}`;
  /** Password checks in flight, by a process-keyed HMAC of (host, secret, binding). */
  const inFlight = new Map<string, Promise<Check>>();
  const flightKey = randomBytes(32);
  const keyOf = (host: HostRecord, secret: string) =>
    createHmac('sha256', flightKey)
      .update(`${host.id}\0${binding(host)}\0${secret}`)
      .digest('base64url');

  /** One admitted, counted bcrypt check. */
  const checkPassword = async (host: HostRecord, secret: string, source: string): Promise<Check> => {
    const admission = await deps.guard.admit(source, nameOf(host));
    if (!admission.admitted) return { ok: false, reason: 'blocked' };
    let right: boolean;
    try {
      right = await deps.bcrypt.compare(secret, host.passwordHash, source);
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

  const verifyPassword = async (host: HostRecord, secret: string, source: string): Promise<Check> => {
    if (Buffer.byteLength(secret) > MAX_PASSWORD_BYTES) return countFailure(source, nameOf(host));
    const key = keyOf(host, secret);
    const shared = inFlight.get(key);
    if (shared) {
      // Someone else is checking the same secret: share the answer; a wrong one counts for each.
      const check = await shared;
      return check.ok || check.reason !== 'wrong' ? check : countFailure(source, nameOf(host));
    }
    const check = checkPassword(host, secret, source).finally(() => inFlight.delete(key));
    inFlight.set(key, check);
    return check;
  };

  return {
    limitKey: deps.limitKey,
    async authenticate(attempt) {
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

      // 1. The host.
      let host: HostRecord | undefined;
      let token: { id: number } | undefined;
      if (attempt.username === undefined) {
        const found = looksLikeToken(secret) ? await deps.tokens.find(hashToken(secret)) : undefined;
        if (found) {
          host = await deps.findHost(found.hostName);
          token = found;
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
        }
      }

      // 3. The password, admitted and counted.
      if (!credential) {
        const check =
          secret === ''
            ? await countFailure(source, nameOf(host))
            : await verifyPassword(host, secret, source);
        if (!check.ok) return refuse(check.reason, nameOf(host), host);
        credential = { via: 'password' };
        deps.cache.remember(host.id, secret, binding(host), credential);
      }

      if (attempt.purpose === 'manage' && credential.via !== 'password') {
        return { ok: false, reason: 'token_not_allowed', host };
      }
      return { ok: true, host, credential };
    },
  };
}
