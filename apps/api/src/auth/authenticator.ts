import type { TokensRepository } from '@mydns/db';
import type { BcryptPool } from './bcrypt-pool.ts';
import type { CredentialCache } from './credential-cache.ts';
import { hashToken, looksLikeToken } from './tokens.ts';

/** bcrypt reads at most 72 bytes; a longer secret cannot be a password and is refused before any work. */
const MAX_PASSWORD_BYTES = 72;

/** How a request proved who it is. A token may update; only the password (or a session) may manage. */
export type Credential = { readonly via: 'password' } | { readonly via: 'token'; readonly tokenId: number };

export interface AuthenticatedHost {
  readonly id: number;
  readonly passwordHash: string;
  readonly credentialVersion: number;
}

export interface Authenticator {
  /** Checks `secret` (the host's password or one of its tokens), through the cache. */
  verify(host: AuthenticatedHost, secret: string): Promise<Credential | undefined>;
  /** The host a token belongs to (a token alone is a credential on the simple URL). */
  hostOfToken(secret: string): Promise<string | undefined>;
}

export function createAuthenticator(deps: {
  bcrypt: BcryptPool;
  cache: CredentialCache;
  tokens: TokensRepository;
}): Authenticator {
  // Cached verifications are bound to the stored hash and the credential
  // version: a password change or a revoked token makes them worthless.
  const binding = (host: AuthenticatedHost) => `${host.passwordHash}\0${host.credentialVersion}`;
  return {
    async verify(host, secret) {
      if (secret === '') return undefined;
      const cached = deps.cache.get(host.id, secret, binding(host));
      if (cached) return cached;
      if (looksLikeToken(secret)) {
        const token = await deps.tokens.find(hashToken(secret), host.id);
        if (token) {
          const credential: Credential = { via: 'token', tokenId: token.id };
          deps.cache.remember(host.id, secret, binding(host), credential);
          await deps.tokens.touch(token.id);
          return credential;
        }
      }
      if (Buffer.byteLength(secret) > MAX_PASSWORD_BYTES) return undefined;
      if (!(await deps.bcrypt.compare(secret, host.passwordHash))) return undefined;
      const credential: Credential = { via: 'password' };
      deps.cache.remember(host.id, secret, binding(host), credential);
      return credential;
    },
    async hostOfToken(secret) {
      if (!looksLikeToken(secret)) return undefined;
      return (await deps.tokens.find(hashToken(secret)))?.hostName;
    },
  };
}
