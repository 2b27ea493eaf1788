import type { BcryptPool } from './bcrypt-pool.ts';
import type { CredentialCache } from './credential-cache.ts';

/** bcrypt reads at most 72 bytes; a longer secret cannot be one of ours and is refused before any work. */
const MAX_SECRET_BYTES = 72;

export interface Authenticator {
  /** Checks `secret` against the host's stored bcrypt hash, through the cache. */
  verify(host: { id: number; passwordHash: string }, secret: string): Promise<boolean>;
  forget(hostId: number): void;
}

export function createAuthenticator(deps: { bcrypt: BcryptPool; cache: CredentialCache }): Authenticator {
  return {
    async verify(host, secret) {
      if (secret === '' || Buffer.byteLength(secret) > MAX_SECRET_BYTES) return false;
      if (deps.cache.has(host.id, secret, host.passwordHash)) return true;
      const ok = await deps.bcrypt.compare(secret, host.passwordHash);
      if (ok) deps.cache.remember(host.id, secret, host.passwordHash);
      return ok;
    },
    forget: (hostId) => deps.cache.forget(hostId),
  };
}
